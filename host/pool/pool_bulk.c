/* fmhost.pool, bulk load: LOAD DATA LOCAL INFILE fed from a row producer by
 * a libmariadb callback (no file), batched multi-row INSERTs under
 * max_allowed_packet, both across C worker threads on disjoint key ranges,
 * with an account of the source ranges committed and resumable loads (a
 * journal row committed with each statement). The benchmark table's rows are
 * in pool_bench_rows.c, the stress driver in pool_stress.c. */
#include <errmsg.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fmhost/calendar.h"
#include "fmhost/log.h"
#include "fmhost/pool.h"
#include "fmhost/progress.h"
#include "fmhost/retry.h"
#include "pool_internal.h"

/* --- bulk load ------------------------------------------------------------ */

/* Which rows are committed. Every statement (an INSERT batch, a LOAD DATA
 * chunk) commits a range of source rows whole or not at all, so the
 * committed rows are a set of ranges, which the result and the failure
 * carry. A statement's fate is unknown only when the connection died after
 * it was sent (a client-side error): autocommitted, its range is reported
 * uncertain. With resume, the statement and a journal row naming its range
 * commit in one transaction, so the journal is the truth even when the
 * COMMIT answer was lost, and a resume reads it. */

typedef struct rset {
  fmh_range *v;
  size_t n, cap;
  int oom;
} rset;

static void rs_push(rset *s, uint64_t first, uint64_t count) {
  if (count == 0) return;
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 16;
    fmh_range *v = realloc(s->v, cap * sizeof *v);
    if (!v) {
      s->oom = 1;
      return;
    }
    s->v = v;
    s->cap = cap;
  }
  s->v[s->n++] = (fmh_range){first, count};
}

static int range_cmp(const void *a, const void *b) {
  const fmh_range *x = a, *y = b;
  return x->first < y->first ? -1 : x->first > y->first;
}

/* Sort and merge overlapping or touching ranges. */
static void rs_norm(rset *s) {
  if (s->n < 2) return;
  qsort(s->v, s->n, sizeof *s->v, range_cmp);
  size_t k = 0;
  for (size_t i = 1; i < s->n; i++) {
    fmh_range *last = &s->v[k];
    uint64_t end = last->first + last->count;
    if (s->v[i].first <= end) {
      uint64_t e2 = s->v[i].first + s->v[i].count;
      if (e2 > end) last->count = e2 - last->first;
    } else {
      s->v[++k] = s->v[i];
    }
  }
  s->n = k + 1;
}

static uint64_t rs_total(const rset *s) {
  uint64_t t = 0;
  for (size_t i = 0; i < s->n; i++) t += s->v[i].count;
  return t;
}

/* Add the parts of ranges v[0..n) inside [lo, hi). */
static void rs_add_clipped(rset *s, const fmh_range *v, size_t n, uint64_t lo, uint64_t hi) {
  for (size_t i = 0; i < n; i++) {
    uint64_t a = v[i].first, b = v[i].count > UINT64_MAX - a ? UINT64_MAX : a + v[i].count;
    if (a < lo) a = lo;
    if (b > hi) b = hi;
    if (a < b) rs_push(s, a, b - a);
  }
}

/* out = [lo, hi) minus the normalized set s. */
static void rs_complement(rset *out, const rset *s, uint64_t lo, uint64_t hi) {
  uint64_t at = lo;
  for (size_t i = 0; i < s->n && at < hi; i++) {
    if (s->v[i].first > at) rs_push(out, at, (s->v[i].first < hi ? s->v[i].first : hi) - at);
    uint64_t end = s->v[i].first + s->v[i].count;
    if (end > at) at = end;
  }
  if (at < hi) rs_push(out, at, hi - at);
}

/* A piece of work: a range, and whether rows already there are skipped as
 * duplicates (a range whose commit was uncertain). */
typedef struct piece {
  uint64_t first, count;
  int tolerant;
} piece;

typedef struct load_shared {
  fmh_pool *pool;
  const fmh_row_source *src;
  const fmh_bulk_opts *o;
  const char *journal;
  char idhex[2 * 255 + 1];    /* the load id as hex digits for X'...' */
  atomic_int stop;
  pthread_mutex_t mu;
  int failed;
  fmh_error err;              /* the first failure */
  fmh_progress prog;          /* counted only when o->progress */
} load_shared;

typedef struct load_job {
  load_shared *sh;
  piece *pieces;
  size_t npieces;
  fmh_bulk_result r;          /* counters only */
  rset committed, uncertain;
  pthread_t th;
} load_job;

static void load_fail(load_shared *sh, fmh_error *e) {
  pthread_mutex_lock(&sh->mu);
  if (!sh->failed) {
    sh->failed = 1;
    sh->err = *e;
    e->detail = NULL;         /* moved */
  }
  pthread_mutex_unlock(&sh->mu);
  atomic_store(&sh->stop, 1);
}

/* A client-side error: the connection went away with the statement sent,
 * so whether the server committed it is unknown. */
static int fate_unknown(unsigned code) { return code >= 2000 && code < 3000; }

/* A number from mysql_info ("Records: 3  Skipped: 1  Warnings: 1"). */
static int info_number(MYSQL *my, const char *label, uint64_t *out) {
  const char *s = mysql_info(my);
  const char *p = s ? strstr(s, label) : NULL;
  if (!p) return -1;
  *out = strtoull(p + strlen(label), NULL, 10);
  return 0;
}

static int unit_begin(fmh_conn *c, load_job *j, fmh_error *e) {
  if (!j->sh->o->resume) return 0;
  if (mysql_real_query(c->my, "START TRANSACTION", 17) != 0) return fmh_conn_error(c, e, "load: start transaction");
  return 0;
}

/* The data statement of a unit failed (e filled from the connection). */
static void unit_failed(fmh_conn *c, load_job *j, uint64_t first, uint64_t sent) {
  unsigned code = mysql_errno(c->my);
  if (j->sh->o->resume) {
    /* not committed: the transaction is rolled back here, or by the server
     * when the connection is gone */
    if (!c->broken && mysql_real_query(c->my, "ROLLBACK", 8) != 0) c->broken = 1;
    return;
  }
  if (fate_unknown(code)) rs_push(&j->uncertain, first, sent);
}

/* The data statement of a unit succeeded: journal it, commit, count it. */
static int unit_commit(fmh_conn *c, load_job *j, uint64_t first, uint64_t sent, int dup_label, fmh_error *e) {
  uint64_t affected = mysql_affected_rows(c->my), warns = mysql_warning_count(c->my), dups = 0;
  if (info_number(c->my, dup_label ? "Skipped: " : "Duplicates: ", &dups) != 0)
    dups = sent > affected ? sent - affected : 0;
  if (j->sh->o->resume) {
    char sql[1536];
    int len = snprintf(sql, sizeof sql,
                       "INSERT INTO %s (load_id, first_row, n_rows, inserted) VALUES (X'%s', %" PRIu64 ", %" PRIu64
                       ", %" PRIu64 ")",
                       j->sh->journal, j->sh->idhex, first, sent, affected);
    if (len < 0 || (size_t)len >= sizeof sql) {
      fmh_error_set(e, "usage", 0, 0, "load: journal name too long");
      unit_failed(c, j, first, sent);
      return -1;
    }
    if (sent > 0 && mysql_real_query(c->my, sql, (unsigned long)len) != 0) {
      fmh_conn_error(c, e, "load: journal");
      unit_failed(c, j, first, sent);
      return -1;
    }
    if (mysql_real_query(c->my, "COMMIT", 6) != 0) {
      unsigned code = mysql_errno(c->my);
      fmh_conn_error(c, e, "load: commit");
      if (fate_unknown(code)) rs_push(&j->uncertain, first, sent);
      else if (!c->broken && mysql_real_query(c->my, "ROLLBACK", 8) != 0) c->broken = 1;
      return -1;
    }
  }
  rs_push(&j->committed, first, sent);
  if (j->sh->o->progress) fmh_progress_add(&j->sh->prog, sent, -1, NULL, 0);
  j->r.rows += affected;
  j->r.duplicates += dups;
  j->r.warnings += warns > dups ? warns - dups : 0;
  j->r.statements++;
  return 0;
}

typedef struct infile_ctx {
  fmh_row_producer prod;
  load_shared *sh;
  char *row;                  /* a row bigger than the callback's buffer */
  size_t rowcap, rowlen, rowoff;
  int eof, failed;
  char err[256];
  uint64_t bytes, rows;       /* sent so far: whole rows only */
} infile_ctx;

static int infile_init(void **ptr, const char *filename, void *userdata) {
  (void)filename;
  *ptr = userdata;
  return 0;
}

/* A failure (of this producer or another thread) ends the data at a row
 * boundary instead of failing the statement: libmariadb would send the end
 * of data either way and the server would commit the rows it got, so ending
 * cleanly makes that prefix a known, counted commit. */
static int infile_read(void *ptr, char *buf, unsigned int buf_len) {
  infile_ctx *x = ptr;
  size_t n = 0;
  while (n < buf_len) {
    if (x->rowoff < x->rowlen) {
      size_t k = x->rowlen - x->rowoff;
      if (k > buf_len - n) k = buf_len - n;
      memcpy(buf + n, x->row + x->rowoff, k);
      x->rowoff += k;
      n += k;
      continue;
    }
    if (x->eof) break;
    if (atomic_load(&x->sh->stop)) { x->eof = 1; break; }
    size_t r = x->prod.next(x->prod.ctx, FMH_ROW_CSV, buf + n, buf_len - n, x->err);
    if (r == (size_t)-1) {
      x->failed = 1;
      x->eof = 1;
      break;
    }
    if (r == 0) { x->eof = 1; break; }
    if (r <= buf_len - n) {
      n += r;
      x->rows++;
      continue;
    }
    if (n > 0) break; /* the row goes first into the next call */
    /* a row larger than the whole buffer: stage it */
    if (r > x->rowcap) {
      char *nr = realloc(x->row, r);
      if (!nr) {
        snprintf(x->err, sizeof x->err, "out of memory");
        x->failed = 1;
        x->eof = 1;
        break;
      }
      x->row = nr;
      x->rowcap = r;
    }
    r = x->prod.next(x->prod.ctx, FMH_ROW_CSV, x->row, x->rowcap, x->err);
    if (r == (size_t)-1 || r > x->rowcap) {
      if (r != (size_t)-1) snprintf(x->err, sizeof x->err, "the row producer changed a row's size");
      x->failed = 1;
      x->eof = 1;
      break;
    }
    x->rowlen = r;
    x->rowoff = 0;
    x->rows++;
  }
  x->bytes += n;
  return (int)n;
}

static void infile_end(void *ptr) { (void)ptr; }

static int infile_error(void *ptr, char *msg, unsigned int len) {
  infile_ctx *x = ptr;
  snprintf(msg, len, "%s", x->err[0] ? x->err : "row producer failed");
  return CR_UNKNOWN_ERROR;
}

static int load_infile_range(fmh_conn *c, load_job *j, uint64_t first, uint64_t count, fmh_error *e) {
  load_shared *sh = j->sh;
  infile_ctx x;
  memset(&x, 0, sizeof x);
  x.sh = sh;
  char sql[1024];
  int len = snprintf(sql, sizeof sql, "LOAD DATA LOCAL INFILE 'fmhost-stream' INTO TABLE %s %s %s",
                     sh->o->table, FMH_CSV_CLAUSE, sh->src->columns ? sh->src->columns : "");
  if (len < 0 || (size_t)len >= sizeof sql) {
    fmh_error_set(e, "usage", 0, 0, "load: table name too long");
    return -1;
  }
  if (sh->src->open(sh->src->ctx, first, count, &x.prod, e) != 0) return -1;
  if (unit_begin(c, j, e) != 0) {
    x.prod.close(x.prod.ctx);
    return -1;
  }
  mysql_set_local_infile_handler(c->my, infile_init, infile_read, infile_end, infile_error, &x);
  int rc = mysql_real_query(c->my, sql, (unsigned long)len);
  mysql_set_local_infile_default(c->my);
  x.prod.close(x.prod.ctx);
  free(x.row);
  j->r.bytes += x.bytes;
  if (rc != 0) {
    fmh_conn_error(c, e, "load data");
    unit_failed(c, j, first, x.rows);
    return -1;
  }
  if (unit_commit(c, j, first, x.rows, 1, e) != 0) return -1;
  if (x.failed) {
    fmh_error_set(e, "producer", 0, 0, "load %s: row producer failed at row %" PRIu64 ": %s", sh->o->table,
                  first + x.rows, x.err);
    return -1;
  }
  return 0;
}

static int load_infile(fmh_conn *c, load_job *j, fmh_error *e) {
  for (size_t i = 0; i < j->npieces; i++) {
    const piece *pc = &j->pieces[i];
    uint64_t chunk = j->sh->o->chunk_rows ? j->sh->o->chunk_rows : pc->count;
    for (uint64_t at = 0; at < pc->count; at += chunk) {
      if (atomic_load(&j->sh->stop)) return 0;
      uint64_t n = pc->count - at < chunk ? pc->count - at : chunk;
      if (load_infile_range(c, j, pc->first + at, n, e) != 0) return -1;
    }
  }
  return 0;
}

/* Send one INSERT batch of rows [first, first+n). */
static int insert_batch(fmh_conn *c, load_job *j, const char *sql, size_t len, uint64_t first, uint64_t n,
                        fmh_error *e) {
  if (unit_begin(c, j, e) != 0) return -1;
  j->r.bytes += len;
  if (mysql_real_query(c->my, sql, (unsigned long)len) != 0) {
    fmh_conn_error(c, e, "insert batch");
    unit_failed(c, j, first, n);
    return -1;
  }
  return unit_commit(c, j, first, n, 0, e);
}

static int load_insert(fmh_conn *c, load_job *j, fmh_error *e) {
  load_shared *sh = j->sh;
  if (mysql_query(c->my, "SELECT @@max_allowed_packet") != 0) return fmh_conn_error(c, e, "load");
  MYSQL_RES *res = mysql_store_result(c->my);
  MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
  uint64_t maxp = row && row[0] ? strtoull(row[0], NULL, 10) : 1 << 20;
  if (res) mysql_free_result(res);
  size_t limit = (size_t)(maxp > 4096 ? maxp - 1024 : maxp);
  if (sh->o->batch_bytes && sh->o->batch_bytes < limit) limit = sh->o->batch_bytes;
  char head[1024];
  for (int tol = 0; tol < 2; tol++) {
    int hl = snprintf(head, sizeof head, "INSERT %sINTO %s %s VALUES ", tol ? "IGNORE " : "", sh->o->table,
                      sh->src->columns ? sh->src->columns : "");
    if (hl < 0 || (size_t)hl >= sizeof head || (size_t)hl + 64 > limit) {
      fmh_error_set(e, "usage", 0, 0, "load: table name too long for the batch size");
      return -1;
    }
  }
  char *sql = malloc(limit);
  if (!sql) {
    fmh_error_set(e, "os", ENOMEM, 0, "load: out of memory");
    return -1;
  }
  char err[256] = "";
  int rc = 0;
  for (size_t i = 0; i < j->npieces && rc == 0; i++) {
    const piece *pc = &j->pieces[i];
    if (atomic_load(&sh->stop)) break;
    /* rows already there are skipped (and counted) only where an earlier
     * commit is uncertain; elsewhere a duplicate key fails the load */
    int hl = snprintf(head, sizeof head, "INSERT %sINTO %s %s VALUES ", pc->tolerant ? "IGNORE " : "",
                      sh->o->table, sh->src->columns ? sh->src->columns : "");
    fmh_row_producer p;
    if (sh->src->open(sh->src->ctx, pc->first, pc->count, &p, e) != 0) {
      rc = -1;
      break;
    }
    memcpy(sql, head, (size_t)hl);
    size_t len = (size_t)hl;
    uint64_t in_batch = 0, next = pc->first; /* next: the source row after the batch */
    for (;;) {
      if (atomic_load(&sh->stop)) break;
      size_t at = in_batch ? len + 1 : len;
      size_t r = at < limit ? p.next(p.ctx, FMH_ROW_SQL, sql + at, limit - at, err) : limit;
      if (r == (size_t)-1) {
        /* the rows before it still go in, as one more batch */
        if (in_batch > 0 && insert_batch(c, j, sql, len, next - in_batch, in_batch, e) != 0) {
          rc = -1;
          break;
        }
        fmh_error_set(e, "producer", 0, 0, "load %s: row producer failed at row %" PRIu64 ": %s", sh->o->table,
                      next, err);
        rc = -1;
        break;
      }
      int flush = 0, eof = r == 0;
      if (!eof && r > limit - (at < limit ? at : limit)) {
        if (in_batch == 0) {
          fmh_error_set(e, "usage", 0, 0, "load %s: one row needs %zu bytes, more than the batch limit %zu",
                        sh->o->table, r, limit);
          rc = -1;
          break;
        }
        flush = 1; /* the producer did not advance: the row goes into the next batch */
      } else if (!eof) {
        if (in_batch) sql[len] = ',';
        len = at + r;
        in_batch++;
        next++;
        if (sh->o->batch_rows && in_batch >= sh->o->batch_rows) flush = 1;
      }
      if ((flush || eof) && in_batch > 0) {
        if (insert_batch(c, j, sql, len, next - in_batch, in_batch, e) != 0) {
          rc = -1;
          break;
        }
        len = (size_t)hl;
        in_batch = 0;
      }
      if (eof) break;
    }
    p.close(p.ctx);
  }
  free(sql);
  return rc;
}

static void *load_thread(void *arg) {
  load_job *j = arg;
  load_shared *sh = j->sh;
  fmh_error e = {0};
  fmh_conn *c;
  if (fmh_pool_acquire(sh->pool, -1, &c, &e) != 0) {
    load_fail(sh, &e);
    fmh_error_clear(&e);
    return NULL;
  }
  int rc = sh->o->method == FMH_BULK_INFILE ? load_infile(c, j, &e) : load_insert(c, j, &e);
  fmh_pool_release(c);
  if (rc != 0) load_fail(sh, &e);
  fmh_error_clear(&e);
  return NULL;
}

/* --- the journal ------------------------------------------------------- */

static int journal_query(fmh_conn *c, const char *what, fmh_error *e, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int journal_query(fmh_conn *c, const char *what, fmh_error *e, const char *fmt, ...) {
  char sql[2048];
  va_list ap;
  va_start(ap, fmt);
  int len = vsnprintf(sql, sizeof sql, fmt, ap);
  va_end(ap);
  if (len < 0 || (size_t)len >= sizeof sql) {
    fmh_error_set(e, "usage", 0, 0, "load: journal or table name too long");
    return -1;
  }
  if (mysql_real_query(c->my, sql, (unsigned long)len) != 0) return fmh_conn_error(c, e, what);
  return 0;
}

/* Create the journal if needed and add the ranges it holds for this load
 * inside [lo, hi) to known. */
static int journal_read(fmh_conn *c, load_shared *sh, uint64_t lo, uint64_t hi, rset *known, fmh_error *e) {
  if (journal_query(c, "load: journal", e,
                    "CREATE TABLE IF NOT EXISTS %s (load_id VARBINARY(255) NOT NULL, "
                    "first_row BIGINT UNSIGNED NOT NULL, n_rows BIGINT UNSIGNED NOT NULL, "
                    "inserted BIGINT UNSIGNED NOT NULL, "
                    "committed_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), "
                    "PRIMARY KEY (load_id, first_row)) ENGINE=InnoDB",
                    sh->journal) != 0)
    return -1;
  if (journal_query(c, "load: journal", e,
                    "SELECT first_row, n_rows, inserted FROM %s WHERE load_id = X'%s' AND first_row < %" PRIu64
                    " AND first_row + n_rows > %" PRIu64 " ORDER BY first_row",
                    sh->journal, sh->idhex, hi, lo) != 0)
    return -1;
  MYSQL_RES *res = mysql_store_result(c->my);
  if (!res) return fmh_conn_error(c, e, "load: journal");
  uint64_t inserted = 0;
  MYSQL_ROW row;
  while ((row = mysql_fetch_row(res))) {
    fmh_range r = {strtoull(row[0], NULL, 10), strtoull(row[1], NULL, 10)};
    rs_add_clipped(known, &r, 1, lo, hi);
    inserted += strtoull(row[2], NULL, 10);
  }
  mysql_free_result(res);
  if (inserted == 0) return 0;
  /* a journal that outlived its table (dropped, recreated, emptied) would
   * make the resume skip rows that are not there */
  if (journal_query(c, "load: journal", e, "SELECT COUNT(*) FROM %s", sh->o->table) != 0) return -1;
  res = mysql_store_result(c->my);
  if (!res) return fmh_conn_error(c, e, "load: journal");
  row = mysql_fetch_row(res);
  uint64_t have = row && row[0] ? strtoull(row[0], NULL, 10) : 0;
  mysql_free_result(res);
  if (have < inserted) {
    fmh_error_set(e, "journal", 0, 0,
                  "load %s: the journal %s says %" PRIu64
                  " rows of this load are committed but the table holds %" PRIu64
                  " (it was emptied or recreated since): resume cannot trust it; delete its rows "
                  "(DELETE FROM %s WHERE load_id = '%.255s') to load afresh",
                  sh->o->table, sh->journal, inserted, have, sh->journal,
                  sh->o->load_id ? sh->o->load_id : sh->o->table);
    return -1;
  }
  return 0;
}

static int journal_setup(load_shared *sh, uint64_t lo, uint64_t hi, rset *known, fmh_error *e) {
  fmh_conn *c;
  if (fmh_pool_acquire(sh->pool, -1, &c, e) != 0) return -1;
  int rc = journal_read(c, sh, lo, hi, known, e);
  fmh_pool_release(c);
  return rc;
}

/* A completed load needs no resume: forget its ranges. */
static int journal_clear(load_shared *sh, uint64_t lo, uint64_t hi, fmh_error *e) {
  fmh_conn *c;
  if (fmh_pool_acquire(sh->pool, -1, &c, e) != 0) return -1;
  int rc = journal_query(c, "load: journal", e,
                         "DELETE FROM %s WHERE load_id = X'%s' AND first_row >= %" PRIu64 " AND first_row < %" PRIu64,
                         sh->journal, sh->idhex, lo, hi);
  fmh_pool_release(c);
  return rc;
}

/* --- planning and the load ----------------------------------------------- */

typedef struct pieces {
  piece *v;
  size_t n, cap;
} pieces;

static int pieces_push(pieces *ps, uint64_t first, uint64_t count, int tolerant) {
  if (count == 0) return 0;
  if (ps->n == ps->cap) {
    size_t cap = ps->cap ? ps->cap * 2 : 16;
    piece *v = realloc(ps->v, cap * sizeof *v);
    if (!v) return -1;
    ps->v = v;
    ps->cap = cap;
  }
  ps->v[ps->n++] = (piece){first, count, tolerant};
  return 0;
}

/* Split the ranges of todo (flagged tolerant where they meet doubt) over
 * the jobs: contiguous shares of equal row counts. */
static int plan_jobs(const rset *todo, const rset *doubt, load_job *jobs, int threads, uint64_t total) {
  pieces all = {0};
  int bad = 0;
  for (size_t i = 0; i < todo->n && !bad; i++) {
    uint64_t a = todo->v[i].first, b = a + todo->v[i].count;
    for (size_t k = 0; k < doubt->n && a < b && !bad; k++) {
      uint64_t da = doubt->v[k].first, db = da + doubt->v[k].count;
      if (db <= a || da >= b) continue;
      if (da > a) bad |= pieces_push(&all, a, da - a, 0);
      else da = a;
      uint64_t end = db < b ? db : b;
      bad |= pieces_push(&all, da, end - da, 1);
      a = end;
    }
    if (a < b) bad |= pieces_push(&all, a, b - a, 0);
  }
  uint64_t share = total / (uint64_t)threads, extra = total % (uint64_t)threads;
  size_t pi = 0;
  uint64_t off = 0; /* rows of all.v[pi] already given out */
  for (int t = 0; t < threads && !bad; t++) {
    uint64_t want = share + ((uint64_t)t < extra ? 1 : 0);
    jobs[t].pieces = malloc((all.n + 1) * sizeof *jobs[t].pieces);
    if (!jobs[t].pieces) { bad = 1; break; }
    while (want > 0 && pi < all.n) {
      uint64_t left = all.v[pi].count - off, take = left < want ? left : want;
      jobs[t].pieces[jobs[t].npieces++] = (piece){all.v[pi].first + off, take, all.v[pi].tolerant};
      want -= take;
      off += take;
      if (off == all.v[pi].count) { pi++; off = 0; }
    }
  }
  free(all.v);
  return bad ? -1 : 0;
}

static void append_ranges(char *msg, size_t cap, const fmh_range *v, size_t n) {
  size_t at = strlen(msg);
  for (size_t i = 0; i < n && at < cap; i++) {
    if (i == 4) {
      snprintf(msg + at, cap - at, ", ... (%zu ranges)", n);
      return;
    }
    int k = snprintf(msg + at, cap - at, "%s%" PRIu64 "..%" PRIu64, i ? ", " : "", v[i].first,
                     v[i].first + v[i].count - 1);
    if (k < 0) return;
    at += (size_t)k;
  }
}

void fmh_bulk_result_free(fmh_bulk_result *r) {
  free(r->committed);
  free(r->uncertain);
  r->committed = r->uncertain = NULL;
  r->ncommitted = r->nuncertain = 0;
}

/* One line per load that ran (info): what it wrote, how long it took, and
 * whether it completed; a failed load also names its cause. */
static void log_load(const fmh_pool *p, const fmh_bulk_opts *o, const fmh_bulk_result *r, const fmh_error *e) {
  if (!fmh_log_enabled(FMH_LOG_INFO)) return;
  char code[32] = "";
  if (e && e->code) snprintf(code, sizeof code, "%s:%d", e->kind ? e->kind : "error", e->code);
  else if (e) snprintf(code, sizeof code, "%s", e->kind ? e->kind : "error");
  fmh_log_field f[] = {FMH_LS("pool", p->o.name),
                       FMH_LS("table", o->table),
                       FMH_LS("method", o->method == FMH_BULK_INFILE ? "infile" : "insert"),
                       FMH_LS("status", e ? "failed" : "ok"),
                       FMH_LI("rows", r->rows),
                       FMH_LI("rows_committed", r->rows_committed),
                       FMH_LI("rows_resumed", r->rows_resumed),
                       FMH_LI("duplicates", r->duplicates),
                       FMH_LI("warnings", r->warnings),
                       FMH_LI("statements", r->statements),
                       FMH_LI("bytes", r->bytes),
                       FMH_LI("threads", r->threads),
                       FMH_LN("wall_ms", r->wall_s * 1000.0),
                       FMH_LN("rows_per_s", r->wall_s > 0 ? (double)r->rows / r->wall_s : 0.0)};
  fmh_log_emit(FMH_LOG_INFO, "pool.load", e ? code : NULL, e ? e->msg : NULL, f, sizeof f / sizeof *f);
}

int fmh_pool_load(fmh_pool *p, const fmh_row_source *src, const fmh_bulk_opts *o, fmh_bulk_result *r,
                  fmh_error *e) {
  memset(r, 0, sizeof *r);
  if (!o->table || !*o->table) {
    fmh_error_set(e, "usage", 0, 0, "load: no table");
    return -1;
  }
  if (o->method != FMH_BULK_INFILE && o->method != FMH_BULK_INSERT) {
    fmh_error_set(e, "usage", 0, 0, "load: method must be infile or insert");
    return -1;
  }
  if (o->rows > UINT64_MAX - o->first) {
    fmh_error_set(e, "usage", 0, 0, "load: first + rows is too large");
    return -1;
  }
  load_shared sh;
  memset(&sh, 0, sizeof sh);
  sh.pool = p;
  sh.src = src;
  sh.o = o;
  sh.journal = o->journal && *o->journal ? o->journal : FMH_LOAD_JOURNAL;
  const char *id = o->load_id ? o->load_id : o->table;
  size_t idlen = strlen(id);
  if (idlen == 0 || idlen > 255) {
    fmh_error_set(e, "usage", 0, 0, "load: load_id must be 1..255 bytes");
    return -1;
  }
  for (size_t i = 0; i < idlen; i++) snprintf(sh.idhex + 2 * i, 3, "%02X", (unsigned char)id[i]);
  uint64_t lo = o->first, hi = o->first + o->rows;
  r->journaled = o->resume != 0;

  /* what is committed already, what is in doubt, what to load */
  rset known = {0}, doubt = {0}, todo = {0}, fin = {0}, unc = {0};
  rs_add_clipped(&known, o->done, o->done ? o->ndone : 0, lo, hi);
  double t0 = fmh_pool_now_ms();
  if (o->resume) {
    /* the journal's ranges count only once it is read whole and trusted */
    rset jr = {0};
    if (journal_setup(&sh, lo, hi, &jr, &sh.err) != 0) sh.failed = 1;
    else
      for (size_t i = 0; i < jr.n; i++) rs_push(&known, jr.v[i].first, jr.v[i].count);
    known.oom |= jr.oom;
    free(jr.v);
  }
  rs_norm(&known);
  rs_add_clipped(&doubt, o->doubt, o->doubt ? o->ndoubt : 0, lo, hi);
  rs_norm(&doubt);
  rs_complement(&todo, &known, lo, hi);
  uint64_t total = rs_total(&todo);
  r->rows_resumed = rs_total(&known);

  int threads = o->threads < 1 ? 1 : o->threads;
  if ((uint64_t)threads > total && total > 0) threads = (int)total;
  if (threads > 256) threads = 256;
  load_job *jobs = calloc((size_t)threads, sizeof *jobs);
  int rc = 0;
  if (!jobs || known.oom || doubt.oom || todo.oom) {
    fmh_error_clear(&sh.err);
    fmh_error_set(e, "os", ENOMEM, 0, "load: out of memory");
    rc = -1;
    goto out;
  }
  for (int i = 0; i < threads; i++) jobs[i].sh = &sh;
  if (plan_jobs(&todo, &doubt, jobs, threads, total) != 0) {
    fmh_error_clear(&sh.err);
    fmh_error_set(e, "os", ENOMEM, 0, "load: out of memory");
    rc = -1;
    goto out;
  }
  atomic_init(&sh.stop, 0);
  pthread_mutex_init(&sh.mu, NULL);
  fmh_progress_init(&sh.prog, "load", "rows", total, NULL, -1, !o->progress || total == 0);
  int started = 0;
  if (total == 0 || sh.failed) {
    /* nothing left to load, or the journal failed */
  } else if (threads == 1) {
    load_thread(&jobs[0]);
  } else {
    for (; started < threads; started++) {
      if (pthread_create(&jobs[started].th, NULL, load_thread, &jobs[started]) != 0) {
        fmh_error te = {0};
        fmh_error_set(&te, "os", errno, 0, "load: cannot start a thread");
        load_fail(&sh, &te);
        break;
      }
    }
    for (int i = 0; i < started; i++) pthread_join(jobs[i].th, NULL);
  }
  pthread_mutex_destroy(&sh.mu);
  fmh_progress_done(&sh.prog, -1, NULL, 0);
  fmh_progress_destroy(&sh.prog);
  int oom = 0;
  for (size_t i = 0; i < known.n; i++) rs_push(&fin, known.v[i].first, known.v[i].count);
  for (int i = 0; i < threads; i++) {
    r->rows += jobs[i].r.rows;
    r->duplicates += jobs[i].r.duplicates;
    r->statements += jobs[i].r.statements;
    r->bytes += jobs[i].r.bytes;
    r->warnings += jobs[i].r.warnings;
    oom |= jobs[i].committed.oom | jobs[i].uncertain.oom;
    for (size_t k = 0; k < jobs[i].committed.n; k++)
      rs_push(&fin, jobs[i].committed.v[k].first, jobs[i].committed.v[k].count);
    for (size_t k = 0; k < jobs[i].uncertain.n; k++)
      rs_push(&unc, jobs[i].uncertain.v[k].first, jobs[i].uncertain.v[k].count);
  }
  rs_norm(&fin);
  rs_norm(&unc);
  r->threads = threads;
  if (oom || fin.oom || unc.oom) {
    if (!sh.failed) {
      fmh_error te = {0};
      fmh_error_set(&te, "os", ENOMEM, 0, "load: out of memory (the committed ranges are unknown)");
      sh.failed = 1;
      sh.err = te;
    }
  } else {
    r->committed = fin.v;
    r->ncommitted = fin.n;
    r->uncertain = unc.v;
    r->nuncertain = unc.n;
    fin.v = unc.v = NULL;
    r->rows_committed = rs_total(&(rset){r->committed, r->ncommitted, 0, 0});
  }
  if (!sh.failed && o->resume && journal_clear(&sh, lo, hi, &sh.err) != 0) sh.failed = 1;
  r->wall_s = (fmh_pool_now_ms() - t0) / 1000.0;
  if (sh.failed) {
    *e = sh.err;
    /* the failure says what is committed and how to load the rest */
    size_t at = strlen(e->msg);
    snprintf(e->msg + at, sizeof e->msg - at, "; committed %" PRIu64 " of %" PRIu64 " rows", r->rows_committed,
             o->rows);
    if (r->ncommitted) {
      at = strlen(e->msg);
      snprintf(e->msg + at, sizeof e->msg - at, " (");
      append_ranges(e->msg, sizeof e->msg, r->committed, r->ncommitted);
      at = strlen(e->msg);
      snprintf(e->msg + at, sizeof e->msg - at, ")");
    }
    if (r->nuncertain) {
      at = strlen(e->msg);
      snprintf(e->msg + at, sizeof e->msg - at, ", uncertain ");
      append_ranges(e->msg, sizeof e->msg, r->uncertain, r->nuncertain);
    }
    at = strlen(e->msg);
    if (!e->kind || strcmp(e->kind, "journal") != 0) /* a journal not to trust resumes nothing */
      snprintf(e->msg + at, sizeof e->msg - at, "; %s loads the rest",
               o->resume ? "resume=true" : "from=<this info>");
    rc = -1;
  }
  log_load(p, o, r, rc == 0 ? NULL : e);
out:
  if (jobs)
    for (int i = 0; i < threads; i++) {
      free(jobs[i].pieces);
      free(jobs[i].committed.v);
      free(jobs[i].uncertain.v);
    }
  free(jobs);
  free(known.v);
  free(doubt.v);
  free(todo.v);
  free(fin.v);
  free(unc.v);
  return rc;
}
