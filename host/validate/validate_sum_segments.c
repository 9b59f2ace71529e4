/* fmhost.validate, checksum mode: the segments. Connections per worker,
 * cutting the key space into segments, the parallel pass of workers over
 * them, and the bisection of a differing segment down to ranges small enough
 * to stream. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "fmhost/log.h"
#include "fmhost/validate.h"
#include "validate_sum_int.h"

static void sleep_s(double s) {
  if (s <= 0) return;
  struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
  nanosleep(&ts, NULL);
}

/* --- connections --------------------------------------------------------- */

int fmh_vsum_conn_get(sctx *x, sside *s, fmh_conn **c, int *tz, fmh_error *e) {
  if (*c) return 0;
  if (fmh_pool_acquire(s->src.pool, -1, c, e) != 0) {
    *c = NULL;
    return -1;
  }
  if (fmh_vsession_tz(*c, x->o->time_zone ? x->o->time_zone : "+00:00", e) != 0) {
    fmh_pool_release(*c);
    *c = NULL;
    return -1;
  }
  *tz = 1;
  return 0;
}

void fmh_vsum_conn_put(fmh_conn **c, int *tz) {
  if (!*c) return;
  if (*tz && !fmh_conn_is_broken(*c)) fmh_vsession_restore(*c);
  fmh_pool_release(*c);
  *c = NULL;
  *tz = 0;
}

int fmh_vsum_wstate_init(sctx *x, wstate *w, fmh_error *e) {
  memset(w, 0, sizeof *w);
  w->x = x;
  pthread_once(&fmh_vsum_crc_once, fmh_vsum_crc_init);
  w->md = EVP_MD_CTX_new();
  w->sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
  if (!w->md || !w->sha1) return fmh_vsum_oom(e);
  if (x->b.src.gen) {
    w->gc = fmh_gen_cursor_new(x->b.src.gen);
    size_t n = fmh_gen_ncols(x->b.src.gen);
    w->gv = calloc(n ? n : 1, sizeof *w->gv);
    if (!w->gc || !w->gv) return fmh_vsum_oom(e);
  }
  return 0;
}

void fmh_vsum_wstate_free(wstate *w) {
  fmh_vsum_conn_put(&w->ca, &w->tza);
  fmh_vsum_conn_put(&w->cb, &w->tzb);
  fmh_buf_free(&w->q);
  fmh_buf_free(&w->row);
  if (w->md) EVP_MD_CTX_free(w->md);
  if (w->sha1) EVP_MD_free(w->sha1);
  if (w->gc) fmh_gen_cursor_free(w->gc);
  free(w->gv);
  fmh_error_clear(&w->err);
}

/* One SQL side's (count, sum) of a range: hashed by its server (fmhost_rowsum
 * or SQL), or in fmhost. */
static int side_checksum(sctx *x, sside *s, wstate *w, fmh_conn *c, const fmh_vrange *r, uint64_t *n, uint64_t *sum,
                         fmh_error *e) {
  if (s->udf) return fmh_vsum_udf_checksum(x, s, c, &w->q, r, n, sum, e);
  return s->client ? fmh_vsum_client_checksum(x, s, w, c, r, n, sum, e)
                   : fmh_vsum_sql_checksum(x, s, c, &w->q, r, n, sum, e);
}

/* Both sides' (count, sum) of a range (rows [row0, row1) of a generator),
 * retried on fresh connections. */
static int checksum_pair(sctx *x, wstate *w, const fmh_vrange *r, int64_t row0, int64_t row1, uint64_t *ca,
                         uint64_t *sa, uint64_t *cb, uint64_t *sb, fmh_error *e) {
  int tries = x->o->retries < 0 ? 0 : x->o->retries;
  for (int attempt = 0;; attempt++) {
    fmh_error_clear(e);
    int rc = fmh_vsum_conn_get(x, &x->a, &w->ca, &w->tza, e);
    if (rc == 0) rc = side_checksum(x, &x->a, w, w->ca, r, ca, sa, e);
    if (rc == 0) {
      if (x->b.src.gen) {
        rc = fmh_vsum_gen_checksum(x, w, row0, row1, cb, sb, e);
        if (rc != 0) return -1; /* not a server's failure: no retry */
      } else {
        rc = fmh_vsum_conn_get(x, &x->b, &w->cb, &w->tzb, e);
        if (rc == 0) rc = side_checksum(x, &x->b, w, w->cb, r, cb, sb, e);
      }
    }
    if (rc == 0) return 0;
    if (e->kind && !strcmp(e->kind, "usage")) return -1;
    /* drop the connections (a broken one is discarded by the pool) and retry */
    fmh_vsum_conn_put(&w->ca, &w->tza);
    fmh_vsum_conn_put(&w->cb, &w->tzb);
    if (attempt >= tries) return -1;
    sleep_s(0.2 * (attempt + 1));
  }
}

/* --- ranges ------------------------------------------------------------ */

static void part_clear(fmh_vkey_part *p) {
  if (p->kind == FMH_VK_TEXT) free(p->s);
  memset(p, 0, sizeof *p);
}

static int part_copy(const fmh_vkey_part *src, fmh_vkey_part *dst) {
  *dst = *src;
  if (src->kind == FMH_VK_TEXT) {
    dst->s = malloc(src->len + 1);
    if (!dst->s) return -1;
    memcpy(dst->s, src->s, src->len);
    dst->s[src->len] = '\0';
  }
  return 0;
}

void fmh_vsum_range_clear(fmh_vrange *r) {
  part_clear(&r->lo);
  part_clear(&r->hi);
  r->has_lo = r->has_hi = r->lo_incl = 0;
}

/* One key value of side a: "SELECT key FROM t WHERE range ORDER BY key LIMIT 1 OFFSET n".
 * Returns 1 with *out set, 0 when there is none, -1 on error. */
static int key_at(sctx *x, sside *s, fmh_conn *conn, fmh_buf *q, const fmh_vrange *r, uint64_t offset,
                  fmh_vkey_part *out, fmh_error *e) {
  q->len = 0;
  fmh_vbuf_puts(q, "SELECT ");
  fmh_vbuf_ident(q, x->o->key, 0);
  fmh_vbuf_puts(q, " FROM ");
  fmh_vbuf_ident(q, s->src.table, 1);
  fmh_value p[2];
  int np;
  if (fmh_vrange_sql(q, x->o->key, s->src.where, r, x->key_binary, p, &np) != 0) return fmh_vsum_oom(e);
  fmh_vbuf_puts(q, " ORDER BY ");
  fmh_vbuf_ident(q, x->o->key, 0);
  fmh_vbuf_printf(q, " LIMIT 1 OFFSET %" PRIu64, offset);
  fmh_cursor *c;
  const fmh_value *row;
  int rc = fmh_vsum_first_row(x, conn, q, p, np, &c, &row, e);
  if (rc < 0 && !c) return -1;
  if (rc == 1 && fmh_vkey_part_from_value(&row[0], out) != 0) rc = fmh_vsum_oom(e);
  fmh_cursor_close(c);
  return rc;
}

/* MIN and MAX of the key on one side: 1 when the side has rows, 0 when
 * not, -2 when keys pass INT64_MAX. */
static int min_max(sctx *x, sside *s, fmh_conn *conn, fmh_buf *q, int64_t *lo, int64_t *hi, uint64_t *est,
                   fmh_error *e) {
  q->len = 0;
  fmh_vbuf_puts(q, "SELECT MIN(");
  fmh_vbuf_ident(q, x->o->key, 0);
  fmh_vbuf_puts(q, "), MAX(");
  fmh_vbuf_ident(q, x->o->key, 0);
  fmh_vbuf_puts(q, ") FROM ");
  fmh_vbuf_ident(q, s->src.table, 1);
  fmh_value p[2];
  int np;
  if (fmh_vrange_sql(q, x->o->key, s->src.where, NULL, 0, p, &np) != 0) return fmh_vsum_oom(e);
  fmh_cursor *c;
  const fmh_value *row;
  int rc = fmh_vsum_first_row(x, conn, q, NULL, 0, &c, &row, e), have = 0;
  if (rc < 0 && !c) return -1;
  if (rc == 1 && row[0].t != FMH_V_NULL) {
    if (row[0].t == FMH_V_UINT || row[1].t == FMH_V_UINT) {
      have = -2;
    } else {
      *lo = row[0].i;
      *hi = row[1].i;
      have = 1;
    }
  }
  fmh_cursor_close(c);
  if (rc < 0) return -1;
  if (have != 1) return have;
  if (fmh_vmeta_query(conn, "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ",
                      " AND TABLE_NAME = ?", s->src.table, &c, e) != 0)
    return -1;
  *est = 0;
  rc = fmh_cursor_fetch(c, &row, e);
  if (rc == 1 && row[0].t == FMH_V_INT && row[0].i > 0) *est = (uint64_t)row[0].i;
  if (rc == 1 && row[0].t == FMH_V_UINT) *est = row[0].u;
  fmh_cursor_close(c);
  if (rc < 0) return -1;
  if (*est == 0) {
    q->len = 0;
    fmh_vbuf_puts(q, "SELECT COUNT(*) FROM ");
    fmh_vbuf_ident(q, s->src.table, 1);
    if (fmh_vrange_sql(q, x->o->key, s->src.where, NULL, 0, p, &np) != 0) return fmh_vsum_oom(e);
    rc = fmh_vsum_first_row(x, conn, q, NULL, 0, &c, &row, e);
    if (rc < 0 && !c) return -1;
    if (rc == 1 && row[0].t == FMH_V_INT && row[0].i > 0) *est = (uint64_t)row[0].i;
    fmh_cursor_close(c);
    if (rc < 0) return -1;
  }
  return 1;
}

static seg *seg_add(sctx *x, fmh_error *e) {
  if (x->nsegs == x->capsegs) {
    size_t n = x->capsegs ? 2 * x->capsegs : 64;
    seg *ns = realloc(x->segs, n * sizeof *ns);
    if (!ns) {
      fmh_vsum_oom(e);
      return NULL;
    }
    x->segs = ns;
    x->capsegs = n;
  }
  seg *s = &x->segs[x->nsegs++];
  memset(s, 0, sizeof *s);
  return s;
}

/* Cut the key space into segments (on w's connections). */
int fmh_vsum_plan(sctx *x, wstate *w, fmh_error *e) {
  const fmh_vchecksum_opts *o = x->o;
  if (x->b.src.gen) {
    int64_t first = o->b.first, end = o->b.first + o->b.count;
    fmh_vkey_part prev;
    int have_prev = 0;
    for (int64_t r0 = first; r0 < end || (r0 == first && end == first);) {
      int64_t r1 = (uint64_t)(end - r0) <= o->chunk_rows ? end : r0 + (int64_t)o->chunk_rows;
      seg *s = seg_add(x, e);
      if (!s) goto fail;
      s->row0 = r0;
      s->row1 = r1;
      if (have_prev) {
        s->r.has_lo = 1;
        if (part_copy(&prev, &s->r.lo) != 0) goto oomfail;
      }
      if (r1 < end) {
        fmh_vkey_part k;
        if (fmh_vsum_gen_key(x, w, r1 - 1, &k, e) != 0) goto fail;
        if (have_prev && fmh_vsum_part_cmp(&prev, &k) >= 0) {
          part_clear(&k);
          fmh_error_set(e, "usage", 0, 0,
                        "validate.checksum: the generator's key '%s' does not increase with the row (row %" PRId64
                        "); checksum mode needs it in key order",
                        o->key, r1 - 1);
          goto fail;
        }
        s->r.has_hi = 1;
        if (part_copy(&k, &s->r.hi) != 0) {
          part_clear(&k);
          goto oomfail;
        }
        if (have_prev) part_clear(&prev);
        prev = k;
        have_prev = 1;
      }
      if (r1 == end) break;
      r0 = r1;
    }
    if (have_prev) part_clear(&prev);
    return 0;
  oomfail:
    fmh_vsum_oom(e);
  fail:
    if (have_prev) part_clear(&prev);
    return -1;
  }
  if (fmh_vsum_conn_get(x, &x->a, &w->ca, &w->tza, e) != 0) return -1;
  if (x->key_int) {
    int64_t alo = 0, ahi = 0, blo = 0, bhi = 0;
    uint64_t est_a = 0, est_b = 0;
    int ha = min_max(x, &x->a, w->ca, &w->q, &alo, &ahi, &est_a, e);
    if (ha == -1) return -1;
    if (fmh_vsum_conn_get(x, &x->b, &w->cb, &w->tzb, e) != 0) return -1;
    int hb = min_max(x, &x->b, w->cb, &w->q, &blo, &bhi, &est_b, e);
    if (hb == -1) return -1;
    if (ha == -2 || hb == -2) {
      x->key_int = 0; /* unsigned keys past INT64_MAX: walk the index */
    } else {
      if (!ha && !hb) {
        seg *s = seg_add(x, e); /* both empty: one segment over everything */
        return s ? 0 : -1;
      }
      int64_t lo = !ha ? blo : !hb ? alo : (alo < blo ? alo : blo);
      int64_t hi = !ha ? bhi : !hb ? ahi : (ahi > bhi ? ahi : bhi);
      uint64_t est = est_a > est_b ? est_a : est_b;
      uint64_t span = (uint64_t)hi - (uint64_t)lo;
      uint64_t width = o->chunk_rows;
      if (est > 0) {
        double wd = ((double)span + 1.0) * (double)o->chunk_rows / (double)est;
        width = wd < 1 ? 1 : wd > 9e18 ? (uint64_t)9e18 : (uint64_t)wd;
      }
      int64_t start = lo;
      for (;;) {
        uint64_t room = (uint64_t)hi - (uint64_t)start;
        int64_t end = room < width ? hi : (int64_t)((uint64_t)start + width - 1);
        seg *s = seg_add(x, e);
        if (!s) return -1;
        s->r.lo.kind = s->r.hi.kind = FMH_VK_INT;
        /* the first and last segments are open: rows a concurrent writer
         * adds beyond MIN/MAX are not silently left out */
        s->r.has_lo = start != lo;
        s->r.lo_incl = 1;
        s->r.lo.i = start;
        s->r.has_hi = end != hi;
        s->r.hi.i = end;
        if (end == hi) break;
        start = end + 1;
      }
      return 0;
    }
  }
  /* walk side a's key index: (prev, boundary] */
  fmh_vkey_part prev;
  int have_prev = 0;
  for (;;) {
    fmh_vrange wr;
    memset(&wr, 0, sizeof wr);
    if (have_prev) {
      wr.has_lo = 1;
      wr.lo = prev;
    }
    fmh_vkey_part b;
    int rc = key_at(x, &x->a, w->ca, &w->q, &wr, o->chunk_rows - 1, &b, e);
    seg *s = rc >= 0 ? seg_add(x, e) : NULL;
    if (!s) {
      if (have_prev) part_clear(&prev);
      if (rc == 1) part_clear(&b);
      return -1;
    }
    if (have_prev) {
      s->r.has_lo = 1;
      s->r.lo = prev; /* moves */
    }
    if (rc == 0) return 0;
    s->r.has_hi = 1;
    s->r.hi = b;
    if (part_copy(&b, &prev) != 0) return fmh_vsum_oom(e);
    have_prev = 1;
  }
}

/* --- the parallel pass ---------------------------------------------------- */

static void *worker(void *arg) {
  wstate *w = arg;
  sctx *x = w->x;
  const fmh_vchecksum_opts *o = x->o;
  pthread_mutex_lock(&x->mu);
  for (;;) {
    if (x->stop || x->next >= x->nsegs) break;
    double now = fmh_vnow();
    if (x->deadline > 0 && now >= x->deadline) {
      x->stop = 1;
      x->stop_reason = "the time budget ran out";
      break;
    }
    size_t i = x->next++;
    seg *s = &x->segs[i];
    uint64_t est = s->row1 > s->row0 ? (uint64_t)(s->row1 - s->row0) : o->chunk_rows;
    double wait = 0;
    if (o->max_rows_per_s > 0) {
      double due = x->t0 + (double)x->rows_claimed / o->max_rows_per_s;
      wait = due - now;
      x->rows_claimed += est;
    }
    pthread_mutex_unlock(&x->mu);
    sleep_s(wait);
    uint64_t ca = 0, sa = 0, cb = 0, sb = 0;
    fmh_error_clear(&w->err);
    int rc = checksum_pair(x, w, &s->r, s->row0, s->row1, &ca, &sa, &cb, &sb, &w->err);
    if (rc == 0 && (ca != cb || sa != sb) && !(x->deadline > 0 && fmh_vnow() >= x->deadline)) {
      /* narrow it down here, in parallel, to the leaves the main thread
       * streams; if that fails, the main thread bisects it again */
      fmh_error be = {0};
      if (fmh_vsum_bisect(x, w, &s->r, s->row0, s->row1, ca, sa, cb, sb, 0, s, &be) == 0) s->bisected = 1;
      else fmh_vsum_seg_leaves_clear(s);
      fmh_error_clear(&be);
    }
    pthread_mutex_lock(&x->mu);
    x->ndone++;
    if (rc == 0) {
      s->ca = ca;
      s->cb = cb;
      s->sa = sa;
      s->sb = sb;
      s->state = ca == cb && sa == sb ? SEG_EQUAL : SEG_DIFFER;
      x->rows_done += ca > cb ? ca : cb;
      x->consecutive_failures = 0;
    } else {
      s->state = SEG_FAILED;
      if (!x->have_err) {
        x->first_err = w->err;
        memset(&w->err, 0, sizeof w->err);
        x->have_err = 1;
      }
      if (++x->consecutive_failures >= 3 || (x->first_err.kind && !strcmp(x->first_err.kind, "usage"))) {
        x->stop = 1;
        x->stop_reason = "the queries kept failing";
      }
    }
    pthread_cond_broadcast(&x->cv);
  }
  x->running--;
  pthread_cond_broadcast(&x->cv);
  pthread_mutex_unlock(&x->mu);
  fmh_vsum_conn_put(&w->ca, &w->tza);
  fmh_vsum_conn_put(&w->cb, &w->tzb);
  return NULL;
}

static void progress(sctx *x) {
  double el = fmh_vnow() - x->t0;
  double rate = el > 0 ? (double)x->rows_done / el : 0;
  double frac = x->nsegs ? (double)x->ndone / (double)x->nsegs : 1;
  double eta = frac > 0 ? el / frac - el : 0;
  fmh_log_field f[] = {FMH_LS("a", x->o->a.table), FMH_LI("segments_done", x->ndone),
                       FMH_LI("segments", x->nsegs), FMH_LN("rows_per_s", rate), FMH_LN("eta_s", eta)};
  fmh_log_emit(FMH_LOG_INFO, "validate.checksum.progress", NULL, NULL, f, sizeof f / sizeof *f);
}

int fmh_vsum_run_parallel(sctx *x, wstate *ws, int nw, fmh_error *e) {
  pthread_mutex_init(&x->mu, NULL);
  pthread_cond_init(&x->cv, NULL);
  x->running = 0;
  for (int i = 0; i < nw; i++) {
    if (pthread_create(&ws[i].th, NULL, worker, &ws[i]) == 0) {
      ws[i].started = 1;
      pthread_mutex_lock(&x->mu);
      x->running++;
      pthread_mutex_unlock(&x->mu);
    }
  }
  int started = 0;
  for (int i = 0; i < nw; i++) started += ws[i].started;
  if (!started) worker(&ws[0]); /* no thread: do it here */
  pthread_mutex_lock(&x->mu);
  double last = fmh_vnow();
  while (x->running > 0) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 1;
    pthread_cond_timedwait(&x->cv, &x->mu, &ts);
    if (x->o->progress_s > 0 && fmh_vnow() - last >= x->o->progress_s) {
      progress(x);
      last = fmh_vnow();
    }
  }
  pthread_mutex_unlock(&x->mu);
  for (int i = 0; i < nw; i++)
    if (ws[i].started) pthread_join(ws[i].th, NULL);
  pthread_mutex_destroy(&x->mu);
  pthread_cond_destroy(&x->cv);
  (void)e;
  return 0;
}

/* --- bisection ----------------------------------------------------------- */

int fmh_vsum_stream_range(sctx *x, wstate *w, const fmh_vrange *r, int64_t row0, int64_t row1, fmh_error *e) {
  fmh_vsum_conn_put(&w->ca, &w->tza); /* the comparator takes connections of its own */
  fmh_vsum_conn_put(&w->cb, &w->tzb);
  fmh_verdict *v = x->v;
  uint64_t t0 = v->target, e0 = v->expected;
  int rc = x->b.src.gen ? fmh_vcmp_run_rows(x->cmp, r, row0, row1 - row0, e) : fmh_vcmp_run(x->cmp, r, e);
  v->rows_streamed += (v->target - t0) + (v->expected - e0);
  v->target = t0;
  v->expected = e0;
  return rc;
}

/* Split r (rows [row0, row1) of a generator) at a key that halves it. 0
 * with the halves, 1 when it cannot be split. */
static int split(sctx *x, wstate *w, const fmh_vrange *r, int64_t row0, int64_t row1, uint64_t ca, uint64_t cb,
                 fmh_vrange *h1, fmh_vrange *h2, int64_t *rmid, fmh_error *e) {
  fmh_vkey_part mid;
  memset(&mid, 0, sizeof mid);
  if (x->b.src.gen) {
    if (row1 - row0 < 2) return 1;
    *rmid = row0 + (row1 - row0) / 2;
    if (fmh_vsum_gen_key(x, w, *rmid - 1, &mid, e) != 0) return -1;
  } else if (x->key_int && r->has_lo && r->has_hi) {
    int64_t lo = r->lo.i, hi = r->hi.i;
    if (!r->lo_incl) lo++;
    if (lo >= hi) return 1;
    uint64_t diff = (uint64_t)hi - (uint64_t)lo;
    mid.kind = FMH_VK_INT;
    mid.i = (int64_t)((uint64_t)lo + diff / 2);
  } else {
    int use_a = ca >= cb;
    sside *s = use_a ? &x->a : &x->b;
    fmh_conn **c = use_a ? &w->ca : &w->cb;
    int *tz = use_a ? &w->tza : &w->tzb;
    if (fmh_vsum_conn_get(x, s, c, tz, e) != 0) return -1;
    uint64_t n = use_a ? ca : cb;
    int rc = key_at(x, s, *c, &w->q, r, n / 2 - (n >= 2 ? 1 : 0), &mid, e);
    if (rc < 0) return -1;
    if (rc == 0) return 1;
    if ((r->has_hi && fmh_vsum_part_cmp(&mid, &r->hi) >= 0) || (r->has_lo && fmh_vsum_part_cmp(&mid, &r->lo) <= 0)) {
      part_clear(&mid);
      return 1;
    }
  }
  memset(h1, 0, sizeof *h1);
  memset(h2, 0, sizeof *h2);
  h1->has_lo = r->has_lo;
  h1->lo_incl = r->lo_incl;
  if (r->has_lo && part_copy(&r->lo, &h1->lo) != 0) goto fail;
  h1->has_hi = 1;
  if (part_copy(&mid, &h1->hi) != 0) goto fail;
  h2->has_lo = 1;
  h2->lo_incl = 0;
  if (part_copy(&mid, &h2->lo) != 0) goto fail;
  h2->has_hi = r->has_hi;
  if (r->has_hi && part_copy(&r->hi, &h2->hi) != 0) goto fail;
  part_clear(&mid);
  return 0;
fail:
  part_clear(&mid);
  fmh_vsum_range_clear(h1);
  fmh_vsum_range_clear(h2);
  return fmh_vsum_oom(e);
}

void fmh_vsum_seg_leaves_clear(seg *s) {
  for (size_t i = 0; i < s->nleaves; i++) fmh_vsum_range_clear(&s->leaves[i].r);
  free(s->leaves);
  s->leaves = NULL;
  s->nleaves = 0;
  s->bmatched = 0;
}

/* A range of at most leaf_rows rows: streamed now, or (into) kept for later. */
static int leaf_range(sctx *x, wstate *w, const fmh_vrange *r, int64_t row0, int64_t row1, seg *into, fmh_error *e) {
  if (!into) return fmh_vsum_stream_range(x, w, r, row0, row1, e);
  leaf *nl = realloc(into->leaves, (into->nleaves + 1) * sizeof *nl);
  if (!nl) return fmh_vsum_oom(e);
  into->leaves = nl;
  leaf *l = &nl[into->nleaves];
  memset(l, 0, sizeof *l);
  l->r.has_lo = r->has_lo;
  l->r.has_hi = r->has_hi;
  l->r.lo_incl = r->lo_incl;
  if ((r->has_lo && part_copy(&r->lo, &l->r.lo) != 0) || (r->has_hi && part_copy(&r->hi, &l->r.hi) != 0)) {
    fmh_vsum_range_clear(&l->r);
    return fmh_vsum_oom(e);
  }
  l->row0 = row0;
  l->row1 = row1;
  into->nleaves++;
  return 0;
}

/* Counts and sums add up (modulo 2^64): a range's second half is the
 * whole minus its first half, so each level hashes only one half. The
 * ranges of at most leaf_rows rows that still differ are streamed, or with
 * into (a worker's bisection) collected in into->leaves, the rows of equal
 * halves counted in into->bmatched. */
int fmh_vsum_bisect(sctx *x, wstate *w, const fmh_vrange *r, int64_t row0, int64_t row1, uint64_t ca, uint64_t sa,
                  uint64_t cb, uint64_t sb, int depth, seg *into, fmh_error *e) {
  uint64_t n = ca > cb ? ca : cb;
  if (n <= x->o->leaf_rows || depth > 64) return leaf_range(x, w, r, row0, row1, into, e);
  fmh_vrange h[2];
  int64_t rmid = 0;
  int s = split(x, w, r, row0, row1, ca, cb, &h[0], &h[1], &rmid, e);
  if (s < 0) return -1;
  if (s == 1) return leaf_range(x, w, r, row0, row1, into, e);
  int rc = 0;
  int64_t rr[2][2] = {{row0, rmid}, {rmid, row1}};
  uint64_t a1 = 0, sa1 = 0, b1 = 0, sb1 = 0;
  for (int i = 0; i < 2 && rc == 0; i++) {
    uint64_t a, xa, b, xb;
    if (i == 0) {
      rc = checksum_pair(x, w, &h[0], rr[0][0], rr[0][1], &a, &xa, &b, &xb, e);
      if (rc != 0) break;
      a1 = a, sa1 = xa, b1 = b, sb1 = xb;
    } else {
      a = ca - a1, xa = sa - sa1, b = cb - b1, xb = sb - sb1;
    }
    if (a == b && xa == xb) {
      if (into) into->bmatched += a;
      else x->v->matched += a;
      continue;
    }
    rc = fmh_vsum_bisect(x, w, &h[i], rr[i][0], rr[i][1], a, xa, b, xb, depth + 1, into, e);
  }
  fmh_vsum_range_clear(&h[0]);
  fmh_vsum_range_clear(&h[1]);
  return rc;
}

