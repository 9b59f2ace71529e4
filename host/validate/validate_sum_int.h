/* fmhost.validate checksum-mode internals shared by validate_sum*.c (not a
 * public API; apart from validate_int.h so that its type names stay out of
 * the other validate files). */
#ifndef FMHOST_VALIDATE_SUM_INT_H
#define FMHOST_VALIDATE_SUM_INT_H

#include <openssl/evp.h>
#include <pthread.h>
#include <stdint.h>

#include "validate_int.h"

/* --- checksum mode, by job: validate_sum.c (the entry, the verdict's
 * account of segments), validate_sum_segments.c (connections, segments, the
 * parallel pass, bisection), validate_sum_hash.c (columns, the row hash in
 * SQL and in C, a range's checksum query) -------------------------------- */

typedef struct scol {
  char *name;
  char *data_type;
  int nullable;
  int scale, fsp;
  int is_float;           /* FLOAT: its values hashed at float precision */
  int is_char;            /* CHAR: trailing spaces are not part of a value */
  int is_unsigned;        /* an UNSIGNED integer type */
} scol;

typedef struct sside {
  const char *role;
  fmh_vsource src;
  scol *cols;
  int ncols;
  fmh_buf hash;           /* the row hash expression (SQL side) */
  int client;             /* rows streamed and hashed in fmhost, not by the server */
  int *hmap;              /* the hashed columns in hash order (indexes into cols) */
  fmh_buf select;         /* client hashing: SELECT the hashed columns FROM the table */
  int udf;                /* hashed by the server's fmhost_rowsum (fmhost/rowsum.h) */
  fmh_buf udf_select;     /* its query without the range: SELECT COUNT(*), fmhost_rowsum(...) FROM the table */
} sside;

/* segment states */
enum { SEG_PENDING = 0, SEG_EQUAL, SEG_DIFFER, SEG_FAILED, SEG_SKIPPED };

/* a range left to stream after bisection */
typedef struct leaf {
  fmh_vrange r;
  int64_t row0, row1;
} leaf;

typedef struct seg {
  fmh_vrange r;
  int64_t row0, row1;  /* generator rows [row0, row1) */
  unsigned char state;
  unsigned char bisected; /* a worker bisected it: leaves and bmatched hold the outcome */
  uint64_t ca, cb, sa, sb;
  leaf *leaves;
  size_t nleaves;
  uint64_t bmatched;   /* rows of the halves found equal */
} seg;

/* One worker's connections and scratch. */
typedef struct wstate {
  struct sctx *x;
  fmh_conn *ca, *cb;
  int tza, tzb;
  fmh_buf q, row;
  EVP_MD_CTX *md;
  EVP_MD *sha1;
  fmh_gen_cursor *gc;
  fmh_gen_value *gv;
  fmh_error err;
  pthread_t th;
  int started;
} wstate;

typedef struct sctx {
  const fmh_vchecksum_opts *o;
  fmh_verdict *v;
  sside a, b;
  int key_int;          /* integer key: equal-width ranges */
  int key_binary;
  int gkey;             /* generator: the key's column */
  int *gmap;            /* generator: for each hashed column of a, its generator column */
  int nhash;
  int *amap;            /* the hashed columns of a (indexes into a.cols) */
  fmh_vcmp *cmp;
  fmh_vcompare_opts co;
  const char *keys[1];
  seg *segs;
  size_t nsegs, capsegs;
  /* the parallel pass */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  size_t next, ndone;
  int running;
  int consecutive_failures, stop;
  const char *stop_reason;
  double t0, deadline;
  uint64_t rows_claimed, rows_done;
  fmh_error first_err;
  int have_err;
  uint64_t queries;
  int fast;             /* both sides hashed here: SipHash-2-4 of the row text, not SHA-1 */
  unsigned char sipkey[16]; /* its key, drawn per run */
} sctx;

/* A row's 64-bit hash from its digest h (see the file comment). */
#define ROW_HASH_OF_H "CRC32(h) << 32 | CRC32C(h)"

/* validate_sum_hash.c */
int fmh_vsum_oom(fmh_error *e);
int fmh_vsum_load_columns(sside *s, fmh_conn *conn, fmh_error *e);
int fmh_vsum_find_scol(const sside *s, const char *name);
int fmh_vsum_find_gcol(const fmh_gen *g, const char *name);
int fmh_vsum_b_has(const sctx *x, const char *name);
int fmh_vsum_is_one_of(const char *t, const char *const *list);
extern const char *const fmh_vsum_int_types[];
extern const char *const fmh_vsum_binary_types[];
int fmh_vsum_ignored(const fmh_vchecksum_opts *o, const char *name);
int fmh_vsum_hashed_columns(sctx *x, fmh_error *e);
int fmh_vsum_build_hash(sctx *x, sside *s, fmh_error *e);
extern pthread_once_t fmh_vsum_crc_once;
void fmh_vsum_crc_init(void);
int fmh_vsum_gen_checksum(sctx *x, wstate *w, int64_t row0, int64_t row1, uint64_t *count, uint64_t *sum,
                          fmh_error *e);
int fmh_vsum_gen_key(sctx *x, wstate *w, int64_t r, fmh_vkey_part *out, fmh_error *e);
int fmh_vsum_part_cmp(const fmh_vkey_part *a, const fmh_vkey_part *b);
/* Run the query built in q (q->p NULL: it ran out of memory) with its
 * parameters on conn, counted in x->queries, and fetch its first row: 1 with
 * *row set, 0 when there is none, -1 on error. *c is the open cursor (NULL
 * after an error before it opened); the caller closes it. */
int fmh_vsum_first_row(sctx *x, fmh_conn *conn, const fmh_buf *q, const fmh_value *p, int np, fmh_cursor **c,
                       const fmh_value **row, fmh_error *e);
int fmh_vsum_sql_checksum(sctx *x, sside *s, fmh_conn *conn, fmh_buf *q, const fmh_vrange *r, uint64_t *count,
                          uint64_t *sum, fmh_error *e);
/* The same (count, sum) computed in fmhost: the range's rows read over the
 * binary protocol and hashed with the row text the server would build. */
int fmh_vsum_client_checksum(sctx *x, sside *s, wstate *w, fmh_conn *conn, const fmh_vrange *r, uint64_t *count,
                             uint64_t *sum, fmh_error *e);

/* Build s->udf_select (the descriptor under x->sipkey). */
int fmh_vsum_build_udf(sctx *x, sside *s, fmh_error *e);
/* The same (count, sum) as fmh_vsum_client_checksum, computed by the
 * server's fmhost_rowsum; with r NULL, over no row (a probe: does the
 * server have the function, of this version?). */
int fmh_vsum_udf_checksum(sctx *x, sside *s, fmh_conn *conn, fmh_buf *q, const fmh_vrange *r, uint64_t *count,
                          uint64_t *sum, fmh_error *e);

/* validate_sum_segments.c */
int fmh_vsum_conn_get(sctx *x, sside *s, fmh_conn **c, int *tz, fmh_error *e);
void fmh_vsum_conn_put(fmh_conn **c, int *tz);
int fmh_vsum_wstate_init(sctx *x, wstate *w, fmh_error *e);
void fmh_vsum_wstate_free(wstate *w);
void fmh_vsum_range_clear(fmh_vrange *r);
/* Cut the key space into segments (on w's connections). */
int fmh_vsum_plan(sctx *x, wstate *w, fmh_error *e);
int fmh_vsum_run_parallel(sctx *x, wstate *ws, int nw, fmh_error *e);
int fmh_vsum_stream_range(sctx *x, wstate *w, const fmh_vrange *r, int64_t row0, int64_t row1, fmh_error *e);
void fmh_vsum_seg_leaves_clear(seg *s);
int fmh_vsum_bisect(sctx *x, wstate *w, const fmh_vrange *r, int64_t row0, int64_t row1, uint64_t ca, uint64_t sa,
                    uint64_t cb, uint64_t sb, int depth, seg *into, fmh_error *e);

#endif
