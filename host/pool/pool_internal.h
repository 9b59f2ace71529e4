/* Shared between pool_connect.c (opening connections), pool.c (the pool),
 * pool_query.c (statements), pool_bulk.c (loads), pool_bench_rows.c (the
 * benchmark table's rows) and pool_stress.c (the stress driver): each calls
 * only into the files before it. The pool's and a connection's insides; not
 * part of the C API. */
#ifndef FMHOST_POOL_INTERNAL_H
#define FMHOST_POOL_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "fmhost/pool.h"

#define FMH_POOL_HIST 40
#define FMH_STMT_CACHE 32

typedef struct fmh_waiter {
  pthread_cond_t cv;
  fmh_conn *conn;   /* handed over by a release */
  int slot;         /* allowed to open a connection */
  int closed;       /* the pool closed */
  int queued;
  struct fmh_waiter *next;
} fmh_waiter;

typedef struct fmh_stmt_entry {
  char *sql;
  size_t len;
  MYSQL_STMT *stmt;
  uint64_t used;    /* LRU clock */
} fmh_stmt_entry;

struct fmh_conn {
  fmh_pool *pool;
  MYSQL *my;
  struct fmh_conn *next, *prev;   /* idle list */
  double created_ms, last_used_ms;
  int broken;
  const char *evict_reason;
  unsigned long thread_id;
  uint64_t serial;
  uint64_t grant;                 /* the pool's hand-out number of its current use */
  fmh_cursor *cursor;             /* the open cursor, if any */
  /* set by pool_query.c beside cursor: a release closes a cursor left open
   * without the pool calling up into the statement layer */
  void (*cursor_close)(fmh_cursor *);
  fmh_stmt_entry stmts[FMH_STMT_CACHE];
  int nstmts;
  uint64_t stmt_clock;
};

struct fmh_pool {
  pthread_mutex_t mu;
  fmh_pool_opts o;
  int total;        /* connections open or being opened: never above o.size */
  int active, idle, opening, waiting;
  fmh_conn *idle_head, *idle_tail;   /* most recently used first */
  fmh_waiter *wq_head, *wq_tail;
  int closed;
  int refs;         /* the owner's plus one per connection in use */
  int peak_active;
  uint64_t next_serial;
  uint64_t grants;  /* connections handed out so far */
  uint64_t created, destroyed, acquires, releases, timeouts, connect_failures;
  uint64_t validations, validation_failures, broken, evicted_idle, evicted_lifetime;
  uint64_t hist[FMH_POOL_HIST];
  double acq_sum_ms, acq_max_ms;
  pthread_t hk;
  int hk_running;
  pthread_cond_t hk_cv;
  atomic_uint_fast64_t connect_runs;  /* draws of the connect_retry jitter streams */
};

double fmh_pool_now_ms(void);
void fmh_pool_fill_error(fmh_error *e, unsigned code, const char *state, const char *text,
                         const char *what);
int fmh_pool_code_kills_conn(unsigned code);

/* pool_connect.c, for pool.c */
extern pthread_once_t fmh_pool_lib_once;
void fmh_pool_lib_init(void);
void fmh_pool_free_opts(fmh_pool_opts *o);
void fmh_pool_copy_opts(fmh_pool_opts *d, const fmh_pool_opts *s);
int fmh_pool_check_opts(const fmh_pool_opts *o, fmh_error *e);
MYSQL *fmh_pool_connect_retrying(fmh_pool *p, fmh_error *e);
fmh_conn *fmh_pool_conn_new(fmh_pool *p, MYSQL *m);
void fmh_pool_conn_free(fmh_conn *c);

#endif
