/* fmhost.validate, the diagnosis: the patterns behind a verdict's
 * differences, and every sentence that names them (the one place their
 * text is written).
 *
 * Accumulators of bounded size are fed only on a mismatch, a missing or an
 * extra row, so a comparison that finds nothing pays nothing:
 *   - per compared column, up to MAXSLOT recognised narrowings (kind and
 *     parameter: "rounded to 2 places", "cut to 8 characters", a shift of
 *     -05:00 ...) with a count and two examples each, and how many
 *     mismatches fit none;
 *   - per column of the missing rows (and of the extra rows): NULLs,
 *     minimum and maximum, up to MAXSET distinct values, and for the first
 *     key column the gcd and common residues of the keys; the candidate
 *     predicates they suggest are checked over the whole side by the caller
 *     (a predicate is named only when the rows satisfying it are exactly
 *     the missing or extra ones);
 *   - runs of missing keys, copies of duplicated keys that differ.
 * A pattern is named only where it holds: for the count it states. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "validate_int.h"

#define MAXSLOT 8
#define MAXSET 4
#define MAXROWS 16     /* missing rows whose values are kept (collapse check, examples) */
#define SHOWROWS 3     /* rows shown in the verdict */

typedef struct slot {
  const char *kind;
  int64_t param;
  const char *name;
  uint64_t count;
  uint16_t months;     /* time shifts: months of the expected values seen */
  char *ex[2];
} slot;

typedef struct xcol {
  slot s[MAXSLOT];
  int nslot;
  uint64_t other;      /* mismatches fitting no pattern (or no free slot) */
  uint64_t total;
} xcol;

typedef struct sketch {
  uint64_t n, nulls;
  int allint, allnum;  /* every non-NULL value was exact integer / a number */
  int64_t imin, imax;
  double dmin, dmax;
  char *tmin, *tmax;   /* display text of the minimum and maximum */
  int nset, over;
  char *set[MAXSET];
  size_t setlen[MAXSET];
  uint64_t gcd;        /* key column: gcd of |values| */
  uint32_t resid_ok;   /* bit m: every value has the same residue mod m */
  int64_t resid[17];
} sketch;

typedef struct xside {
  int ncols, key;
  char **names;
  sketch *sk;
  uint64_t n;
  char *rows[SHOWROWS];
  int nrows;
  char **vals;         /* MAXROWS x ncols texts (missing side only) */
  size_t *lens;
  int nkept;
} xside;

struct fmh_vx {
  int ncols;
  xcol *cols;
  xside side[2];
  /* runs of missing keys, in key order */
  int in_run;
  uint64_t runs, present_before, present_after;
  /* duplicated keys */
  uint64_t copy_keys_differing, copy_rows_differing, copy_rows_exact;
  uint64_t copy_cols[64];
};

/* --- set up ------------------------------------------------------------- */

static int side_init(xside *s, char **names, int n, int key, int keep) {
  s->ncols = n;
  s->key = key;
  s->names = names;
  s->sk = calloc((size_t)(n ? n : 1), sizeof *s->sk);
  if (!s->sk) return -1;
  for (int i = 0; i < n; i++) {
    s->sk[i].allint = s->sk[i].allnum = 1;
    s->sk[i].resid_ok = 0x1fffc; /* m = 2..16 */
  }
  if (keep) {
    s->vals = calloc((size_t)MAXROWS * (size_t)(n ? n : 1), sizeof *s->vals);
    s->lens = calloc((size_t)MAXROWS * (size_t)(n ? n : 1), sizeof *s->lens);
    if (!s->vals || !s->lens) return -1;
  }
  return 0;
}

fmh_vx *fmh_vx_new(int ncols, char **ename, int ne, int ekey, char **tname, int nt, int tkey) {
  fmh_vx *x = calloc(1, sizeof *x);
  if (!x) return NULL;
  x->ncols = ncols;
  x->cols = calloc((size_t)(ncols ? ncols : 1), sizeof *x->cols);
  if (!x->cols || side_init(&x->side[0], ename, ne, ekey, 1) != 0 || side_init(&x->side[1], tname, nt, tkey, 0) != 0) {
    fmh_vx_free(x);
    return NULL;
  }
  return x;
}

void fmh_vx_free(fmh_vx *x) {
  if (!x) return;
  for (int c = 0; x->cols && c < x->ncols; c++)
    for (int i = 0; i < x->cols[c].nslot; i++) {
      free(x->cols[c].s[i].ex[0]);
      free(x->cols[c].s[i].ex[1]);
    }
  free(x->cols);
  for (int k = 0; k < 2; k++) {
    xside *s = &x->side[k];
    for (int i = 0; s->sk && i < s->ncols; i++) {
      free(s->sk[i].tmin);
      free(s->sk[i].tmax);
      for (int j = 0; j < s->sk[i].nset; j++) free(s->sk[i].set[j]);
    }
    free(s->sk);
    for (int i = 0; i < s->nrows; i++) free(s->rows[i]);
    if (s->vals)
      for (int i = 0; i < MAXROWS * s->ncols; i++) free(s->vals[i]);
    free(s->vals);
    free(s->lens);
  }
  free(x);
}

/* --- text helpers ----------------------------------------------------------- */

/* s quoted and cut to 60 bytes (not inside a UTF-8 character). */
static void quoted(fmh_buf *b, const char *s, size_t n) {
  if (!s) {
    fmh_vbuf_puts(b, "NULL");
    return;
  }
  size_t m = n > 60 ? 60 : n;
  while (m < n && m > 0 && ((unsigned char)s[m] & 0xC0) == 0x80) m--;
  fmh_buf_put(b, "'", 1);
  for (size_t i = 0; i < m; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '\'' || c == '\\') fmh_vbuf_printf(b, "\\%c", c);
    else if (c < 0x20 || c == 0x7f) fmh_vbuf_printf(b, "\\x%02x", c);
    else fmh_buf_put(b, (const char *)&s[i], 1);
  }
  if (m < n) fmh_vbuf_puts(b, "...");
  fmh_buf_put(b, "'", 1);
}

static char *example(const fmh_vkey *key, const char *es, size_t el, const char *ts, size_t tl) {
  fmh_buf b = {0};
  fmh_vbuf_puts(&b, "key ");
  fmh_vkey_text(key, &b);
  fmh_vbuf_puts(&b, ": ");
  quoted(&b, es, el);
  fmh_vbuf_puts(&b, " -> ");
  quoted(&b, ts, tl);
  return b.p;
}

static const char *plural(uint64_t n) { return n == 1 ? "" : "s"; }

/* --- column patterns ------------------------------------------------------ */

int fmh_vx_mismatch(fmh_vx *x, int col, const fmh_vhit *h, const fmh_vkey *key, const char *es, size_t el,
                    const char *ts, size_t tl) {
  if (!x || col < 0 || col >= x->ncols) return 0;
  xcol *c = &x->cols[col];
  c->total++;
  if (!h || !h->kind) {
    c->other++;
    return 0;
  }
  slot *s = NULL;
  for (int i = 0; i < c->nslot && !s; i++)
    if (c->s[i].kind == h->kind && c->s[i].param == h->param &&
        (c->s[i].name == h->name || (c->s[i].name && h->name && strcmp(c->s[i].name, h->name) == 0)))
      s = &c->s[i];
  if (!s) {
    if (c->nslot == MAXSLOT) {
      c->other++;
      return 0;
    }
    s = &c->s[c->nslot++];
    s->kind = h->kind;
    s->param = h->param;
    s->name = h->name;
  }
  s->count++;
  if (h->month >= 1 && h->month <= 12) s->months |= (uint16_t)(1u << h->month);
  for (int i = 0; i < 2; i++)
    if (!s->ex[i]) {
      if (!(s->ex[i] = example(key, es, el, ts, tl))) return -1;
      break;
    }
  return 0;
}

static void offset_text(int64_t minutes, char *out, size_t cap) {
  int64_t a = minutes < 0 ? -minutes : minutes;
  snprintf(out, cap, "%c%02" PRId64 ":%02" PRId64, minutes < 0 ? '-' : '+', a / 60, a % 60);
}

/* A zone whose standard offset (minutes east of UTC) is std and that keeps
 * daylight saving time one hour ahead, for the guess in a DST shift. */
static const char *dst_zone(int64_t std) {
  static const struct { int64_t std; const char *zone; } z[] = {
      {-10 * 60, "America/Adak"},    {-9 * 60, "America/Anchorage"}, {-8 * 60, "America/Los_Angeles"},
      {-7 * 60, "America/Denver"},   {-6 * 60, "America/Chicago"},   {-5 * 60, "America/New_York"},
      {-4 * 60, "America/Halifax"},  {0, "Europe/London"},           {60, "Europe/Berlin"},
      {120, "Europe/Helsinki"},      {600, "Australia/Sydney"},      {780, "Pacific/Auckland"},
  };
  for (size_t i = 0; i < sizeof z / sizeof *z; i++)
    if (z[i].std == std) return z[i].zone;
  return NULL;
}

#define WINTER ((1u << 12) | (1u << 1) | (1u << 2))
#define SUMMER ((1u << 6) | (1u << 7) | (1u << 8))

static int push_pattern(fmh_vpattern **list, size_t *n, const char *column, const char *kind, uint64_t count,
                        uint64_t of, fmh_buf *text, char *ex0, char *ex1) {
  fmh_vpattern *nl = realloc(*list, (*n + 1) * sizeof *nl);
  if (!nl) return -1;
  *list = nl;
  fmh_vpattern *p = &nl[*n];
  memset(p, 0, sizeof *p);
  p->column = column ? strdup(column) : NULL;
  p->kind = kind;
  p->count = count;
  p->of = of;
  p->text = text->p;
  text->p = NULL;
  fmh_buf_free(text);
  p->examples[0] = ex0 ? strdup(ex0) : NULL;
  p->examples[1] = ex1 ? strdup(ex1) : NULL;
  (*n)++;
  if ((column && !p->column) || !p->text || (ex0 && !p->examples[0]) || (ex1 && !p->examples[1])) return -1;
  return 0;
}

/* The sentence of one slot (b starts empty). */
static void slot_text(fmh_buf *b, const slot *s, uint64_t count, uint64_t of) {
  char n[64];
  snprintf(n, sizeof n, " (%" PRIu64 " of %" PRIu64 " mismatch%s)", count, of, of == 1 ? "" : "es");
  const char *k = s->kind;
  if (!strcmp(k, FMH_VP_ROUNDING))
    fmh_vbuf_printf(b, "values rounded to %" PRId64 " decimal place%s%s: a column of scale %" PRId64
                    " (DECIMAL(p,%" PRId64 ")) for data with more digits?", s->param, plural((uint64_t)s->param), n,
                    s->param, s->param);
  else if (!strcmp(k, FMH_VP_TRUNCATION))
    fmh_vbuf_printf(b, "values cut to %" PRId64 " %s%s: a column (or a connector's limit) of %" PRId64 " %s?",
                    s->param, s->name ? s->name : "characters", n, s->param, s->name ? s->name : "characters");
  else if (!strcmp(k, FMH_VP_CLIPPING) && !strcmp(s->name, "DECIMAL"))
    fmh_vbuf_printf(b, "values clipped to the largest a DECIMAL(%" PRId64 ",%" PRId64 ") holds%s: a column of a "
                    "smaller precision for the data, written in a non-strict sql_mode?", s->param / 100,
                    s->param % 100, n);
  else if (!strcmp(k, FMH_VP_CLIPPING))
    fmh_vbuf_printf(b, "values clipped to %s's range%s: a %s column for wider data, written in a non-strict "
                    "sql_mode?", s->name, n, s->name);
  else if (!strcmp(k, FMH_VP_UNSIGNED))
    fmh_vbuf_printf(b, "negative values stored as 0%s: an UNSIGNED column for signed data, in a non-strict "
                    "sql_mode?", n);
  else if (!strcmp(k, FMH_VP_CHARSET) && s->name && strcmp(s->name, "4-byte") == 0)
    fmh_vbuf_printf(b, "4-byte characters (emoji and others outside the BMP) replaced by '?'%s: the column's "
                    "character set cannot hold them (utf8mb3, not utf8mb4?)", n);
  else if (!strcmp(k, FMH_VP_CHARSET) && s->name && strcmp(s->name, "latin1") == 0)
    fmh_vbuf_printf(b, "characters outside Latin-1 replaced by '?'%s: the column's character set cannot hold "
                    "them (latin1, not utf8mb4?)", n);
  else if (!strcmp(k, FMH_VP_CHARSET))
    fmh_vbuf_printf(b, "characters replaced by '?'%s: the column's (or the connection's) character set cannot "
                    "hold them", n);
  else if (!strcmp(k, FMH_VP_TIME_SHIFT)) {
    char off[24];
    offset_text(s->param, off, sizeof off);
    fmh_vbuf_printf(b, "values shifted by %s%s: a time zone confusion (a session, server or connector zone at "
                    "%s where UTC was meant?)", off, n, off);
  } else if (!strcmp(k, FMH_VP_FSP))
    fmh_vbuf_printf(b, "fractional seconds cut to %" PRId64 " digit%s%s: a column of fsp %" PRId64
                    " (DATETIME(%" PRId64 ")/TIMESTAMP(%" PRId64 ")) for data with more?", s->param,
                    plural((uint64_t)s->param), n, s->param, s->param, s->param);
  else if (!strcmp(k, FMH_VP_DATE_ONLY))
    fmh_vbuf_printf(b, "only the date kept, the time of day dropped%s: a DATE column for DATETIME data?", n);
  else if (!strcmp(k, FMH_VP_NULL_DEFAULT))
    fmh_vbuf_printf(b, "NULLs replaced by %s%s: a NOT NULL column's default absorbing NULLs in a non-strict "
                    "sql_mode?", s->name, n);
  else if (!strcmp(k, FMH_VP_FLOAT))
    fmh_vbuf_printf(b, "values kept at single (FLOAT) precision%s: a FLOAT column, or a Java float on the way, "
                    "for DOUBLE data?", n);
  else if (!strcmp(k, FMH_VP_JSON_TEXT))
    fmh_vbuf_printf(b, "the same JSON document in other text%s: JSON re-serialised on the way (compare the "
                    "column with as='json' if that is fine)", n);
}

/* A slot is named when it holds for at least two mismatches, or for every
 * mismatch of the column. */
static int named(const slot *s, uint64_t total) { return s->count >= 2 || s->count == total; }

static int column_patterns(fmh_vx *x, int ci, const char *name, fmh_verdict *v) {
  xcol *c = &x->cols[ci];
  if (!c->total) return 0;
  int used[MAXSLOT] = {0};
  /* a value whose cut digits end in zeros fits fewer digits too: each
   * mismatch is counted at the fewest digits it fits, so the column's cut
   * is the most of them */
  static const char *const fewest[] = {FMH_VP_FSP, FMH_VP_ROUNDING};
  for (int f = 0; f < 2; f++) {
    int top = -1;
    for (int i = 0; i < c->nslot; i++)
      if (!strcmp(c->s[i].kind, fewest[f]) && (top < 0 || c->s[i].param > c->s[top].param)) top = i;
    for (int i = 0; top >= 0 && i < c->nslot; i++)
      if (i != top && !strcmp(c->s[i].kind, fewest[f])) {
        c->s[top].count += c->s[i].count;
        used[i] = 1;
      }
  }
  /* rows whose lost characters say nothing about the set (only 4-byte ones,
   * nothing else wide kept) count with the one set the others name */
  int gen = -1, spec = -1, nspec = 0;
  for (int i = 0; i < c->nslot; i++)
    if (!strcmp(c->s[i].kind, FMH_VP_CHARSET)) {
      if (!c->s[i].name) gen = i;
      else {
        spec = i;
        nspec++;
      }
    }
  if (gen >= 0 && nspec == 1) {
    c->s[spec].count += c->s[gen].count;
    for (int k = 0; k < 2; k++)
      if (!c->s[spec].ex[1] && c->s[gen].ex[k]) {
        c->s[spec].ex[1] = c->s[gen].ex[k];
        c->s[gen].ex[k] = NULL;
      }
    used[gen] = 1;
  }
  /* two shifts an hour apart, the larger one only in northern summer
   * months and the smaller only in winter ones: daylight saving time */
  for (int i = 0; i < c->nslot; i++)
    for (int j = 0; j < c->nslot; j++) {
      slot *a = &c->s[i], *w = &c->s[j];
      if (used[i] || used[j] || strcmp(a->kind, FMH_VP_TIME_SHIFT) || strcmp(w->kind, FMH_VP_TIME_SHIFT) ||
          a->param != w->param + 60 || (a->months & WINTER) || (w->months & SUMMER) || !a->months || !w->months)
        continue;
      used[i] = used[j] = 1;
      uint64_t n = a->count + w->count;
      fmh_buf b = {0};
      char ow[24], os[24];
      offset_text(w->param, ow, sizeof ow);
      offset_text(a->param, os, sizeof os);
      /* target = expected + shift: a shift of -05:00 in winter is data
       * written as New York local time where UTC was meant (or the
       * reverse read) */
      const char *zone = dst_zone(w->param);
      fmh_vbuf_printf(&b, "values shifted by %s in winter and %s in summer (%" PRIu64 " of %" PRIu64
                      " mismatch%s): a %s vs UTC confusion (a zone with daylight saving time where UTC was "
                      "meant)?", ow, os, n, c->total, c->total == 1 ? "" : "es",
                      zone ? zone : "local time zone");
      if (push_pattern(&v->patterns, &v->npatterns, name, FMH_VP_DST_SHIFT, n, c->total, &b, w->ex[0], a->ex[0]) != 0)
        return -1;
    }
  for (int i = 0; i < c->nslot; i++) {
    slot *s = &c->s[i];
    if (used[i] || !named(s, c->total)) continue;
    fmh_buf b = {0};
    slot_text(&b, s, s->count, c->total);
    if (!b.p) return -1;
    if (push_pattern(&v->patterns, &v->npatterns, name, s->kind, s->count, c->total, &b, s->ex[0], s->ex[1]) != 0)
      return -1;
  }
  return 0;
}

/* --- missing and extra rows ------------------------------------------------ */

void fmh_vx_present(fmh_vx *x) {
  if (!x) return;
  if (x->in_run || x->runs) x->present_after++;
  else x->present_before++;
  x->in_run = 0;
}

static uint64_t gcd64(uint64_t a, uint64_t b) {
  while (b) {
    uint64_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

static int set_text(char **dst, const char *s, size_t n) {
  char *p = malloc(n + 1);
  if (!p) return -1;
  if (n) memcpy(p, s, n);
  p[n] = '\0';
  free(*dst);
  *dst = p;
  return 0;
}

static int sketch_add(sketch *k, const fmh_vxval *v, int is_key) {
  k->n++;
  if (v->null) {
    k->nulls++;
    return 0;
  }
  int first = k->n - k->nulls == 1;
  if (v->isint) {
    if (first || v->i < k->imin) {
      k->imin = v->i;
      if (set_text(&k->tmin, v->s, v->len) != 0) return -1;
    }
    if (first || v->i > k->imax) {
      k->imax = v->i;
      if (set_text(&k->tmax, v->s, v->len) != 0) return -1;
    }
    if (is_key) {
      uint64_t a = v->i < 0 ? (uint64_t)(-(v->i + 1)) + 1 : (uint64_t)v->i;
      k->gcd = gcd64(k->gcd, a);
      for (int m = 2; m <= 16; m++) {
        int64_t r = ((v->i % m) + m) % m;
        if (first) k->resid[m] = r;
        else if (k->resid[m] != r) k->resid_ok &= ~(1u << m);
      }
    }
  } else {
    k->allint = 0;
  }
  if (v->isnum && !v->isint) {
    if (first || v->d < k->dmin) {
      k->dmin = v->d;
      if (set_text(&k->tmin, v->s, v->len) != 0) return -1;
    }
    if (first || v->d > k->dmax) {
      k->dmax = v->d;
      if (set_text(&k->tmax, v->s, v->len) != 0) return -1;
    }
  } else if (!v->isint) {
    k->allnum = 0;
  }
  if (!k->over) {
    int found = 0;
    for (int j = 0; j < k->nset && !found; j++)
      found = k->setlen[j] == v->len && memcmp(k->set[j], v->s, v->len) == 0;
    if (!found) {
      if (k->nset == MAXSET) {
        k->over = 1;
      } else {
        k->set[k->nset] = NULL;
        if (set_text(&k->set[k->nset], v->s, v->len) != 0) return -1;
        k->setlen[k->nset++] = v->len;
      }
    }
  }
  return 0;
}

int fmh_vx_row(fmh_vx *x, int side, const fmh_vxval *vals, const fmh_vkey *key) {
  if (!x) return 0;
  xside *s = &x->side[side];
  if (side == 0) {
    if (!x->in_run) x->runs++;
    x->in_run = 1;
    x->present_after = 0;
  }
  s->n++;
  for (int i = 0; i < s->ncols; i++)
    if (sketch_add(&s->sk[i], &vals[i], i == s->key) != 0) return -1;
  if (s->vals && s->nkept < MAXROWS) {
    for (int i = 0; i < s->ncols; i++) {
      if (vals[i].null) continue;
      size_t n = vals[i].len > 256 ? 256 : vals[i].len;
      if (set_text(&s->vals[s->nkept * s->ncols + i], vals[i].s, n) != 0) return -1;
      s->lens[s->nkept * s->ncols + i] = n;
    }
    s->nkept++;
  }
  if (s->nrows < SHOWROWS) {
    fmh_buf b = {0};
    fmh_vbuf_puts(&b, "key ");
    fmh_vkey_text(key, &b);
    fmh_vbuf_puts(&b, ":");
    for (int i = 0; i < s->ncols; i++) {
      fmh_vbuf_printf(&b, "%s %s=", i ? "," : "", s->names[i]);
      quoted(&b, vals[i].null ? NULL : vals[i].s, vals[i].len);
    }
    if (!b.p) return -1;
    s->rows[s->nrows++] = b.p;
  }
  return 0;
}

void fmh_vx_copy(fmh_vx *x, int differs, uint64_t cols) {
  if (!x) return;
  if (differs) {
    x->copy_rows_differing++;
    for (int i = 0; i < 64; i++)
      if (cols & (UINT64_C(1) << i)) x->copy_cols[i]++;
  } else {
    x->copy_rows_exact++;
  }
}

int fmh_vx_nkept(const fmh_vx *x) { return x ? x->side[0].nkept : 0; }

const char *fmh_vx_missing_value(fmh_vx *x, int k, int ecol, size_t *len) {
  xside *s = &x->side[0];
  *len = s->lens[k * s->ncols + ecol];
  return s->vals[k * s->ncols + ecol];
}

static int add_pred(fmh_vxpred *out, int *n, int max, fmh_xp_kind kind, int side, int col, const sketch *sk) {
  if (*n >= max) return 0;
  fmh_vxpred *p = &out[(*n)++];
  memset(p, 0, sizeof *p);
  p->kind = kind;
  p->side = side;
  p->col = col;
  p->sk = sk;
  return 1;
}

int fmh_vx_candidates(fmh_vx *x, fmh_vxpred *out, int max) {
  int n = 0;
  if (!x) return 0;
  for (int side = 0; side < 2; side++) {
    xside *s = &x->side[side];
    if (s->n < 3) continue; /* two rows share something by chance too easily */
    for (int i = 0; i < s->ncols; i++) {
      sketch *k = &s->sk[i];
      if (k->nulls == k->n) {
        add_pred(out, &n, max, FMH_XP_NULL, side, i, k);
        continue;
      }
      if (k->nulls) continue;
      if (!k->over && (uint64_t)k->nset * 3 <= k->n) add_pred(out, &n, max, FMH_XP_IN, side, i, k);
      if (k->allint || k->allnum) {
        add_pred(out, &n, max, FMH_XP_GE, side, i, k);
        add_pred(out, &n, max, FMH_XP_LE, side, i, k);
        add_pred(out, &n, max, FMH_XP_RANGE, side, i, k);
      }
      if (i == s->key && k->allint) {
        if (k->gcd > 1 && k->gcd <= (uint64_t)INT64_MAX && add_pred(out, &n, max, FMH_XP_MOD, side, i, k)) {
          out[n - 1].m = (int64_t)k->gcd;
          out[n - 1].r = 0;
        }
        for (int m = 16; m >= 2; m--)
          if ((k->resid_ok & (1u << m)) && !(k->gcd > 1 && (uint64_t)m <= k->gcd && k->gcd % (uint64_t)m == 0)) {
            if (add_pred(out, &n, max, FMH_XP_MOD, side, i, k)) {
              out[n - 1].m = m;
              out[n - 1].r = k->resid[m];
            }
            break;
          }
      }
    }
  }
  return n;
}

int fmh_vx_eval(const fmh_vxpred *p, const fmh_vxval *v) {
  const sketch *k = p->sk;
  if (p->kind == FMH_XP_NULL) return v->null;
  if (v->null) return 0;
  switch (p->kind) {
    case FMH_XP_IN:
      for (int j = 0; j < k->nset; j++)
        if (k->setlen[j] == v->len && memcmp(k->set[j], v->s, v->len) == 0) return 1;
      return 0;
    case FMH_XP_GE:
    case FMH_XP_LE:
    case FMH_XP_RANGE: {
      int ge, le;
      if (k->allint) {
        if (!v->isint) return 0;
        ge = v->i >= k->imin;
        le = v->i <= k->imax;
      } else {
        if (!v->isnum && !v->isint) return 0;
        double d = v->isnum ? v->d : (double)v->i;
        ge = d >= k->dmin;
        le = d <= k->dmax;
      }
      return p->kind == FMH_XP_GE ? ge : p->kind == FMH_XP_LE ? le : ge && le;
    }
    case FMH_XP_MOD:
      if (!v->isint) return 0;
      return ((v->i % p->m) + p->m) % p->m == p->r;
    default: return 0;
  }
}

/* The sentence of a predicate that holds. */
static void pred_text(fmh_buf *b, const fmh_vx *x, const fmh_vxpred *p) {
  const xside *s = &x->side[p->side];
  const sketch *k = p->sk;
  const char *col = s->names[p->col];
  const char *what = p->side == 0 ? "missing" : "extra";
  const char *rest = p->side == 0 ? "no expected row that is present" : "no other target row";
  uint64_t n = s->n;
  if (p->kind == FMH_XP_MOD && p->r == 0)
    fmh_vbuf_printf(b, "every %s key is a multiple of %" PRId64 " (%" PRIu64 " row%s), and %s is", what, p->m, n,
                    plural(n), p->side == 0 ? "no present key" : "no other target key");
  else if (p->kind == FMH_XP_MOD)
    fmh_vbuf_printf(b, "every %s key is %" PRId64 " modulo %" PRId64 " (%" PRIu64 " row%s), and %s is", what, p->r,
                    p->m, n, plural(n), p->side == 0 ? "no present key" : "no other target key");
  else {
    fmh_vbuf_printf(b, "all %" PRIu64 " %s row%s have %s ", n, what, plural(n), col);
    switch (p->kind) {
      case FMH_XP_NULL: fmh_vbuf_puts(b, "NULL"); break;
      case FMH_XP_IN:
        if (k->nset == 1) {
          fmh_vbuf_puts(b, "= ");
          quoted(b, k->set[0], k->setlen[0]);
        } else {
          fmh_vbuf_puts(b, "in (");
          for (int j = 0; j < k->nset; j++) {
            if (j) fmh_vbuf_puts(b, ", ");
            quoted(b, k->set[j], k->setlen[j]);
          }
          fmh_vbuf_puts(b, ")");
        }
        break;
      case FMH_XP_GE: fmh_vbuf_printf(b, ">= %s", k->tmin ? k->tmin : "?"); break;
      case FMH_XP_LE: fmh_vbuf_printf(b, "<= %s", k->tmax ? k->tmax : "?"); break;
      default: fmh_vbuf_printf(b, "from %s to %s", k->tmin ? k->tmin : "?", k->tmax ? k->tmax : "?"); break;
    }
    fmh_vbuf_printf(b, ", and %s does", rest);
  }
  if (p->side == 0 && p->col == s->key && p->kind == FMH_XP_GE)
    fmh_vbuf_puts(b, ": the last keys are missing (the job stopped early, or its last writes were not flushed?)");
  else if (p->side == 0 && p->col == s->key && p->kind == FMH_XP_LE)
    fmh_vbuf_puts(b, ": the first keys are missing (the source started late, or from a later offset?)");
  else if (p->side == 0 && p->col == s->key && p->kind == FMH_XP_RANGE)
    fmh_vbuf_puts(b, ": one run of keys is missing (a lost batch or checkpoint interval?)");
  else if (p->side == 0 && p->col != s->key)
    fmh_vbuf_printf(b, ": a filter or a join on %s dropped them?", col);
  else if (p->side == 1)
    fmh_vbuf_printf(b, ": rows from elsewhere, or a filter on %s missing?", col);
}

/* The predicates to name of one side: the first of each family that holds
 * (NULL, a set, a one-sided range, a modulus, a two-sided range), at most 2. */
static int side_explain(fmh_vx *x, fmh_verdict *v, int side, const fmh_vxpred *preds, int npreds) {
  xside *s = &x->side[side];
  int shown = 0;
  static const fmh_xp_kind order[] = {FMH_XP_NULL, FMH_XP_IN, FMH_XP_GE, FMH_XP_LE, FMH_XP_MOD, FMH_XP_RANGE};
  int ranged = 0;
  for (size_t o = 0; o < sizeof order / sizeof *order && shown < 2; o++)
    for (int i = 0; i < npreds && shown < 2; i++) {
      const fmh_vxpred *p = &preds[i];
      if (p->side != side || p->kind != order[o] || p->count != s->n) continue;
      if (p->kind == FMH_XP_RANGE && ranged) continue;
      if (p->kind == FMH_XP_GE || p->kind == FMH_XP_LE) ranged = 1;
      /* one range per column is enough: a one-sided one says more */
      fmh_buf b = {0};
      pred_text(&b, x, p);
      if (!b.p) return -1;
      if (push_pattern(&v->explain, &v->nexplain, s->names[p->col], side == 0 ? FMH_VP_MISSING : FMH_VP_EXTRA, s->n,
                       side == 0 ? v->expected : v->target, &b, NULL, NULL) != 0)
        return -1;
      shown++;
    }
  return 0;
}

int fmh_vx_finish(fmh_vx *x, fmh_verdict *v, char **names, const fmh_vxpred *preds, int npreds,
                  const char *collapse, uint64_t collapse_rows) {
  if (!x) return 0;
  for (int i = 0; i < x->ncols; i++)
    if (column_patterns(x, i, names[i], v) != 0) return -1;
  if (side_explain(x, v, 0, preds, npreds) != 0 || side_explain(x, v, 1, preds, npreds) != 0) return -1;
  if (collapse) {
    fmh_buf b = {0};
    fmh_vbuf_printf(&b, "rows collapsed by %s: the target holds one row per distinct %s (%" PRIu64 " rows, no two "
                    "alike), and the %s of every missing row shown is held by another target row: a sink keyed "
                    "on %s (a wrong primary key) overwrote them?", collapse, collapse, collapse_rows, collapse,
                    collapse);
    if (!b.p || push_pattern(&v->explain, &v->nexplain, collapse, FMH_VP_COLLAPSE, v->missing, v->expected, &b,
                             NULL, NULL) != 0)
      return -1;
  }
  if (v->duplicated) {
    fmh_buf b = {0};
    const char *kind;
    if (x->copy_rows_differing) {
      kind = FMH_VP_SPLIT;
      fmh_vbuf_printf(&b, "%" PRIu64 " key%s have several target rows that differ (%" PRIu64 " extra row%s, %" PRIu64
                      " of them unlike the expected row", v->duplicated, plural(v->duplicated), v->duplicate_rows,
                      plural(v->duplicate_rows), x->copy_rows_differing);
      int any = 0;
      for (int i = 0; i < x->ncols && i < 64; i++)
        if (x->copy_cols[i]) {
          fmh_vbuf_printf(&b, "%s%s", any ? ", " : "; differing in ", names[i]);
          any = 1;
        }
      fmh_vbuf_puts(&b, "): an updating result written without a key (its retractions and updates kept as rows)?");
    } else {
      kind = FMH_VP_COPIES;
      fmh_vbuf_printf(&b, "%" PRIu64 " key%s have identical copies (%" PRIu64 " extra row%s): rows written twice "
                      "without a key (a replay after a restart, at-least-once delivery)?", v->duplicated,
                      plural(v->duplicated), v->duplicate_rows, plural(v->duplicate_rows));
    }
    if (!b.p || push_pattern(&v->explain, &v->nexplain, NULL, kind, v->duplicated, v->matched, &b, NULL, NULL) != 0)
      return -1;
  }
  for (int side = 0; side < 2; side++) {
    xside *s = &x->side[side];
    if (!s->nrows) continue;
    char ***dst = side == 0 ? &v->missing_rows : &v->extra_rows;
    size_t *nd = side == 0 ? &v->nmissing_rows : &v->nextra_rows;
    *dst = calloc((size_t)s->nrows, sizeof **dst);
    if (!*dst) return -1;
    for (int i = 0; i < s->nrows; i++) {
      (*dst)[i] = s->rows[i];
      s->rows[i] = NULL;
    }
    *nd = (size_t)s->nrows;
    s->nrows = 0;
  }
  return 0;
}
