/* fmhost.validate, the streaming comparison: two sides read in key order
 * (an unbuffered cursor per SQL side, a generator cursor for generated
 * rows), merged one row per side at a time, every key classified and every
 * column of a matched row compared by its comparison class. Counts are
 * exact, samples capped, memory independent of the row count: one row per
 * side, one copy of each side's previous key, and the capped samples.
 * Also the verdict's own helpers (samples, text, freeing). */
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

double fmh_vnow(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --- the session time zone ------------------------------------------------ */

int fmh_vsession_tz(fmh_conn *c, const char *tz, fmh_error *e) {
  fmh_buf q = {0};
  fmh_vbuf_puts(&q, "SET @fmh_validate_tz = @@session.time_zone, time_zone = '");
  for (const char *p = tz; *p; p++) {
    if (*p == '\'' || *p == '\\') fmh_buf_put(&q, "\\", 1);
    fmh_buf_put(&q, p, 1);
  }
  fmh_buf_put(&q, "'", 1);
  int rc = q.p ? fmh_conn_exec(c, q.p, q.len, e) : -1;
  if (!q.p) fmh_error_set(e, "os", ENOMEM, 0, "out of memory");
  fmh_buf_free(&q);
  return rc;
}

void fmh_vsession_restore(fmh_conn *c) {
  static const char sql[] = "SET time_zone = @fmh_validate_tz";
  fmh_error e = {0};
  if (fmh_conn_exec(c, sql, sizeof sql - 1, &e) != 0) fmh_conn_mark_broken(c);
  fmh_error_clear(&e);
}

/* --- cells: one value of either side, ready to compare ------------------- */

typedef enum {
  CK_NULL, CK_INT, CK_UINT, CK_DOUBLE, CK_FLOAT, CK_DEC, CK_TEXT, CK_BYTES, CK_JSON,
  CK_TTEXT,   /* temporal text as the server sends it */
  CK_TUS      /* temporal as microseconds (generator) */
} cell_kind;

typedef struct vcell {
  cell_kind k;
  char tk;           /* CK_TUS: 'd' date, 't' time, 'x' datetime */
  int64_t i;
  uint64_t u;
  double d;
  const char *s;
  size_t len;
} vcell;

typedef enum { CMP_INTEGER, CMP_DECIMAL, CMP_DOUBLE, CMP_FLOAT, CMP_TEMPORAL, CMP_JSON, CMP_STRING, CMP_BYTES } cmp_class;

static const char *const CLASS_NAMES[] = {"integer", "decimal", "double", "float", "temporal", "json", "string", "bytes"};

static int class_parse(const char *s) {
  for (int i = 0; i < (int)(sizeof CLASS_NAMES / sizeof *CLASS_NAMES); i++)
    if (strcmp(s, CLASS_NAMES[i]) == 0) return i;
  if (strcmp(s, "text") == 0) return CMP_STRING;
  if (strcmp(s, "binary") == 0 || strcmp(s, "blob") == 0) return CMP_BYTES;
  return -1;
}

/* The class a SQL column type calls for. */
static cmp_class class_of_sql(const fmh_column *c) {
  const char *t = c->type;
  if (!strcmp(t, "tinyint") || !strcmp(t, "smallint") || !strcmp(t, "mediumint") || !strcmp(t, "int") ||
      !strcmp(t, "bigint") || !strcmp(t, "year") || !strcmp(t, "bit"))
    return CMP_INTEGER;
  if (!strcmp(t, "decimal")) return CMP_DECIMAL;
  if (!strcmp(t, "double")) return CMP_DOUBLE;
  if (!strcmp(t, "float")) return CMP_FLOAT;
  if (!strcmp(t, "date") || !strcmp(t, "time") || !strcmp(t, "datetime") || !strcmp(t, "timestamp"))
    return CMP_TEMPORAL;
  if (!strcmp(t, "json")) return CMP_JSON;
  if (c->binary || !strcmp(t, "binary") || !strcmp(t, "varbinary") || !strcmp(t, "blob")) return CMP_BYTES;
  return CMP_STRING;
}

static cmp_class class_of_gen(fmh_gen_type t) {
  switch (t) {
    case FMH_GEN_TINYINT: case FMH_GEN_SMALLINT: case FMH_GEN_MEDIUMINT: case FMH_GEN_INT: case FMH_GEN_BIGINT:
    case FMH_GEN_BOOLEAN:
      return CMP_INTEGER;
    case FMH_GEN_DECIMAL: return CMP_DECIMAL;
    case FMH_GEN_FLOAT: return CMP_FLOAT;
    case FMH_GEN_DOUBLE: return CMP_DOUBLE;
    case FMH_GEN_BINARY: case FMH_GEN_VARBINARY: case FMH_GEN_TINYBLOB: case FMH_GEN_BLOB: case FMH_GEN_MEDIUMBLOB:
    case FMH_GEN_LONGBLOB:
      return CMP_BYTES;
    case FMH_GEN_DATE: case FMH_GEN_TIME: case FMH_GEN_DATETIME: case FMH_GEN_TIMESTAMP: return CMP_TEMPORAL;
    case FMH_GEN_JSON: return CMP_JSON;
    default: return CMP_STRING;
  }
}

#define US_PER_DAY INT64_C(86400000000)

static int digits(const char *s, size_t n, size_t *i, int maxd, int64_t *out) {
  int64_t v = 0;
  int k = 0;
  while (*i < n && k < maxd && s[*i] >= '0' && s[*i] <= '9') {
    v = v * 10 + (s[*i] - '0');
    (*i)++;
    k++;
  }
  *out = v;
  return k;
}

/* A fraction ".f" at s[*i] in microseconds (digits past the sixth are
 * read and dropped); 0 when there is none. */
static int64_t fraction_us(const char *s, size_t n, size_t *i) {
  int64_t f = 0, scale = 100000;
  if (*i < n && s[*i] == '.') {
    (*i)++;
    while (*i < n && s[*i] >= '0' && s[*i] <= '9') {
      if (scale > 0) f += (s[*i] - '0') * scale;
      scale /= 10;
      (*i)++;
    }
  }
  return f;
}

/* "H:MM:SS[.f]" at s[*i], the hours hmin to hmax digits: microseconds in
 * *us, or -1 when malformed. */
static int clock_us(const char *s, size_t n, size_t *i, int hmin, int hmax, int64_t *us) {
  int64_t h, m, sec;
  if (digits(s, n, i, hmax, &h) < hmin || *i >= n || s[(*i)++] != ':' || digits(s, n, i, 2, &m) != 2 ||
      *i >= n || s[(*i)++] != ':' || digits(s, n, i, 2, &sec) != 2)
    return -1;
  *us = ((h * 60 + m) * 60 + sec) * INT64_C(1000000) + fraction_us(s, n, i);
  return 0;
}

/* Microseconds of 'YYYY-MM-DD[ HH:MM:SS[.f]]' or a TIME '[-]H:MM:SS[.f]'. */
static int temporal_parse(const char *s, size_t n, int64_t *us, char *tk) {
  size_t i = 0;
  if (n >= 10 && s[4] == '-' && s[7] == '-') {
    int64_t y, mo, d, t;
    if (digits(s, n, &i, 4, &y) != 4 || s[i++] != '-' || digits(s, n, &i, 2, &mo) != 2 || s[i++] != '-' ||
        digits(s, n, &i, 2, &d) != 2)
      return -1;
    int64_t v = fmh_days_from_civil(y, mo, d) * US_PER_DAY;
    *tk = 'd';
    if (i == n) {
      *us = v;
      return 0;
    }
    if (s[i] != ' ' && s[i] != 'T') return -1;
    i++;
    if (clock_us(s, n, &i, 2, 2, &t) != 0) return -1;
    *tk = 'x';
    if (i != n) return -1;
    *us = v + t;
    return 0;
  }
  int neg = 0;
  if (i < n && s[i] == '-') {
    neg = 1;
    i++;
  }
  int64_t v;
  if (clock_us(s, n, &i, 1, 9, &v) != 0 || i != n) return -1;
  *us = neg ? -v : v;
  *tk = 't';
  return 0;
}

static size_t temporal_format(int64_t us, char tk, int fsp, char *out, size_t cap) {
  if (tk == 't') {
    uint64_t a = us < 0 ? (uint64_t)(-(us + 1)) + 1 : (uint64_t)us;
    uint64_t sec = a / 1000000, frac = a % 1000000;
    int n = snprintf(out, cap, "%s%02" PRIu64 ":%02" PRIu64 ":%02" PRIu64, us < 0 ? "-" : "", sec / 3600,
                     (sec / 60) % 60, sec % 60);
    if (fsp > 0 && n > 0 && (size_t)n < cap) {
      char f[8];
      snprintf(f, sizeof f, "%06" PRIu64, frac);
      n += snprintf(out + n, cap - (size_t)n, ".%.*s", fsp, f);
    }
    return n > 0 ? (size_t)n : 0;
  }
  int64_t days = us >= 0 ? us / US_PER_DAY : -((-us + US_PER_DAY - 1) / US_PER_DAY);
  int64_t rem = us - days * US_PER_DAY, y;
  int m, d;
  fmh_civil_from_days(days, &y, &m, &d);
  int n;
  if (tk == 'd') return (size_t)snprintf(out, cap, "%04" PRId64 "-%02d-%02d", y, m, d);
  int64_t sec = rem / 1000000, frac = rem % 1000000;
  n = snprintf(out, cap, "%04" PRId64 "-%02d-%02d %02" PRId64 ":%02" PRId64 ":%02" PRId64, y, m, d, sec / 3600,
               (sec / 60) % 60, sec % 60);
  if (fsp > 0 && n > 0 && (size_t)n < cap) {
    char f[8];
    snprintf(f, sizeof f, "%06" PRId64, frac);
    n += snprintf(out + n, cap - (size_t)n, ".%.*s", fsp, f);
  }
  return n > 0 ? (size_t)n : 0;
}

/* Cut microseconds to fsp digits the way MariaDB stores a longer fraction
 * (truncation): datetimes toward the past, TIME toward zero. */
static int64_t temporal_cut(int64_t us, char tk, int fsp) {
  if (fsp < 0 || fsp >= 6) return us;
  int64_t unit = 1;
  for (int i = fsp; i < 6; i++) unit *= 10;
  if (tk == 't') return us >= 0 ? us / unit * unit : -((-us) / unit * unit);
  int64_t q = us / unit;
  if (us < 0 && q * unit != us) q--;
  return q * unit;
}

/* Parse "UTC", "Z", "+HH:MM", "-HH:MM" into an offset; -1 when named. */
static int tz_offset(const char *tz, int64_t *off_us) {
  if (!tz || !strcasecmp(tz, "UTC") || !strcmp(tz, "Z") || !strcasecmp(tz, "GMT")) {
    *off_us = 0;
    return 0;
  }
  if ((tz[0] == '+' || tz[0] == '-') && strlen(tz) >= 5) {
    int h = 0, m = 0;
    if (sscanf(tz + 1, "%d:%d", &h, &m) == 2 && h >= 0 && h <= 14 && m >= 0 && m < 60) {
      *off_us = ((int64_t)h * 60 + m) * 60 * INT64_C(1000000) * (tz[0] == '-' ? -1 : 1);
      return 0;
    }
  }
  return -1;
}

/* --- the comparison ----------------------------------------------------- */

typedef struct vcol {
  char *name;
  int ti, ei;          /* column index on the target / expected side */
  cmp_class cls;
  int ulp, fsp;
  double tol;          /* numbers: tolerated absolute difference (0: exact) */
  int tz_gen;          /* render generator TIMESTAMPs with the generator's own zone */
  int64_t tz_off;      /* else at this offset */
  int gen_fsp;
  int is_key;
  int binary;          /* the target column is binary (key literals) */
  int t_float;         /* the target column is FLOAT: its values are floats */
  fmh_vcolstat *stat;
} vcol;

typedef struct vside {
  const char *role;    /* "target" / "expected" */
  fmh_vsource src;
  /* SQL */
  fmh_conn *conn;
  fmh_cursor *cur;
  int tz_set;
  const fmh_value *row;
  int ncols;
  const fmh_column *cols;
  /* generator */
  fmh_gen_cursor *gc;
  fmh_gen_value *gv;
  int64_t next, end;
  size_t gncols;
  /* current row */
  int have;
  vcell *key;          /* nkey cells */
  char (*kscr)[96];    /* per key part: text of formatted key cells */
  fmh_vkey prev;       /* the previous row's key: parts here, text in prevbuf */
  fmh_buf prevbuf;
  int has_prev;
  uint64_t repeat;     /* 0, or how many rows before this one had the same key */
  uint64_t rows;
  char scratch[2][96]; /* display text of numbers and temporals */
  char **probe;        /* SQL sides: the column names the probe found */
  int nprobe;
  uint64_t sig;        /* and a hash of their types */
  int key_binary;      /* the first key column is binary */
} vside;

struct fmh_vcmp {
  fmh_vcompare_opts o;
  fmh_verdict *v;
  vside t, e;
  vcol *cols;          /* compared columns */
  int ncols;
  vcol *keys;          /* key columns */
  int resolved;
  int ncols_t, ncols_e;
  double t0;
  fmh_progress prog;   /* counted only when prog_on (fmh_validate_compare with o.progress) */
  int prog_on;
  fmh_buf tmp, tmp2;
  char where[512];
  /* the diagnosis */
  fmh_vx *x;
  fmh_vhit hit;        /* what compare_field recognised in the mismatch at hand */
  int row_samples;     /* mismatch samples taken from the current row (samples_per_key at most) */
  int row_bad;         /* the current row differs */
  uint64_t row_bits;   /* its differing columns (the first 64) */
  int last_bad;        /* the previous matched row (a key's first copy) */
  uint64_t last_bits;
  int runs, ranged;    /* runs of the merge; one of them over a key range */
  int failed;          /* a run failed: no diagnosis */
  vcol **emap, **tmap; /* a side's column index -> its compared (or key) column */
  char **enames, **tnames;
  char (*xscr)[96];    /* per column: display text of a missing or extra row's values */
  fmh_vxval *xv;
};

static void cell_from_sql(const fmh_value *v, vcell *c) {
  memset(c, 0, sizeof *c);
  switch (v->t) {
    case FMH_V_NULL: c->k = CK_NULL; break;
    case FMH_V_INT: case FMH_V_BOOL: c->k = CK_INT; c->i = v->i; break;
    case FMH_V_UINT: c->k = CK_UINT; c->u = v->u; break;
    case FMH_V_DOUBLE: c->k = CK_DOUBLE; c->d = v->d; break;
    case FMH_V_DECIMAL: c->k = CK_DEC; c->s = v->s; c->len = v->len; break;
    case FMH_V_STRING: c->k = CK_TEXT; c->s = v->s; c->len = v->len; break;
    case FMH_V_BLOB: c->k = CK_BYTES; c->s = v->s; c->len = v->len; break;
    case FMH_V_DATETIME: c->k = CK_TTEXT; c->s = v->s; c->len = v->len; break;
  }
}

static void cell_from_gen(const fmh_gen *g, const vcol *col, const fmh_gen_value *v, vcell *c, char *scratch,
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
static const char *cell_text(const vcell *c, int fsp, char *buf, size_t cap, size_t *len) {
  switch (c->k) {
    case CK_NULL: *len = 0; return NULL;
    case CK_INT: *len = (size_t)snprintf(buf, cap, "%" PRId64, c->i); return buf;
    case CK_UINT: *len = (size_t)snprintf(buf, cap, "%" PRIu64, c->u); return buf;
    case CK_DOUBLE: *len = (size_t)(fmh_gen_format_double(buf, c->d) - buf); return buf;
    case CK_FLOAT: *len = (size_t)(fmh_gen_format_float(buf, (float)c->d) - buf); return buf;
    case CK_TUS: *len = temporal_format(c->i, c->tk, fsp < 0 ? 6 : fsp, buf, cap); return buf;
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

static double cell_double(const vcell *c, int *ok) {
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
  if (c->k == CK_TTEXT || c->k == CK_TEXT) return temporal_parse(c->s, c->len, us, tk);
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
    double da = cell_double(a, &oa), db = cell_double(b, &ob);
    if (oa && ob) return da < db ? -1 : da > db;
  }
  size_t la, lb;
  const char *sa = cell_text(a, 6, ba, 96, &la), *sb = cell_text(b, 6, bb, 96, &lb);
  if (cls == CMP_INTEGER || cls == CMP_DECIMAL || a->k == CK_DEC || b->k == CK_DEC) {
    fmh_vdec da, db;
    if (fmh_vdec_parse(sa, la, &da) == 0 && fmh_vdec_parse(sb, lb, &db) == 0) return fmh_vdec_cmp(&da, &db);
  }
  return bytes_cmp(sa, la, sb, lb);
}

static int key_cmp(fmh_vcmp *c) {
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
      const char *s = cell_text(cell, 6, buf, 96, &len);
      p->kind = FMH_VK_TEXT;
      p->s = (char *)s;
      p->len = len;
      return 0;
    }
  }
}

/* The current key of a side as an fmh_vkey whose text parts point into the row. */
static void side_key_view(fmh_vcmp *c, vside *s, fmh_vkey *k, fmh_vkey_part *parts) {
  k->n = c->o.nkey;
  k->parts = parts;
  for (int i = 0; i < c->o.nkey; i++) key_part_of(&s->key[i], &parts[i], s->kscr[i]);
}

/* Order of the current key against the side's previous key. */
static int prev_cmp(fmh_vcmp *c, vside *s) {
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

/* --- samples --------------------------------------------------------- */

static int cap_samples(fmh_vcmp *c) { return c->o.max_samples < 0 ? 0 : c->o.max_samples; }

static int add_key_sample(fmh_vcmp *c, fmh_vkey **list, size_t *n, const fmh_vkey *k, const char *event) {
  if ((int)*n >= cap_samples(c)) {
    c->v->truncated = 1;
    return 0;
  }
  fmh_vkey *nl = realloc(*list, (*n + 1) * sizeof **list);
  if (!nl) return -1;
  *list = nl;
  if (fmh_vkey_copy(&nl[*n], k) != 0) return -1;
  (*n)++;
  if (c->o.log && fmh_log_enabled(c->o.log > 1 ? FMH_LOG_WARN : FMH_LOG_DEBUG)) {
    fmh_buf kt = {0};
    fmh_vkey_text(k, &kt);
    fmh_log_field f[] = {FMH_LS("label", c->o.label), FMH_LS("key", kt.p ? kt.p : "")};
    fmh_log_emit(c->o.log > 1 ? FMH_LOG_WARN : FMH_LOG_DEBUG, event, NULL, NULL, f, 2);
    fmh_buf_free(&kt);
  }
  return 0;
}

static char *dup_cut(const char *s, size_t n, size_t cut, size_t *out_len, int *was_cut) {
  *was_cut = 0;
  if (n > cut) {
    size_t m = cut;
    while (m > 0 && ((unsigned char)s[m] & 0xC0) == 0x80) m--; /* not inside a UTF-8 character */
    n = m;
    *was_cut = 1;
  }
  char *p = malloc(n + 1);
  if (!p) return NULL;
  if (n) memcpy(p, s, n);
  p[n] = '\0';
  *out_len = n;
  return p;
}

static int add_mismatch(fmh_vcmp *c, vcol *col, const vcell *ev, const vcell *tv, const char *reason,
                        const char *detail) {
  c->v->mismatched_fields++;
  col->stat->mismatches++;
  int ci = (int)(col - c->cols);
  if (ci < 64) c->row_bits |= UINT64_C(1) << ci;
  int per_key = c->o.samples_per_key == 0 ? 2 : c->o.samples_per_key;
  int sample = (int)c->v->nmismatches < cap_samples(c) && (per_key < 0 || c->row_samples < per_key);
  if (!sample) c->v->truncated = 1;
  if (!sample && !c->x) return 0;
  fmh_vkey_part parts[16];
  fmh_vkey k;
  side_key_view(c, &c->t, &k, parts);
  char eb[96], tb[96];
  size_t el, tl;
  int fsp = col->cls == CMP_TEMPORAL ? (col->fsp >= 0 ? col->fsp : col->gen_fsp) : 6;
  const char *es = cell_text(ev, fsp, eb, sizeof eb, &el), *ts = cell_text(tv, fsp, tb, sizeof tb, &tl);
  if (c->x && fmh_vx_mismatch(c->x, ci, &c->hit, &k, es, el, ts, tl) != 0) return -1;
  if (!sample) return 0;
  c->row_samples++;
  fmh_vmismatch *nl = realloc(c->v->mismatches, (c->v->nmismatches + 1) * sizeof *nl);
  if (!nl) return -1;
  c->v->mismatches = nl;
  fmh_vmismatch *m = &nl[c->v->nmismatches];
  memset(m, 0, sizeof *m);
  if (fmh_vkey_copy(&m->key, &k) != 0) return -1;
  m->column = strdup(col->name);
  if (es) m->expected = dup_cut(es, el, c->o.max_value_len, &m->expected_len, &m->expected_cut);
  if (ts) m->actual = dup_cut(ts, tl, c->o.max_value_len, &m->actual_len, &m->actual_cut);
  m->reason = reason;
  m->detail = strdup(detail ? detail : reason);
  c->v->nmismatches++;
  if (!m->column || !m->detail || (es && !m->expected) || (ts && !m->actual)) return -1;
  if (c->o.log && fmh_log_enabled(c->o.log > 1 ? FMH_LOG_WARN : FMH_LOG_DEBUG)) {
    fmh_buf kt = {0};
    fmh_vkey_text(&k, &kt);
    fmh_log_field f[8];
    size_t nf = 0;
    f[nf++] = FMH_LS("label", c->o.label);
    f[nf++] = FMH_LS("key", kt.p ? kt.p : "");
    f[nf++] = FMH_LS("column", col->name);
    f[nf++] = es ? FMH_LSN("expected", m->expected, m->expected_len) : FMH_LS("expected", "NULL");
    f[nf++] = ts ? FMH_LSN("actual", m->actual, m->actual_len) : FMH_LS("actual", "NULL");
    f[nf++] = FMH_LS("reason", reason);
    f[nf++] = FMH_LS("detail", m->detail);
    fmh_log_emit(c->o.log > 1 ? FMH_LOG_WARN : FMH_LOG_DEBUG, "validate.mismatch", reason, "field differs from the expected value", f, nf);
    fmh_buf_free(&kt);
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
static const char *num_text(const vcell *c, char *buf, size_t *len) { return cell_text(c, 6, buf, 96, len); }

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
      if (temporal_cut(eu, ek, k) == tu) {
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
  double ed = cell_double(ev, &eo), td = cell_double(tv, &to);
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
  return add_mismatch(c, col, ev, tv, reasons[col->cls], detail) < 0 ? -1 : 1;
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
    case CK_TUS: return tv->i == 0 ? "the epoch" : NULL;
    default: return NULL;
  }
}

static int compare_field(fmh_vcmp *c, vcol *col, const vcell *ev, const vcell *tv) {
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
      return add_mismatch(c, col, ev, tv, FMH_VR_NULL_EXPECTED,
                          dn ? detail : "expected NULL, the target holds a value") < 0 ? -1 : 1;
    }
    return add_mismatch(c, col, ev, tv, FMH_VR_NULL_ACTUAL, "expected a value, the target holds NULL") < 0 ? -1 : 1;
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
      return add_mismatch(c, col, ev, tv, FMH_VR_INTEGER, detail[0] ? detail : "integers differ") < 0 ? -1 : 1;
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
      if (invalid) return add_mismatch(c, col, ev, tv, why, "not a decimal number on one side, and the texts differ") < 0 ? -1 : 1;
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
      return add_mismatch(c, col, ev, tv, why, detail[0] ? detail : "decimal values differ numerically") < 0 ? -1 : 1;
    }
    case CMP_DOUBLE: {
      int eo, to;
      double ed = cell_double(ev, &eo), td = cell_double(tv, &to);
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
        return add_mismatch(c, col, ev, tv, FMH_VR_DOUBLE, detail) < 0 ? -1 : 1;
      }
      return add_mismatch(c, col, ev, tv, FMH_VR_DOUBLE, "not a number on one side") < 0 ? -1 : 1;
    }
    case CMP_FLOAT: {
      int eo, to;
      double ed = cell_double(ev, &eo), td = cell_double(tv, &to);
      if (eo && to) {
        uint64_t d = float_ulps((float)ed, (float)td);
        if (d <= (uint64_t)col->ulp) return 0;
        snprintf(detail, sizeof detail, "floats differ at float precision by %" PRIu64 " ULP%s", d,
                 col->ulp > 0 ? " (over the tolerance)" : "");
        return add_mismatch(c, col, ev, tv, FMH_VR_FLOAT, detail) < 0 ? -1 : 1;
      }
      return add_mismatch(c, col, ev, tv, FMH_VR_FLOAT, "not a number on one side") < 0 ? -1 : 1;
    }
    case CMP_TEMPORAL: {
      int64_t eu, tu;
      char ek, tk;
      if (cell_temporal(ev, &eu, &ek) == 0 && cell_temporal(tv, &tu, &tk) == 0) {
        int fsp = col->fsp;
        if (temporal_cut(eu, ek, fsp) == temporal_cut(tu, tk, fsp)) return 0;
        temporal_detail(eu, ek, tu, tk, fsp >= 0 ? fsp : col->gen_fsp, detail, sizeof detail, &c->hit);
        return add_mismatch(c, col, ev, tv, FMH_VR_TEMPORAL, detail) < 0 ? -1 : 1;
      }
      const char *es = cell_text(ev, 6, eb, sizeof eb, &el), *ts = cell_text(tv, 6, tb, sizeof tb, &tl);
      if (el == tl && memcmp(es, ts, el) == 0) return 0;
      return add_mismatch(c, col, ev, tv, FMH_VR_TEMPORAL, "temporal texts differ (not parseable)") < 0 ? -1 : 1;
    }
    case CMP_JSON: {
      const char *es = cell_text(ev, 6, eb, sizeof eb, &el), *ts = cell_text(tv, 6, tb, sizeof tb, &tl);
      if (el == tl && memcmp(es, ts, el) == 0) return 0; /* the common case, no parsing */
      char where[300];
      int r = fmh_vjson_compare(es, el, ts, tl, where, sizeof where);
      if (r == 0) return 0;
      snprintf(detail, sizeof detail, "%s%s", r < 0 ? "" : "JSON differs at ", where);
      return add_mismatch(c, col, ev, tv, r < 0 ? FMH_VR_INVALID_JSON : FMH_VR_JSON, detail) < 0 ? -1 : 1;
    }
    case CMP_STRING:
    case CMP_BYTES: {
      const char *es = cell_text(ev, 6, eb, sizeof eb, &el), *ts = cell_text(tv, 6, tb, sizeof tb, &tl);
      if (el == tl && memcmp(es, ts, el) == 0) return 0;
      size_t i0 = 0, j0 = 0;
      while (i0 < el && (es[i0] == ' ' || es[i0] == '\n' || es[i0] == '\t' || es[i0] == '\r')) i0++;
      while (j0 < tl && (ts[j0] == ' ' || ts[j0] == '\n' || ts[j0] == '\t' || ts[j0] == '\r')) j0++;
      char where[300];
      if (col->cls == CMP_STRING && i0 < el && j0 < tl && (es[i0] == '{' || es[i0] == '[') && es[i0] == ts[j0] &&
          fmh_vjson_compare(es, el, ts, tl, where, sizeof where) == 0) {
        c->hit.kind = FMH_VP_JSON_TEXT;
        return add_mismatch(c, col, ev, tv, FMH_VR_STRING,
                            "the same JSON document in other text (re-serialised JSON?)") < 0 ? -1 : 1;
      }
      string_detail(es, el, ts, tl, col->cls == CMP_BYTES, detail, sizeof detail, &c->hit);
      return add_mismatch(c, col, ev, tv, col->cls == CMP_STRING ? FMH_VR_STRING : FMH_VR_BYTES, detail) < 0 ? -1 : 1;
    }
  }
  return 0;
}

/* --- sides ------------------------------------------------------------- */

static void side_cell(fmh_vcmp *c, vside *s, const vcol *col, int idx, vcell *out, char *scratch) {
  if (s->src.gen) cell_from_gen(s->src.gen, col, &s->gv[idx], out, scratch, 96);
  else cell_from_sql(&s->row[idx], out);
}

static int side_fetch(fmh_vcmp *c, vside *s, fmh_error *e) {
  s->have = 0;
  if (s->src.gen) {
    if (s->next >= s->end) return 0;
    if (fmh_gen_row(s->gc, s->next, NULL, s->gv, e) != 0) return -1;
    s->next++;
  } else {
    int r = fmh_cursor_fetch(s->cur, &s->row, e);
    if (r <= 0) return r;
  }
  s->have = 1;
  s->rows++;
  for (int k = 0; k < c->o.nkey; k++) {
    const vcol *kc = &c->keys[k];
    side_cell(c, s, kc, s == &c->t ? kc->ti : kc->ei, &s->key[k], s->kscr[k]);
  }
  return 1;
}

/* Keep the current key as the previous one, in storage reused row after row. */
static int keep_prev(fmh_vcmp *c, vside *s) {
  fmh_vkey_part parts[16];
  fmh_vkey k;
  side_key_view(c, s, &k, parts);
  s->prevbuf.len = 0;
  size_t offs[16];
  for (int i = 0; i < k.n; i++) {
    s->prev.parts[i] = parts[i];
    offs[i] = s->prevbuf.len;
    if (parts[i].kind == FMH_VK_TEXT && fmh_buf_put(&s->prevbuf, parts[i].s, parts[i].len) != 0) return -1;
  }
  for (int i = 0; i < k.n; i++)
    s->prev.parts[i].s = parts[i].kind == FMH_VK_TEXT ? s->prevbuf.p + offs[i] : NULL;
  s->prev.n = k.n;
  s->has_prev = 1;
  return 0;
}

/* Fetch the next row and place it against the previous key. */
static int side_advance(fmh_vcmp *c, vside *s, fmh_error *e) {
  if (s->have && keep_prev(c, s) != 0) {
    fmh_error_set(e, "os", ENOMEM, 0, "validate: out of memory");
    return -1;
  }
  int r = side_fetch(c, s, e);
  if (r <= 0) return r;
  if (!s->has_prev) {
    s->repeat = 0;
    return 1;
  }
  int o = prev_cmp(c, s);
  if (o < 0) {
    fmh_buf a = {0}, b = {0};
    fmh_vkey_text(&s->prev, &a);
    fmh_vkey_part parts[16];
    fmh_vkey k;
    side_key_view(c, s, &k, parts);
    fmh_vkey_text(&k, &b);
    fmh_error_set(e, "validate", 0, 0,
                  "validate: the %s side is not in key order: key %s came after %s (integers must sort "
                  "numerically and strings byte by byte: use a binary collation for string keys, and "
                  "a generator whose key grows with the row number)",
                  s->role, b.p ? b.p : "?", a.p ? a.p : "?");
    fmh_buf_free(&a);
    fmh_buf_free(&b);
    return -1;
  }
  s->repeat = o == 0 ? s->repeat + 1 : 0;
  return 1;
}

static void side_close(vside *s) {
  if (s->cur) fmh_cursor_close(s->cur);
  s->cur = NULL;
  if (s->conn) {
    if (s->tz_set && !fmh_conn_is_broken(s->conn)) fmh_vsession_restore(s->conn);
    fmh_pool_release(s->conn);
  }
  s->conn = NULL;
  s->tz_set = 0;
  s->have = 0;
  s->has_prev = 0;
  s->repeat = 0;
}

static void part_param(const fmh_vkey_part *p, int binary, fmh_value *v) {
  memset(v, 0, sizeof *v);
  switch (p->kind) {
    case FMH_VK_NULL: v->t = FMH_V_NULL; break;
    case FMH_VK_INT: v->t = FMH_V_INT; v->i = p->i; break;
    case FMH_VK_UINT: v->t = FMH_V_UINT; v->u = p->u; break;
    case FMH_VK_TEXT:
      v->t = binary ? FMH_V_BLOB : FMH_V_STRING;
      v->s = p->s;
      v->len = p->len;
      break;
  }
}

int fmh_vrange_sql(fmh_buf *q, const char *key, const char *where, const fmh_vrange *r, int binary, fmh_value *params,
                   int *nparams) {
  int w = 0;
  *nparams = 0;
  if (where && where[0]) {
    fmh_vbuf_puts(q, " WHERE (");
    fmh_vbuf_puts(q, where);
    fmh_vbuf_puts(q, ")");
    w = 1;
  }
  if (r && r->has_lo) {
    fmh_vbuf_puts(q, w ? " AND " : " WHERE ");
    w = 1;
    fmh_vbuf_ident(q, key, 0);
    fmh_vbuf_puts(q, r->lo_incl ? " >= ?" : " > ?");
    part_param(&r->lo, binary, &params[(*nparams)++]);
  }
  if (r && r->has_hi) {
    fmh_vbuf_puts(q, w ? " AND " : " WHERE ");
    fmh_vbuf_ident(q, key, 0);
    fmh_vbuf_puts(q, " <= ?");
    part_param(&r->hi, binary, &params[(*nparams)++]);
  }
  return q->p ? 0 : -1;
}

/* The SELECT of a SQL side; a key range becomes two parameters. */
static int build_select(fmh_vcmp *c, vside *s, const fmh_vrange *r, fmh_buf *q, fmh_value *params, int *nparams,
                        fmh_error *e) {
  const fmh_vsource *src = &s->src;
  *nparams = 0;
  if (src->query && src->ordered) {
    if (r) {
      fmh_error_set(e, "usage", 0, 0, "validate: an ordered query cannot be cut into key ranges");
      return -1;
    }
    return fmh_vbuf_puts(q, src->query);
  }
  /* The columns by name, with a signature of their types in a comment: a
   * statement prepared before the table changed is never reused after. */
  fmh_vbuf_printf(q, "SELECT /* fmhost.validate %016" PRIx64 " */ ", s->sig);
  for (int i = 0; i < s->nprobe; i++) {
    if (i) fmh_vbuf_puts(q, ", ");
    fmh_vbuf_ident(q, s->probe[i], 0);
  }
  fmh_vbuf_puts(q, " FROM ");
  if (src->query) {
    fmh_vbuf_puts(q, "(");
    fmh_vbuf_puts(q, src->query);
    fmh_vbuf_puts(q, ") AS fmh_q");
  } else {
    fmh_vbuf_ident(q, src->table, 1);
  }
  fmh_vrange_sql(q, c->o.key[0], src->query ? NULL : src->where, r, s->key_binary, params, nparams);
  fmh_vbuf_puts(q, " ORDER BY ");
  for (int k = 0; k < c->o.nkey; k++) {
    if (k) fmh_vbuf_puts(q, ", ");
    fmh_vbuf_ident(q, c->o.key[k], 0);
  }
  if (!q->p) {
    fmh_error_set(e, "os", ENOMEM, 0, "validate: out of memory");
    return -1;
  }
  return 0;
}

static void probe_free(vside *s) {
  for (int i = 0; i < s->nprobe; i++) free(s->probe[i]);
  free(s->probe);
  s->probe = NULL;
  s->nprobe = 0;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * UINT64_C(0x100000001b3);
  return h;
}

/* SELECT * ... LIMIT 0 in the text protocol (never cached): the columns as
 * they are now, and the key columns checked against them. */
static int side_probe(fmh_vcmp *c, vside *s, fmh_error *e) {
  probe_free(s);
  fmh_buf q = {0};
  fmh_vbuf_puts(&q, "SELECT * FROM ");
  if (s->src.query) {
    fmh_vbuf_puts(&q, "(");
    fmh_vbuf_puts(&q, s->src.query);
    fmh_vbuf_puts(&q, ") AS fmh_q");
  } else {
    fmh_vbuf_ident(&q, s->src.table, 1);
  }
  fmh_vbuf_puts(&q, " LIMIT 0");
  if (!q.p) {
    fmh_error_set(e, "os", ENOMEM, 0, "validate: out of memory");
    return -1;
  }
  fmh_cursor *cur;
  fmh_exec_result res;
  int rc = fmh_conn_run(s->conn, q.p, q.len, NULL, 0, 0, &cur, &res, e);
  fmh_buf_free(&q);
  if (rc != 0) return -1;
  if (!cur) {
    fmh_error_set(e, "usage", 0, 0, "validate: the %s query returned no result set", s->role);
    return -1;
  }
  int n = fmh_cursor_ncols(cur);
  const fmh_column *cols = fmh_cursor_columns(cur);
  s->probe = calloc((size_t)(n ? n : 1), sizeof *s->probe);
  uint64_t h = UINT64_C(0xcbf29ce484222325);
  for (int i = 0; s->probe && i < n; i++) {
    if (!(s->probe[i] = strdup(cols[i].name))) break;
    s->nprobe = i + 1;
    h = fnv(h, cols[i].name, strlen(cols[i].name) + 1);
    h = fnv(h, cols[i].type, strlen(cols[i].type) + 1);
    int meta[4] = {cols[i].unsigned_, cols[i].decimals, cols[i].binary, (int)cols[i].length};
    h = fnv(h, meta, sizeof meta);
  }
  s->sig = h;
  int key_binary = 0, missing = -1;
  for (int k = 0; k < c->o.nkey && missing < 0; k++) {
    int found = -1;
    for (int i = 0; i < n && found < 0; i++)
      if (strcasecmp(cols[i].name, c->o.key[k]) == 0) found = i;
    if (found < 0) missing = k;
    else if (k == 0) key_binary = cols[found].binary;
  }
  fmh_cursor_close(cur);
  if (s->nprobe != n) {
    fmh_error_set(e, "os", ENOMEM, 0, "validate: out of memory");
    return -1;
  }
  if (missing >= 0) {
    fmh_error_set(e, "usage", 0, 0, "validate: key column '%s' is not on the %s side", c->o.key[missing], s->role);
    return -1;
  }
  s->key_binary = key_binary;
  return 0;
}

static int side_open(fmh_vcmp *c, vside *s, const fmh_vrange *r, fmh_error *e) {
  if (s->src.gen) {
    s->next = s->src.first;
    s->end = s->src.first + s->src.count;
    return 0;
  }
  if (fmh_pool_acquire(s->src.pool, -1, &s->conn, e) != 0) return -1;
  if (fmh_vsession_tz(s->conn, c->o.time_zone, e) != 0) return -1;
  s->tz_set = 1;
  if (!(s->src.query && s->src.ordered) && side_probe(c, s, e) != 0) return -1;
  fmh_buf q = {0};
  fmh_value params[2];
  int np;
  if (build_select(c, s, r, &q, params, &np, e) != 0) {
    fmh_buf_free(&q);
    return -1;
  }
  /* the binary protocol: the text protocol sends FLOAT with 6 digits only */
  fmh_exec_result res;
  int rc = fmh_conn_run(s->conn, q.p, q.len, params, np, 1, &s->cur, &res, e);
  fmh_buf_free(&q);
  if (rc != 0) {
    char m[sizeof e->msg];
    snprintf(m, sizeof m, "%s", e->msg);
    snprintf(e->msg, sizeof e->msg, "validate: %s side: %.900s", s->role, m);
    return -1;
  }
  if (!s->cur) {
    fmh_error_set(e, "usage", 0, 0, "validate: the %s query returned no result set", s->role);
    return -1;
  }
  s->ncols = fmh_cursor_ncols(s->cur);
  s->cols = fmh_cursor_columns(s->cur);
  return 0;
}

/* --- columns ------------------------------------------------------------- */

static int side_ncols(const vside *s) { return s->src.gen ? (int)fmh_gen_ncols(s->src.gen) : s->ncols; }

static const char *side_colname(const vside *s, int i) {
  if (!s->src.gen) return s->cols[i].name;
  fmh_gen_colinfo ci;
  fmh_gen_column_info(s->src.gen, (size_t)i, &ci);
  return ci.name;
}

static int side_find(const vside *s, const char *name) {
  int n = side_ncols(s);
  for (int i = 0; i < n; i++)
    if (strcasecmp(side_colname(s, i), name) == 0) return i;
  return -1;
}

static const fmh_vcolopt *colopt(const fmh_vcmp *c, const char *name) {
  for (int i = 0; i < c->o.ncols; i++)
    if (c->o.cols[i].name && strcasecmp(c->o.cols[i].name, name) == 0) return &c->o.cols[i];
  return NULL;
}

static int push_name(char ***list, size_t *n, const char *name) {
  char **nl = realloc(*list, (*n + 1) * sizeof **list);
  if (!nl) return -1;
  *list = nl;
  if (!(nl[*n] = strdup(name))) return -1;
  (*n)++;
  return 0;
}

static int setup_col_(fmh_vcmp *c, vcol *col, const char *name, int ti, int ei, fmh_error *e) {
  const fmh_vcolopt *opt = colopt(c, name);
  memset(col, 0, sizeof *col);
  col->name = strdup(name);
  if (!col->name) {
    fmh_error_set(e, "os", ENOMEM, 0, "validate: out of memory");
    return -1;
  }
  col->ti = ti;
  col->ei = ei;
  col->fsp = -1;
  col->gen_fsp = 6;
  const fmh_column *tc = &c->t.cols[ti];
  col->binary = tc->binary;
  col->t_float = strcmp(tc->type, "float") == 0;
  /* The expected side's type decides: a target column narrower than the
   * data (FLOAT for DOUBLE, fewer digits, a shorter string) must show as
   * mismatches, never loosen the comparison. Only a JSON target of string
   * data compares as JSON (the same document, whatever its spacing). */
  cmp_class cls;
  if (c->e.src.gen) {
    fmh_gen_colinfo ci;
    fmh_gen_column_info(c->e.src.gen, (size_t)ei, &ci);
    cls = class_of_gen(ci.type);
    if (ci.type == FMH_GEN_DATETIME || ci.type == FMH_GEN_TIMESTAMP || ci.type == FMH_GEN_TIME)
      col->gen_fsp = ci.fsp;
    else if (ci.type == FMH_GEN_DATE)
      col->gen_fsp = 0;
  } else {
    cls = class_of_sql(&c->e.cols[ei]);
    /* the precision the expected side holds, for the text of a mismatch */
    if (cls == CMP_TEMPORAL) {
      int d = (int)c->e.cols[ei].decimals;
      col->gen_fsp = !strcmp(c->e.cols[ei].type, "date") ? 0 : d >= 0 && d <= 6 ? d : 6;
    }
  }
  if (cls == CMP_STRING && class_of_sql(tc) == CMP_JSON) cls = CMP_JSON;
  if (opt && opt->as) {
    int k = class_parse(opt->as);
    if (k < 0) {
      fmh_error_set(e, "usage", 0, 0,
                    "validate: column '%s': unknown comparison '%s' (integer, decimal, double, float, temporal, "
                    "json, string or bytes)",
                    name, opt->as);
      return -1;
    }
    cls = (cmp_class)k;
  }
  col->cls = cls;
  if (opt) {
    if (opt->ulp < 0) {
      fmh_error_set(e, "usage", 0, 0, "validate: column '%s': ulp must be >= 0", name);
      return -1;
    }
    col->ulp = opt->ulp;
    if (opt->fsp > 6) {
      fmh_error_set(e, "usage", 0, 0, "validate: column '%s': fsp must be 0..6", name);
      return -1;
    }
    col->fsp = opt->fsp;
    if (!(opt->tolerance >= 0) || isinf(opt->tolerance)) {
      fmh_error_set(e, "usage", 0, 0, "validate: column '%s': tolerance must be a finite number >= 0", name);
      return -1;
    }
    if (opt->tolerance > 0 && cls > CMP_FLOAT) {
      fmh_error_set(e, "usage", 0, 0,
                    "validate: column '%s': tolerance applies to numbers (integer, decimal, double, float), not "
                    "to a %s comparison",
                    name, CLASS_NAMES[cls]);
      return -1;
    }
    col->tol = opt->tolerance;
  }
  const char *tz = opt && opt->time_zone ? opt->time_zone : c->o.time_zone;
  if (tz_offset(tz, &col->tz_off) != 0) {
    const char *gz = c->e.src.gen ? fmh_gen_time_zone(c->e.src.gen) : NULL;
    if (gz && strcmp(gz, tz) == 0) {
      col->tz_gen = 1;
    } else if (c->e.src.gen) {
      fmh_error_set(e, "usage", 0, 0,
                    "validate: column '%s': time zone '%s' cannot render generated TIMESTAMPs (use UTC, a fixed "
                    "offset such as +02:00, or the generator's own zone '%s')",
                    name, tz, gz ? gz : "UTC");
      return -1;
    }
  }
  return 0;
}

/* On failure the column holds nothing to free. */
static int setup_col(fmh_vcmp *c, vcol *col, const char *name, int ti, int ei, fmh_error *e) {
  if (setup_col_(c, col, name, ti, ei, e) == 0) return 0;
  free(col->name);
  col->name = NULL;
  return -1;
}

static int resolve(fmh_vcmp *c, fmh_error *e) {
  fmh_verdict *v = c->v;
  c->ncols_t = side_ncols(&c->t);
  c->ncols_e = side_ncols(&c->e);
  /* options must name real columns */
  for (int i = 0; i < c->o.ncols; i++) {
    const char *n = c->o.cols[i].name;
    if (!n || (side_find(&c->t, n) < 0 && side_find(&c->e, n) < 0)) {
      fmh_error_set(e, "usage", 0, 0, "validate: columns.%s: no such column on either side", n ? n : "?");
      return -1;
    }
  }
  c->keys = calloc((size_t)c->o.nkey, sizeof *c->keys);
  c->cols = calloc((size_t)(c->ncols_e ? c->ncols_e : 1), sizeof *c->cols);
  v->columns = calloc((size_t)(c->ncols_e ? c->ncols_e : 1), sizeof *v->columns);
  if (!c->keys || !c->cols || !v->columns) {
    fmh_error_set(e, "os", ENOMEM, 0, "validate: out of memory");
    return -1;
  }
  static fmh_vcolstat keystat;
  for (int k = 0; k < c->o.nkey; k++) {
    int ti = side_find(&c->t, c->o.key[k]), ei = side_find(&c->e, c->o.key[k]);
    if (ti < 0 || ei < 0) {
      fmh_error_set(e, "usage", 0, 0, "validate: key column '%s' is not on the %s side", c->o.key[k],
                    ti < 0 ? "target" : "expected");
      return -1;
    }
    if (setup_col(c, &c->keys[k], c->o.key[k], ti, ei, e) != 0) return -1;
    c->keys[k].is_key = 1;
    c->keys[k].stat = &keystat;
  }
  for (int j = 0; j < c->ncols_e; j++) {
    const char *name = side_colname(&c->e, j);
    const fmh_vcolopt *opt = colopt(c, name);
    if (opt && opt->ignore) continue;
    int is_key = 0;
    for (int k = 0; k < c->o.nkey; k++) is_key |= strcasecmp(c->o.key[k], name) == 0;
    if (is_key) continue;
    int ti = side_find(&c->t, name);
    if (ti < 0) {
      if (push_name(&v->missing_columns, &v->nmissing_columns, name) != 0) goto oom;
      continue;
    }
    vcol *col = &c->cols[c->ncols];
    if (setup_col(c, col, name, ti, j, e) != 0) return -1;
    fmh_vcolstat *st = &v->columns[v->ncolumns++];
    if (!(st->name = strdup(name))) goto oom;
    st->compare = CLASS_NAMES[col->cls];
    col->stat = st;
    c->ncols++;
  }
  for (int i = 0; i < c->ncols_t; i++) {
    const char *name = side_colname(&c->t, i);
    const fmh_vcolopt *opt = colopt(c, name);
    if ((opt && opt->ignore) || side_find(&c->e, name) >= 0) continue;
    if (push_name(&v->extra_columns, &v->nextra_columns, name) != 0) goto oom;
  }
  if (c->o.explain) {
    int ne = c->ncols_e, nt = c->ncols_t, nmax = ne > nt ? ne : nt;
    c->emap = calloc((size_t)(ne ? ne : 1), sizeof *c->emap);
    c->tmap = calloc((size_t)(nt ? nt : 1), sizeof *c->tmap);
    c->enames = calloc((size_t)(ne ? ne : 1), sizeof *c->enames);
    c->tnames = calloc((size_t)(nt ? nt : 1), sizeof *c->tnames);
    c->xscr = calloc((size_t)(nmax ? nmax : 1), sizeof *c->xscr);
    c->xv = calloc((size_t)(nmax ? nmax : 1), sizeof *c->xv);
    if (!c->emap || !c->tmap || !c->enames || !c->tnames || !c->xscr || !c->xv) goto oom;
    for (int i = 0; i < ne; i++)
      if (!(c->enames[i] = strdup(side_colname(&c->e, i)))) goto oom;
    for (int i = 0; i < nt; i++)
      if (!(c->tnames[i] = strdup(side_colname(&c->t, i)))) goto oom;
    for (int i = 0; i < c->ncols; i++) {
      c->emap[c->cols[i].ei] = &c->cols[i];
      c->tmap[c->cols[i].ti] = &c->cols[i];
    }
    for (int k = 0; k < c->o.nkey; k++) {
      c->emap[c->keys[k].ei] = &c->keys[k];
      c->tmap[c->keys[k].ti] = &c->keys[k];
    }
    c->x = fmh_vx_new(c->ncols, c->enames, ne, c->keys[0].ei, c->tnames, nt, c->keys[0].ti);
    if (!c->x) goto oom;
  }
  c->resolved = 1;
  return 0;
oom:
  fmh_error_set(e, "os", ENOMEM, 0, "validate: out of memory");
  return -1;
}

/* --- the merge ----------------------------------------------------------- */

static int compare_row(fmh_vcmp *c) {
  int bad = 0;
  c->row_samples = 0;
  c->row_bits = 0;
  for (int i = 0; i < c->ncols; i++) {
    vcol *col = &c->cols[i];
    vcell ev, tv;
    char es[96], ts[96];
    side_cell(c, &c->e, col, col->ei, &ev, es);
    side_cell(c, &c->t, col, col->ti, &tv, ts);
    int r = compare_field(c, col, &ev, &tv);
    if (r < 0) return -1;
    bad |= r;
  }
  if (bad) c->v->mismatched_rows++;
  c->row_bad = bad;
  return 0;
}

/* A side's value as the explain accumulators see it; text in buf. */
static void xval_of(const vcell *cell, fmh_vxval *x, char *buf) {
  memset(x, 0, sizeof *x);
  size_t len = 0;
  const char *s = cell_text(cell, 6, buf, 96, &len);
  x->s = s ? s : "";
  x->len = s ? len : 0;
  switch (cell->k) {
    case CK_NULL: x->null = 1; break;
    case CK_INT: x->isint = 1; x->i = cell->i; break;
    case CK_UINT:
      if (cell->u <= (uint64_t)INT64_MAX) {
        x->isint = 1;
        x->i = (int64_t)cell->u;
      }
      break;
    case CK_DOUBLE: case CK_FLOAT:
      x->isnum = isfinite(cell->d);
      x->d = cell->d;
      break;
    case CK_DEC: {
      int ok;
      x->d = cell_double(cell, &ok);
      x->isnum = ok;
      break;
    }
    case CK_TUS: x->isint = 1; x->i = cell->i; break;
    case CK_TTEXT: {
      char tk;
      x->isint = temporal_parse(cell->s, cell->len, &x->i, &tk) == 0;
      break;
    }
    default: break;
  }
}

/* Feed the current row of side s (0: expected, a missing row; 1: target, an
 * extra row) to the explain accumulators. */
static int explain_row(fmh_vcmp *c, int side) {
  vside *s = side ? &c->t : &c->e;
  vcol **map = side ? c->tmap : c->emap;
  int n = side ? c->ncols_t : c->ncols_e;
  for (int i = 0; i < n; i++) {
    vcell cell;
    side_cell(c, s, map[i], i, &cell, c->xscr[i]);
    xval_of(&cell, &c->xv[i], c->xscr[i]);
  }
  fmh_vkey_part parts[16];
  fmh_vkey k;
  side_key_view(c, s, &k, parts);
  return fmh_vx_row(c->x, side, c->xv, &k);
}

static int sample_key(fmh_vcmp *c, vside *s, fmh_vkey **list, size_t *n, const char *event) {
  fmh_vkey_part parts[16];
  fmh_vkey k;
  side_key_view(c, s, &k, parts);
  return add_key_sample(c, list, n, &k, event);
}

static int advance_expected(fmh_vcmp *c, fmh_error *e) {
  for (;;) {
    int r = side_advance(c, &c->e, e);
    if (r <= 0 || c->e.repeat == 0) return r;
    c->v->expected_duplicated++;
  }
}

#define FMH_VPROGRESS_BATCH 65536 /* expected rows between two progress counts */

static int merge(fmh_vcmp *c, fmh_error *e) {
  vside *T = &c->t, *E = &c->e;
  fmh_verdict *v = c->v;
  if (side_advance(c, T, e) < 0 || advance_expected(c, e) < 0) return -1;
  int e_matched = 0;
  uint64_t counted = 0; /* expected rows given to the progress line */
  for (;;) {
    if (c->prog_on && E->rows - counted >= FMH_VPROGRESS_BATCH) {
      fmh_progress_add(&c->prog, E->rows - counted, -1, NULL, 0);
      counted = E->rows;
    }
    if (!T->have && !E->have) break;
    int k = !E->have ? -1 : !T->have ? 1 : key_cmp(c);
    if (k > 0) {
      if (!e_matched) {
        v->missing++;
        if (sample_key(c, E, &v->missing_keys, &v->nmissing_keys, "validate.missing") != 0) goto oom;
        if (c->x && explain_row(c, 0) != 0) goto oom;
      }
      e_matched = 0;
      if (advance_expected(c, e) < 0) return -1;
      continue;
    }
    if (T->repeat > 0) {
      v->duplicate_rows++;
      if (T->repeat == 1) {
        v->duplicated++;
        if (sample_key(c, T, &v->duplicated_keys, &v->nduplicated_keys, "validate.duplicated") != 0) goto oom;
        if (k == 0) fmh_vx_copy(c->x, c->last_bad, c->last_bits);
      }
      if (k == 0) {
        if (compare_row(c) != 0) goto oom;
        if (c->row_bad) v->copies_differing++;
        fmh_vx_copy(c->x, c->row_bad, c->row_bits);
      }
    } else if (k == 0) {
      v->matched++;
      e_matched = 1;
      if (compare_row(c) != 0) goto oom;
      if (c->row_bad) v->differing++;
      else v->exact++;
      c->last_bad = c->row_bad;
      c->last_bits = c->row_bits;
      if (c->x) fmh_vx_present(c->x);
    } else {
      v->extra++;
      if (sample_key(c, T, &v->extra_keys, &v->nextra_keys, "validate.extra") != 0) goto oom;
      if (c->x && explain_row(c, 1) != 0) goto oom;
    }
    if (side_advance(c, T, e) < 0) return -1;
  }
  if (c->prog_on) fmh_progress_add(&c->prog, E->rows - counted, -1, NULL, 0);
  return 0;
oom:
  fmh_error_set(e, "os", ENOMEM, 0, "validate: out of memory");
  return -1;
}

static int side_init(fmh_vcmp *c, vside *s, fmh_error *e) {
  s->key = calloc((size_t)c->o.nkey, sizeof *s->key);
  s->kscr = calloc((size_t)c->o.nkey, sizeof *s->kscr);
  s->prev.parts = calloc((size_t)c->o.nkey, sizeof *s->prev.parts);
  if (!s->key || !s->kscr || !s->prev.parts) goto oom;
  if (s->src.gen) {
    s->gncols = fmh_gen_ncols(s->src.gen);
    s->gc = fmh_gen_cursor_new(s->src.gen);
    s->gv = calloc(s->gncols ? s->gncols : 1, sizeof *s->gv);
    if (!s->gc || !s->gv) goto oom;
  }
  return 0;
oom:
  fmh_error_set(e, "os", ENOMEM, 0, "validate: out of memory");
  return -1;
}

static void side_free(vside *s) {
  side_close(s);
  probe_free(s);
  free(s->key);
  free(s->kscr);
  free(s->prev.parts);
  fmh_buf_free(&s->prevbuf);
  if (s->gc) fmh_gen_cursor_free(s->gc);
  free(s->gv);
  memset(s, 0, sizeof *s);
}

static int check_source(const fmh_vsource *s, const char *role, fmh_error *e) {
  int n = (s->table != NULL) + (s->query != NULL) + (s->gen != NULL);
  if (n != 1) {
    fmh_error_set(e, "usage", 0, 0, "validate: the %s side needs exactly one of table, query or generator", role);
    return -1;
  }
  if ((s->table || s->query) && !s->pool) {
    fmh_error_set(e, "usage", 0, 0, "validate: the %s side needs a pool", role);
    return -1;
  }
  if (s->gen && (s->first < 0 || s->count < 0)) {
    fmh_error_set(e, "usage", 0, 0, "validate: the %s side: first and count must be >= 0", role);
    return -1;
  }
  if (s->gen && s->count > 0 && s->first + s->count > fmh_gen_row_limit(s->gen)) {
    fmh_error_set(e, "usage", 0, 0, "validate: the %s side: the generator cannot produce rows past %" PRId64, role,
                  fmh_gen_row_limit(s->gen));
    return -1;
  }
  return 0;
}

void fmh_vcompare_opts_default(fmh_vcompare_opts *o) {
  memset(o, 0, sizeof *o);
  o->max_samples = 20;
  o->max_value_len = 256;
  o->time_zone = "+00:00";
  o->explain = 1;
}

int fmh_vcmp_begin(const fmh_vcompare_opts *o, fmh_verdict *v, fmh_vcmp **out, fmh_error *e) {
  *out = NULL;
  if (check_source(&o->target, "target", e) != 0 || check_source(&o->expected, "expected", e) != 0) return -1;
  if (o->target.gen) {
    fmh_error_set(e, "usage", 0, 0, "validate: the target must be a table or a query");
    return -1;
  }
  if (o->nkey < 1 || o->nkey > 16) {
    fmh_error_set(e, "usage", 0, 0, "validate: between 1 and 16 key columns, not %d", o->nkey);
    return -1;
  }
  fmh_vcmp *c = calloc(1, sizeof *c);
  if (!c) {
    fmh_error_set(e, "os", ENOMEM, 0, "validate: out of memory");
    return -1;
  }
  c->o = *o;
  if (c->o.max_samples == 0) c->o.max_samples = 20;
  if (c->o.max_value_len == 0) c->o.max_value_len = 256;
  if (!c->o.time_zone) c->o.time_zone = "+00:00";
  if (!c->o.label) c->o.label = o->target.table ? o->target.table : "query";
  c->v = v;
  c->t.role = "target";
  c->t.src = o->target;
  c->e.role = "expected";
  c->e.src = o->expected;
  if (side_init(c, &c->t, e) != 0 || side_init(c, &c->e, e) != 0) {
    side_free(&c->t);
    side_free(&c->e);
    free(c);
    return -1;
  }
  if (!v->mode) v->mode = "stream";
  if (o->expected.gen) {
    v->has_seed = 1;
    v->seed = fmh_gen_seed(o->expected.gen);
    v->has_range = 1;
    v->first = o->expected.first;
    v->last = o->expected.first + o->expected.count - 1;
  }
  c->t0 = fmh_vnow();
  *out = c;
  return 0;
}

int fmh_vcmp_resolved(const fmh_vcmp *c) { return c->resolved; }

static int vcmp_run_range(fmh_vcmp *c, const fmh_vrange *r, fmh_error *e);

/* Checksum mode against a generator: the target's rows in r, the
 * generator's rows [first, first+count). */
int fmh_vcmp_run_rows(fmh_vcmp *c, const fmh_vrange *r, int64_t first, int64_t count, fmh_error *e) {
  if (!c->e.src.gen) return fmh_vcmp_run(c, r, e);
  c->e.src.first = first;
  c->e.src.count = count;
  return vcmp_run_range(c, r, e);
}

int fmh_vcmp_run(fmh_vcmp *c, const fmh_vrange *r, fmh_error *e) {
  if (r && c->e.src.gen) {
    fmh_error_set(e, "usage", 0, 0, "validate: key ranges need SQL sides");
    return -1;
  }
  return vcmp_run_range(c, r, e);
}

static int vcmp_run_range(fmh_vcmp *c, const fmh_vrange *r, fmh_error *e) {
  int rc = -1;
  if (side_open(c, &c->t, r, e) != 0 || side_open(c, &c->e, r, e) != 0) goto done;
  if (!c->resolved) {
    if (resolve(c, e) != 0) goto done;
  } else if (side_ncols(&c->t) != c->ncols_t || side_ncols(&c->e) != c->ncols_e) {
    fmh_error_set(e, "validate", 0, 0, "validate: the tables changed shape during the comparison");
    goto done;
  }
  c->t.rows = c->e.rows = 0;
  c->runs++;
  if (r) c->ranged = 1;
  rc = merge(c, e);
  if (rc != 0) c->failed = 1;
  c->v->target += c->t.rows;
  c->v->expected += c->e.rows;
done:
  side_close(&c->t);
  side_close(&c->e);
  return rc;
}

/* Count the rows of a side (0 expected, 1 target) that satisfy each
 * predicate of that side; stops once none can still hold. */
static int explain_pass(fmh_vcmp *c, int side, fmh_vxpred *p, int np, fmh_error *e) {
  vside *s = side ? &c->t : &c->e;
  uint64_t need = side ? c->v->extra : c->v->missing;
  int live = 0;
  for (int i = 0; i < np; i++) live += p[i].side == side;
  if (!live) return 0;
  int rc = -1;
  if (side_open(c, s, NULL, e) != 0) goto done;
  if (side_ncols(s) != (side ? c->ncols_t : c->ncols_e)) {
    fmh_error_set(e, "validate", 0, 0, "validate: the %s changed shape", s->role);
    goto done;
  }
  vcol **map = side ? c->tmap : c->emap;
  while (live > 0) {
    int r = side_fetch(c, s, e);
    if (r < 0) goto done;
    if (r == 0) break;
    for (int i = 0; i < np; i++) {
      if (p[i].side != side || p[i].count > need) continue;
      vcell cell;
      fmh_vxval xv;
      side_cell(c, s, map[p[i].col], p[i].col, &cell, c->xscr[p[i].col]);
      xval_of(&cell, &xv, c->xscr[p[i].col]);
      if (fmh_vx_eval(&p[i], &xv) && ++p[i].count > need) live--;
    }
  }
  rc = 0;
done:
  side_close(s);
  return rc;
}

/* A compared column the target holds one row of per distinct value, that
 * the kept missing rows' values of are all held by: rows collapsed by a
 * wrong key. NULL when none. */
static const char *explain_collapse(fmh_vcmp *c, uint64_t *rows, fmh_error *e) {
  fmh_verdict *v = c->v;
  int nk = fmh_vx_nkept(c->x);
  if (v->missing < 3 || v->extra || v->duplicated || nk < 2 || !c->ncols) return NULL;
  const char *found = NULL;
  fmh_buf q = {0};
  fmh_conn *conn = NULL;
  fmh_cursor *cur = NULL;
  fmh_exec_result res;
  const fmh_value *row;
  if (fmh_pool_acquire(c->t.src.pool, -1, &conn, e) != 0) return NULL;
  int tz = fmh_vsession_tz(conn, c->o.time_zone, e) == 0;
  if (!tz) goto done;
  fmh_buf from = {0};
  fmh_vbuf_puts(&from, " FROM ");
  if (c->t.src.query) {
    fmh_vbuf_puts(&from, "(");
    fmh_vbuf_puts(&from, c->t.src.query);
    fmh_vbuf_puts(&from, ") AS fmh_q");
  } else {
    fmh_vbuf_ident(&from, c->t.src.table, 1);
    if (c->t.src.where && c->t.src.where[0]) fmh_vbuf_printf(&from, " WHERE (%s)", c->t.src.where);
  }
  fmh_vbuf_puts(&q, "SELECT COUNT(*)");
  for (int i = 0; i < c->ncols; i++) {
    fmh_vbuf_puts(&q, ", COUNT(DISTINCT ");
    fmh_vbuf_ident(&q, c->cols[i].name, 0);
    fmh_vbuf_puts(&q, ")");
  }
  if (from.p) fmh_buf_put(&q, from.p, from.len);
  if (!q.p || !from.p || fmh_conn_run(conn, q.p, q.len, NULL, 0, 0, &cur, &res, e) != 0 || !cur ||
      fmh_cursor_fetch(cur, &row, e) != 1) {
    fmh_buf_free(&from);
    goto done;
  }
  uint64_t total = row[0].t == FMH_V_INT ? (uint64_t)row[0].i : row[0].u;
  uint64_t *distinct = calloc((size_t)c->ncols, sizeof *distinct);
  for (int i = 0; distinct && i < c->ncols; i++)
    distinct[i] = row[i + 1].t == FMH_V_INT ? (uint64_t)row[i + 1].i : row[i + 1].u;
  fmh_cursor_close(cur);
  cur = NULL;
  for (int i = 0; distinct && i < c->ncols && !found && total > 0; i++) {
    vcol *col = &c->cols[i];
    if (distinct[i] != total || col->cls == CMP_DOUBLE || col->cls == CMP_FLOAT || col->cls == CMP_JSON) continue;
    /* the distinct values of the kept missing rows, all held by the target? */
    q.len = 0;
    fmh_vbuf_puts(&q, "SELECT COUNT(*)");
    fmh_buf_put(&q, from.p, from.len);
    fmh_vbuf_puts(&q, c->t.src.query || !(c->t.src.where && c->t.src.where[0]) ? " WHERE " : " AND ");
    fmh_vbuf_ident(&q, col->name, 0);
    fmh_vbuf_puts(&q, " IN (");
    uint64_t nd = 0;
    for (int k = 0; k < nk; k++) {
      size_t len, l2;
      const char *val = fmh_vx_missing_value(c->x, k, col->ei, &len);
      if (!val) {
        nd = 0;
        break;
      }
      int dup = 0;
      for (int j = 0; j < k && !dup; j++) {
        const char *o = fmh_vx_missing_value(c->x, j, col->ei, &l2);
        dup = o && l2 == len && memcmp(o, val, len) == 0;
      }
      if (dup) continue;
      fmh_vkey_part part = {.kind = FMH_VK_TEXT, .s = (char *)val, .len = len};
      if (nd++) fmh_vbuf_puts(&q, ", ");
      fmh_vbuf_literal(&q, conn, &part, col->binary);
    }
    fmh_vbuf_puts(&q, ")");
    /* a value every kept missing row has alone proves little */
    if (nd < 2 || !q.p) continue;
    if (fmh_conn_run(conn, q.p, q.len, NULL, 0, 0, &cur, &res, e) != 0 || !cur) break;
    if (fmh_cursor_fetch(cur, &row, e) == 1) {
      uint64_t held = row[0].t == FMH_V_INT ? (uint64_t)row[0].i : row[0].u;
      if (held == nd) {
        found = col->name;
        *rows = total;
      }
    }
    fmh_cursor_close(cur);
    cur = NULL;
  }
  free(distinct);
  fmh_buf_free(&from);
done:
  if (cur) fmh_cursor_close(cur);
  fmh_buf_free(&q);
  if (tz && !fmh_conn_is_broken(conn)) fmh_vsession_restore(conn);
  fmh_pool_release(conn);
  return found;
}

/* The diagnosis, best effort: a failure of its extra queries leaves it out. */
static void explain_finish(fmh_vcmp *c) {
  fmh_verdict *v = c->v;
  fmh_error e = {0};
  fmh_vxpred preds[64];
  int np = 0;
  if (c->runs == 1 && !c->ranged && (v->missing >= 3 || v->extra >= 3)) {
    np = fmh_vx_candidates(c->x, preds, 64);
    if (explain_pass(c, 0, preds, np, &e) != 0 || explain_pass(c, 1, preds, np, &e) != 0) np = 0;
    fmh_error_clear(&e);
  }
  uint64_t crow = 0;
  const char *collapse = c->runs == 1 && !c->ranged ? explain_collapse(c, &crow, &e) : NULL;
  fmh_error_clear(&e);
  char **names = calloc((size_t)(c->ncols ? c->ncols : 1), sizeof *names);
  if (!names) return;
  for (int i = 0; i < c->ncols; i++) names[i] = c->cols[i].name;
  fmh_vx_finish(c->x, v, names, preds, np, collapse, crow);
  free(names);
}

void fmh_vcmp_end(fmh_vcmp *c, double elapsed_s) {
  fmh_verdict *v = c->v;
  if (c->x && c->resolved && !c->failed) explain_finish(c);
  v->ok = v->missing == 0 && v->extra == 0 && v->duplicated == 0 && v->expected_duplicated == 0 &&
          v->mismatched_rows == 0 && v->nmissing_columns == 0 && (c->o.allow_extra_columns || v->nextra_columns == 0);
  v->elapsed_s = elapsed_s >= 0 ? elapsed_s : fmh_vnow() - c->t0;
  v->rows_per_s = v->elapsed_s > 0 ? (double)v->target / v->elapsed_s : 0;
  if (c->o.log) {
    fmh_log_field f[] = {FMH_LS("label", c->o.label), FMH_LB("ok", v->ok), FMH_LI("expected", v->expected),
                         FMH_LI("target", v->target), FMH_LI("matched", v->matched), FMH_LI("missing", v->missing),
                         FMH_LI("extra", v->extra), FMH_LI("duplicated", v->duplicated),
                         FMH_LI("mismatched_rows", v->mismatched_rows),
                         FMH_LI("mismatched_fields", v->mismatched_fields), FMH_LN("elapsed_s", v->elapsed_s)};
    size_t nf = sizeof f / sizeof *f;
    fmh_log_field g[16];
    memcpy(g, f, sizeof f);
    const char *why = v->nexplain ? v->explain[0].text : v->npatterns ? v->patterns[0].text : NULL;
    if (why) g[nf++] = FMH_LS("diagnosis", why);
    fmh_log_emit(v->ok ? FMH_LOG_INFO : FMH_LOG_WARN, "validate.verdict", NULL, NULL, g, nf);
  }
  fmh_vx_free(c->x);
  for (int i = 0; c->enames && i < c->ncols_e; i++) free(c->enames[i]);
  for (int i = 0; c->tnames && i < c->ncols_t; i++) free(c->tnames[i]);
  free(c->enames);
  free(c->tnames);
  free(c->emap);
  free(c->tmap);
  free(c->xscr);
  free(c->xv);
  side_free(&c->t);
  side_free(&c->e);
  for (int i = 0; i < c->ncols; i++) free(c->cols[i].name);
  if (c->keys)
    for (int k = 0; k < c->o.nkey; k++) free(c->keys[k].name);
  free(c->cols);
  free(c->keys);
  fmh_buf_free(&c->tmp);
  fmh_buf_free(&c->tmp2);
  free(c);
}

int fmh_validate_compare(const fmh_vcompare_opts *o, fmh_verdict *v, fmh_error *e) {
  memset(v, 0, sizeof *v);
  fmh_vcmp *c;
  if (fmh_vcmp_begin(o, v, &c, e) != 0) return -1;
  if (o->progress) {
    fmh_progress_init(&c->prog, "validate", "rows", o->expected.gen && o->expected.count > 0 ? (uint64_t)o->expected.count : 0, NULL, -1,
                      0);
    c->prog_on = 1;
  }
  int rc = fmh_vcmp_run(c, NULL, e);
  if (o->progress) {
    fmh_progress_done(&c->prog, -1, NULL, 0);
    fmh_progress_destroy(&c->prog);
    c->prog_on = 0;
  }
  fmh_vcmp_end(c, -1);
  return rc;
}

/* --- the verdict --------------------------------------------------------- */

static void free_keys(fmh_vkey *k, size_t n) {
  for (size_t i = 0; i < n; i++) fmh_vkey_free(&k[i]);
  free(k);
}

static void free_names(char **l, size_t n) {
  for (size_t i = 0; i < n; i++) free(l[i]);
  free(l);
}

void fmh_verdict_free(fmh_verdict *v) {
  free_keys(v->missing_keys, v->nmissing_keys);
  free_keys(v->extra_keys, v->nextra_keys);
  free_keys(v->duplicated_keys, v->nduplicated_keys);
  for (size_t i = 0; i < v->nmismatches; i++) {
    fmh_vmismatch *m = &v->mismatches[i];
    fmh_vkey_free(&m->key);
    free(m->column);
    free(m->expected);
    free(m->actual);
    free(m->detail);
  }
  free(v->mismatches);
  for (size_t i = 0; i < v->ncolumns; i++) free(v->columns[i].name);
  free(v->columns);
  free_names(v->missing_columns, v->nmissing_columns);
  free_names(v->extra_columns, v->nextra_columns);
  free(v->checksum_function);
  for (int k = 0; k < 2; k++) {
    fmh_vpattern *l = k ? v->explain : v->patterns;
    size_t n = k ? v->nexplain : v->npatterns;
    for (size_t i = 0; i < n; i++) {
      free(l[i].column);
      free(l[i].text);
      free(l[i].examples[0]);
      free(l[i].examples[1]);
    }
    free(l);
  }
  free_names(v->missing_rows, v->nmissing_rows);
  free_names(v->extra_rows, v->nextra_rows);
  free(v->partial_detail);
  memset(v, 0, sizeof *v);
}

static void key_list(fmh_buf *b, const char *what, const fmh_vkey *k, size_t n, uint64_t total) {
  if (!total) return;
  fmh_vbuf_printf(b, "  %s keys (%" PRIu64 "%s):", what, total, n < total ? ", first ones" : "");
  for (size_t i = 0; i < n; i++) {
    fmh_vbuf_puts(b, i ? ", " : " ");
    fmh_vkey_text(&k[i], b);
  }
  fmh_vbuf_puts(b, "\n");
}

char *fmh_verdict_format(const fmh_verdict *v) { return fmh_verdict_format_parts(v, FMH_VTEXT_ALL); }

char *fmh_verdict_format_parts(const fmh_verdict *v, unsigned parts) {
  fmh_buf b = {0};
  fmh_vbuf_puts(&b, ""); /* an empty text when no part has anything to say */
  if (parts & FMH_VTEXT_HEAD)
    fmh_vbuf_printf(&b, "validate (%s): %s\n", v->mode ? v->mode : "stream", v->ok ? "OK" : "FAILED");
  if ((parts & FMH_VTEXT_HEAD) && v->has_seed)
    fmh_vbuf_printf(&b, "  expected: generator seed %" PRIu64 ", rows %" PRId64 "..%" PRId64 "\n", v->seed,
                    v->first, v->last);
  if (parts & FMH_VTEXT_COUNTS) {
    fmh_vbuf_printf(&b,
                    "  rows: expected %" PRIu64 ", target %" PRIu64 "; keys present %" PRIu64 " (exact %" PRIu64
                    ", differing %" PRIu64 "), missing %" PRIu64 ", extra %" PRIu64 ", duplicated %" PRIu64,
                    v->expected, v->target, v->matched, v->exact, v->differing, v->missing, v->extra, v->duplicated);
    if (v->duplicate_rows)
      fmh_vbuf_printf(&b, " (%" PRIu64 " extra copies, %" PRIu64 " of them differing)", v->duplicate_rows,
                      v->copies_differing);
    fmh_vbuf_printf(&b, "; %" PRIu64 " differing fields\n", v->mismatched_fields);
    if (v->expected_duplicated)
      fmh_vbuf_printf(&b, "  the expected side repeats %" PRIu64 " keys (its key is not unique)\n",
                      v->expected_duplicated);
    if (v->chunks)
      fmh_vbuf_printf(&b,
                      "  checksum: %" PRIu64 " chunks, %" PRIu64 " differing, %" PRIu64 " checksum queries, %" PRIu64
                      " rows streamed\n",
                      v->chunks, v->chunks_differing, v->checksum_queries, v->rows_streamed);
    if (v->partial_detail) fmh_vbuf_printf(&b, "  PARTIAL: %s\n", v->partial_detail);
  }
  if (parts & FMH_VTEXT_TIME) fmh_vbuf_printf(&b, "  time: %.3f s, %.0f rows/s\n", v->elapsed_s, v->rows_per_s);
  if ((parts & FMH_VTEXT_COLUMNS) && v->nmissing_columns) {
    fmh_vbuf_puts(&b, "  columns missing from the target:");
    for (size_t i = 0; i < v->nmissing_columns; i++) fmh_vbuf_printf(&b, " %s", v->missing_columns[i]);
    fmh_vbuf_puts(&b, "\n");
  }
  if ((parts & FMH_VTEXT_COLUMNS) && v->nextra_columns) {
    fmh_vbuf_puts(&b, "  columns only in the target:");
    for (size_t i = 0; i < v->nextra_columns; i++) fmh_vbuf_printf(&b, " %s", v->extra_columns[i]);
    fmh_vbuf_puts(&b, "\n");
  }
  if ((parts & FMH_VTEXT_DIAGNOSIS) && (v->npatterns || v->nexplain)) {
    fmh_vbuf_puts(&b, "  diagnosis:\n");
    for (size_t i = 0; i < v->nexplain; i++) fmh_vbuf_printf(&b, "    %s\n", v->explain[i].text);
    for (size_t i = 0; i < v->npatterns; i++) {
      const fmh_vpattern *p = &v->patterns[i];
      fmh_vbuf_printf(&b, "    column %s: %s", p->column ? p->column : "?", p->text ? p->text : p->kind);
      for (int k = 0; k < 2; k++)
        if (p->examples[k]) fmh_vbuf_printf(&b, "%s%s", k ? "; " : " e.g. ", p->examples[k]);
      fmh_vbuf_puts(&b, "\n");
    }
  }
  for (size_t i = 0; (parts & FMH_VTEXT_ROWS) && i < v->nmissing_rows; i++)
    fmh_vbuf_printf(&b, "  missing row %s\n", v->missing_rows[i]);
  for (size_t i = 0; (parts & FMH_VTEXT_ROWS) && i < v->nextra_rows; i++)
    fmh_vbuf_printf(&b, "  extra row %s\n", v->extra_rows[i]);
  if (parts & FMH_VTEXT_KEYS) {
    key_list(&b, "missing", v->missing_keys, v->nmissing_keys, v->missing);
    key_list(&b, "extra", v->extra_keys, v->nextra_keys, v->extra);
    key_list(&b, "duplicated", v->duplicated_keys, v->nduplicated_keys, v->duplicated);
  }
  if (!(parts & FMH_VTEXT_SAMPLES)) return b.p;
  int any = 0;
  for (size_t i = 0; i < v->ncolumns; i++) {
    if (!v->columns[i].mismatches) continue;
    fmh_vbuf_puts(&b, any ? ", " : "  mismatches by column: ");
    fmh_vbuf_printf(&b, "%s %" PRIu64, v->columns[i].name, v->columns[i].mismatches);
    any = 1;
  }
  if (any) fmh_vbuf_puts(&b, "\n");
  for (size_t i = 0; i < v->nmismatches; i++) {
    const fmh_vmismatch *m = &v->mismatches[i];
    if (v->npatterns && i >= 10) {
      fmh_vbuf_printf(&b, "  (%zu more samples in the verdict's mismatches)\n", v->nmismatches - i);
      break;
    }
    fmh_vbuf_puts(&b, "  key ");
    fmh_vkey_text(&m->key, &b);
    fmh_vbuf_printf(&b, " column %s [%s]: expected ", m->column, m->reason);
    if (m->expected) fmh_vbuf_quoted(&b, m->expected, m->expected_len, 120);
    else fmh_vbuf_puts(&b, "NULL");
    fmh_vbuf_puts(&b, ", target ");
    if (m->actual) fmh_vbuf_quoted(&b, m->actual, m->actual_len, 120);
    else fmh_vbuf_puts(&b, "NULL");
    fmh_vbuf_printf(&b, " (%s)\n", m->detail ? m->detail : "");
  }
  if (v->truncated) fmh_vbuf_puts(&b, "  (samples capped: the counts above are complete)\n");
  return b.p;
}
