/* fmhost.gen, drawing values: the value of every cell of a row from its
 * own random stream (text, decimals, floating point, binary, temporal,
 * JSON), the cursor and fmh_gen_row. The hot path of every writer. */
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gen_int.h"


/* ---- text ---------------------------------------------------------------- */

static const char alnum64[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .";
static const char punct[] = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
static const char base32[] = "0123456789abcdefghijklmnopqrstuv";

static uint32_t pick(uint32_t r, uint32_t lo, uint32_t n) { return lo + (uint32_t)(((uint64_t)r * n) >> 24); }

static uint32_t emoji_cp(uint32_t r) {
  uint32_t k = pick(r, 0, 80 + 768 + 256);
  return k < 80 ? 0x1f600 + k : k < 848 ? 0x1f300 + (k - 80) : 0x1f900 + (k - 848);
}
static uint32_t rtl_cp(uint32_t r) {
  uint32_t k = pick(r, 0, 27 + 42);
  return k < 27 ? 0x05d0 + k : 0x0621 + (k - 27);
}

/* One character (maybe a base + combining pair) for charset cs from 32
 * random bits; returns its bytes in p and the character count in *nch. */
static size_t one_char(fmh_charset cs, uint32_t r, char *p, int *nch) {
  uint32_t sel = r & 0xff, rest = r >> 8; /* rest: 24 bits */
  *nch = 1;
  switch (cs) {
    case CS_ASCII: p[0] = (char)pick(rest, 0x20, 95); return 1;
    case CS_ALNUM: p[0] = base32[rest & 31]; return 1;
    case CS_LATIN1: return sel < 200 ? (p[0] = (char)pick(rest, 0x20, 95), 1) : fmh_utf8_put(p, pick(rest, 0xa0, 96));
    case CS_CJK: return fmh_utf8_put(p, pick(rest, 0x4e00, 20902));
    case CS_EMOJI: return fmh_utf8_put(p, emoji_cp(rest));
    default: break;
  }
  if (sel < 140) { p[0] = alnum64[rest & 63]; return 1; }
  if (sel < 150) { p[0] = punct[pick(rest, 0, 32)]; return 1; }
  if (sel < 170) return fmh_utf8_put(p, pick(rest, 0xc0, 0x180 - 0xc0));
  if (sel < 184) {
    uint32_t k = pick(rest, 0, 25 + 64);
    return fmh_utf8_put(p, k < 25 ? 0x3b1 + k : 0x410 + (k - 25));
  }
  if (sel < 198) return fmh_utf8_put(p, rtl_cp(rest));
  if (sel < 218) return fmh_utf8_put(p, pick(rest, 0x4e00, 20902));
  if (sel < 226) return fmh_utf8_put(p, pick(rest, 0xac00, 11172));
  if (sel < 234) {
    /* a base letter and a combining mark: two characters */
    p[0] = (char)('a' + (rest & 15));
    *nch = 2;
    return 1 + fmh_utf8_put(p + 1, pick(rest, 0x300, 0x70));
  }
  if (sel < 250) return fmh_utf8_put(p, emoji_cp(rest));
  return fmh_utf8_put(p, pick(rest, 0x20000, 0xa6e0));
}

/* The mixed charsets draw from tables of pre-encoded characters: 2^14
 * entries, 64 per value of the class byte of one_char, so the scripts keep
 * their weights exactly, and a character costs a table load and an 8-byte
 * copy. Built once from a fixed stream: the same on every machine. */
#define TAB_BITS 14
#define TAB_N (1u << TAB_BITS)
/* an entry: the character's bytes (at most 5) in the low bytes, the
 * character count in byte 6 and the byte length in byte 7 */
typedef struct { unsigned char b[8]; } centry;
typedef struct { centry e[TAB_N]; } char_tab;
static char_tab tab_utf8, tab_latin1;
static pthread_once_t tabs_once = PTHREAD_ONCE_INIT;

static void fill_tab(char_tab *t, fmh_charset cs) {
  fmh_rng r = {0x5851f42d4c957f2dull ^ (uint64_t)cs};
  for (uint32_t k = 0; k < TAB_N; k++) {
    char tmp[8] = {0};
    int nch;
    uint32_t bits = (k >> (TAB_BITS - 8)) | ((uint32_t)fmh_rng_next(&r) & 0xffffff00u);
    size_t n = one_char(cs, bits, tmp, &nch);
    memcpy(t->e[k].b, tmp, n);
    t->e[k].b[6] = (unsigned char)nch;
    t->e[k].b[7] = (unsigned char)n;
  }
}
static void build_tabs(void) {
  fill_tab(&tab_utf8, CS_UTF8);
  fill_tab(&tab_latin1, CS_LATIN1);
}

/* Append up to nchars characters (and at most cap bytes) to b. */
static int gen_text(fmh_buf *b, fmh_charset cs, fmh_rng *r, size_t nchars, size_t cap) {
  if (fmh_buf_reserve(b, (nchars < cap ? nchars : cap) * 4 + 16) != 0) return -1;
  size_t start = b->len, chars = 0;
  char *out = b->p;
  if (cs == CS_ASCII || cs == CS_ALNUM) {
    while (chars < nchars && b->len - start < cap) {
      uint64_t x = fmh_rng_next(r);
      for (int k = 0; k < 8 && chars < nchars && b->len - start < cap; k++, x >>= 8) {
        out[b->len++] = cs == CS_ALNUM ? base32[x & 31] : (char)(0x20 + (((x & 0xff) * 95) >> 8));
        chars++;
      }
    }
    return 0;
  }
  if (cs == CS_UTF8 || cs == CS_LATIN1) {
    pthread_once(&tabs_once, build_tabs);
    const char_tab *t = cs == CS_UTF8 ? &tab_utf8 : &tab_latin1;
    int capped = cap < 4 * nchars; /* else n characters always fit */
    size_t len = b->len;
    /* 8 bytes stored per character, little-endian: the entry's own bytes
     * first; the rest is overwritten by the next one or lies past the end */
#define PUT_ENTRY(e)                      \
  do {                                    \
    const centry *e_ = (e);               \
    memcpy(out + len, e_->b, 8);          \
    len += e_->b[7];                      \
    chars += e_->b[6];                    \
  } while (0)
    if (!capped) {
      /* four characters a draw while at least eight may still come */
      while (nchars - chars >= 8) {
        uint64_t x = fmh_rng_next(r);
        PUT_ENTRY(&t->e[x & (TAB_N - 1)]);
        PUT_ENTRY(&t->e[(x >> TAB_BITS) & (TAB_N - 1)]);
        PUT_ENTRY(&t->e[(x >> (2 * TAB_BITS)) & (TAB_N - 1)]);
        PUT_ENTRY(&t->e[(x >> (3 * TAB_BITS)) & (TAB_N - 1)]);
      }
    }
    while (chars < nchars) {
      uint64_t x = fmh_rng_next(r);
      for (int j = 0; j < 4 && chars < nchars; j++, x >>= TAB_BITS) {
        unsigned k = (unsigned)(x & (TAB_N - 1));
        const centry *e = &t->e[k];
        if (e->b[6] > nchars - chars) e = &t->e[k & (TAB_N / 2 - 1)]; /* no room for a pair: ASCII */
        PUT_ENTRY(e);
        if (capped && len - start > cap) {
          b->len = len - e->b[7];
          return 0;
        }
      }
    }
#undef PUT_ENTRY
    b->len = len;
    return 0;
  }
  while (chars < nchars) {
    uint64_t x = fmh_rng_next(r);
    for (int half = 0; half < 2 && chars < nchars; half++, x >>= 32) {
      char tmp[8];
      int nch;
      size_t n = one_char(cs, (uint32_t)x, tmp, &nch);
      if (chars + (size_t)nch > nchars) { n = 1; tmp[0] = alnum64[(x >> 8) & 63]; nch = 1; }
      if (b->len - start + n > cap) return 0;
      memcpy(out + b->len, tmp, n);
      b->len += n;
      chars += (size_t)nch;
    }
  }
  return 0;
}

/* The CHAR rule: MariaDB strips trailing spaces of CHAR values on reading. */
static void char_fix(const gcol *c, char *s, size_t len) {
  if (c->type == FMH_GEN_CHAR && len > 0 && s[len - 1] == ' ') s[len - 1] = '.';
}

static int append(fmh_buf *b, const void *s, size_t n) {
  if (fmh_buf_reserve(b, n) != 0) return -1;
  memcpy(b->p + b->len, s, n);
  b->len += n;
  return 0;
}

static int text_edge(const gcol *c, int id, fmh_rng *r, fmh_buf *b) {
  size_t n = c->max_chars, cap = c->cap_bytes;
  if (n == 0) return 0;
  switch (id) {
    case E_S_EMPTY: return 0;
    case E_S_LIMIT_CHARS: {
      /* n characters, all one byte; for TEXT types: cap bytes of ASCII */
      size_t want = is_text(c->type) && c->type >= FMH_GEN_TINYTEXT ? cap : n;
      if (fmh_buf_reserve(b, want) != 0) return -1;
      size_t s0 = b->len;
      if (gen_text(b, CS_ASCII, r, want, want) != 0) return -1;
      char_fix(c, b->p + s0, b->len - s0);
      return 0;
    }
    case E_S_LIMIT_BYTES: {
      /* VARCHAR/CHAR(n): n four-byte characters (4n bytes). TEXT types:
       * exactly cap bytes, four-byte characters then a 3/2/1-byte tail */
      size_t chars = c->type <= FMH_GEN_VARCHAR ? n : cap;
      size_t bytes = c->type <= FMH_GEN_VARCHAR ? 4 * n : cap;
      if (fmh_buf_reserve(b, bytes) != 0) return -1;
      size_t s0 = b->len, k = 0;
      while (k < chars && (b->len - s0) + 4 <= bytes) {
        char tmp[4];
        fmh_utf8_put(tmp, emoji_cp((uint32_t)fmh_rng_next(r) & 0xffffff));
        memcpy(b->p + b->len, tmp, 4);
        b->len += 4;
        k++;
      }
      size_t left = bytes - (b->len - s0);
      if (k < chars && left > 0) {
        char tmp[4];
        size_t m = left == 3 ? fmh_utf8_put(tmp, 0x4e2d) : left == 2 ? fmh_utf8_put(tmp, 0xe9) : fmh_utf8_put(tmp, 'x');
        memcpy(b->p + b->len, tmp, m);
        b->len += m;
      }
      return 0;
    }
    case E_S_EMOJI: case E_S_CJK: {
      size_t len = 1 + fmh_rng_below(r, n);
      return gen_text(b, id == E_S_EMOJI ? CS_EMOJI : CS_CJK, r, len > n ? n : len, cap);
    }
    case E_S_COMBINING: {
      /* e + COMBINING ACUTE, a + COMBINING RING + COMBINING DOT BELOW, ... */
      static const char *units[] = {"e\xcc\x81", "a\xcc\x8a\xcc\xa3", "\xce\xb1\xcd\x82", "n\xcc\x83"};
      static const size_t chars[] = {2, 3, 2, 2};
      size_t len = n, s0 = b->len, done = 0;
      while (done < len) {
        unsigned k = (unsigned)(fmh_rng_next(r) & 3);
        if (done + chars[k] > len || b->len - s0 + strlen(units[k]) > cap) break;
        if (append(b, units[k], strlen(units[k])) != 0) return -1;
        done += chars[k];
      }
      return 0;
    }
    case E_S_RTL: {
      /* Hebrew and Arabic words around left-to-right digits */
      size_t s0 = b->len, done = 0;
      while (done < n) {
        uint64_t x = fmh_rng_next(r);
        char tmp[4];
        size_t m = (x & 7) == 0 ? (tmp[0] = (char)('0' + (x >> 8) % 10), 1)
                 : (x & 7) == 1 ? (tmp[0] = ' ', 1) : fmh_utf8_put(tmp, rtl_cp((uint32_t)(x >> 8) & 0xffffff));
        if (b->len - s0 + m > cap) break;
        if (append(b, tmp, m) != 0) return -1;
        done++;
      }
      char_fix(c, b->p + s0, b->len - s0);
      return 0;
    }
    case E_S_SPECIALS: {
      /* the bytes that break CSV, SQL and JSON writers */
      static const char sp[] = {'\0', '\\', '\'', '"', '\t', '\n', '\r', 0x1a, ',', 'x', '%', '_', ';'};
      size_t len = n < 16 ? n : 16, s0 = b->len;
      for (size_t k = 0; k < len; k++) {
        char ch = k < sizeof sp ? sp[(k + fmh_rng_below(r, sizeof sp)) % sizeof sp] : sp[fmh_rng_below(r, sizeof sp)];
        if (append(b, &ch, 1) != 0) return -1;
      }
      char_fix(c, b->p + s0, b->len - s0);
      return 0;
    }
    case E_S_NULL_WORD: return append(b, "NULL", n < 4 ? n : 4);
    case E_S_BACKSLASH_N: return append(b, "\\N", n < 2 ? n : 2);
    case E_S_SPACES: {
      /* leading and (but for CHAR) trailing blanks */
      size_t s0 = b->len;
      if (append(b, " ", 1) != 0) return -1;
      if (gen_text(b, CS_ASCII, r, n - 2 > 8 ? 8 : n - 2, cap - 2) != 0) return -1;
      if (c->type != FMH_GEN_CHAR && append(b, " ", 1) != 0) return -1;
      char_fix(c, b->p + s0, b->len - s0);
      return 0;
    }
    default: return 0;
  }
}

/* ---- decimals ------------------------------------------------------------ */

/* canonical decimal text from an optional '-' and p digits (int part then scale) */
static int put_decimal(fmh_buf *b, int neg, const char *digits, int p, int s) {
  if (fmh_buf_reserve(b, (size_t)p + 4) != 0) return -1;
  char *o = b->p + b->len, *start = o;
  int ip = p - s, k = 0;
  while (k < ip - 1 && digits[k] == '0') k++; /* strip leading zeros, keep one */
  if (neg) {
    int allzero = 1;
    for (int j = 0; j < p && allzero; j++) allzero = digits[j] == '0';
    if (!allzero) *o++ = '-';
  }
  if (ip == 0) *o++ = '0';
  else { memcpy(o, digits + k, (size_t)(ip - k)); o += ip - k; }
  if (s > 0) {
    *o++ = '.';
    memcpy(o, digits + ip, (size_t)s);
    o += s;
  }
  b->len += (size_t)(o - start);
  return 0;
}

/* n random decimal digits: each 64-bit draw gives 19, read off its top by
 * multiplying by ten */
static void rand_digits(fmh_rng *r, char *d, int n) {
  while (n > 0) {
    uint64_t x = fmh_rng_next(r);
    int m = n < 19 ? n : 19;
    for (int k = 0; k < m; k++) {
      fmh_u128 t = (fmh_u128)x * 10u;
      d[k] = (char)('0' + (int)(t >> 64));
      x = (uint64_t)t;
    }
    d += m;
    n -= m;
  }
}

static int decimal_value(const gcol *c, fmh_rng *r, int64_t row, int seq, fmh_buf *b) {
  int p = c->precision, s = c->scale, ip = p - s;
  char d[80];
  if (seq) {
    /* integer part start + row*step, fraction zero */
    fmh_i128 v = (fmh_i128)c->seq_start + (fmh_i128)row * c->seq_step;
    int neg = v < 0;
    if (neg) v = -v;
    if (!c->unique) {
      fmh_i128 mod = ip >= 18 ? (fmh_i128)1 << 62 : pow10i(ip);
      v %= mod;
    }
    memset(d, '0', (size_t)p);
    for (int k = ip - 1; k >= 0 && v > 0; k--) { d[k] = (char)('0' + (int)(v % 10)); v /= 10; }
    return put_decimal(b, neg && !c->is_unsigned, d, p, s);
  }
  if (c->unique) {
    /* low digits from the permutation: distinct rows, distinct values */
    int low = p > 19 ? 19 : p;
    uint64_t u = perm((uint64_t)row, c->uniq_domain, c->uniq_bits, c->key);
    rand_digits(r, d, p - low);
    char tmp[20];
    fmh_fmt_digits(tmp, u, 19);
    memcpy(d + p - low, tmp + 19 - low, (size_t)low);
    return put_decimal(b, 0, d, p, s);
  }
  /* magnitude class uniform over 0..ip integer digits, then the digits */
  int nint = (int)fmh_rng_below(r, (uint64_t)ip + 1);
  memset(d, '0', (size_t)p);
  rand_digits(r, d + (ip - nint), nint + s);
  if (nint > 0 && d[ip - nint] == '0') d[ip - nint] = '1' + (char)(fmh_rng_next(r) % 9);
  int neg = !c->is_unsigned && (fmh_rng_next(r) & 1);
  return put_decimal(b, neg, d, p, s);
}

static int decimal_edge(const gcol *c, int id, fmh_rng *r, fmh_buf *b) {
  int p = c->precision, s = c->scale, ip = p - s;
  char d[80];
  memset(d, '0', (size_t)p);
  switch (id) {
    case E_D_MAX: case E_D_MIN: memset(d, '9', (size_t)p); return put_decimal(b, id == E_D_MIN, d, p, s);
    case E_D_TINY: case E_D_MINUS_TINY: d[p - 1] = '1'; return put_decimal(b, id == E_D_MINUS_TINY, d, p, s);
    case E_D_ZERO: return put_decimal(b, 0, d, p, s);
    case E_D_FULL:
      rand_digits(r, d, p);
      d[0] = '1' + (char)(fmh_rng_next(r) % 9);
      return put_decimal(b, !c->is_unsigned && (fmh_rng_next(r) & 1), d, p, s);
    case E_D_ONE: if (ip > 0) d[ip - 1] = '1'; else d[p - 1] = '1'; return put_decimal(b, 0, d, p, s);
    case E_D_MAX_INT: memset(d, '9', (size_t)ip); return put_decimal(b, 0, d, p, s);
    case E_D_HALF: d[ip] = '5'; return put_decimal(b, 0, d, p, s);
    case E_D_I64MAX1: {
      const char *t = "9223372036854775808";
      memcpy(d + ip - 19, t, 19);
      return put_decimal(b, 0, d, p, s);
    }
    default: return put_decimal(b, 0, d, p, s);
  }
}

/* ---- floating point ------------------------------------------------------ */

static double double_edge(int id, int is_float) {
  switch (id) {
    case E_F_MINUS_ZERO: return -0.0;
    case E_F_ZERO: return 0.0;
    case E_F_MIN_SUB: return is_float ? (double)FLT_TRUE_MIN : DBL_TRUE_MIN;
    case E_F_MINUS_MIN_SUB: return is_float ? -(double)FLT_TRUE_MIN : -DBL_TRUE_MIN;
    case E_F_MAX_SUB: return is_float ? (double)(FLT_MIN - FLT_TRUE_MIN) : DBL_MIN - DBL_TRUE_MIN;
    case E_F_MIN_NORMAL: return is_float ? (double)FLT_MIN : DBL_MIN;
    case E_F_MAX: return is_float ? (double)FLT_MAX : DBL_MAX;
    case E_F_MINUS_MAX: return is_float ? -(double)FLT_MAX : -DBL_MAX;
    case E_F_ONE: return 1.0;
    case E_F_ONE_ULP: return is_float ? (double)(1.0f + FLT_EPSILON) : 1.0 + DBL_EPSILON;
    case E_F_TENTH: return is_float ? (double)0.1f : 0.1;
    case E_F_THIRD: return is_float ? (double)(1.0f / 3.0f) : 1.0 / 3.0;
    case E_F_I53: return 9007199254740992.0;
    case E_F_I53_2: return 9007199254740994.0;
    case E_F_BIG: return is_float ? (double)1.2345678e20f : 1.2345678901234568e20;
    default: return is_float ? (double)1e-7f : 1e-7; /* E_F_TINY_FIXED */
  }
}

static double double_value(const gcol *c, fmh_rng *r, int64_t row, int seq) {
  int isf = c->type == FMH_GEN_FLOAT;
  if (seq) return (double)(int64_t)((uint64_t)c->seq_start + (uint64_t)row * (uint64_t)c->seq_step);
  if (c->unique) {
    uint64_t u = perm((uint64_t)row, c->uniq_domain, c->uniq_bits, c->key);
    uint64_t half = isf ? 0x7f800000ull : 0x7ff0000000000000ull;
    int neg = u >= half;
    uint64_t pat = neg ? u - half + 1 : u;
    if (isf) {
      uint32_t b32 = (uint32_t)pat | (neg ? 0x80000000u : 0);
      float f;
      memcpy(&f, &b32, 4);
      return (double)f;
    }
    pat |= neg ? 0x8000000000000000ull : 0;
    double d;
    memcpy(&d, &pat, 8);
    return d;
  }
  if (c->drange) {
    /* min + (max-min)*u, u with 53 random bits; clamped for rounding */
    double u = (double)(fmh_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
    double v = c->dlo + (c->dhi - c->dlo) * u;
    if (v > c->dhi) v = c->dhi;
    if (isf) {
      float f = (float)v;
      if ((double)f < c->dlo || (double)f > c->dhi) f = (float)c->dlo;
      return (double)f;
    }
    return v;
  }
  /* a random sign, a binary exponent within 2^-40..2^40, random mantissa:
   * values that need all their digits */
  uint64_t x = fmh_rng_next(r);
  int e = (int)(fmh_rng_next(r) % 81) - 40;
  int neg = !c->is_unsigned && (x >> 63);
  if (isf) {
    uint32_t bits = ((uint32_t)(127 + e) << 23) | ((uint32_t)x & 0x7fffff) | (neg ? 0x80000000u : 0);
    float f;
    memcpy(&f, &bits, 4);
    return (double)f;
  }
  uint64_t bits = ((uint64_t)(1023 + e) << 52) | (x & 0xfffffffffffffull) | (neg ? 0x8000000000000000ull : 0);
  double d;
  memcpy(&d, &bits, 8);
  return d;
}

/* ---- binary -------------------------------------------------------------- */

static int rand_bytes(fmh_buf *b, fmh_rng *r, size_t n) {
  if (fmh_buf_reserve(b, n + 8) != 0) return -1;
  char *o = b->p + b->len;
  for (size_t k = 0; k < n; k += 8) {
    uint64_t x = fmh_rng_next(r); /* bytes taken low first: the same on any host */
    for (int j = 0; j < 8 && k + (size_t)j < n; j++) o[k + (size_t)j] = (char)(x >> (8 * j));
  }
  b->len += n;
  return 0;
}

static int bin_edge(const gcol *c, int id, fmh_rng *r, fmh_buf *b) {
  size_t n = c->type == FMH_GEN_BINARY ? (size_t)c->length : c->max_chars;
  size_t limit = c->type >= FMH_GEN_TINYBLOB ? c->cap_bytes : n;
  size_t fixed = c->type == FMH_GEN_BINARY ? n : 0;
  size_t s0 = b->len;
  switch (id) {
    case E_B_EMPTY: return 0;
    case E_B_LIMIT: if (rand_bytes(b, r, limit) != 0) return -1; break;
    case E_B_ZEROS: case E_B_FF: {
      size_t m = fixed ? fixed : (n ? n : 1);
      if (m > n && !fixed) m = n;
      if (fmh_buf_reserve(b, m) != 0) return -1;
      memset(b->p + b->len, id == E_B_ZEROS ? 0 : 0xff, m);
      b->len += m;
      break;
    }
    case E_B_ESCAPES: if (append(b, "\0\\\"',\n\r\t\x1a\\N", 11 < n ? 11 : n) != 0) return -1; break;
    case E_B_INVALID_UTF8: if (append(b, "\xc0\x80\x80\xf5\xff\xed\xa0\x80", 8 < n ? 8 : n) != 0) return -1; break;
  }
  /* BINARY(n) values are exactly n bytes (the server pads with zeros) */
  if (fixed && b->len - s0 < fixed) {
    size_t pad = fixed - (b->len - s0);
    if (fmh_buf_reserve(b, pad) != 0) return -1;
    memset(b->p + b->len, 0, pad);
    b->len += pad;
  }
  if (fixed && b->len - s0 > fixed) b->len = s0 + fixed;
  return 0;
}

/* ---- temporal ------------------------------------------------------------ */

static int64_t frac_draw(const gcol *c, fmh_rng *r) {
  return c->fsp ? (int64_t)(fmh_rng_below(r, (uint64_t)pow10i(c->fsp)) * c->unit) : 0;
}

static int64_t max_fraction(const gcol *c) { return 1000000 - (int64_t)c->unit; }

/* a TIMESTAMP instant moved out of the session zone's folds (where its
 * local text would name two instants) */
static int64_t ts_unfold(const fmh_gen *g, int64_t us) {
  if (g->tz.fixed || g->tz.n == 0) return us;
  int64_t sec = us >= 0 ? us / 1000000 : (us - 999999) / 1000000;
  for (size_t k = 0; k < g->tz.n; k++) {
    int32_t before = k ? g->tz.off[k - 1] : g->tz.offset, after = g->tz.off[k];
    if (after >= before) continue;
    int64_t l = before - after;
    if (sec >= g->tz.at[k] - l && sec < g->tz.at[k] + l) return us + (g->tz.at[k] + l - sec) * 1000000;
  }
  return us;
}

static int64_t temporal_edge(const fmh_gen *g, const gcol *c, int id, fmh_rng *r) {
  const int64_t D = 86400000000ll;
  int64_t mf = max_fraction(c);
  switch (id) {
    case E_DA_MIN: return fmh_days_from_civil(1000, 1, 1);
    case E_DA_MAX: return fmh_days_from_civil(9999, 12, 31);
    case E_DA_EPOCH: return 0;
    case E_DA_LEAP: {
      static const int years[] = {1904, 2000, 2024, 2400, 9996};
      return fmh_days_from_civil(years[fmh_rng_below(r, 5)], 2, 29);
    }
    case E_DA_NONLEAP: {
      static const int years[] = {1900, 2100, 2200, 1800};
      return fmh_days_from_civil(years[fmh_rng_below(r, 4)], 2, 28);
    }
    case E_DA_Y2038: return fmh_days_from_civil(2038, 1, 19);
    case E_T_MAX: return 3020399000000ll + mf;
    case E_T_MIN: return -(3020399000000ll + mf);
    case E_T_ZERO: return 0;
    case E_T_DAY_END: return D - 1000000 + mf;
    case E_T_DAY: return D;
    case E_T_MINUS_TINY: return -(int64_t)(c->fsp ? c->unit : 1000000);
    case E_DT_MIN: return MIN_US_DT;
    case E_DT_MAX: return fmh_days_from_civil(9999, 12, 31) * D + D - 1000000 + mf;
    case E_DT_EPOCH: return 0;
    case E_DT_MAX_FRACTION: {
      int64_t day = fmh_days_from_civil(1970, 1, 1) + (int64_t)fmh_rng_below(r, 365 * 60);
      return day * D + D - 1000000 + mf;
    }
    case E_DT_LEAP: case E_TS_LEAP: {
      static const int years[] = {2000, 2004, 2024, 2036};
      int y = id == E_TS_LEAP ? years[fmh_rng_below(r, 4)] : years[fmh_rng_below(r, 4)];
      int64_t v = fmh_days_from_civil(y, 2, 29) * D + (int64_t)fmh_rng_below(r, 86400) * 1000000 + frac_draw(c, r);
      return id == E_TS_LEAP ? ts_unfold(g, v) : v;
    }
    case E_DT_DST_GAP: case E_DT_DST_FOLD: {
      int gap = id == E_DT_DST_GAP;
      size_t k = (size_t)fmh_rng_below(r, gap ? g->ngaps : g->nfolds);
      int64_t start = gap ? g->gaps_local[k] : g->folds_local[k];
      int32_t len = gap ? g->gaps_len[k] : g->folds_len[k];
      return (start + (int64_t)fmh_rng_below(r, (uint64_t)len)) * 1000000 + frac_draw(c, r);
    }
    case E_DT_TS_MIN: return 1000000;
    case E_DT_TS_MAX: return 2147483647000000ll + mf;
    case E_TS_MIN: return TS_MIN_US;
    case E_TS_MAX: return 2147483647000000ll + mf;
    case E_TS_MAX_FRACTION: {
      int64_t sec = 1 + (int64_t)fmh_rng_below(r, 2147483646);
      return ts_unfold(g, sec * 1000000 + mf);
    }
    case E_TS_DST: {
      /* the last instant before a transition of the session zone, or the first after */
      size_t k = (size_t)fmh_rng_below(r, g->tz.n);
      int64_t at = g->tz.at[k];
      if (at < 1) at = 1;
      if (at > 2147483647) at = 2147483647;
      int64_t v = (fmh_rng_next(r) & 1) ? at * 1000000 : at * 1000000 - (int64_t)c->unit;
      if (v < TS_MIN_US) v = TS_MIN_US;
      return ts_unfold(g, v);
    }
    default: return 0;
  }
}

static int64_t temporal_value(const fmh_gen *g, const gcol *c, fmh_rng *r, int64_t row, int seq) {
  int64_t u = (int64_t)c->unit;
  int64_t v;
  if (seq) {
    uint64_t span = (uint64_t)(c->thi - c->tlo) + 1;
    fmh_i128 x = (fmh_i128)c->seq_start - c->tlo + (fmh_i128)row * c->seq_step;
    if (!c->unique) {
      x %= (fmh_i128)span;
      if (x < 0) x += span;
    }
    v = c->tlo + (int64_t)x;
  } else if (c->unique) {
    v = c->tlo + (int64_t)perm((uint64_t)row, c->uniq_domain, c->uniq_bits, c->key) * u;
  } else {
    uint64_t steps = (uint64_t)(c->thi - c->tlo) / c->unit + 1;
    v = c->tlo + (int64_t)fmh_rng_below(r, steps) * u;
  }
  if (c->type == FMH_GEN_TIMESTAMP && !c->unique && !seq) {
    v = ts_unfold(g, v);
    if (v > c->thi) v = c->thi;
  }
  return v;
}

/* ---- one cell ------------------------------------------------------------ */

static void set_bytes(fmh_gen_cursor *cur, size_t ci, fmh_gen_value *v, fmh_gen_vkind kind, size_t start) {
  v->kind = kind;
  cur->offs[ci] = start;
  v->len = cur->scratch.len - start;
}

static int cell(fmh_gen_cursor *cur, size_t ci, int64_t row, uint64_t rowmix, int plain, fmh_gen_value *v) {
  const fmh_gen *g = cur->g;
  const gcol *c = &g->cols[ci];
  fmh_buf *b = &cur->scratch;
  fmh_rng r;
  r.s = fmh_mix64(c->key ^ rowmix); /* fmh_rng_init(&r, c->key, row), the row's half shared */
  v->edge = -1;
  v->s = NULL;
  v->len = 0;
  cur->offs[ci] = SIZE_MAX;
  /* the NULL / edge-case draw, only for columns that have either */
  uint64_t u = (c->always_null || c->null_thr || c->edge_thr > c->null_thr) ? fmh_rng_next(&r) : UINT64_MAX;
  int edge = -1;
  if (c->unique) plain = 0; /* keys keep their values */
  if (!plain) {
    if (c->always_null || u < c->null_thr) {
      v->kind = FMH_GV_NULL;
      return 0;
    }
    if (u < c->edge_thr && c->nedges > 0) {
      int ek = (int)fmh_rng_below(&r, (uint64_t)c->nedges);
      edge = c->edge_ids[ek];
      v->edge = ek;
    }
  }
  int seq = c->dist == FMH_GEN_SEQUENTIAL;
  int64_t vrow = row;
  /* zipf and cardinality: the value comes from its identity's stream */
  if (edge < 0 && !plain && !seq && !c->unique && (c->dist == FMH_GEN_ZIPF || c->cardinality)) {
    uint64_t ident;
    if (c->dist == FMH_GEN_ZIPF) {
      uint64_t x = fmh_rng_next(&r);
      size_t lo = 0, hi = (size_t)c->zipf_n - 1;
      while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (x < c->zipf_cdf[mid]) hi = mid; else lo = mid + 1;
      }
      ident = lo;
    } else {
      ident = fmh_rng_below(&r, (uint64_t)c->cardinality);
    }
    fmh_rng_init(&r, c->ident_key, ident);
    vrow = (int64_t)ident;
  }
  size_t start = b->len;

  if (is_int(c->type)) {
    uint64_t x;
    if (plain) {
      x = (c->span == 0 || 0 - c->lo < c->span) ? 0 : c->lo; /* 0 when inside the range */
    } else if (edge >= 0) {
      if (fmh_gen_int_edge_value(c, edge, &x) != 0) x = c->lo;
    } else if (seq) {
      uint64_t off = (uint64_t)c->seq_start + (uint64_t)row * (uint64_t)c->seq_step;
      if (!c->unique && c->span) {
        fmh_i128 o = (fmh_i128)c->seq_start + (fmh_i128)row * c->seq_step;
        o %= (fmh_i128)c->span;
        if (o < 0) o += c->span;
        off = (uint64_t)o;
      }
      x = c->lo + off;
    } else if (c->unique) {
      x = c->lo + perm((uint64_t)row, c->uniq_domain, c->uniq_bits, c->key);
    } else {
      x = c->lo + fmh_rng_below(&r, c->span);
    }
    if (c->is_unsigned) { v->kind = FMH_GV_UINT; v->n.u = x; }
    else { v->kind = FMH_GV_INT; v->n.i = (int64_t)x; }
    return 0;
  }
  switch (c->type) {
    case FMH_GEN_DECIMAL: {
      int rc;
      if (plain) rc = decimal_edge(c, E_D_ZERO, &r, b);
      else if (edge >= 0) rc = decimal_edge(c, edge, &r, b);
      else rc = decimal_value(c, &r, vrow, seq, b);
      if (rc != 0) return -1;
      set_bytes(cur, ci, v, FMH_GV_DECIMAL, start);
      return 0;
    }
    case FMH_GEN_FLOAT: case FMH_GEN_DOUBLE: {
      double d = plain ? 0.0 : edge >= 0 ? double_edge(edge, c->type == FMH_GEN_FLOAT) : double_value(c, &r, vrow, seq);
      v->kind = c->type == FMH_GEN_FLOAT ? FMH_GV_FLOAT : FMH_GV_DOUBLE;
      if (c->type == FMH_GEN_FLOAT) d = (double)(float)d; /* a FLOAT value is a float */
      v->n.d = d;
      return 0;
    }
    case FMH_GEN_BOOLEAN: {
      v->kind = FMH_GV_BOOL;
      if (plain) v->n.i = 0;
      else if (edge >= 0) v->n.i = edge == E_BOOL_TRUE;
      else if (seq) v->n.i = row & 1;
      else if (c->unique) v->n.i = (int64_t)perm((uint64_t)row, 2, 1, c->key);
      else v->n.i = (int64_t)(fmh_rng_next(&r) & 1);
      return 0;
    }
    case FMH_GEN_ENUM: case FMH_GEN_SET: {
      uint64_t pickv;
      size_t nv = c->nvalues;
      uint64_t dom = c->type == FMH_GEN_ENUM ? nv : (nv >= 64 ? 0 : 1ull << nv);
      if (plain) pickv = 0;
      else if (edge == E_EN_FIRST || edge == E_SET_EMPTY) pickv = 0;
      else if (edge == E_EN_LAST) pickv = nv - 1;
      else if (edge == E_SET_ALL) pickv = dom - 1;
      else if (seq) pickv = dom ? (uint64_t)row % dom : (uint64_t)row;
      else if (c->unique) pickv = perm((uint64_t)row, dom, c->uniq_bits, c->key);
      else pickv = fmh_rng_below(&r, dom);
      if (c->type == FMH_GEN_ENUM) {
        if (append(b, c->values[pickv], c->vlens[pickv]) != 0) return -1;
      } else {
        int first = 1;
        for (size_t k = 0; k < nv; k++)
          if (pickv >> k & 1) {
            if (!first && append(b, ",", 1) != 0) return -1;
            if (append(b, c->values[k], c->vlens[k]) != 0) return -1;
            first = 0;
          }
      }
      set_bytes(cur, ci, v, FMH_GV_TEXT, start);
      return 0;
    }
    case FMH_GEN_JSON: {
      int rc = plain ? append(b, "{}", 2) : edge >= 0 ? fmh_gen_json_edge(c, fmh_gen_edge_name(edge), &r, b) : fmh_gen_json_doc(c, &r, b);
      if (rc != 0) return -1;
      set_bytes(cur, ci, v, FMH_GV_JSON, start);
      return 0;
    }
    case FMH_GEN_DATE: case FMH_GEN_TIME: case FMH_GEN_DATETIME: case FMH_GEN_TIMESTAMP: {
      static const fmh_gen_vkind kinds[] = {FMH_GV_DATE, FMH_GV_TIME, FMH_GV_DATETIME, FMH_GV_TIMESTAMP};
      v->kind = kinds[c->type - FMH_GEN_DATE];
      if (plain) {
        int64_t d2000 = fmh_days_from_civil(2000, 1, 1);
        v->n.i = c->type == FMH_GEN_DATE ? d2000 : c->type == FMH_GEN_TIME ? 0 : d2000 * 86400000000ll;
        if (c->type != FMH_GEN_TIME && (v->n.i < c->tlo || v->n.i > c->thi)) v->n.i = c->tlo;
      } else if (edge >= 0) {
        v->n.i = temporal_edge(g, c, edge, &r);
      } else {
        v->n.i = temporal_value(g, c, &r, vrow, seq);
      }
      return 0;
    }
    default: break;
  }
  if (is_text(c->type)) {
    int rc = 0;
    if (plain) {
      rc = 0;
    } else if (edge >= 0) {
      rc = text_edge(c, edge, &r, b);
    } else if (c->unique && seq) {
      /* a zero-padded counter: sorts as the rows do */
      if (fmh_buf_reserve(b, 20) != 0) return -1;
      fmh_fmt_digits(b->p + b->len, (uint64_t)row, c->tok_len);
      b->len += (size_t)c->tok_len;
    } else if (seq) {
      char tmp[24];
      char *e = fmh_fmt_u64(tmp, (uint64_t)row);
      size_t n = (size_t)(e - tmp);
      if (n > c->max_chars) { memmove(tmp, e - c->max_chars, c->max_chars); n = c->max_chars; }
      rc = append(b, tmp, n);
    } else {
      size_t lo = (size_t)c->min_length, n;
      if (c->unique) {
        /* a base-32 token of the permuted row, then random text */
        uint64_t t = perm((uint64_t)row, c->uniq_domain, c->uniq_bits, c->key);
        if (fmh_buf_reserve(b, 16) != 0) return -1;
        for (int k = c->tok_len - 1; k >= 0; k--) { b->p[b->len + (size_t)k] = base32[t & 31]; t >>= 5; }
        b->len += (size_t)c->tok_len;
        if (lo < (size_t)c->tok_len) lo = (size_t)c->tok_len;
        n = lo + (size_t)fmh_rng_below(&r, c->max_chars - lo + 1);
        rc = gen_text(b, c->charset, &r, n - (size_t)c->tok_len, c->cap_bytes - (size_t)c->tok_len);
      } else {
        n = lo + (size_t)fmh_rng_below(&r, c->max_chars - lo + 1);
        rc = gen_text(b, c->charset, &r, n, c->cap_bytes);
      }
      char_fix(c, b->p + start, b->len - start);
    }
    if (rc != 0) return -1;
    set_bytes(cur, ci, v, FMH_GV_TEXT, start);
    return 0;
  }
  if (is_bin(c->type)) {
    int rc = 0;
    if (plain) {
      if (c->type == FMH_GEN_BINARY) {
        if (fmh_buf_reserve(b, (size_t)c->length) != 0) return -1;
        memset(b->p + b->len, 0, (size_t)c->length);
        b->len += (size_t)c->length;
      }
    } else if (edge >= 0) {
      rc = bin_edge(c, edge, &r, b);
    } else {
      size_t lo = (size_t)c->min_length;
      size_t n = c->type == FMH_GEN_BINARY ? (size_t)c->length : lo + (size_t)fmh_rng_below(&r, c->max_chars - lo + 1);
      if (c->unique || seq) {
        uint64_t t = c->unique && !seq ? perm((uint64_t)row, c->uniq_domain, c->uniq_bits, c->key) : (uint64_t)row;
        int w = c->unique ? c->tok_len : (int)(c->max_chars > 8 ? 8 : c->max_chars);
        if ((size_t)w > n) n = (size_t)w;
        if (fmh_buf_reserve(b, (size_t)w) != 0) return -1;
        for (int k = w - 1; k >= 0; k--) { b->p[b->len + (size_t)k] = (char)(t & 0xff); t >>= 8; }
        b->len += (size_t)w;
        rc = rand_bytes(b, &r, n - (size_t)w);
      } else {
        rc = rand_bytes(b, &r, n);
      }
    }
    if (rc != 0) return -1;
    set_bytes(cur, ci, v, FMH_GV_BYTES, start);
    return 0;
  }
  v->kind = FMH_GV_NULL;
  return 0;
}

fmh_gen_cursor *fmh_gen_cursor_new(const fmh_gen *g) {
  fmh_gen_cursor *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->g = g;
  c->offs = calloc(g->ncols, sizeof(size_t));
  if (!c->offs || fmh_buf_reserve(&c->scratch, 4096) != 0) {
    free(c->offs);
    free(c);
    return NULL;
  }
  fmh_gen_num_init();
  return c;
}

void fmh_gen_cursor_free(fmh_gen_cursor *c) {
  if (!c) return;
  fmh_buf_free(&c->scratch);
  free(c->offs);
  free(c);
}

int fmh_gen_row(fmh_gen_cursor *cur, int64_t row, const unsigned char *plain, fmh_gen_value *out, fmh_error *err) {
  const fmh_gen *g = cur->g;
  if (row < 0 || row >= g->row_limit) {
    if (row < 0) fmh_error_set(err, "range", 0, 0, "row %lld: rows are numbered from 0", (long long)row);
    else {
      const char *who = "?";
      for (size_t k = 0; k < g->ncols; k++)
        if (g->cols[k].row_limit == g->row_limit) { who = g->cols[k].name; break; }
      fmh_error_set(err, "range", 0, 0, "row %lld: unique column '%s' has values for rows 0..%lld only",
                    (long long)row, who, (long long)g->row_limit - 1);
    }
    return -1;
  }
  cur->scratch.len = 0;
  uint64_t rowmix = fmh_mix64((uint64_t)row + FMH_ROW_SALT);
  for (size_t k = 0; k < g->ncols; k++) {
    if (cell(cur, k, row, rowmix, plain ? plain[k] : 0, &out[k]) != 0) {
      fmh_error_set(err, "os", ENOMEM, 0, "out of memory generating row %lld", (long long)row);
      return -1;
    }
  }
  /* the scratch may have moved while the row grew: pointers last */
  for (size_t k = 0; k < g->ncols; k++)
    if (cur->offs[k] != SIZE_MAX) out[k].s = cur->scratch.p + cur->offs[k];
  return 0;
}

