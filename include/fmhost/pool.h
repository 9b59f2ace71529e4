/* fmhost.pool: a thread-safe MySQL/MariaDB connection pool over libmariadb,
 * typed statements and cursors, and two bulk-load paths fed by C row
 * producers.
 *
 * The pool never holds more than `size` connections (open or being opened).
 * Acquirers that find none free queue FIFO and are served in order: a
 * released connection goes straight to the first waiter. A waiter gives up
 * after the acquire timeout with "pool exhausted after N ms". Connections
 * idle longer than validate_after_ms are pinged before they are handed out;
 * dead ones (failed ping, or a connection-class error while in use) are
 * closed and replaced. A housekeeping thread (only when min_idle,
 * idle_timeout_ms or max_lifetime_ms ask for one) closes connections idle
 * past idle_timeout_ms (keeping min_idle) or older than max_lifetime_ms, and
 * opens connections up to min_idle. Every state change is logged as event
 * "pool.state" with the counts active/idle/total/waiting/size.
 *
 * Every blocking call has a timeout: connect, read and write timeouts on
 * every connection, the acquire timeout on waiters.
 *
 * Values: fmh_value carries one column value or one statement parameter.
 * Results are typed as follows: integer columns as FMH_V_INT (or FMH_V_UINT
 * for unsigned values above INT64_MAX), FLOAT/DOUBLE as FMH_V_DOUBLE (a
 * FLOAT is the double nearest its shortest decimal form, as the text
 * protocol sends it), BIT and YEAR as FMH_V_INT, DECIMAL as FMH_V_DECIMAL
 * (exact text), DATE/TIME/DATETIME/TIMESTAMP as FMH_V_DATETIME text
 * 'YYYY-MM-DD HH:MM:SS.ffffff' with as many fraction digits as the column's
 * fsp, strings/JSON/ENUM/SET as FMH_V_STRING, binary strings/BLOB as
 * FMH_V_BLOB (bytes, NULs intact), NULL as FMH_V_NULL. The text protocol
 * (statements without parameters) and the binary protocol (with
 * parameters) give the same values. */
#ifndef FMHOST_POOL_H
#define FMHOST_POOL_H

#include <mysql.h>
#include <stddef.h>
#include <stdint.h>

#include "fmhost/error.h"
#include "fmhost/retry.h"
#include "fmhost/rowsource.h"

typedef struct fmh_pool fmh_pool;
typedef struct fmh_conn fmh_conn;
typedef struct fmh_cursor fmh_cursor;

/* TLS. Modes required and above refuse a server that does not offer TLS
 * before the user name or password is sent. tls_ca is used only to check
 * the server certificate (verify-ca, verify-identity); preferred and
 * required encrypt without any check and ignore it (with a warning logged
 * as event "pool.tls"). fmh_pool_open refuses (kind "config") a CA, cert or
 * key it would use that is not a readable regular file, naming it. A
 * failed check reads "server certificate verification failed (tls mode M,
 * [host H, ]ca PATH): <libmariadb's text>"; TLS errors have code 2026
 * (CR_SSL_CONNECTION_ERROR) and are never retryable. */
typedef enum {
  FMH_TLS_DISABLED = 0,
  FMH_TLS_PREFERRED,       /* TLS when the server offers it, no certificate check */
  FMH_TLS_REQUIRED,        /* TLS or fail, no certificate check */
  FMH_TLS_VERIFY_CA,       /* TLS or fail, server certificate signed by tls_ca */
  FMH_TLS_VERIFY_IDENTITY  /* as VERIFY_CA, and the certificate names the host */
} fmh_tls_mode;

typedef struct fmh_pool_opts {
  const char *name;              /* in log events; default "pool" */
  const char *host;              /* default 127.0.0.1 */
  unsigned port;                 /* default 3306 */
  const char *socket;            /* used when host is "localhost" */
  const char *user, *password, *database;
  const char *charset;           /* default utf8mb4 */
  int size;                      /* max connections, default 4 */
  int min_idle;                  /* kept open by the housekeeper, default 0 */
  int acquire_timeout_ms;        /* default 5000 */
  int validate_after_ms;         /* ping idle connections older than this; 0 always, <0 never; default 1000 */
  int max_lifetime_ms;           /* 0 = unlimited */
  int idle_timeout_ms;           /* 0 = never */
  int housekeeping_ms;           /* housekeeper period, default 500 */
  int connect_timeout_ms;        /* default 5000 (libmariadb rounds up to seconds) */
  int read_timeout_ms;           /* default 60000 (seconds granularity) */
  int write_timeout_ms;          /* default 60000 (seconds granularity) */
  const char *time_zone;         /* session time_zone, NULL = server default */
  const char *sql_mode;          /* session sql_mode, NULL = server default */
  const char *init_sql;          /* run on every new connection */
  int local_infile;              /* allow LOAD DATA LOCAL INFILE, default 1 */
  int lazy;                      /* 0: fmh_pool_open opens one connection to check the options */
  int prepare_all;               /* prepared statements (binary protocol) also without parameters */
  fmh_tls_mode tls_mode;
  const char *tls_ca, *tls_cert, *tls_key;
  /* Opening a connection is retried by this policy on retryable errors
   * (refused, too many connections, ...) when connect_retry.max_attempts
   * > 1; the default tries once, so a bad target fails fast. */
  fmh_retry_policy connect_retry;
} fmh_pool_opts;

typedef struct fmh_pool_stats {
  int size, total, active, idle, opening, waiting, min_idle;
  int peak_active;               /* highest active count ever seen */
  uint64_t created, destroyed;   /* connections opened / closed */
  uint64_t acquires, releases, timeouts, connect_failures;
  uint64_t validations, validation_failures, broken, evicted_idle, evicted_lifetime;
  double acquire_ms_avg, acquire_ms_max, acquire_ms_p50, acquire_ms_p99;
  int closed;
} fmh_pool_stats;

void fmh_pool_opts_default(fmh_pool_opts *o);
/* Parse "disabled|preferred|required|verify-ca|verify-identity"; -1 when unknown. */
int fmh_tls_mode_parse(const char *s);
const char *fmh_tls_mode_name(fmh_tls_mode m);

/* Copies every string of o. NULL with e filled on failure (bad options, or
 * the first connection failing unless o->lazy). */
fmh_pool *fmh_pool_open(const fmh_pool_opts *o, fmh_error *e);
/* Close idle connections, wake waiters (they fail with "pool closed"),
 * stop the housekeeper. Connections still in use are closed when released;
 * the pool's memory goes with the last of them. */
void fmh_pool_close(fmh_pool *p);
/* timeout_ms < 0: the pool's acquire_timeout_ms. */
int fmh_pool_acquire(fmh_pool *p, int timeout_ms, fmh_conn **out, fmh_error *e);
/* Rolls back an open transaction, closes a cursor left open; a broken
 * connection is closed instead of being reused. */
void fmh_pool_release(fmh_conn *c);
void fmh_pool_stats_get(fmh_pool *p, fmh_pool_stats *s);
/* One housekeeping pass now (evictions, min_idle). */
void fmh_pool_maintain(fmh_pool *p);
const char *fmh_pool_name(const fmh_pool *p);
/* The pool's server is on this machine (host localhost, 127.x.x.x or ::1, or a socket). */
int fmh_pool_is_local(const fmh_pool *p);

MYSQL *fmh_conn_mysql(fmh_conn *c);
fmh_pool *fmh_conn_pool(fmh_conn *c);
uint64_t fmh_conn_serial(const fmh_conn *c);   /* pool-local number, 1.. */
/* Fill e from the connection's last error; what names the operation. A
 * connection-class error marks the connection broken. Returns -1. */
int fmh_conn_error(fmh_conn *c, fmh_error *e, const char *what);
/* The class of a pool error, for callers that retry by class: a MySQL
 * error's (fmh_retry_classify_mysql), "pool_exhausted" for an acquire that
 * timed out, else e's kind. A static string. */
const char *fmh_pool_error_class(const fmh_error *e);
void fmh_conn_mark_broken(fmh_conn *c);
int fmh_conn_is_broken(const fmh_conn *c);
/* A text statement whose result (if any) is discarded. */
int fmh_conn_exec(fmh_conn *c, const char *sql, size_t len, fmh_error *e);
int fmh_conn_ping(fmh_conn *c, fmh_error *e);
/* The server says a transaction is open on this session. */
int fmh_conn_in_transaction(fmh_conn *c);

/* --- values, statements, cursors ------------------------------------- */

typedef enum {
  FMH_V_NULL = 0,
  FMH_V_INT,       /* i */
  FMH_V_UINT,      /* u (results: only when above INT64_MAX) */
  FMH_V_DOUBLE,    /* d */
  FMH_V_BOOL,      /* i (parameters only: bound as TINYINT) */
  FMH_V_DECIMAL,   /* s, len: exact decimal text */
  FMH_V_STRING,    /* s, len: text in the connection charset */
  FMH_V_BLOB,      /* s, len: bytes */
  FMH_V_DATETIME   /* s, len: 'YYYY-MM-DD[ HH:MM:SS[.f...]]' or a TIME '[-]H..H:MM:SS[.f...]';
                      from a cursor told fmh_cursor_pack_temporal: s NULL and i, u as below */
} fmh_vtype;

/* A packed temporal value (fmh_cursor_pack_temporal): i counts microseconds
 * (DATE, DATETIME, TIMESTAMP: since 1970-01-01 00:00:00 on the clock the
 * session shows; TIME: signed), cut to the fraction the text would show; u is
 * FMH_TEMPORAL_PACK(class, digits): the class ('D' a DATE, 'T' a DATETIME or
 * TIMESTAMP, 'H' a TIME) and the digits of fraction that text shows. Two
 * values pack alike exactly when their texts are alike. */
#define FMH_TEMPORAL_PACK(cls, digits) ((uint64_t)(unsigned char)(cls) << 8 | (uint64_t)(digits))

typedef struct fmh_value {
  fmh_vtype t;
  int64_t i;
  uint64_t u;
  double d;
  const char *s;
  size_t len;
} fmh_value;

typedef struct fmh_column {
  const char *name;
  const char *type;        /* "int", "bigint", "decimal", "varchar", "datetime", "json", ... */
  int unsigned_;           /* UNSIGNED */
  int nullable;
  int decimals;            /* fsp / scale */
  unsigned long length;
  int binary;              /* binary charset (BLOB, BINARY, VARBINARY) */
} fmh_column;

typedef struct fmh_exec_result {
  uint64_t affected_rows, insert_id;
  unsigned warnings;
} fmh_exec_result;

/* Run sql with params (the text protocol when nparams == 0 and neither
 * prepared nor the pool's prepare_all ask otherwise, else a prepared
 * statement, cached per connection; a statement the server cannot prepare
 * falls back to text when it has no parameters). Results always carry the
 * table's current columns: when a table changed under a cached statement,
 * its column names are taken from this execution and the statement is
 * prepared afresh next time; when the number of columns changed, a statement
 * that only reads (SELECT, WITH, SHOW, VALUES, TABLE) is prepared again and
 * run a second time. Statements that write and return rows (INSERT ...
 * RETURNING, CALL) are not kept, so a write never runs twice. A statement without
 * a result set completes here (res filled, *out = NULL). One with a result
 * set leaves an open cursor in *out that streams rows from the server; the
 * connection is busy until fmh_cursor_close. */
int fmh_conn_run(fmh_conn *c, const char *sql, size_t len, const fmh_value *params, int nparams,
                 int prepared, fmh_cursor **out, fmh_exec_result *res, fmh_error *e);
int fmh_cursor_ncols(const fmh_cursor *q);
const fmh_column *fmh_cursor_columns(const fmh_cursor *q);
/* 1 with *row pointing at ncols values (valid until the next fetch or
 * close), 0 at the end, -1 on error. */
int fmh_cursor_fetch(fmh_cursor *q, const fmh_value **row, fmh_error *e);
unsigned fmh_cursor_warnings(const fmh_cursor *q);
/* From the next fetch on, a prepared cursor's temporal values arrive packed
 * (see FMH_TEMPORAL_PACK), not as text: for a reader that compares or hashes
 * them and never prints them. A value no count expresses (a zero in its date,
 * a negative zero TIME) still arrives as text. Text cursors ignore it. */
void fmh_cursor_pack_temporal(fmh_cursor *q);
/* Discards unread rows. */
void fmh_cursor_close(fmh_cursor *q);
fmh_conn *fmh_cursor_conn(const fmh_cursor *q);

/* --- bulk load --------------------------------------------------------- */

typedef enum { FMH_BULK_INFILE = 1, FMH_BULK_INSERT = 2 } fmh_bulk_method;

/* Rows [first, first+count) of a source. */
typedef struct fmh_range {
  uint64_t first, count;
} fmh_range;

typedef struct fmh_bulk_opts {
  const char *table;        /* as written into the statement (quote it yourself if needed) */
  uint64_t first, rows;     /* load rows [first, first+rows) */
  int threads;              /* each on its own pooled connection, a contiguous share of the range */
  fmh_bulk_method method;
  uint64_t chunk_rows;      /* infile: rows per LOAD DATA statement, 0 = one statement per thread */
  uint64_t batch_rows;      /* insert: max rows per INSERT, 0 = limited by bytes only */
  size_t batch_bytes;       /* insert: max statement bytes, 0 = max_allowed_packet - 1 KiB */
  /* Resumable loads. With resume, each statement runs in one transaction
   * with a row naming its source range in the journal table, so the
   * journal holds exactly the committed ranges, whether or not the client
   * saw the COMMIT answer; the load skips the ranges the journal holds for
   * load_id and, when it completes, deletes them. done lists ranges known
   * committed (skipped); doubt lists ranges whose commit answer was lost:
   * they are loaded again with duplicate keys skipped and counted. */
  int resume;
  const char *journal;      /* NULL: FMH_LOAD_JOURNAL, in the connection's database */
  const char *load_id;      /* the load's name in the journal; NULL: table */
  const fmh_range *done;
  size_t ndone;
  const fmh_range *doubt;
  size_t ndoubt;
  int progress;             /* progress lines on stderr (fmhost/progress.h, label "load"): one
                               count per committed statement, never per row */
} fmh_bulk_opts;

#define FMH_LOAD_JOURNAL "fmhost_load_journal"

typedef struct fmh_bulk_result {
  uint64_t rows;            /* rows the server inserted (never a skipped duplicate) */
  uint64_t duplicates;      /* rows the server skipped as duplicate keys */
  uint64_t statements;
  uint64_t bytes;           /* bytes of data sent */
  uint64_t warnings;        /* the server's warnings other than one per skipped duplicate */
  uint64_t rows_committed;  /* rows of [first, first+rows) in committed */
  uint64_t rows_resumed;    /* of those, rows committed before this call (journal, done) */
  fmh_range *committed;     /* source ranges committed, this call's and earlier; sorted, merged */
  size_t ncommitted;
  fmh_range *uncertain;     /* ranges sent whose commit answer never came */
  size_t nuncertain;
  double wall_s;
  int threads;
  int journaled;
} fmh_bulk_result;

/* Each statement is its own transaction (with its journal row when
 * resume): rows committed by finished statements stay when another fails,
 * and r says which (r is filled on failure too; free it with
 * fmh_bulk_result_free either way). A statement cut short by a failure
 * elsewhere or by its producer ends at a row boundary, so it commits a
 * prefix of its range that r counts exactly. */
int fmh_pool_load(fmh_pool *p, const fmh_row_source *src, const fmh_bulk_opts *o,
                  fmh_bulk_result *r, fmh_error *e);
void fmh_bulk_result_free(fmh_bulk_result *r);

/* The built-in source for the benchmark table (7 columns):
 *   id BIGINT PRIMARY KEY, i INT, d DECIMAL(22,9), f DOUBLE, s VARCHAR(64),
 *   ts DATETIME(6), b BOOLEAN
 * Row k is a pure function of (seed, k): id = k, f a multiple of 1/1024 in
 * [-2^30, 2^30) (exact in binary and in decimal text), s NULL for about 1
 * row in 50 and otherwise 0..64 characters including ',', '"', '\\' and
 * '\'', ts within 2000..2036 with microseconds. */
typedef struct fmh_bench_row {
  int64_t id;
  int32_t i;
  char d[40];               /* DECIMAL(22,9) text */
  double f;
  int s_null;
  char s[65];
  size_t s_len;
  char ts[40];              /* 'YYYY-MM-DD HH:MM:SS.ffffff' */
  int b;
} fmh_bench_row;

#define FMH_BENCH_DDL(name) \
  "CREATE TABLE " name " (id BIGINT NOT NULL PRIMARY KEY, i INT NOT NULL, d DECIMAL(22,9) NOT NULL, " \
  "f DOUBLE NOT NULL, s VARCHAR(64) NULL, ts DATETIME(6) NOT NULL, b BOOLEAN NOT NULL)"

void fmh_bench_row_make(uint64_t seed, uint64_t k, fmh_bench_row *r);
/* Format one row; returns its length or the size needed when > cap. */
size_t fmh_bench_row_format(const fmh_bench_row *r, int format, char *buf, size_t cap);
/* s->ctx must point at a uint64_t seed that outlives s. */
void fmh_bench_source_init(fmh_row_source *s, uint64_t *seed);

/* Write rows [first, first+count) of a source to a file: CSV lines, or
 * INSERT statements of batch_rows rows each ("INSERT INTO table VALUES ...;\n"). */
int fmh_source_write_file(const fmh_row_source *src, int format, const char *path, const char *table,
                          uint64_t first, uint64_t count, uint64_t batch_rows, fmh_error *e);

/* --- stress ---------------------------------------------------------- */

typedef struct fmh_stress_opts {
  int threads, acquires;    /* per thread */
  int hold_us_max;          /* hold each connection a random 0..hold_us_max us */
  int query;                /* run SELECT 1 while holding */
  int timeout_ms;           /* acquire timeout, <0 = the pool's */
  uint64_t seed;
} fmh_stress_opts;

typedef struct fmh_stress_result {
  uint64_t acquired, timeouts, errors, queries;
  int max_in_use;           /* highest number of connections held at once, counted by the threads */
  double wall_s;
  char first_error[256];
} fmh_stress_result;

int fmh_pool_stress(fmh_pool *p, const fmh_stress_opts *o, fmh_stress_result *r, fmh_error *e);

/* Take every connection, queue n threads one after another (each starts
 * once the previous one waits), then give the connections back; served[k]
 * is the 1-based number of the k-th waiter served. FIFO means
 * served[k] == k + 1. For specs of the waiting queue. */
int fmh_pool_fifo_probe(fmh_pool *p, int n, int *served, fmh_error *e);

#endif
