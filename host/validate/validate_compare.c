/* fmhost.validate, comparing values: cells (one value of either side),
 * key order, and each field of a matched row by its comparison class,
 * with what a narrower target column would explain. */
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "fmhost/calendar.h"
#include "fmhost/log.h"
#include "fmhost/progress.h"
#include "fmhost/validate.h"
#include "validate_int.h"

void fmh_vcell_from_sql(const fmh_value *v, vcell *c) {
  memset(c, 0, sizeof *c);
  switch (v->t) {
    case FMH_V_NULL: c->k = CK_NULL; break;
    case FMH_V_INT: case FMH_V_BOOL: c->k = CK_INT; c->i = v->i; break;
    case FMH_V_UINT: c->k = CK_UINT; c->u = v->u; break;
    case FMH_V_DOUBLE: c->k = CK_DOUBLE; c->d = v->d; break;
    case FMH_V_DECIMAL: c->k = CK_DEC; c->s = v->s; c->len = v->len; break;
    case FMH_V_STRING: c->k = CK_TEXT; c->s = v->s; c->len = v->len; break;
    case FMH_V_BLOB: c->k = CK_BYTES; c->s = v->s; c->len = v->len; break;
    case FMH_V_DATETIME:
      if (!v->s) { /* packed by the cursor (fmh_cursor_pack_temporal): no text to print and parse back */
        unsigned cls = (unsigned)(v->u >> 8);
        c->k = CK_TUS;
        c->tk = cls == 'D' ? 'd' : cls == 'H' ? 't' : 'x';
        c->i = v->i;
        c->shown = (signed char)(1 + (v->u & 0xFF));
      } else {
        c->k = CK_TTEXT;
        c->s = v->s;
        c->len = v->len;
      }
      break;
  }
}

void fmh_vcell_from_gen(const fmh_gen *g, const vcol *col, const fmh_gen_value *v, vcell *c, char *scratch,
                        size_t scap) {
  memset(c, 0, sizeof *c);
  switch (v->kind) {
    case FMH_GV_NULL: c->k = CK_NULL; break;
    case FMH_GV_INT: case FMH_GV_BOOL: c->k = CK_INT; c->i = v->n.i; break;
    case FMH_GV_UINT: c->k = CK_UINT; c->u = v->n.u; break;
    case FMH_GV_DOUBLE: c->k = CK_DOUBLE; c->d = v->n.d; break;
    case FMH_GV_FLOAT: c->k = CK_FLOAT; c->d = v->n.d; break;
    case FMH_GV_TEXT: c->k = CK_TEXT; c->s = v->s; c->len = v->len; break;
    case FMH_GV_BYTES: c->k = CK_BYTES; c->s = v->s; c->len = v->len; break;
    case FMH_GV_DECIMAL: c->k = CK_DEC; c->s = v->s; c->len = v->len; break;
    case FMH_GV_JSON: c->k = CK_JSON; c->s = v->s; c->len = v->len; break;
    case FMH_GV_DATE: c->k = CK_TUS; c->tk = 'd'; c->i = v->n.i * US_PER_DAY; break;
    case FMH_GV_TIME: c->k = CK_TUS; c->tk = 't'; c->i = v->n.i; break;
    case FMH_GV_DATETIME: c->k = CK_TUS; c->tk = 'x'; c->i = v->n.i; break;
    case FMH_GV_TIMESTAMP:
      if (col && col->tz_gen) {
        size_t n = fmh_gen_format_temporal(g, FMH_GV_TIMESTAMP, v->n.i, 6, scratch);
        (void)scap;
        c->k = CK_TTEXT;
        c->s = scratch;
        c->len = n;
      } else {
        c->k = CK_TUS;
        c->tk = 'x';
        c->i = v->n.i + (col ? col->tz_off : 0);
      }
      break;
  }
}

/* Display text of a cell (into buf when it needs formatting). */
const char *fmh_vcell_text(const vcell *c, int fsp, char *buf, size_t cap, size_t *len) {
  switch (c->k) {
    case CK_NULL: *len = 0; return NULL;
    case CK_INT: *len = (size_t)snprintf(buf, cap, "%" PRId64, c->i); return buf;
    case CK_UINT: *len = (size_t)snprintf(buf, cap, "%" PRIu64, c->u); return buf;
    case CK_DOUBLE: *len = (size_t)(fmh_gen_format_double(buf, c->d) - buf); return buf;
    case CK_FLOAT: *len = (size_t)(fmh_gen_format_float(buf, (float)c->d) - buf); return buf;
    case CK_TUS: /* a server's value as its text showed it; a generated one at fsp */
      *len = fmh_vtemporal_format(c->i, c->tk, c->shown ? c->shown - 1 : fsp < 0 ? 6 : fsp, buf, cap);
      return buf;
    default: *len = c->len; return c->s;
  }
}

static int cell_int(const vcell *c, int *neg, uint64_t *mag) {
  if (c->k == CK_INT) {
    *neg = c->i < 0;
    *mag = c->i < 0 ? (uint64_t)(-(c->i + 1)) + 1 : (uint64_t)c->i;
    return 0;
  }
  if (c->k == CK_UINT) {
    *neg = 0;
    *mag = c->u;
    return 0;
  }
  return -1;
}

double fmh_vcell_double(const vcell *c, int *ok) {
  *ok = 1;
  switch (c->k) {
    case CK_INT: return (double)c->i;
    case CK_UINT: return (double)c->u;
    case CK_DOUBLE: case CK_FLOAT: return c->d;
    case CK_DEC: case CK_TEXT: case CK_JSON: {
      char b[128];
      if (c->len >= sizeof b) break;
      memcpy(b, c->s, c->len);
      b[c->len] = '\0';
      char *end;
      double d = strtod(b, &end);
      if (end != b && *end == '\0') return d;
      break;
    }
    default: break;
  }
  *ok = 0;
  return 0;
}

static int cell_temporal(const vcell *c, int64_t *us, char *tk) {
  if (c->k == CK_TUS) {
    *us = c->i;
    *tk = c->tk;
    return 0;
  }
  if (c->k == CK_TTEXT || c->k == CK_TEXT) return fmh_vtemporal_parse(c->s, c->len, us, tk);
  return -1;
}

static int bytes_cmp(const char *a, size_t an, const char *b, size_t bn) {
  size_t m = an < bn ? an : bn;
  int c = m ? memcmp(a, b, m) : 0;
  if (c) return c < 0 ? -1 : 1;
  return an < bn ? -1 : an > bn;
}

/* Key order of two cells, as the server's ORDER BY sorts them. */
static int key_cmp_cell(const vcell *a, const vcell *b, cmp_class cls, char *ba, char *bb) {
  if (a->k == CK_NULL || b->k == CK_NULL) return (a->k != CK_NULL) - (b->k != CK_NULL); /* NULLs first */
  int na, nb;
  uint64_t ma, mb;
  if (cell_int(a, &na, &ma) == 0 && cell_int(b, &nb, &mb) == 0) {
    if (na != nb) return na ? -1 : 1;
    if (ma == mb) return 0;
    return (ma < mb) != na ? -1 : 1;
  }
  if (cls == CMP_TEMPORAL) {
    int64_t ua, ub;
    char ta, tb;
    if (cell_temporal(a, &ua, &ta) == 0 && cell_temporal(b, &ub, &tb) == 0) return ua < ub ? -1 : ua > ub;
  }
  if (cls == CMP_DOUBLE || cls == CMP_FLOAT || a->k == CK_DOUBLE || b->k == CK_DOUBLE) {
    int oa, ob;
    double da = fmh_vcell_double(a, &oa), db = fmh_vcell_double(b, &ob);
    if (oa && ob) return da < db ? -1 : da > db;
  }
  size_t la, lb;
  const char *sa = fmh_vcell_text(a, 6, ba, 96, &la), *sb = fmh_vcell_text(b, 6, bb, 96, &lb);
  if (cls == CMP_INTEGER || cls == CMP_DECIMAL || a->k == CK_DEC || b->k == CK_DEC) {
    fmh_vdec da, db;
    if (fmh_vdec_parse(sa, la, &da) == 0 && fmh_vdec_parse(sb, lb, &db) == 0) return fmh_vdec_cmp(&da, &db);
  }
  return bytes_cmp(sa, la, sb, lb);
}

int fmh_vkey_cmp(fmh_vcmp *c) {
  for (int k = 0; k < c->o.nkey; k++) {
    int r = key_cmp_cell(&c->t.key[k], &c->e.key[k], c->keys[k].cls, c->t.scratch[0], c->e.scratch[0]);
    if (r) return r;
  }
  return 0;
}

static int key_part_of(const vcell *cell, fmh_vkey_part *p, char *buf) {
  memset(p, 0, sizeof *p);
  size_t len;
  switch (cell->k) {
    case CK_NULL: p->kind = FMH_VK_NULL; return 0;
    case CK_INT: p->kind = FMH_VK_INT; p->i = cell->i; return 0;
    case CK_UINT: p->kind = FMH_VK_UINT; p->u = cell->u; return 0;
    default: {
      const char *s = fmh_vcell_text(cell, 6, buf, 96, &len);
      p->kind = FMH_VK_TEXT;
      p->s = (char *)s;
      p->len = len;
      return 0;
    }
  }
}

/* The current key of a side as an fmh_vkey whose text parts point into the row. */
void fmh_vside_key_view(fmh_vcmp *c, vside *s, fmh_vkey *k, fmh_vkey_part *parts) {
  k->n = c->o.nkey;
  k->parts = parts;
  for (int i = 0; i < c->o.nkey; i++) key_part_of(&s->key[i], &parts[i], s->kscr[i]);
}

/* Order of the current key against the side's previous key. */
int fmh_vprev_cmp(fmh_vcmp *c, vside *s) {
  for (int k = 0; k < c->o.nkey; k++) {
    const fmh_vkey_part *p = &s->prev.parts[k];
    vcell pc;
    memset(&pc, 0, sizeof pc);
    switch (p->kind) {
      case FMH_VK_NULL: pc.k = CK_NULL; break;
      case FMH_VK_INT: pc.k = CK_INT; pc.i = p->i; break;
      case FMH_VK_UINT: pc.k = CK_UINT; pc.u = p->u; break;
      case FMH_VK_TEXT: pc.k = s->key[k].k == CK_BYTES ? CK_BYTES : CK_TEXT; pc.s = p->s; pc.len = p->len; break;
    }
    if (c->keys[k].cls == CMP_TEMPORAL && pc.k == CK_TEXT) pc.k = CK_TTEXT;
    if ((c->keys[k].cls == CMP_DECIMAL) && pc.k == CK_TEXT) pc.k = CK_DEC;
    int r = key_cmp_cell(&s->key[k], &pc, c->keys[k].cls, s->scratch[0], s->scratch[1]);
    if (r) return r;
  }
  return 0;
}

/* --- field comparison --------------------------------------------------- */

static uint64_t float_ulps(float a, float b) {
  if (a == b) return 0;
  int32_t ia, ib;
  memcpy(&ia, &a, 4);
  memcpy(&ib, &b, 4);
  int64_t oa = ia < 0 ? (int64_t)INT32_MIN - ia : ia, ob = ib < 0 ? (int64_t)INT32_MIN - ib : ib;
  return (uint64_t)(oa > ob ? oa - ob : ob - oa);
}

/* Decimal text of a numeric cell for exact comparison. */
static const char *num_text(const vcell *c, char *buf, size_t *len) { return fmh_vcell_text(c, 6, buf, 96, len); }

/* --- why two values differ: what a narrower target column does ----------- */

/* The integer type whose limit v is ("TINYINT", "INT UNSIGNED"), or NULL. */
static const char *int_limit_name(int neg, uint64_t mag) {
  static const struct { uint64_t mag; int neg; const char *name; } lim[] = {
      {127, 0, "TINYINT"},     {128, 1, "TINYINT"},         {255, 0, "TINYINT UNSIGNED"},
      {32767, 0, "SMALLINT"},  {32768, 1, "SMALLINT"},      {65535, 0, "SMALLINT UNSIGNED"},
      {8388607, 0, "MEDIUMINT"}, {8388608, 1, "MEDIUMINT"}, {16777215, 0, "MEDIUMINT UNSIGNED"},
      {2147483647, 0, "INT"},  {2147483648u, 1, "INT"},     {4294967295u, 0, "INT UNSIGNED"},
  };
  for (size_t i = 0; i < sizeof lim / sizeof *lim; i++)
    if (lim[i].mag == mag && lim[i].neg == neg) return lim[i].name;
  return NULL;
}

/* Digits after the point of a decimal text (0 without a point). */
static size_t frac_digits(const char *s, size_t n) {
  const char *dot = memchr(s, '.', n);
  if (!dot) return 0;
  size_t k = 0;
  for (const char *p = dot + 1; p < s + n && *p >= '0' && *p <= '9'; p++) k++;
  return k;
}

/* s ([-]digits[.digits]) rounded half away from zero to k fraction digits,
 * as MariaDB stores it in a DECIMAL of scale k; 0 when s is not such a text. */
static size_t decimal_round(const char *s, size_t n, size_t k, char *out, size_t cap) {
  size_t i = 0, o = 0;
  if (n + 3 > cap || n == 0) return 0;
  if (s[0] == '-' || s[0] == '+') {
    if (s[0] == '-') out[o++] = '-';
    i = 1;
  }
  out[o++] = '0'; /* room for a carry */
  size_t start = o;
  while (i < n && s[i] >= '0' && s[i] <= '9') out[o++] = s[i++];
  if (o == start) return 0;
  size_t kept = 0;
  int up = 0;
  if (i < n && s[i] == '.') {
    i++;
    if (k > 0) out[o++] = '.';
    while (i < n && s[i] >= '0' && s[i] <= '9') {
      if (kept < k) out[o++] = s[i];
      else if (kept == k) up = s[i] >= '5';
      kept++;
      i++;
    }
  }
  if (i != n) return 0;
  for (size_t j = o; up && j-- > start - 1;) {
    if (out[j] == '.') continue;
    if (out[j] == '9') out[j] = '0';
    else {
      out[j]++;
      up = 0;
    }
  }
  return o;
}

/* Count characters of a UTF-8 text (bytes that do not continue one). */
static size_t utf8_chars(const char *s, size_t n) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++) k += ((unsigned char)s[i] & 0xC0) != 0x80;
  return k;
}

/* The length of the UTF-8 character at s[i] (1 for a stray byte). */
static size_t utf8_len(const char *s, size_t n, size_t i) {
  size_t k = 1;
  while (i + k < n && ((unsigned char)s[i + k] & 0xC0) == 0x80) k++;
  return k;
}

static uint32_t utf8_code(const char *s, size_t len) {
  const unsigned char *u = (const unsigned char *)s;
  if (len == 1) return u[0];
  if (len > 4) return 0xFFFD; /* not UTF-8 */
  uint32_t c = u[0] & (0x7F >> len);
  for (size_t i = 1; i < len; i++) c = (c << 6) | (u[i] & 0x3F);
  return c;
}

/* Why two strings differ, into d: characters turned into '?' (a character
 * set that cannot hold them), a cut (a shorter column), else the first
 * differing byte. */
static void string_detail(const char *es, size_t el, const char *ts, size_t tl, int bytes, char *d, size_t cap,
                          fmh_vhit *h) {
  const char *what = bytes ? "bytes" : "strings";
  size_t ie = 0, it = 0, q = 0, first_q = 0, other = 0, chars = 0;
  uint32_t first_code = 0;
  int all4 = 1, kept_wide = 0, lost_bmp = 0;
  while (!bytes && ie < el && it < tl) {
    size_t le = utf8_len(es, el, ie), lt = utf8_len(ts, tl, it);
    if (le == lt && memcmp(es + ie, ts + it, le) == 0) {
      /* the same character */
      if (le >= 3) kept_wide = 1; /* above U+07FF: no single-byte set holds it */
    } else if (ts[it] == '?' && lt == 1) {
      uint32_t code = utf8_code(es + ie, le);
      if (code < 0x10000) all4 = 0;
      if (code > 0xFF && code < 0x10000) lost_bmp = 1;
      if (q++ == 0) {
        first_q = chars;
        first_code = code;
      }
    } else {
      other = 1;
      break;
    }
    ie += le;
    it += lt;
    chars++;
  }
  size_t ec = bytes ? el : utf8_chars(es, el), tc = bytes ? tl : utf8_chars(ts, tl);
  if (q > 0 && !other && it == tl) {
    int n = snprintf(d, cap,
                     "%zu character%s became '?' (the first, U+%04" PRIX32 " at character %zu): the target column's "
                     "character set cannot hold %s",
                     q, q == 1 ? "" : "s", first_code, first_q, q == 1 ? "it" : "them");
    h->kind = FMH_VP_CHARSET;
    h->name = all4 && kept_wide ? "4-byte" : lost_bmp && !kept_wide ? "latin1" : NULL;
    if (ie < el && n > 0 && (size_t)n < cap)
      snprintf(d + n, cap - (size_t)n, "; and the target holds only the first %zu of %zu characters (cut)", tc, ec);
    return;
  }
  if (tl < el && memcmp(es, ts, tl) == 0) {
    snprintf(d, cap, "the target holds the first %zu of %zu %s (cut)", tc, ec, bytes ? "bytes" : "characters");
    h->kind = FMH_VP_TRUNCATION;
    h->param = (int64_t)tc;
    h->name = bytes ? "bytes" : "characters";
    return;
  }
  size_t m = el < tl ? el : tl, i = 0;
  while (i < m && es[i] == ts[i]) i++;
  snprintf(d, cap, "%s differ at byte %zu (lengths %zu and %zu)", what, i, el, tl);
}

/* A shift of whole minutes as an offset: "+05:30". */
static void offset_text(int64_t minutes, char *out, size_t cap) {
  int64_t a = minutes < 0 ? -minutes : minutes;
  snprintf(out, cap, "%c%02" PRId64 ":%02" PRId64, minutes < 0 ? '-' : '+', a / 60, a % 60);
}

static void temporal_detail(int64_t eu, char ek, int64_t tu, char tk, int fsp, char *d, size_t cap, fmh_vhit *h) {
  int64_t diff = tu - eu;
  int64_t adiff = diff < 0 ? -diff : diff;
  const char *unit = "microseconds";
  int64_t per = 1;
  if (adiff % INT64_C(3600000000) == 0) { unit = "hours"; per = INT64_C(3600000000); }
  else if (adiff % INT64_C(60000000) == 0) { unit = "minutes"; per = INT64_C(60000000); }
  else if (adiff % INT64_C(1000000) == 0) { unit = "seconds"; per = INT64_C(1000000); }
  int n = snprintf(d, cap, "target is %+" PRId64 " %s from the expected value", diff / per, unit);
  if (n < 0 || (size_t)n >= cap) return;
  size_t o = (size_t)n;
  int64_t day = eu >= 0 ? eu / US_PER_DAY : -((-eu + US_PER_DAY - 1) / US_PER_DAY);
  if (ek == 'x' && tk == 'd' && tu == day * US_PER_DAY) {
    n = snprintf(d + o, cap - o, ": the target holds the date only (a DATE column for DATETIME data?)");
    h->kind = FMH_VP_DATE_ONLY;
  } else if (adiff % INT64_C(60000000) == 0 && adiff < INT64_C(86400000000)) {
    char off[24];
    offset_text(diff / INT64_C(60000000), off, sizeof off);
    n = snprintf(d + o, cap - o, ", a shift of %s (a time zone offset?)", off);
    h->kind = FMH_VP_TIME_SHIFT;
    h->param = diff / INT64_C(60000000);
    if (ek != 't') {
      int64_t y;
      int mo, dd;
      fmh_civil_from_days(day, &y, &mo, &dd);
      h->month = mo;
    }
  } else {
    n = 0;
    /* the value cut to fewer fraction digits: a column of a smaller fsp */
    for (int k = 0; k < 6 && adiff < INT64_C(1000000); k++)
      if (fmh_vtemporal_cut(eu, ek, k) == tu) {
        n = snprintf(d + o, cap - o, ": the expected value cut to %d fraction digit%s (a column of fsp %d?)", k,
                     k == 1 ? "" : "s", k);
        h->kind = FMH_VP_FSP;
        h->param = k;
        break;
      }
  }
  if (n < 0 || (size_t)n >= cap - o) return;
  o += (size_t)n;
  snprintf(d + o, cap - o, " (compared at fsp %d)", fsp);
}

/* A numeric column compared within a tolerance the user gave: 0 equal,
 * 1 mismatch recorded, -1 out of memory, 2 not numbers (compare as usual). */
static int compare_tolerance(fmh_vcmp *c, vcol *col, const vcell *ev, const vcell *tv) {
  int eo, to;
  double ed = fmh_vcell_double(ev, &eo), td = fmh_vcell_double(tv, &to);
  if (!eo || !to) return 2;
  double diff = fabs(ed - td);
  if (col->cls == CMP_INTEGER || col->cls == CMP_DECIMAL) {
    /* exactly, in decimal: a double cannot tell 0.005 at 10^19 */
    char eb[96], tb[96], kb[40];
    size_t el, tl, kl = (size_t)(fmh_gen_format_double(kb, col->tol) - kb);
    const char *es = num_text(ev, eb, &el), *ts = num_text(tv, tb, &tl);
    int w = fmh_vdec_within(es, el, ts, tl, kb, kl);
    if (w == 1) return 0;
    if (w < 0 && diff <= col->tol) return 0;
  } else if (diff <= col->tol) {
    return 0;
  }
  char detail[200];
  snprintf(detail, sizeof detail, "numbers differ by %.17g (tolerance %.17g)", diff, col->tol);
  static const char *const reasons[] = {FMH_VR_INTEGER, FMH_VR_DECIMAL, FMH_VR_DOUBLE, FMH_VR_FLOAT};
  return fmh_vadd_mismatch(c, col, ev, tv, reasons[col->cls], detail) < 0 ? -1 : 1;
}

/* 0 equal, 1 mismatch recorded, -1 out of memory. */
/* What a value a NOT NULL column puts for NULL looks like: "0", "''",
 * "the epoch", "the zero date", or NULL. */
static const char *default_name(const vcell *tv) {
  switch (tv->k) {
    case CK_INT: return tv->i == 0 ? "0" : NULL;
    case CK_UINT: return tv->u == 0 ? "0" : NULL;
    case CK_DOUBLE: case CK_FLOAT: return tv->d == 0 ? "0" : NULL;
    case CK_DEC: {
      int inv;
      return fmh_vdec_equal_text(tv->s, tv->len, "0", 1, &inv) && !inv ? "0" : NULL;
    }
    case CK_TEXT: case CK_BYTES: return tv->len == 0 ? "''" : NULL;
    case CK_JSON: return tv->len == 0 ? "''" : NULL;
    case CK_TTEXT:
      if (tv->len >= 10 && memcmp(tv->s, "0000-00-00", 10) == 0) return "the zero date";
      if (tv->len >= 10 && memcmp(tv->s, "1970-01-01", 10) == 0) {
        for (size_t i = 10; i < tv->len; i++)
          if (tv->s[i] >= '1' && tv->s[i] <= '9') return NULL;
        return "the epoch";
      }
      if (tv->len >= 8 && strspn(tv->s, "0:.") == tv->len) return "0";
      return NULL;
    case CK_TUS: return tv->i != 0 ? NULL : tv->tk == 't' ? "0" : "the epoch";
    default: return NULL;
  }
}

int fmh_vcompare_field(fmh_vcmp *c, vcol *col, const vcell *ev, const vcell *tv) {
  char detail[400];
  detail[0] = '\0';
  memset(&c->hit, 0, sizeof c->hit);
  if (ev->k == CK_NULL || tv->k == CK_NULL) {
    if (ev->k == tv->k) return 0;
    if (ev->k == CK_NULL) {
      const char *dn = default_name(tv);
      if (dn) {
        c->hit.kind = FMH_VP_NULL_DEFAULT;
        c->hit.name = dn;
        snprintf(detail, sizeof detail, "expected NULL, the target holds %s (a NOT NULL column's default?)", dn);
      }
      return fmh_vadd_mismatch(c, col, ev, tv, FMH_VR_NULL_EXPECTED,
                               dn ? detail : "expected NULL, the target holds a value") < 0 ? -1 : 1;
    }
    return fmh_vadd_mismatch(c, col, ev, tv, FMH_VR_NULL_ACTUAL,
                             "expected a value, the target holds NULL") < 0 ? -1 : 1;
  }
  char eb[96], tb[96];
  size_t el, tl;
  if (col->tol > 0 && col->cls <= CMP_FLOAT) {
    int r = compare_tolerance(c, col, ev, tv);
    if (r != 2) return r;
  }
  if (col->cls == CMP_INTEGER) {
    int en, tn;
    uint64_t em, tm;
    if (cell_int(ev, &en, &em) == 0 && cell_int(tv, &tn, &tm) == 0) {
      if (en == tn && em == tm) return 0;
      const char *lim = int_limit_name(tn, tm);
      if (lim && en == tn && em > tm) {
        snprintf(detail, sizeof detail, "integers differ: the target holds the %s %s, the value clipped to it "
                 "(a narrower integer column?)", tn ? "minimum of" : "maximum of", lim);
        c->hit.kind = FMH_VP_CLIPPING;
        /* a signed type's two bounds are one range */
        c->hit.name = lim;
      } else if (en && !tn && tm == 0) {
        snprintf(detail, sizeof detail, "integers differ: the target holds 0, a negative value clipped to it "
                 "(an UNSIGNED column?)");
        c->hit.kind = FMH_VP_UNSIGNED;
      }
      return fmh_vadd_mismatch(c, col, ev, tv, FMH_VR_INTEGER, detail[0] ? detail : "integers differ") < 0 ? -1 : 1;
    }
    /* else compare as exact decimals */
  }
  switch (col->cls) {
    case CMP_INTEGER:
    case CMP_DECIMAL: {
      const char *es = num_text(ev, eb, &el), *ts = num_text(tv, tb, &tl);
      int invalid;
      if (fmh_vdec_equal_text(es, el, ts, tl, &invalid)) return 0;
      const char *why = col->cls == CMP_INTEGER ? FMH_VR_INTEGER : FMH_VR_DECIMAL;
      if (invalid) return fmh_vadd_mismatch(c, col, ev, tv, why, "not a decimal number on one side, and the texts differ") < 0 ? -1 : 1;
      /* the fewest places the target's value is rounded to: its column's
       * scale may show more digits ("-67.570000000" in a DECIMAL(22,9)) */
      size_t kt = frac_digits(ts, tl), ke = frac_digits(es, el), k = kt;
      while (k > 0 && ts[tl - (kt - k) - 1] == '0') k--;
      char rounded[128];
      size_t rl = kt < ke ? decimal_round(es, el, kt, rounded, sizeof rounded) : 0;
      int inv0;
      if (rl && fmh_vdec_equal_text(rounded, rl, ts, tl, &inv0)) k = kt; /* the column's own scale */
      else rl = 0;
      for (; !rl && k < ke && k <= kt; k++) {
        rl = decimal_round(es, el, k, rounded, sizeof rounded);
        if (rl && fmh_vdec_equal_text(rounded, rl, ts, tl, &inv0)) break;
        rl = 0;
      }
      size_t nines = 0, digits = 0;
      for (size_t i = 0; i < tl; i++) {
        if (ts[i] >= '0' && ts[i] <= '9') digits++;
        if (ts[i] == '9') nines++;
      }
      int inv2;
      if (rl && fmh_vdec_equal_text(rounded, rl, ts, tl, &inv2)) {
        snprintf(detail, sizeof detail, "decimal values differ: the target holds the value rounded to %zu decimal "
                 "place%s (a column of a smaller scale?)", k, k == 1 ? "" : "s");
        c->hit.kind = FMH_VP_ROUNDING;
        c->hit.param = (int64_t)k;
      } else if (digits > 0 && nines == digits) {
        snprintf(detail, sizeof detail, "decimal values differ: the target holds the largest value its column can "
                 "hold, the value clipped to it (a column of a smaller precision?)");
        c->hit.kind = FMH_VP_CLIPPING;
        c->hit.name = "DECIMAL";
        c->hit.param = (int64_t)(digits * 100 + k);
      }
      return fmh_vadd_mismatch(c, col, ev, tv, why, detail[0] ? detail : "decimal values differ numerically") < 0
                 ? -1
                 : 1;
    }
    case CMP_DOUBLE: {
      int eo, to;
      double ed = fmh_vcell_double(ev, &eo), td = fmh_vcell_double(tv, &to);
      /* a FLOAT column holds a float: its shortest text read back as a
       * double (0.1) is not the value it holds (0.100000001490116...) */
      if (col->t_float && to && tv->k == CK_DOUBLE) td = (double)(float)td;
      if (eo && to) {
        uint64_t d = fmh_vulp_distance(ed, td);
        if (d <= (uint64_t)col->ulp) return 0;
        int n;
        if (col->ulp > 0)
          n = snprintf(detail, sizeof detail, "doubles differ by %" PRIu64 " ULP (tolerance %d)", d, col->ulp);
        else if (d < 1000000)
          n = snprintf(detail, sizeof detail, "doubles differ by %" PRIu64 " ULP", d);
        else
          n = snprintf(detail, sizeof detail, "doubles differ");
        if (n > 0 && (size_t)n < sizeof detail) {
          if (isfinite(ed) && (float)ed == (float)td) {
            snprintf(detail + n, sizeof detail - (size_t)n,
                     ": the target holds the expected value at float precision (a FLOAT column for DOUBLE data?)");
            c->hit.kind = FMH_VP_FLOAT;
          } else if (fabs(ed) > FLT_MAX && fabs(td) == (double)FLT_MAX && (ed < 0) == (td < 0)) {
            snprintf(detail + n, sizeof detail - (size_t)n,
                     ": the target holds the largest FLOAT, the value clipped to it (a FLOAT column for DOUBLE data?)");
            c->hit.kind = FMH_VP_CLIPPING;
            c->hit.name = "FLOAT";
          } else if (isfinite(ed) && isfinite(td)) {
            /* a DECIMAL(p,k) column for DOUBLE data: the value rounded to k places */
            char eb2[40], tb2[40], rb[64];
            size_t e2 = (size_t)(fmh_gen_format_double(eb2, ed) - eb2), t2 = (size_t)(fmh_gen_format_double(tb2, td) - tb2);
            size_t k = frac_digits(tb2, t2);
            size_t rl = !memchr(eb2, 'e', e2) && !memchr(tb2, 'e', t2) && k < frac_digits(eb2, e2)
                            ? decimal_round(eb2, e2, k, rb, sizeof rb) : 0;
            int inv;
            if (rl && fmh_vdec_equal_text(rb, rl, tb2, t2, &inv)) {
              snprintf(detail + n, sizeof detail - (size_t)n,
                       ": the target holds the value rounded to %zu decimal place%s (a DECIMAL column for DOUBLE "
                       "data?)", k, k == 1 ? "" : "s");
              c->hit.kind = FMH_VP_ROUNDING;
              c->hit.param = (int64_t)k;
            }
          }
        }
        return fmh_vadd_mismatch(c, col, ev, tv, FMH_VR_DOUBLE, detail) < 0 ? -1 : 1;
      }
      return fmh_vadd_mismatch(c, col, ev, tv, FMH_VR_DOUBLE, "not a number on one side") < 0 ? -1 : 1;
    }
    case CMP_FLOAT: {
      int eo, to;
      double ed = fmh_vcell_double(ev, &eo), td = fmh_vcell_double(tv, &to);
      if (eo && to) {
        uint64_t d = float_ulps((float)ed, (float)td);
        if (d <= (uint64_t)col->ulp) return 0;
        snprintf(detail, sizeof detail, "floats differ at float precision by %" PRIu64 " ULP%s", d,
                 col->ulp > 0 ? " (over the tolerance)" : "");
        return fmh_vadd_mismatch(c, col, ev, tv, FMH_VR_FLOAT, detail) < 0 ? -1 : 1;
      }
      return fmh_vadd_mismatch(c, col, ev, tv, FMH_VR_FLOAT, "not a number on one side") < 0 ? -1 : 1;
    }
    case CMP_TEMPORAL: {
      int64_t eu, tu;
      char ek, tk;
      if (cell_temporal(ev, &eu, &ek) == 0 && cell_temporal(tv, &tu, &tk) == 0) {
        int fsp = col->fsp;
        if (fmh_vtemporal_cut(eu, ek, fsp) == fmh_vtemporal_cut(tu, tk, fsp)) return 0;
        temporal_detail(eu, ek, tu, tk, fsp >= 0 ? fsp : col->gen_fsp, detail, sizeof detail, &c->hit);
        return fmh_vadd_mismatch(c, col, ev, tv, FMH_VR_TEMPORAL, detail) < 0 ? -1 : 1;
      }
      const char *es = fmh_vcell_text(ev, 6, eb, sizeof eb, &el), *ts = fmh_vcell_text(tv, 6, tb, sizeof tb, &tl);
      if (el == tl && memcmp(es, ts, el) == 0) return 0;
      return fmh_vadd_mismatch(c, col, ev, tv, FMH_VR_TEMPORAL, "temporal texts differ (not parseable)") < 0 ? -1 : 1;
    }
    case CMP_JSON: {
      const char *es = fmh_vcell_text(ev, 6, eb, sizeof eb, &el), *ts = fmh_vcell_text(tv, 6, tb, sizeof tb, &tl);
      if (el == tl && memcmp(es, ts, el) == 0) return 0; /* the common case, no parsing */
      char where[300];
      int r = fmh_vjson_compare(es, el, ts, tl, where, sizeof where);
      if (r == 0) return 0;
      snprintf(detail, sizeof detail, "%s%s", r < 0 ? "" : "JSON differs at ", where);
      return fmh_vadd_mismatch(c, col, ev, tv, r < 0 ? FMH_VR_INVALID_JSON : FMH_VR_JSON, detail) < 0 ? -1 : 1;
    }
    case CMP_STRING:
    case CMP_BYTES: {
      const char *es = fmh_vcell_text(ev, 6, eb, sizeof eb, &el), *ts = fmh_vcell_text(tv, 6, tb, sizeof tb, &tl);
      if (el == tl && memcmp(es, ts, el) == 0) return 0;
      size_t i0 = 0, j0 = 0;
      while (i0 < el && (es[i0] == ' ' || es[i0] == '\n' || es[i0] == '\t' || es[i0] == '\r')) i0++;
      while (j0 < tl && (ts[j0] == ' ' || ts[j0] == '\n' || ts[j0] == '\t' || ts[j0] == '\r')) j0++;
      char where[300];
      if (col->cls == CMP_STRING && i0 < el && j0 < tl && (es[i0] == '{' || es[i0] == '[') && es[i0] == ts[j0] &&
          fmh_vjson_compare(es, el, ts, tl, where, sizeof where) == 0) {
        c->hit.kind = FMH_VP_JSON_TEXT;
        return fmh_vadd_mismatch(c, col, ev, tv, FMH_VR_STRING,
                                 "the same JSON document in other text (re-serialised JSON?)") < 0 ? -1 : 1;
      }
      string_detail(es, el, ts, tl, col->cls == CMP_BYTES, detail, sizeof detail, &c->hit);
      return fmh_vadd_mismatch(c, col, ev, tv, col->cls == CMP_STRING ? FMH_VR_STRING : FMH_VR_BYTES, detail) < 0
                 ? -1
                 : 1;
    }
  }
  return 0;
}
