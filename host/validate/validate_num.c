/* fmhost.validate, numbers and JSON: the canonical form of decimal text,
 * ULP distance of doubles, and a small JSON reader that compares two
 * documents semantically (members sorted by key, numbers as exact decimals,
 * strings unescaped, arrays in order) and names the path of the first
 * difference. No number is ever converted to a double here: a JSON integer
 * with 30 digits compares exactly. Memory: one tree per document, freed
 * before returning (callers hold one value per side at a time). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmhost/validate.h"
#include "validate_int.h"

/* --- decimals ------------------------------------------------------------ */

/* Parse [+-]digits[.digits][e[+-]digits] (at least one digit) into sign,
 * the significant digits without leading/trailing zeros and the exponent
 * of their last digit. Returns 0, or -1 when s is not such a number. */
int fmh_vdec_parse(const char *s, size_t len, fmh_vdec *d) {
  size_t i = 0;
  d->neg = 0;
  d->ndig = 0;
  d->exp = 0;
  while (i < len && (s[i] == ' ')) i++;
  if (i < len && (s[i] == '-' || s[i] == '+')) d->neg = s[i++] == '-';
  size_t int_start = i;
  while (i < len && s[i] >= '0' && s[i] <= '9') i++;
  size_t int_end = i, frac_start = i, frac_end = i;
  if (i < len && s[i] == '.') {
    frac_start = ++i;
    while (i < len && s[i] >= '0' && s[i] <= '9') i++;
    frac_end = i;
  }
  if (int_end == int_start && frac_end == frac_start) return -1;
  long long e = 0;
  if (i < len && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    int eneg = 0;
    if (i < len && (s[i] == '-' || s[i] == '+')) eneg = s[i++] == '-';
    if (i >= len || s[i] < '0' || s[i] > '9') return -1;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
      if (e < 100000000000LL) e = e * 10 + (s[i] - '0');
    if (eneg) e = -e;
  }
  while (i < len && s[i] == ' ') i++;
  if (i != len) return -1;
  /* the digits in order, int part then fraction: find the first and last nonzero */
  size_t nint = int_end - int_start, nfrac = frac_end - frac_start, total = nint + nfrac;
#define DIG(k) ((k) < nint ? s[int_start + (k)] : s[frac_start + (k) - nint])
  size_t first = 0;
  while (first < total && DIG(first) == '0') first++;
  if (first == total) { /* zero, whatever its sign */
    d->neg = 0;
    return 0;
  }
  size_t last = total;
  while (last > first && DIG(last - 1) == '0') last--;
  d->src = s;
  d->nint = nint;
  d->int_start = int_start;
  d->frac_start = frac_start;
  d->first = first;
  d->ndig = last - first;
  /* the value of the digit at position k (0-based over int+frac) is 10^(nint-1-k) */
  d->exp = e + (long long)nint - (long long)last;
#undef DIG
  return 0;
}

char fmh_vdec_digit(const fmh_vdec *d, size_t k) {
  size_t p = d->first + k;
  return p < d->nint ? d->src[d->int_start + p] : d->src[d->frac_start + p - d->nint];
}

size_t fmh_vdec_canon(const char *s, size_t len, char *out, size_t cap) {
  fmh_vdec d;
  if (fmh_vdec_parse(s, len, &d) != 0) return 0;
  if (d.ndig == 0) {
    if (cap < 2) return 0;
    out[0] = '0';
    out[1] = '\0';
    return 1;
  }
  if (cap < d.ndig + 24) return 0;
  size_t n = 0;
  if (d.neg) out[n++] = '-';
  for (size_t k = 0; k < d.ndig; k++) out[n++] = fmh_vdec_digit(&d, k);
  if (d.exp != 0) n += (size_t)snprintf(out + n, cap - n, "e%lld", d.exp);
  out[n] = '\0';
  return n;
}

/* Numeric order of two parsed decimals. */
int fmh_vdec_cmp(const fmh_vdec *a, const fmh_vdec *b) {
  int sa = a->ndig == 0 ? 0 : a->neg ? -1 : 1, sb = b->ndig == 0 ? 0 : b->neg ? -1 : 1;
  if (sa != sb) return sa < sb ? -1 : 1;
  if (sa == 0) return 0;
  /* magnitude: position of the leading digit first */
  long long ta = a->exp + (long long)a->ndig, tb = b->exp + (long long)b->ndig;
  int mag;
  if (ta != tb) {
    mag = ta < tb ? -1 : 1;
  } else {
    mag = 0;
    size_t n = a->ndig > b->ndig ? a->ndig : b->ndig;
    for (size_t k = 0; k < n && mag == 0; k++) {
      char ca = k < a->ndig ? fmh_vdec_digit(a, k) : '0', cb = k < b->ndig ? fmh_vdec_digit(b, k) : '0';
      if (ca != cb) mag = ca < cb ? -1 : 1;
    }
  }
  return sa > 0 ? mag : -mag;
}

/* A plain decimal text, -?digits[.digits]: its sign, integer digits without
 * leading zeros and fraction digits without trailing zeros. 0 when the
 * text is not of that form. */
typedef struct dec_plain {
  int neg;
  const char *i, *f;
  size_t il, fl;
} dec_plain;

static int plain_parse(const char *s, size_t n, dec_plain *p) {
  size_t k = 0;
  p->neg = n > 0 && s[0] == '-';
  k = (size_t)p->neg;
  size_t is = k;
  while (k < n && s[k] >= '0' && s[k] <= '9') k++;
  size_t ie = k, fs = k, fe = k;
  if (ie == is) return 0;
  if (k < n && s[k] == '.') {
    fs = ++k;
    while (k < n && s[k] >= '0' && s[k] <= '9') k++;
    fe = k;
  }
  if (k != n) return 0;
  while (is < ie && s[is] == '0') is++;
  while (fe > fs && s[fe - 1] == '0') fe--;
  p->i = s + is;
  p->il = ie - is;
  p->f = s + fs;
  p->fl = fe - fs;
  return 1;
}

int fmh_vdec_equal_text(const char *a, size_t alen, const char *b, size_t blen, int *invalid) {
  fmh_vdec da, db;
  *invalid = 0;
  /* the common case, two plain texts (a DECIMAL column's "-67.570000000"
   * against "-67.57"), without the general parse */
  dec_plain pa, pb;
  if (plain_parse(a, alen, &pa) && plain_parse(b, blen, &pb)) {
    int za = pa.il == 0 && pa.fl == 0, zb = pb.il == 0 && pb.fl == 0;
    if (za || zb) return za && zb; /* -0 and 0 alike */
    return pa.neg == pb.neg && pa.il == pb.il && pa.fl == pb.fl && memcmp(pa.i, pb.i, pa.il) == 0 &&
           memcmp(pa.f, pb.f, pa.fl) == 0;
  }
  if (fmh_vdec_parse(a, alen, &da) != 0 || fmh_vdec_parse(b, blen, &db) != 0) {
    *invalid = 1;
    return alen == blen && memcmp(a, b, alen) == 0;
  }
  return fmh_vdec_cmp(&da, &db) == 0;
}

/* Little-endian digits of |d| from power 10^lo up, into v[0..n). */
static void vdec_spread(const fmh_vdec *d, long long lo, unsigned char *v, size_t n) {
  memset(v, 0, n);
  for (size_t k = 0; k < d->ndig; k++) {
    long long pw = d->exp + (long long)(d->ndig - 1 - k);
    v[pw - lo] = (unsigned char)(fmh_vdec_digit(d, k) - '0');
  }
}

static int digits_cmp(const unsigned char *a, const unsigned char *b, size_t n) {
  for (size_t i = n; i-- > 0;)
    if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
  return 0;
}

int fmh_vdec_within(const char *a, size_t alen, const char *b, size_t blen, const char *tol, size_t tlen) {
  fmh_vdec da, db, dt;
  if (fmh_vdec_parse(a, alen, &da) != 0 || fmh_vdec_parse(b, blen, &db) != 0 || fmh_vdec_parse(tol, tlen, &dt) != 0)
    return -1;
  if (dt.neg) return -1;
  /* the powers of ten the three numbers span, plus one for a carry */
  const fmh_vdec *all[3] = {&da, &db, &dt};
  long long lo = 0, hi = 0;
  int any = 0;
  for (int i = 0; i < 3; i++) {
    if (all[i]->ndig == 0) continue;
    long long l = all[i]->exp, h = all[i]->exp + (long long)all[i]->ndig - 1;
    if (!any || l < lo) lo = l;
    if (!any || h > hi) hi = h;
    any = 1;
  }
  if (!any) return 1;
  enum { SPAN = 512 };
  if (hi - lo + 2 > SPAN) return -1;
  size_t n = (size_t)(hi - lo + 2);
  unsigned char va[SPAN], vb[SPAN], vt[SPAN], r[SPAN];
  vdec_spread(&da, lo, va, n);
  vdec_spread(&db, lo, vb, n);
  vdec_spread(&dt, lo, vt, n);
  int na = da.ndig && da.neg, nb = db.ndig && db.neg;
  if (na == nb) { /* |a - b| = the larger magnitude minus the smaller */
    const unsigned char *x = va, *y = vb;
    if (digits_cmp(va, vb, n) < 0) { x = vb; y = va; }
    int borrow = 0;
    for (size_t i = 0; i < n; i++) {
      int d = x[i] - y[i] - borrow;
      borrow = d < 0;
      r[i] = (unsigned char)(d < 0 ? d + 10 : d);
    }
  } else { /* opposite signs: |a| + |b| */
    int carry = 0;
    for (size_t i = 0; i < n; i++) {
      int d = va[i] + vb[i] + carry;
      carry = d >= 10;
      r[i] = (unsigned char)(d % 10);
    }
  }
  return digits_cmp(r, vt, n) <= 0;
}

/* --- doubles ------------------------------------------------------------- */

static int64_t ordered_bits(double x) {
  int64_t i;
  memcpy(&i, &x, sizeof i);
  return i < 0 ? INT64_MIN - i : i; /* -0.0 maps to 0, like +0.0 */
}

uint64_t fmh_vulp_distance(double a, double b) {
  if (a != a || b != b) return UINT64_MAX;
  if (a == b) return 0;
  int64_t ia = ordered_bits(a), ib = ordered_bits(b);
  return ia > ib ? (uint64_t)ia - (uint64_t)ib : (uint64_t)ib - (uint64_t)ia;
}

/* --- JSON ---------------------------------------------------------------- */

enum { J_NULL, J_FALSE, J_TRUE, J_NUM, J_STR, J_ARR, J_OBJ };

typedef struct jnode {
  unsigned char t;
  size_t s_off, s_len;   /* STR: unescaped bytes; NUM: canonical decimal (arena) */
  size_t k_off, k_len;   /* the member key, when the node is an object member */
  size_t kids, nkids;    /* ARR/OBJ: indices kid[kids .. kids+nkids) */
  size_t order;          /* position among its siblings (stable sort of keys) */
} jnode;

typedef struct jdoc {
  const char *p, *end, *start;
  jnode *n;
  size_t nn, cn;
  size_t *kid;
  size_t nk, ck;
  size_t *tmp;           /* children being collected, all levels stacked */
  size_t nt, ct;
  char *a;               /* arena */
  size_t na, ca;
  char err[160];
  int depth;
} jdoc;

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 0;
  size_t c = *cap ? *cap : 16;
  while (c < need) c *= 2;
  void *q = realloc(*p, c * elem);
  if (!q) return -1;
  *p = q;
  *cap = c;
  return 0;
}

static void jfail(jdoc *d, const char *what) {
  if (!d->err[0]) snprintf(d->err, sizeof d->err, "%s at byte %zu", what, (size_t)(d->p - d->start));
}

static void skip_ws(jdoc *d) {
  while (d->p < d->end && (*d->p == ' ' || *d->p == '\t' || *d->p == '\n' || *d->p == '\r')) d->p++;
}

static int arena_put(jdoc *d, const char *s, size_t n) {
  if (grow((void **)&d->a, &d->ca, d->na + n + 1, 1) != 0) return -1;
  memcpy(d->a + d->na, s, n);
  d->na += n;
  return 0;
}

static int put_utf8(jdoc *d, unsigned long cp) {
  char b[4];
  size_t n;
  if (cp < 0x80) { b[0] = (char)cp; n = 1; }
  else if (cp < 0x800) { b[0] = (char)(0xC0 | (cp >> 6)); b[1] = (char)(0x80 | (cp & 0x3F)); n = 2; }
  else if (cp < 0x10000) {
    b[0] = (char)(0xE0 | (cp >> 12)); b[1] = (char)(0x80 | ((cp >> 6) & 0x3F)); b[2] = (char)(0x80 | (cp & 0x3F));
    n = 3;
  } else {
    b[0] = (char)(0xF0 | (cp >> 18)); b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    b[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); b[3] = (char)(0x80 | (cp & 0x3F));
    n = 4;
  }
  return arena_put(d, b, n);
}

static int hex4(jdoc *d, unsigned long *cp) {
  if (d->end - d->p < 4) return -1;
  unsigned long v = 0;
  for (int i = 0; i < 4; i++) {
    char c = d->p[i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= (unsigned long)(c - '0');
    else if (c >= 'a' && c <= 'f') v |= (unsigned long)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= (unsigned long)(c - 'A' + 10);
    else return -1;
  }
  d->p += 4;
  *cp = v;
  return 0;
}

/* A string at d->p (the opening quote): its unescaped bytes into the arena. */
static int jstring(jdoc *d, size_t *off, size_t *len) {
  d->p++;
  *off = d->na;
  for (;;) {
    const char *q = d->p;
    while (q < d->end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20) q++;
    if (q > d->p && arena_put(d, d->p, (size_t)(q - d->p)) != 0) return -1;
    d->p = q;
    if (q >= d->end) { jfail(d, "unterminated string"); return -1; }
    if (*q == '"') { d->p++; break; }
    if ((unsigned char)*q < 0x20) { jfail(d, "control character in string"); return -1; }
    /* backslash */
    d->p++;
    if (d->p >= d->end) { jfail(d, "unterminated escape"); return -1; }
    char c = *d->p++, out;
    switch (c) {
      case '"': out = '"'; break;
      case '\\': out = '\\'; break;
      case '/': out = '/'; break;
      case 'b': out = '\b'; break;
      case 'f': out = '\f'; break;
      case 'n': out = '\n'; break;
      case 'r': out = '\r'; break;
      case 't': out = '\t'; break;
      case 'u': {
        unsigned long cp;
        if (hex4(d, &cp) != 0) { jfail(d, "bad \\u escape"); return -1; }
        if (cp >= 0xD800 && cp < 0xDC00 && d->end - d->p >= 6 && d->p[0] == '\\' && d->p[1] == 'u') {
          const char *save = d->p;
          unsigned long lo;
          d->p += 2;
          if (hex4(d, &lo) == 0 && lo >= 0xDC00 && lo < 0xE000) cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          else d->p = save;
        }
        if (put_utf8(d, cp) != 0) return -1;
        continue;
      }
      default: jfail(d, "bad escape"); return -1;
    }
    if (arena_put(d, &out, 1) != 0) return -1;
  }
  *len = d->na - *off;
  return 0;
}

static int jnumber(jdoc *d, size_t *off, size_t *len) {
  const char *s = d->p;
  if (d->p < d->end && *d->p == '-') d->p++;
  if (d->p >= d->end || *d->p < '0' || *d->p > '9') { jfail(d, "bad number"); return -1; }
  while (d->p < d->end && ((*d->p >= '0' && *d->p <= '9') || *d->p == '.' || *d->p == 'e' || *d->p == 'E' ||
                           *d->p == '+' || *d->p == '-'))
    d->p++;
  size_t n = (size_t)(d->p - s);
  if (grow((void **)&d->a, &d->ca, d->na + n + 32, 1) != 0) return -1;
  size_t w = fmh_vdec_canon(s, n, d->a + d->na, n + 32);
  if (w == 0) { d->p = s; jfail(d, "bad number"); return -1; }
  *off = d->na;
  *len = w;
  d->na += w;
  return 0;
}

static _Thread_local const jdoc *sort_doc;

static int member_cmp(const void *x, const void *y) {
  const jnode *a = &sort_doc->n[*(const size_t *)x], *b = &sort_doc->n[*(const size_t *)y];
  size_t m = a->k_len < b->k_len ? a->k_len : b->k_len;
  int c = memcmp(sort_doc->a + a->k_off, sort_doc->a + b->k_off, m);
  if (c) return c;
  if (a->k_len != b->k_len) return a->k_len < b->k_len ? -1 : 1;
  return a->order < b->order ? -1 : a->order > b->order;
}

static long jvalue(jdoc *d);

static long jcontainer(jdoc *d, int obj) {
  if (++d->depth > 512) { jfail(d, "nested too deep"); return -1; }
  d->p++;
  size_t mark = d->nt;
  skip_ws(d);
  char close = obj ? '}' : ']';
  if (d->p < d->end && *d->p == close) {
    d->p++;
  } else {
    for (;;) {
      size_t koff = 0, klen = 0;
      skip_ws(d);
      if (obj) {
        if (d->p >= d->end || *d->p != '"') { jfail(d, "expected a member name"); return -1; }
        if (jstring(d, &koff, &klen) != 0) return -1;
        skip_ws(d);
        if (d->p >= d->end || *d->p != ':') { jfail(d, "expected ':'"); return -1; }
        d->p++;
      }
      long k = jvalue(d);
      if (k < 0) return -1;
      d->n[k].k_off = koff;
      d->n[k].k_len = klen;
      d->n[k].order = d->nt - mark;
      if (grow((void **)&d->tmp, &d->ct, d->nt + 1, sizeof *d->tmp) != 0) return -1;
      d->tmp[d->nt++] = (size_t)k;
      skip_ws(d);
      if (d->p < d->end && *d->p == ',') { d->p++; continue; }
      if (d->p < d->end && *d->p == close) { d->p++; break; }
      jfail(d, obj ? "expected ',' or '}'" : "expected ',' or ']'");
      return -1;
    }
  }
  if (grow((void **)&d->n, &d->cn, d->nn + 1, sizeof *d->n) != 0) return -1;
  size_t self = d->nn++;
  jnode *nd = &d->n[self];
  memset(nd, 0, sizeof *nd);
  nd->t = obj ? J_OBJ : J_ARR;
  nd->nkids = d->nt - mark;
  if (grow((void **)&d->kid, &d->ck, d->nk + nd->nkids, sizeof *d->kid) != 0) return -1;
  nd->kids = d->nk;
  if (nd->nkids) memcpy(d->kid + d->nk, d->tmp + mark, nd->nkids * sizeof *d->kid);
  d->nk += nd->nkids;
  d->nt = mark;
  if (obj && nd->nkids > 1) {
    sort_doc = d;
    qsort(d->kid + nd->kids, nd->nkids, sizeof *d->kid, member_cmp);
  }
  d->depth--;
  return (long)self;
}

static long jvalue(jdoc *d) {
  skip_ws(d);
  if (d->p >= d->end) { jfail(d, "unexpected end"); return -1; }
  char c = *d->p;
  if (c == '{' || c == '[') return jcontainer(d, c == '{');
  if (grow((void **)&d->n, &d->cn, d->nn + 1, sizeof *d->n) != 0) return -1;
  size_t self = d->nn++;
  jnode *nd = &d->n[self];
  memset(nd, 0, sizeof *nd);
  if (c == '"') {
    nd->t = J_STR;
    size_t off, len;
    if (jstring(d, &off, &len) != 0) return -1;
    d->n[self].s_off = off;
    d->n[self].s_len = len;
  } else if (c == '-' || (c >= '0' && c <= '9')) {
    nd->t = J_NUM;
    size_t off, len;
    if (jnumber(d, &off, &len) != 0) return -1;
    d->n[self].s_off = off;
    d->n[self].s_len = len;
  } else if (d->end - d->p >= 4 && memcmp(d->p, "null", 4) == 0) {
    nd->t = J_NULL;
    d->p += 4;
  } else if (d->end - d->p >= 4 && memcmp(d->p, "true", 4) == 0) {
    nd->t = J_TRUE;
    d->p += 4;
  } else if (d->end - d->p >= 5 && memcmp(d->p, "false", 5) == 0) {
    nd->t = J_FALSE;
    d->p += 5;
  } else {
    jfail(d, "unexpected character");
    return -1;
  }
  return (long)self;
}

static long jparse(jdoc *d, const char *s, size_t len) {
  memset(d, 0, sizeof *d);
  d->p = d->start = s;
  d->end = s + len;
  long root = jvalue(d);
  if (root < 0) {
    if (!d->err[0]) snprintf(d->err, sizeof d->err, "out of memory");
    return -1;
  }
  skip_ws(d);
  if (d->p != d->end) {
    jfail(d, "trailing text");
    return -1;
  }
  return root;
}

static void jfree(jdoc *d) {
  free(d->n);
  free(d->kid);
  free(d->tmp);
  free(d->a);
}

static const char *jtype_name(int t) {
  static const char *const names[] = {"null", "false", "true", "number", "string", "array", "object"};
  return names[t];
}

typedef struct jpath {
  char *p;
  size_t len, cap;
} jpath;

static void path_add(jpath *w, const char *s, size_t n) {
  if (!w->p || w->len + 1 >= w->cap) return;
  size_t room = w->cap - 1 - w->len;
  if (n > room) n = room;
  memcpy(w->p + w->len, s, n);
  w->len += n;
  w->p[w->len] = '\0';
}

static void path_key(jpath *w, const char *k, size_t n) {
  int plain = n > 0;
  for (size_t i = 0; i < n && plain; i++) {
    char c = k[i];
    plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
  }
  if (plain) {
    path_add(w, ".", 1);
    path_add(w, k, n);
  } else {
    path_add(w, ".\"", 2);
    path_add(w, k, n > 40 ? 40 : n);
    path_add(w, "\"", 1);
  }
}

static void path_note(jpath *w, const char *what, const char *x, size_t xn, const char *y, size_t yn) {
  char buf[200];
  int n = snprintf(buf, sizeof buf, ": %s%.*s vs %.*s", what, (int)(xn > 60 ? 60 : xn), x, (int)(yn > 60 ? 60 : yn), y);
  if (n > 0) path_add(w, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* 0 equal, 1 different (w gets the path and what differs there). */
static int jcmp(const jdoc *a, size_t ia, const jdoc *b, size_t ib, jpath *w) {
  const jnode *x = &a->n[ia], *y = &b->n[ib];
  if (x->t != y->t) {
    const char *tx = jtype_name(x->t), *ty = jtype_name(y->t);
    path_note(w, "", tx, strlen(tx), ty, strlen(ty));
    return 1;
  }
  switch (x->t) {
    case J_NUM:
      if (x->s_len == y->s_len && memcmp(a->a + x->s_off, b->a + y->s_off, x->s_len) == 0) return 0;
      path_note(w, "number ", a->a + x->s_off, x->s_len, b->a + y->s_off, y->s_len);
      return 1;
    case J_STR:
      if (x->s_len == y->s_len && memcmp(a->a + x->s_off, b->a + y->s_off, x->s_len) == 0) return 0;
      path_add(w, ": strings differ", 16);
      return 1;
    case J_ARR: {
      size_t n = x->nkids < y->nkids ? x->nkids : y->nkids;
      for (size_t k = 0; k < n; k++) {
        size_t save = w->len;
        char seg[32];
        int sn = snprintf(seg, sizeof seg, "[%zu]", k);
        path_add(w, seg, (size_t)sn);
        if (jcmp(a, a->kid[x->kids + k], b, b->kid[y->kids + k], w)) return 1;
        w->len = save;
        if (w->p) w->p[w->len] = '\0';
      }
      if (x->nkids != y->nkids) {
        char seg[80];
        int sn = snprintf(seg, sizeof seg, ": array of %zu vs %zu elements", x->nkids, y->nkids);
        path_add(w, seg, (size_t)sn);
        return 1;
      }
      return 0;
    }
    case J_OBJ: {
      size_t i = 0, j = 0;
      while (i < x->nkids || j < y->nkids) {
        const jnode *kx = i < x->nkids ? &a->n[a->kid[x->kids + i]] : NULL;
        const jnode *ky = j < y->nkids ? &b->n[b->kid[y->kids + j]] : NULL;
        int c;
        if (!kx) c = 1;
        else if (!ky) c = -1;
        else {
          size_t m = kx->k_len < ky->k_len ? kx->k_len : ky->k_len;
          c = memcmp(a->a + kx->k_off, b->a + ky->k_off, m);
          if (!c && kx->k_len != ky->k_len) c = kx->k_len < ky->k_len ? -1 : 1;
        }
        if (c < 0) {
          path_key(w, a->a + kx->k_off, kx->k_len);
          path_add(w, ": only in the expected document", 31);
          return 1;
        }
        if (c > 0) {
          path_key(w, b->a + ky->k_off, ky->k_len);
          path_add(w, ": only in the target document", 29);
          return 1;
        }
        size_t save = w->len;
        path_key(w, a->a + kx->k_off, kx->k_len);
        if (jcmp(a, a->kid[x->kids + i], b, b->kid[y->kids + j], w)) return 1;
        w->len = save;
        if (w->p) w->p[w->len] = '\0';
        i++;
        j++;
      }
      return 0;
    }
    default:
      return 0;
  }
}

int fmh_vjson_compare(const char *a, size_t alen, const char *b, size_t blen, char *where, size_t wcap) {
  jdoc da, db;
  jpath w = {where, 0, wcap};
  if (where && wcap) where[0] = '\0';
  long ra = jparse(&da, a, alen);
  if (ra < 0) {
    if (where) snprintf(where, wcap, "expected document is not JSON: %s", da.err);
    jfree(&da);
    return -1;
  }
  long rb = jparse(&db, b, blen);
  if (rb < 0) {
    if (where) snprintf(where, wcap, "target document is not JSON: %s", db.err);
    jfree(&da);
    jfree(&db);
    return -1;
  }
  path_add(&w, "$", 1);
  int r = jcmp(&da, (size_t)ra, &db, (size_t)rb, &w);
  jfree(&da);
  jfree(&db);
  return r;
}
