/* fmhost.validate, the columns: each column's comparison class (from its
 * SQL or generator type, or an option), and matching the two sides'
 * columns by name into the compared and key columns. */
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

/* --- columns ------------------------------------------------------------- */

int fmh_vside_ncols(const vside *s) { return s->src.gen ? (int)fmh_gen_ncols(s->src.gen) : s->ncols; }

static const char *side_colname(const vside *s, int i) {
  if (!s->src.gen) return s->cols[i].name;
  fmh_gen_colinfo ci;
  fmh_gen_column_info(s->src.gen, (size_t)i, &ci);
  return ci.name;
}

static int side_find(const vside *s, const char *name) {
  int n = fmh_vside_ncols(s);
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
  if (fmh_vtz_offset(tz, &col->tz_off) != 0) {
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

int fmh_vresolve(fmh_vcmp *c, fmh_error *e) {
  fmh_verdict *v = c->v;
  c->ncols_t = fmh_vside_ncols(&c->t);
  c->ncols_e = fmh_vside_ncols(&c->e);
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
