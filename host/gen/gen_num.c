/* Number formatting for the generator's writers, without printf.
 *
 * Integers go out two digits at a time from a small table. Doubles and
 * floats go out as the shortest decimal string that reads back to the same
 * bits: the interval of reals that round to the value is scaled by a power
 * of ten held as a 128-bit fixed-point multiplier, and digits are dropped
 * while the scaled bounds still differ. The multipliers are computed once,
 * at first use, from exact big-integer powers of five (no tables in the
 * source), so the result depends on integer arithmetic only and is the same
 * on every machine. Correctness is checked by specs against strtod on
 * millions of values. */
#include <locale.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gen_int.h"

__extension__ typedef unsigned __int128 u128;

/* ---- the multipliers --------------------------------------------------- */

#define POW5_BITS 125      /* precision of both tables */
#define POW5_N 326         /* 5^i, i < POW5_N: for binary exponents below 0 */
#define POW5_INV_N 342     /* 2^k / 5^i, i < POW5_INV_N: for exponents above 0 */
#define BIG_LIMBS 30       /* 5^341 < 2^800 */

static uint64_t pow5_mul[POW5_N][2];      /* floor(5^i * 2^(125 - bitlen(5^i))) */
static uint64_t pow5_inv_mul[POW5_INV_N][2]; /* floor(2^(bitlen(5^i)-1+125) / 5^i) + 1 */
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

typedef struct { uint32_t w[BIG_LIMBS]; int n; } big; /* little-endian limbs */

static int big_bitlen(const big *b) {
  if (b->n == 0) return 0;
  uint32_t top = b->w[b->n - 1];
  int bits = 0;
  while (top) { bits++; top >>= 1; }
  return (b->n - 1) * 32 + bits;
}
static int big_bit(const big *b, int i) { return (int)((b->w[i / 32] >> (i % 32)) & 1u); }
static void big_mul5(big *b) {
  uint64_t carry = 0;
  for (int i = 0; i < b->n; i++) {
    uint64_t t = (uint64_t)b->w[i] * 5u + carry;
    b->w[i] = (uint32_t)t;
    carry = t >> 32;
  }
  if (carry) b->w[b->n++] = (uint32_t)carry;
}
/* r = 2r + bit, r < 2^800 */
static void big_shl1(big *r, int bit) {
  uint32_t carry = (uint32_t)bit;
  for (int i = 0; i < r->n; i++) {
    uint32_t nc = r->w[i] >> 31;
    r->w[i] = (r->w[i] << 1) | carry;
    carry = nc;
  }
  if (carry) r->w[r->n++] = carry;
}
static int big_cmp(const big *a, const big *b) {
  if (a->n != b->n) return a->n < b->n ? -1 : 1;
  for (int i = a->n - 1; i >= 0; i--)
    if (a->w[i] != b->w[i]) return a->w[i] < b->w[i] ? -1 : 1;
  return 0;
}
static void big_sub(big *a, const big *b) {
  int64_t borrow = 0;
  for (int i = 0; i < a->n; i++) {
    int64_t t = (int64_t)a->w[i] - (i < b->n ? (int64_t)b->w[i] : 0) - borrow;
    borrow = t < 0;
    a->w[i] = (uint32_t)(t + (borrow ? ((int64_t)1 << 32) : 0));
  }
  while (a->n > 0 && a->w[a->n - 1] == 0) a->n--;
}

static void set128(uint64_t out[2], u128 v) {
  out[0] = (uint64_t)v;
  out[1] = (uint64_t)(v >> 64);
}

static void build_tables(void) {
  big p = {{1}, 1};
  for (int i = 0; i < POW5_INV_N; i++) {
    int len = big_bitlen(&p);
    if (i < POW5_N) {
      /* the top 125 bits of 5^i */
      u128 v = 0;
      int shift = len - POW5_BITS;
      for (int b = len - 1; b >= 0 && b >= shift; b--) v = (v << 1) | (u128)big_bit(&p, b);
      if (shift < 0) v <<= -shift;
      set128(pow5_mul[i], v);
    }
    /* floor(2^j / 5^i) + 1 by restoring division; the quotient has at
     * most 126 bits, the remainder stays below 5^i */
    int j = len - 1 + POW5_BITS;
    big r = {{0}, 0};
    u128 q = 0;
    for (int b = j; b >= 0; b--) {
      big_shl1(&r, b == j);
      q <<= 1;
      if (big_cmp(&r, &p) >= 0) {
        big_sub(&r, &p);
        q |= 1;
      }
    }
    set128(pow5_inv_mul[i], q + 1);
    big_mul5(&p);
  }
}

void fmh_gen_num_init(void) { pthread_once(&tables_once, build_tables); }

/* ---- shortest digits ----------------------------------------------------- */

/* bit length of 5^e, for 0 <= e <= 3528 */
static int pow5_bitlen(int e) { return (int)(((uint32_t)e * 1217359u) >> 19) + 1; }
/* floor(e * log10(2)) and floor(e * log10(5)), for small non-negative e */
static uint32_t log10_pow2(int e) { return ((uint32_t)e * 78913u) >> 18; }
static uint32_t log10_pow5(int e) { return ((uint32_t)e * 732923u) >> 20; }

static int pow5_factor(uint64_t v) {
  int n = 0;
  while (v % 5 == 0) { v /= 5; n++; }
  return n;
}
static int multiple_of_pow5(uint64_t v, uint32_t p) { return pow5_factor(v) >= (int)p; }
static int multiple_of_pow2(uint64_t v, uint32_t p) { return (v & ((1ull << p) - 1)) == 0; }

/* (m * mul) >> j, with j >= 64 */
static uint64_t mul_shift(uint64_t m, const uint64_t mul[2], int j) {
  u128 lo = (u128)m * mul[0];
  u128 hi = (u128)m * mul[1];
  return (uint64_t)(((lo >> 64) + hi) >> (j - 64));
}

/* The shortest decimal digits*10^exp that reads back as the binary value
 * with the given IEEE fields (mantissa bits mbits, exponent bias). */
static void shortest(uint64_t ieee_m, uint32_t ieee_e, int mbits, int bias, uint64_t *digits, int *exp10) {
  int e2;
  uint64_t m2;
  if (ieee_e == 0) {
    e2 = 1 - bias - mbits - 2;
    m2 = ieee_m;
  } else {
    e2 = (int)ieee_e - bias - mbits - 2;
    m2 = (1ull << mbits) | ieee_m;
  }
  /* round-half-even on reading: an even mantissa owns its interval ends */
  int accept = (m2 & 1) == 0;
  uint64_t mv = 4 * m2;
  /* below a power of two the lower neighbour is half as far */
  uint32_t mm_shift = ieee_m != 0 || ieee_e <= 1;

  uint64_t vr, vp, vm;
  int e10;
  int vm_zeros = 0, vr_zeros = 0;
  if (e2 >= 0) {
    uint32_t q = log10_pow2(e2) - (e2 > 3);
    e10 = (int)q;
    int k = POW5_BITS + pow5_bitlen((int)q) - 1;
    int i = -e2 + (int)q + k;
    vr = mul_shift(mv, pow5_inv_mul[q], i);
    vp = mul_shift(mv + 2, pow5_inv_mul[q], i);
    vm = mul_shift(mv - 1 - mm_shift, pow5_inv_mul[q], i);
    if (q <= 21) {
      /* the exact quotients may end in zeros that the truncation hides */
      if (mv % 5 == 0)
        vr_zeros = multiple_of_pow5(mv, q);
      else if (accept)
        vm_zeros = multiple_of_pow5(mv - 1 - mm_shift, q);
      else
        vp -= (uint64_t)multiple_of_pow5(mv + 2, q);
    }
  } else {
    uint32_t q = log10_pow5(-e2) - (-e2 > 1);
    e10 = (int)q + e2;
    int i = -e2 - (int)q;
    int k = pow5_bitlen(i) - POW5_BITS;
    int j = (int)q - k;
    vr = mul_shift(mv, pow5_mul[i], j);
    vp = mul_shift(mv + 2, pow5_mul[i], j);
    vm = mul_shift(mv - 1 - mm_shift, pow5_mul[i], j);
    if (q <= 1) {
      vr_zeros = 1;
      if (accept)
        vm_zeros = mm_shift == 1;
      else
        --vp;
    } else if (q < 63) {
      vr_zeros = multiple_of_pow2(mv, q);
    }
  }

  int removed = 0;
  unsigned last = 0;
  uint64_t out;
  if (vm_zeros || vr_zeros) {
    /* rare: exact ties and bounds that are themselves short decimals */
    while (vp / 10 > vm / 10) {
      vm_zeros &= vm % 10 == 0;
      vr_zeros &= last == 0;
      last = (unsigned)(vr % 10);
      vr /= 10; vp /= 10; vm /= 10;
      removed++;
    }
    if (vm_zeros) {
      while (vm % 10 == 0) {
        vr_zeros &= last == 0;
        last = (unsigned)(vr % 10);
        vr /= 10; vp /= 10; vm /= 10;
        removed++;
      }
    }
    if (vr_zeros && last == 5 && vr % 2 == 0) last = 4; /* exact tie: to even */
    out = vr + ((vr == vm && (!accept || !vm_zeros)) || last >= 5);
  } else {
    int round_up = 0;
    while (vp / 100 > vm / 100) {
      round_up = vr % 100 >= 50;
      vr /= 100; vp /= 100; vm /= 100;
      removed += 2;
    }
    while (vp / 10 > vm / 10) {
      round_up = vr % 10 >= 5;
      vr /= 10; vp /= 10; vm /= 10;
      removed++;
    }
    out = vr + (vr == vm || round_up);
  }
  *digits = out;
  *exp10 = e10 + removed;
}

/* digits*10^e10 in the style of fmh_gen_fmt_double */
static char *place(char *p, uint64_t digits, int e10, int force_exp) {
  char buf[24];
  int n = fmh_ndigits(digits);
  fmh_fmt_digits(buf, digits, n);
  int point = n + e10; /* digits before the decimal point */
  if (!force_exp && point > 0 && point <= 17) {
    if (point >= n) {
      memcpy(p, buf, (size_t)n);
      p += n;
      for (int z = n; z < point; z++) *p++ = '0';
    } else {
      memcpy(p, buf, (size_t)point);
      p += point;
      *p++ = '.';
      memcpy(p, buf + point, (size_t)(n - point));
      p += n - point;
    }
    return p;
  }
  if (!force_exp && point <= 0 && point > -6) {
    *p++ = '0';
    *p++ = '.';
    for (int z = point; z < 0; z++) *p++ = '0';
    memcpy(p, buf, (size_t)n);
    return p + n;
  }
  *p++ = buf[0];
  if (n > 1) {
    *p++ = '.';
    memcpy(p, buf + 1, (size_t)(n - 1));
    p += n - 1;
  }
  *p++ = 'e';
  return fmh_fmt_i64(p, point - 1);
}

static char *fmt_binary(char *p, uint64_t sign, uint64_t ieee_m, uint32_t ieee_e, int mbits, int bias, int sql) {
  if (sign) *p++ = '-';
  if (ieee_e == 0 && ieee_m == 0) {
    *p++ = '0';
    if (sql) { *p++ = 'e'; *p++ = '0'; }
    return p;
  }
  fmh_gen_num_init();
  uint64_t digits;
  int e10;
  shortest(ieee_m, ieee_e, mbits, bias, &digits, &e10);
  return place(p, digits, e10, sql);
}

char *fmh_gen_fmt_double_style(char *p, double v, int sql) {
  uint64_t bits;
  memcpy(&bits, &v, sizeof bits);
  return fmt_binary(p, bits >> 63, bits & ((1ull << 52) - 1), (uint32_t)((bits >> 52) & 0x7ff), 52, 1023, sql);
}

char *fmh_gen_fmt_double(char *p, double v) { return fmh_gen_fmt_double_style(p, v, 0); }

/* A FLOAT column is read by MariaDB as a double, range-checked against
 * FLT_MAX, then rounded to float. The shortest float string can fail both
 * steps (3.4028235e38 exceeds FLT_MAX as a double; a string near a midpoint
 * may round twice); then the double's own shortest string is written,
 * which names the float exactly. */
static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static void make_c_locale(void) { c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

char *fmh_gen_fmt_float_style(char *p, float v, int sql) {
  uint32_t bits;
  memcpy(&bits, &v, sizeof bits);
  char *start = p;
  char *end = fmt_binary(p, bits >> 31, bits & ((1u << 23) - 1), (bits >> 23) & 0xff, 23, 127, sql);
  if ((bits & 0x7fffffffu) == 0) return end;
  pthread_once(&c_locale_once, make_c_locale);
  char tmp[40];
  size_t n = (size_t)(end - start);
  memcpy(tmp, start, n);
  tmp[n] = 0;
  double d = c_locale ? strtod_l(tmp, NULL, c_locale) : strtod(tmp, NULL);
  float back = (float)d;
  if (memcmp(&back, &v, sizeof v) == 0 && d <= 3.40282346638528859811704183484516925440e+38 &&
      d >= -3.40282346638528859811704183484516925440e+38)
    return end;
  return fmh_gen_fmt_double_style(start, (double)v, sql);
}

char *fmh_gen_fmt_float(char *p, float v) { return fmh_gen_fmt_float_style(p, v, 0); }
