/* fmhost.pool, statements: text and prepared statements on a pooled
 * connection, parameters bound by type, results streamed row by row into
 * typed fmh_values (the typing rules are in include/fmhost/pool.h). */
#include <ctype.h>
#include <errmsg.h>
#include <errno.h>
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmhost/calendar.h"
#include "fmhost/digits.h"
#include "fmhost/pool.h"
#include "pool_internal.h"

typedef struct colbuf {
  char *buf;              /* strings, decimals, bits */
  unsigned long cap, len;
  my_bool is_null, err;
  long long i;
  double d;
  float f;
  MYSQL_TIME t;
  char txt[64];           /* formatted dates and floats */
} colbuf;

struct fmh_cursor {
  fmh_conn *c;
  MYSQL_STMT *stmt;       /* borrowed from the connection's cache; NULL for text */
  MYSQL_RES *res;         /* text: the streaming result; prepared: metadata */
  MYSQL_FIELD *fields;
  int ncols;
  fmh_column *cols;
  fmh_value *vals;
  MYSQL_BIND *binds;
  colbuf *cb;
  char *names;            /* the column names of this execution, when the statement's are stale */
  int transient;          /* stmt is not in the cache: closed with the cursor */
  int stale;              /* stmt's metadata is out of date: re-prepared on its next run */
  int done;
  int pack_temporal;      /* fmh_cursor_pack_temporal */
  unsigned warnings;
};

static void usage_error(fmh_error *e, const char *msg) { fmh_error_set(e, "usage", 0, 0, "%s", msg); }

/* --- the statement cache ----------------------------------------------- */

static void stmt_forget(fmh_conn *c, MYSQL_STMT *st) {
  for (int i = 0; i < c->nstmts; i++) {
    if (c->stmts[i].stmt != st) continue;
    mysql_stmt_close(st);
    free(c->stmts[i].sql);
    c->stmts[i] = c->stmts[--c->nstmts];
    return;
  }
}

/* Take st out of the cache without closing it. */
static void stmt_uncache(fmh_conn *c, MYSQL_STMT *st) {
  for (int i = 0; i < c->nstmts; i++) {
    if (c->stmts[i].stmt != st) continue;
    free(c->stmts[i].sql);
    c->stmts[i] = c->stmts[--c->nstmts];
    return;
  }
}

/* Close st, reading any rows still pending on the session first
 * (mysql_stmt_close drains them), whether or not the cache holds it. */
static void stmt_drop(fmh_conn *c, MYSQL_STMT *st, int transient) {
  if (transient) mysql_stmt_close(st);
  else stmt_forget(c, st);
}

static int stmt_error(fmh_conn *c, MYSQL_STMT *st, fmh_error *e, const char *what) {
  unsigned code = mysql_stmt_errno(st);
  if (code == 0) return fmh_conn_error(c, e, what);
  fmh_pool_fill_error(e, code, mysql_stmt_sqlstate(st), mysql_stmt_error(st), what);
  if (fmh_pool_code_kills_conn(code)) c->broken = 1;
  return -1;
}

/* The statement only reads: its first keyword (after blanks, comments and
 * opening parentheses) is SELECT, WITH, SHOW, VALUES or TABLE. Running it a
 * second time changes nothing. Executable comments count as code. */
static int sql_reads_only(const char *sql, size_t len) {
  size_t i = 0;
  for (;;) {
    while (i < len && (isspace((unsigned char)sql[i]) || sql[i] == '(')) i++;
    if (i + 1 < len && sql[i] == '/' && sql[i + 1] == '*') {
      if (i + 2 < len && (sql[i + 2] == '!' || sql[i + 2] == 'M')) return 0;
      size_t k = i + 2;
      while (k + 1 < len && !(sql[k] == '*' && sql[k + 1] == '/')) k++;
      if (k + 1 >= len) return 0;
      i = k + 2;
    } else if (i < len && (sql[i] == '#' || (i + 2 < len && sql[i] == '-' && sql[i + 1] == '-' &&
                                               isspace((unsigned char)sql[i + 2])))) {
      while (i < len && sql[i] != '\n') i++;
    } else {
      break;
    }
  }
  static const char *const words[] = {"SELECT", "WITH", "SHOW", "VALUES", "TABLE"};
  for (size_t w = 0; w < sizeof words / sizeof *words; w++) {
    size_t n = strlen(words[w]), k = 0;
    while (k < n && i + k < len && toupper((unsigned char)sql[i + k]) == words[w][k]) k++;
    if (k == n && (i + n == len || !(isalnum((unsigned char)sql[i + n]) || sql[i + n] == '_'))) return 1;
  }
  return 0;
}

/* The prepared statement for sql: from the connection's cache, or newly
 * prepared into it. */
static MYSQL_STMT *stmt_get(fmh_conn *c, const char *sql, size_t len, fmh_error *e) {
  for (int i = 0; i < c->nstmts; i++) {
    fmh_stmt_entry *s = &c->stmts[i];
    if (s->len == len && memcmp(s->sql, sql, len) == 0) {
      s->used = ++c->stmt_clock;
      return s->stmt;
    }
  }
  MYSQL_STMT *st = mysql_stmt_init(c->my);
  if (!st) {
    fmh_conn_error(c, e, "prepare");
    return NULL;
  }
  if (mysql_stmt_prepare(st, sql, (unsigned long)len) != 0) {
    stmt_error(c, st, e, "prepare");
    mysql_stmt_close(st);
    return NULL;
  }
  if (c->nstmts == FMH_STMT_CACHE) { /* evict the least recently used */
    int lru = 0;
    for (int i = 1; i < c->nstmts; i++)
      if (c->stmts[i].used < c->stmts[lru].used) lru = i;
    stmt_forget(c, c->stmts[lru].stmt);
  }
  fmh_stmt_entry *s = &c->stmts[c->nstmts];
  s->sql = malloc(len + 1);
  if (!s->sql) {
    mysql_stmt_close(st);
    fmh_error_set(e, "os", ENOMEM, 0, "prepare: out of memory");
    return NULL;
  }
  memcpy(s->sql, sql, len);
  s->sql[len] = '\0';
  s->len = len;
  s->stmt = st;
  s->used = ++c->stmt_clock;
  c->nstmts++;
  return st;
}

/* --- parameters -------------------------------------------------------- */

/* 'YYYY-MM-DD', 'YYYY-MM-DD HH:MM:SS[.ffffff]' (or 'T'), '[-]HHH:MM:SS[.ffffff]' */
static int parse_time(const char *s, size_t len, MYSQL_TIME *t, enum enum_field_types *type) {
  char b[64];
  if (len >= sizeof b) return -1;
  memcpy(b, s, len);
  b[len] = '\0';
  memset(t, 0, sizeof *t);
  unsigned y, mo, d, h = 0, mi = 0, se = 0;
  char frac[16] = "";
  int n = 0;
  if (sscanf(b, "%4u-%2u-%2u%n", &y, &mo, &d, &n) == 3 && n == 10) {
    t->year = y;
    t->month = mo;
    t->day = d;
    if (b[n] == '\0') {
      t->time_type = MYSQL_TIMESTAMP_DATE;
      *type = MYSQL_TYPE_DATE;
      return 0;
    }
    int m = 0;
    if ((b[n] != ' ' && b[n] != 'T') || sscanf(b + n + 1, "%2u:%2u:%2u%n", &h, &mi, &se, &m) != 3 || m != 8)
      return -1;
    n += 1 + m;
    t->time_type = MYSQL_TIMESTAMP_DATETIME;
    *type = MYSQL_TYPE_DATETIME;
  } else {
    const char *p = b;
    if (*p == '-') { t->neg = 1; p++; }
    if (sscanf(p, "%u:%2u:%2u%n", &h, &mi, &se, &n) != 3) return -1;
    n += (int)(p - b);
    t->time_type = MYSQL_TIMESTAMP_TIME;
    *type = MYSQL_TYPE_TIME;
  }
  if (b[n] == '.') {
    size_t k = strspn(b + n + 1, "0123456789");
    if (k == 0 || k > 6 || b[n + 1 + k] != '\0') return -1;
    memcpy(frac, b + n + 1, k);
    while (k < 6) frac[k++] = '0';
    t->second_part = strtoul(frac, NULL, 10);
  } else if (b[n] != '\0') {
    return -1;
  }
  if (mo > 12 || d > 31 || mi > 59 || se > 59) return -1;
  t->hour = h;
  t->minute = mi;
  t->second = se;
  return 0;
}

typedef struct {
  MYSQL_BIND *b;
  long long *i;
  double *d;
  char *tiny;
  MYSQL_TIME *t;
} parambuf;

static void params_free(parambuf *pb) {
  free(pb->b);
  free(pb->i);
  free(pb->d);
  free(pb->tiny);
  free(pb->t);
}

static int params_bind(const fmh_value *v, int n, parambuf *pb, fmh_error *e) {
  memset(pb, 0, sizeof *pb);
  if (n == 0) return 0;
  pb->b = calloc((size_t)n, sizeof *pb->b);
  pb->i = calloc((size_t)n, sizeof *pb->i);
  pb->d = calloc((size_t)n, sizeof *pb->d);
  pb->tiny = calloc((size_t)n, 1);
  pb->t = calloc((size_t)n, sizeof *pb->t);
  if (!pb->b || !pb->i || !pb->d || !pb->tiny || !pb->t) {
    params_free(pb);
    fmh_error_set(e, "os", ENOMEM, 0, "bind: out of memory");
    return -1;
  }
  for (int k = 0; k < n; k++) {
    MYSQL_BIND *b = &pb->b[k];
    switch (v[k].t) {
      case FMH_V_NULL: b->buffer_type = MYSQL_TYPE_NULL; break;
      case FMH_V_INT:
        pb->i[k] = v[k].i;
        b->buffer_type = MYSQL_TYPE_LONGLONG;
        b->buffer = &pb->i[k];
        break;
      case FMH_V_UINT:
        pb->i[k] = (long long)v[k].u;
        b->buffer_type = MYSQL_TYPE_LONGLONG;
        b->buffer = &pb->i[k];
        b->is_unsigned = 1;
        break;
      case FMH_V_DOUBLE:
        pb->d[k] = v[k].d;
        b->buffer_type = MYSQL_TYPE_DOUBLE;
        b->buffer = &pb->d[k];
        break;
      case FMH_V_BOOL:
        pb->tiny[k] = v[k].i ? 1 : 0;
        b->buffer_type = MYSQL_TYPE_TINY;
        b->buffer = &pb->tiny[k];
        break;
      case FMH_V_DECIMAL:
      case FMH_V_STRING:
      case FMH_V_BLOB:
        b->buffer_type = v[k].t == FMH_V_DECIMAL ? MYSQL_TYPE_NEWDECIMAL
                         : v[k].t == FMH_V_BLOB  ? MYSQL_TYPE_BLOB
                                                 : MYSQL_TYPE_STRING;
        b->buffer = (void *)v[k].s;
        b->buffer_length = (unsigned long)v[k].len;
        b->length_value = (unsigned long)v[k].len;
        b->length = &b->length_value;
        break;
      case FMH_V_DATETIME: {
        enum enum_field_types ty;
        if (parse_time(v[k].s, v[k].len, &pb->t[k], &ty) != 0) {
          fmh_error_set(e, "usage", 0, 0, "parameter %d: not a date, datetime or time: '%.*s'", k + 1,
                        (int)(v[k].len > 40 ? 40 : v[k].len), v[k].s);
          params_free(pb);
          return -1;
        }
        b->buffer_type = ty;
        b->buffer = &pb->t[k];
        break;
      }
    }
  }
  return 0;
}

/* --- columns ----------------------------------------------------------- */

static const char *type_name(const MYSQL_FIELD *f) {
  MARIADB_CONST_STRING fmt;
  if (mariadb_field_attr(&fmt, f, MARIADB_FIELD_ATTR_FORMAT_NAME) == 0 && fmt.length == 4 &&
      memcmp(fmt.str, "json", 4) == 0)
    return "json";
  int bin = f->charsetnr == 63;
  if (f->flags & ENUM_FLAG) return "enum";
  if (f->flags & SET_FLAG) return "set";
  switch (f->type) {
    case MYSQL_TYPE_TINY: return "tinyint";
    case MYSQL_TYPE_SHORT: return "smallint";
    case MYSQL_TYPE_INT24: return "mediumint";
    case MYSQL_TYPE_LONG: return "int";
    case MYSQL_TYPE_LONGLONG: return "bigint";
    case MYSQL_TYPE_FLOAT: return "float";
    case MYSQL_TYPE_DOUBLE: return "double";
    case MYSQL_TYPE_DECIMAL:
    case MYSQL_TYPE_NEWDECIMAL: return "decimal";
    case MYSQL_TYPE_DATE:
    case MYSQL_TYPE_NEWDATE: return "date";
    case MYSQL_TYPE_TIME: return "time";
    case MYSQL_TYPE_DATETIME: return "datetime";
    case MYSQL_TYPE_TIMESTAMP: return "timestamp";
    case MYSQL_TYPE_YEAR: return "year";
    case MYSQL_TYPE_BIT: return "bit";
    case MYSQL_TYPE_NULL: return "null";
    case MYSQL_TYPE_STRING: return bin ? "binary" : "char";
    case MYSQL_TYPE_VARCHAR:
    case MYSQL_TYPE_VAR_STRING: return bin ? "varbinary" : "varchar";
    case MYSQL_TYPE_TINY_BLOB:
    case MYSQL_TYPE_MEDIUM_BLOB:
    case MYSQL_TYPE_LONG_BLOB:
    case MYSQL_TYPE_BLOB: return bin ? "blob" : "text";
    case MYSQL_TYPE_JSON: return "json";
    case MYSQL_TYPE_GEOMETRY: return "geometry";
    default: return "unknown";
  }
}

static int is_int_type(enum enum_field_types t) {
  return t == MYSQL_TYPE_TINY || t == MYSQL_TYPE_SHORT || t == MYSQL_TYPE_INT24 || t == MYSQL_TYPE_LONG ||
         t == MYSQL_TYPE_LONGLONG || t == MYSQL_TYPE_YEAR;
}

static int is_time_type(enum enum_field_types t) {
  return t == MYSQL_TYPE_DATE || t == MYSQL_TYPE_NEWDATE || t == MYSQL_TYPE_TIME ||
         t == MYSQL_TYPE_DATETIME || t == MYSQL_TYPE_TIMESTAMP;
}

static void cursor_free(fmh_cursor *q) {
  if (q->cb)
    for (int i = 0; i < q->ncols; i++) free(q->cb[i].buf);
  free(q->cb);
  free(q->binds);
  free(q->vals);
  free(q->cols);
  free(q->names);
  free(q);
}

static fmh_cursor *cursor_new(fmh_conn *c, MYSQL_RES *res, MYSQL_STMT *st, fmh_error *e) {
  fmh_cursor *q = calloc(1, sizeof *q);
  if (!q) goto oom;
  q->c = c;
  q->res = res;
  q->stmt = st;
  q->ncols = (int)mysql_num_fields(res);
  q->fields = mysql_fetch_fields(res);
  q->cols = calloc((size_t)q->ncols + 1, sizeof *q->cols);
  q->vals = calloc((size_t)q->ncols + 1, sizeof *q->vals);
  if (!q->cols || !q->vals) goto oom;
  for (int i = 0; i < q->ncols; i++) {
    MYSQL_FIELD *f = &q->fields[i];
    fmh_column *col = &q->cols[i];
    col->name = f->name;
    col->type = type_name(f);
    col->unsigned_ = (f->flags & UNSIGNED_FLAG) != 0;
    col->nullable = !(f->flags & NOT_NULL_FLAG);
    col->decimals = (int)f->decimals;
    col->length = f->length;
    col->binary = f->charsetnr == 63 && !is_int_type(f->type) && !is_time_type(f->type);
  }
  return q;
oom:
  if (q) cursor_free(q);
  fmh_error_set(e, "os", ENOMEM, 0, "query: out of memory");
  return NULL;
}

static int bind_results(fmh_cursor *q, fmh_error *e) {
  q->binds = calloc((size_t)q->ncols + 1, sizeof *q->binds);
  q->cb = calloc((size_t)q->ncols + 1, sizeof *q->cb);
  if (!q->binds || !q->cb) goto oom;
  for (int i = 0; i < q->ncols; i++) {
    MYSQL_FIELD *f = &q->fields[i];
    MYSQL_BIND *b = &q->binds[i];
    colbuf *cb = &q->cb[i];
    b->is_null = &cb->is_null;
    b->error = &cb->err;
    b->length = &cb->len;
    if (is_int_type(f->type)) {
      b->buffer_type = MYSQL_TYPE_LONGLONG;
      b->buffer = &cb->i;
      b->is_unsigned = (f->flags & UNSIGNED_FLAG) != 0;
    } else if (f->type == MYSQL_TYPE_FLOAT) {
      b->buffer_type = MYSQL_TYPE_FLOAT;
      b->buffer = &cb->f;
    } else if (f->type == MYSQL_TYPE_DOUBLE) {
      b->buffer_type = MYSQL_TYPE_DOUBLE;
      b->buffer = &cb->d;
    } else if (is_time_type(f->type)) {
      b->buffer_type = f->type == MYSQL_TYPE_NEWDATE ? MYSQL_TYPE_DATE : f->type;
      b->buffer = &cb->t;
      b->buffer_length = sizeof cb->t;
    } else {
      unsigned long want = f->length > 0 && f->length < 256 ? f->length + 1 : 256;
      cb->buf = malloc(want);
      if (!cb->buf) goto oom;
      cb->cap = want;
      b->buffer_type = MYSQL_TYPE_BLOB;
      b->buffer = cb->buf;
      b->buffer_length = want;
    }
  }
  if (mysql_stmt_bind_result(q->stmt, q->binds) != 0) return stmt_error(q->c, q->stmt, e, "bind result");
  return 0;
oom:
  fmh_error_set(e, "os", ENOMEM, 0, "query: out of memory");
  return -1;
}

/* --- running ------------------------------------------------------------ */

/* The statement's result columns are named as when it was prepared: after
 * the server re-prepared it for a changed table with as many columns as
 * before, libmariadb updates their types but keeps the old names. The
 * session's metadata of this execution has the current ones: copy them into
 * the cursor, and have the statement prepared afresh next time. */
static int take_current_names(fmh_cursor *q, fmh_error *e) {
  MYSQL *my = q->c->my;
  if (!my->fields || my->field_count != (unsigned)q->ncols) return 0;
  size_t need = 0;
  int stale = 0;
  for (int i = 0; i < q->ncols; i++) {
    const char *now = my->fields[i].name ? my->fields[i].name : "";
    if (strcmp(now, q->cols[i].name ? q->cols[i].name : "") != 0) stale = 1;
    need += strlen(now) + 1;
  }
  if (!stale) return 0;
  q->names = malloc(need);
  if (!q->names) {
    fmh_error_set(e, "os", ENOMEM, 0, "query: out of memory");
    return -1;
  }
  char *p = q->names;
  for (int i = 0; i < q->ncols; i++) {
    const char *now = my->fields[i].name ? my->fields[i].name : "";
    size_t n = strlen(now) + 1;
    memcpy(p, now, n);
    q->cols[i].name = p;
    p += n;
  }
  q->stale = 1;
  return 0;
}

int fmh_conn_run(fmh_conn *c, const char *sql, size_t len, const fmh_value *params, int nparams,
                 int prepared, fmh_cursor **out, fmh_exec_result *res, fmh_error *e) {
  *out = NULL;
  memset(res, 0, sizeof *res);
  if (c->cursor) {
    usage_error(e, "connection busy: a cursor is still open on it (close it first)");
    return -1;
  }
  MYSQL_STMT *st = NULL;
  if (nparams > 0 || prepared || c->pool->o.prepare_all) {
    st = stmt_get(c, sql, len, e);
    if (!st && nparams == 0 && e->code == 1295) { /* not in the prepared statement protocol: text it is */
      fmh_error_clear(e);
    } else if (!st) {
      return -1;
    }
  }
  if (!st) {
    if (mysql_real_query(c->my, sql, (unsigned long)len) != 0) return fmh_conn_error(c, e, "query");
    MYSQL_RES *r = mysql_use_result(c->my);
    if (!r) {
      if (mysql_field_count(c->my) != 0) return fmh_conn_error(c, e, "query");
      res->affected_rows = mysql_affected_rows(c->my);
      res->insert_id = mysql_insert_id(c->my);
      res->warnings = mysql_warning_count(c->my);
      /* a CALL answers with more than one result: read them all */
      while (mysql_more_results(c->my)) {
        if (mysql_next_result(c->my) > 0) return fmh_conn_error(c, e, "query");
        MYSQL_RES *more = mysql_store_result(c->my);
        if (more) mysql_free_result(more);
      }
      return 0;
    }
    fmh_cursor *q = cursor_new(c, r, NULL, e);
    if (!q) {
      mysql_free_result(r);
      return -1;
    }
    c->cursor = q;
    c->cursor_close = fmh_cursor_close;
    *out = q;
    return 0;
  }
  unsigned long want = mysql_stmt_param_count(st);
  if (want != (unsigned long)nparams) {
    fmh_error_set(e, "usage", 0, 0, "statement has %lu placeholders but %d values were given", want, nparams);
    return -1;
  }
  parambuf pb;
  if (params_bind(params, nparams, &pb, e) != 0) return -1;
  int rc = -1, reads_only = sql_reads_only(sql, len);
  for (int attempt = 1; attempt <= 2; attempt++) {
    if (nparams > 0 && mysql_stmt_bind_param(st, pb.b) != 0) {
      stmt_error(c, st, e, "bind");
      stmt_forget(c, st);
      params_free(&pb);
      return -1;
    }
    rc = mysql_stmt_execute(st);
    if (rc == 0 || mysql_stmt_errno(st) != CR_NEW_STMT_METADATA || !reads_only || attempt == 2) break;
    /* The table changed since the statement was prepared and the server ran
     * it with another number of columns, which libmariadb refuses to read.
     * The statement only reads: drop it (which reads the rows left on the
     * session), prepare it again and run it once more. */
    stmt_forget(c, st);
    st = stmt_get(c, sql, len, e);
    if (!st) {
      params_free(&pb);
      return -1;
    }
  }
  params_free(&pb);
  if (rc != 0) {
    stmt_error(c, st, e, "execute");
    /* rows of a refused result wait on the session: dropping the statement reads them */
    if (c->broken || mysql_stmt_errno(st) == CR_NEW_STMT_METADATA) stmt_forget(c, st);
    return -1;
  }
  MYSQL_RES *meta = mysql_stmt_result_metadata(st);
  if (!meta) {
    if (mysql_stmt_field_count(st) != 0) return stmt_error(c, st, e, "execute");
    res->affected_rows = mysql_stmt_affected_rows(st);
    res->insert_id = mysql_stmt_insert_id(st);
    res->warnings = mysql_warning_count(c->my);
    return 0;
  }
  /* A statement that writes and returns rows (INSERT ... RETURNING, CALL)
   * leaves the cache and is closed with its cursor: a cached statement may
   * be run a second time after its table changed (above), which must never
   * repeat a write. */
  int transient = !reads_only;
  if (transient) stmt_uncache(c, st);
  fmh_cursor *q = cursor_new(c, meta, st, e);
  if (!q) {
    mysql_free_result(meta);
    stmt_drop(c, st, transient);
    return -1;
  }
  q->transient = transient;
  if (take_current_names(q, e) != 0 || bind_results(q, e) != 0) {
    mysql_free_result(meta);
    stmt_drop(c, st, transient);
    cursor_free(q);
    return -1;
  }
  c->cursor = q;
  c->cursor_close = fmh_cursor_close;
  *out = q;
  return 0;
}

int fmh_cursor_ncols(const fmh_cursor *q) { return q->ncols; }
const fmh_column *fmh_cursor_columns(const fmh_cursor *q) { return q->cols; }
unsigned fmh_cursor_warnings(const fmh_cursor *q) { return q->warnings; }
void fmh_cursor_pack_temporal(fmh_cursor *q) { q->pack_temporal = 1; }
fmh_conn *fmh_cursor_conn(const fmh_cursor *q) { return q->c; }

/* The double a text result would give for this float: the shortest
 * decimal that reads back as the same float, read as a double. */
static double float_as_text(float f, char *txt, size_t n) {
  for (int prec = 6; prec <= 9; prec++) {
    snprintf(txt, n, "%.*g", prec, (double)f);
    if (strtof(txt, NULL) == f) break;
  }
  return strtod(txt, NULL);
}

/* The server's text of a temporal value: "YYYY-MM-DD", "[-]HH:MM:SS" (hours
 * past 24 for a long TIME) or "YYYY-MM-DD HH:MM:SS", then the column's
 * fraction digits. Written digit by digit: this runs for every temporal
 * value a validation reads. n >= 40. Returns the text's length. */
static size_t format_time(const MYSQL_TIME *t, enum enum_field_types type, unsigned decimals, char *out,
                        size_t n) {
  char *p = out;
  (void)n;
  if (type == MYSQL_TYPE_DATE || type == MYSQL_TYPE_NEWDATE || type != MYSQL_TYPE_TIME) {
    p = fmh_fmt_digits(p, t->year % 10000, 4);
    *p++ = '-';
    p = fmh_fmt_digits(p, t->month % 100, 2);
    *p++ = '-';
    p = fmh_fmt_digits(p, t->day % 100, 2);
    if (type == MYSQL_TYPE_DATE || type == MYSQL_TYPE_NEWDATE) {
      *p = '\0';
      return (size_t)(p - out);
    }
    *p++ = ' ';
    p = fmh_fmt_digits(p, t->hour % 100, 2);
  } else {
    if (t->neg) *p++ = '-';
    uint64_t h = (uint64_t)t->day * 24 + t->hour; /* at least two digits */
    p = h < 10 ? fmh_fmt_digits(p, h, 2) : fmh_fmt_u64(p, h);
  }
  *p++ = ':';
  p = fmh_fmt_digits(p, t->minute % 100, 2);
  *p++ = ':';
  p = fmh_fmt_digits(p, t->second % 100, 2);
  unsigned fsp = decimals;
  if (fsp > 6) fsp = t->second_part ? 6 : 0; /* not fixed: show micros only when there are some */
  if (fsp > 0) {
    char micro[6];
    fmh_fmt_digits(micro, t->second_part % 1000000UL, 6);
    *p++ = '.';
    memcpy(p, micro, fsp);
    p += fsp;
  }
  *p = '\0';
  return (size_t)(p - out);
}

/* A temporal value as FMH_TEMPORAL_PACK describes it: 1, or 0 for a value
 * only its text tells apart (a zero month or day, a negative zero TIME). */
static int pack_time(const MYSQL_TIME *t, enum enum_field_types type, unsigned decimals, fmh_value *v) {
  unsigned fsp = decimals;
  if (fsp > 6) fsp = t->second_part ? 6 : 0; /* as format_time shows it */
  static const int64_t cut[7] = {1000000, 100000, 10000, 1000, 100, 10, 1};
  int64_t us = (int64_t)(t->second_part % 1000000UL);
  if (fsp < 6) us -= us % cut[fsp]; /* (a division the usual 6 digits skip) */
  if (type == MYSQL_TYPE_TIME) {
    int64_t n = (((int64_t)t->day * 24 + t->hour) * 3600 + (int64_t)t->minute * 60 + t->second) * 1000000 + us;
    if (t->neg && n == 0) return 0;
    v->i = t->neg ? -n : n;
    v->u = FMH_TEMPORAL_PACK('H', fsp);
    return 1;
  }
  /* a day the calendar lacks ('2021-02-30' under ALLOW_INVALID_DATES, a zero month) would count as another's */
  if (!fmh_civil_valid(t->year, t->month, t->day) || t->year > 9999) return 0;
  int64_t days = fmh_days_from_civil(t->year, (int)t->month, (int)t->day);
  if (type == MYSQL_TYPE_DATE || type == MYSQL_TYPE_NEWDATE) {
    v->i = days * 86400000000LL;
    v->u = FMH_TEMPORAL_PACK('D', 0);
    return 1;
  }
  v->i = (days * 86400 + (int64_t)t->hour * 3600 + (int64_t)t->minute * 60 + t->second) * 1000000 + us;
  v->u = FMH_TEMPORAL_PACK('T', fsp);
  return 1;
}

static uint64_t bits_value(const unsigned char *s, size_t len) {
  uint64_t v = 0;
  for (size_t i = 0; i < len; i++) v = (v << 8) | s[i];
  return v;
}

static void set_uint(fmh_value *v, uint64_t u) {
  if (u > (uint64_t)INT64_MAX) {
    v->t = FMH_V_UINT;
    v->u = u;
  } else {
    v->t = FMH_V_INT;
    v->i = (int64_t)u;
  }
}

static int fetch_text(fmh_cursor *q, fmh_error *e) {
  MYSQL_ROW row = mysql_fetch_row(q->res);
  if (!row) {
    if (mysql_errno(q->c->my)) return fmh_conn_error(q->c, e, "fetch");
    return 0;
  }
  unsigned long *lens = mysql_fetch_lengths(q->res);
  for (int i = 0; i < q->ncols; i++) {
    fmh_value *v = &q->vals[i];
    MYSQL_FIELD *f = &q->fields[i];
    memset(v, 0, sizeof *v);
    if (!row[i]) continue; /* FMH_V_NULL */
    if (is_int_type(f->type)) {
      if (f->flags & UNSIGNED_FLAG) set_uint(v, strtoull(row[i], NULL, 10));
      else { v->t = FMH_V_INT; v->i = strtoll(row[i], NULL, 10); }
    } else if (f->type == MYSQL_TYPE_FLOAT || f->type == MYSQL_TYPE_DOUBLE) {
      v->t = FMH_V_DOUBLE;
      v->d = strtod(row[i], NULL);
    } else if (f->type == MYSQL_TYPE_BIT) {
      set_uint(v, bits_value((const unsigned char *)row[i], lens[i]));
    } else {
      v->t = (f->type == MYSQL_TYPE_DECIMAL || f->type == MYSQL_TYPE_NEWDECIMAL) ? FMH_V_DECIMAL
             : is_time_type(f->type)                                             ? FMH_V_DATETIME
             : q->cols[i].binary                                                 ? FMH_V_BLOB
                                                                                 : FMH_V_STRING;
      v->s = row[i];
      v->len = lens[i];
    }
  }
  return 1;
}

static int fetch_binary(fmh_cursor *q, fmh_error *e) {
  int rc = mysql_stmt_fetch(q->stmt);
  if (rc == MYSQL_NO_DATA) return 0;
  if (rc == 1) return stmt_error(q->c, q->stmt, e, "fetch");
  int grown = 0;
  for (int i = 0; i < q->ncols; i++) {
    colbuf *cb = &q->cb[i];
    if (cb->is_null || !cb->buf || cb->len <= cb->cap) continue;
    /* truncated: grow the buffer and read the column again */
    char *nb = realloc(cb->buf, cb->len + 1);
    if (!nb) {
      fmh_error_set(e, "os", ENOMEM, 0, "fetch: out of memory");
      return -1;
    }
    cb->buf = nb;
    cb->cap = cb->len + 1;
    MYSQL_BIND b = q->binds[i];
    b.buffer = nb;
    b.buffer_length = cb->cap;
    if (mysql_stmt_fetch_column(q->stmt, &b, (unsigned)i, 0) != 0) return stmt_error(q->c, q->stmt, e, "fetch");
    q->binds[i].buffer = nb;
    q->binds[i].buffer_length = cb->cap;
    grown = 1;
  }
  for (int i = 0; i < q->ncols; i++) {
    fmh_value *v = &q->vals[i];
    MYSQL_FIELD *f = &q->fields[i];
    colbuf *cb = &q->cb[i];
    memset(v, 0, sizeof *v);
    if (cb->is_null || f->type == MYSQL_TYPE_NULL) continue;
    if (is_int_type(f->type)) {
      if (f->flags & UNSIGNED_FLAG) set_uint(v, (uint64_t)cb->i);
      else { v->t = FMH_V_INT; v->i = cb->i; }
    } else if (f->type == MYSQL_TYPE_FLOAT) {
      v->t = FMH_V_DOUBLE;
      v->d = float_as_text(cb->f, cb->txt, sizeof cb->txt);
    } else if (f->type == MYSQL_TYPE_DOUBLE) {
      v->t = FMH_V_DOUBLE;
      v->d = cb->d;
    } else if (is_time_type(f->type)) {
      v->t = FMH_V_DATETIME;
      if (q->pack_temporal && pack_time(&cb->t, f->type, f->decimals, v)) continue;
      v->s = cb->txt;
      v->len = format_time(&cb->t, f->type, f->decimals, cb->txt, sizeof cb->txt);
    } else if (f->type == MYSQL_TYPE_BIT) {
      set_uint(v, bits_value((const unsigned char *)cb->buf, cb->len));
    } else {
      v->t = (f->type == MYSQL_TYPE_DECIMAL || f->type == MYSQL_TYPE_NEWDECIMAL) ? FMH_V_DECIMAL
             : q->cols[i].binary                                                 ? FMH_V_BLOB
                                                                                 : FMH_V_STRING;
      v->s = cb->buf;
      v->len = cb->len;
    }
  }
  /* later rows use the bigger buffers; binding resets the per-row flags,
   * so it happens after this row's values were taken */
  if (grown && mysql_stmt_bind_result(q->stmt, q->binds) != 0) return stmt_error(q->c, q->stmt, e, "fetch");
  return 1;
}

int fmh_cursor_fetch(fmh_cursor *q, const fmh_value **row, fmh_error *e) {
  *row = NULL;
  if (q->done) return 0;
  int rc = q->stmt ? fetch_binary(q, e) : fetch_text(q, e);
  if (rc == 1) {
    *row = q->vals;
    return 1;
  }
  q->done = 1;
  if (rc == 0) q->warnings = mysql_warning_count(q->c->my);
  return rc;
}

void fmh_cursor_close(fmh_cursor *q) {
  fmh_conn *c = q->c;
  if (q->stmt) {
    mysql_free_result(q->res);           /* the metadata */
    if (!c->broken && mysql_stmt_free_result(q->stmt) != 0) c->broken = 1; /* drains unread rows */
    if (c->broken || q->stale || q->transient) stmt_drop(c, q->stmt, q->transient);
  } else {
    mysql_free_result(q->res);           /* drains unread rows */
    while (!c->broken && mysql_more_results(c->my)) {
      if (mysql_next_result(c->my) > 0) { c->broken = 1; break; }
      MYSQL_RES *more = mysql_use_result(c->my);
      if (more) mysql_free_result(more);
    }
  }
  if (!c->broken && mysql_errno(c->my) && fmh_pool_code_kills_conn(mysql_errno(c->my))) c->broken = 1;
  c->cursor = NULL;
  cursor_free(q);
}
