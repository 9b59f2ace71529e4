/* fmhost.pool, connecting: the pool options (defaults, copies, checks),
 * the TLS guard that refuses a server without TLS before authenticating,
 * opening one connection with retries, a connection's error and query
 * helpers, and freeing a connection. The pool itself is in pool.c. */
#include "fmhost/pool.h"

#include <errno.h>
#include <errmsg.h>
#include <fcntl.h>
#include <math.h>
#include <mysql/plugin_auth.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fmhost/log.h"
#include "fmhost/retry.h"
#include "pool_internal.h"


/* --- refusing a server without TLS before authenticating -----------------
 *
 * libmariadb 3.3 refuses a server that does not offer TLS before it sends
 * the user name and password only when it also checks the host name
 * (MYSQL_OPT_SSL_VERIFY_SERVER_CERT) or a certificate fingerprint;
 * MYSQL_OPT_SSL_ENFORCE merely asks for TLS, and without it the login goes
 * out in plain text. So modes required and verify-ca (and verify-identity,
 * for one message) start the handshake with this client authentication
 * plugin: it runs after the server's greeting, before anything about the
 * user is sent, and fails when the greeting does not offer TLS. Otherwise
 * it sends an empty answer over the now encrypted session, and the server
 * switches to the account's own plugin (one more round trip).
 *
 * Debian's <mysql/client_plugin.h> includes <ma_compress.h>, which
 * libmariadb-dev does not ship, so the plugin's layout is spelled out here:
 * the client plugin ABI (MYSQL_CLIENT_PLUGIN_HEADER followed by
 * authenticate_user, interface version 1.0). */
struct tls_guard_plugin {
  int type;
  unsigned int interface_version;
  const char *name, *author, *desc;
  unsigned int version[3];
  const char *license;
  void *mysql_api;
  int (*init)(char *, size_t, int, va_list);
  int (*deinit)(void);
  int (*options)(const char *, const void *);
  int (*authenticate_user)(MYSQL_PLUGIN_VIO *vio, MYSQL *mysql);
};

#define TLS_GUARD "fmhost_tls_guard"
enum { GUARD_NOT_RUN = 0, GUARD_REFUSED, GUARD_PASSED };
/* what the guard saw on this thread's current connect */
static _Thread_local int guard_seen;

static int tls_guard_auth(MYSQL_PLUGIN_VIO *vio, MYSQL *mysql) {
  unsigned long caps = 0;
  if (mariadb_get_infov(mysql, MARIADB_CONNECTION_SERVER_CAPABILITIES, &caps) != 0 || !(caps & CLIENT_SSL)) {
    guard_seen = GUARD_REFUSED;
    /* nothing was sent. CR_ERROR, not a CR_ code: libmariadb formats the
     * latter's message without arguments, and CR_SSL_CONNECTION_ERROR's
     * has a %s; connect_mysql words the error from guard_seen */
    return CR_ERROR;
  }
  guard_seen = GUARD_PASSED;
  /* the handshake answer: TLS starts first (and checks the certificate as
   * configured), then the server asks for the account's plugin */
  return vio->write_packet(vio, (const unsigned char *)"", 0) ? CR_ERROR : CR_OK;
}

static struct tls_guard_plugin tls_guard = {
    2 /* MYSQL_CLIENT_AUTHENTICATION_PLUGIN */, 0x0100, TLS_GUARD, "fmhost",
    "refuses a server that does not offer TLS before authenticating", {1, 0, 0}, "GPL", NULL, NULL, NULL,
    NULL, tls_guard_auth};
static int tls_guard_ready;

pthread_once_t fmh_pool_lib_once = PTHREAD_ONCE_INIT;
void fmh_pool_lib_init(void) {
  mysql_library_init(0, NULL, NULL);
  MYSQL *m = mysql_init(NULL);
  if (!m) return;
  tls_guard_ready = mysql_client_register_plugin(m, (struct st_mysql_client_plugin *)(void *)&tls_guard) != NULL;
  mysql_close(m);
}

double fmh_pool_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void fmh_pool_opts_default(fmh_pool_opts *o) {
  memset(o, 0, sizeof *o);
  o->name = "pool";
  o->host = "127.0.0.1";
  o->port = 3306;
  o->charset = "utf8mb4";
  o->size = 4;
  o->acquire_timeout_ms = 5000;
  o->validate_after_ms = 1000;
  o->housekeeping_ms = 500;
  o->connect_timeout_ms = 5000;
  o->read_timeout_ms = 60000;
  o->write_timeout_ms = 60000;
  o->local_infile = 1;
  o->tls_mode = FMH_TLS_DISABLED;
  fmh_retry_policy_default(&o->connect_retry);
  o->connect_retry.max_attempts = 1;
}

static const char *tls_names[] = {"disabled", "preferred", "required", "verify-ca", "verify-identity"};

int fmh_tls_mode_parse(const char *s) {
  for (int i = 0; i < 5; i++)
    if (strcmp(s, tls_names[i]) == 0) return i;
  return -1;
}

const char *fmh_tls_mode_name(fmh_tls_mode m) {
  return (m >= 0 && m <= FMH_TLS_VERIFY_IDENTITY) ? tls_names[m] : "?";
}

static char *dup_or_null(const char *s) { return (s && *s) ? strdup(s) : NULL; }

void fmh_pool_free_opts(fmh_pool_opts *o) {
  free((char *)o->name);
  free((char *)o->host);
  free((char *)o->socket);
  free((char *)o->user);
  free((char *)o->password);
  free((char *)o->database);
  free((char *)o->charset);
  free((char *)o->time_zone);
  free((char *)o->sql_mode);
  free((char *)o->init_sql);
  free((char *)o->tls_ca);
  free((char *)o->tls_cert);
  free((char *)o->tls_key);
}

void fmh_pool_copy_opts(fmh_pool_opts *d, const fmh_pool_opts *s) {
  *d = *s;
  d->name = strdup(s->name && *s->name ? s->name : "pool");
  d->host = dup_or_null(s->host);
  d->socket = dup_or_null(s->socket);
  d->user = dup_or_null(s->user);
  d->password = s->password ? strdup(s->password) : NULL; /* "" is a password */
  d->database = dup_or_null(s->database);
  d->charset = strdup(s->charset && *s->charset ? s->charset : "utf8mb4");
  d->time_zone = dup_or_null(s->time_zone);
  d->sql_mode = s->sql_mode ? strdup(s->sql_mode) : NULL;  /* "" is a mode */
  d->init_sql = dup_or_null(s->init_sql);
  d->tls_ca = dup_or_null(s->tls_ca);
  d->tls_cert = dup_or_null(s->tls_cert);
  d->tls_key = dup_or_null(s->tls_key);
}

/* A TLS file the pool will hand to libmariadb must be a readable regular
 * file: libmariadb's own errors do not name the file. */
static int check_tls_file(const char *what, const char *path, fmh_error *e) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    fmh_error_set(e, "config", errno, 0, "pool: tls %s '%s' cannot be read: %s", what, path, strerror(errno));
    return -1;
  }
  struct stat st;
  int regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  close(fd);
  if (!regular) {
    fmh_error_set(e, "config", 0, 0, "pool: tls %s '%s' is not a regular file", what, path);
    return -1;
  }
  return 0;
}

/* The CA is used only to check the server's certificate: modes preferred
 * and required encrypt without a check. */
static int tls_uses_ca(fmh_tls_mode m) { return m == FMH_TLS_VERIFY_CA || m == FMH_TLS_VERIFY_IDENTITY; }

int fmh_pool_check_opts(const fmh_pool_opts *o, fmh_error *e) {
  const char *bad = NULL;
  if (o->size < 1 || o->size > 10000) bad = "size must be 1..10000";
  else if (o->min_idle < 0 || o->min_idle > o->size) bad = "min_idle must be 0..size";
  else if (o->acquire_timeout_ms < 0) bad = "acquire_timeout_ms must be >= 0";
  else if (o->max_lifetime_ms < 0) bad = "max_lifetime_ms must be >= 0";
  else if (o->idle_timeout_ms < 0) bad = "idle_timeout_ms must be >= 0";
  else if (o->housekeeping_ms < 1) bad = "housekeeping_ms must be >= 1";
  else if (o->connect_timeout_ms < 1) bad = "connect_timeout_ms must be >= 1";
  else if (o->read_timeout_ms < 1) bad = "read_timeout_ms must be >= 1";
  else if (o->write_timeout_ms < 1) bad = "write_timeout_ms must be >= 1";
  else if (o->port > 65535) bad = "port must be 0..65535";
  else if ((o->time_zone && strpbrk(o->time_zone, "'\\")) || (o->sql_mode && strpbrk(o->sql_mode, "'\\")))
    bad = "time_zone and sql_mode may not contain quotes or backslashes";
  else if ((o->tls_mode == FMH_TLS_VERIFY_CA || o->tls_mode == FMH_TLS_VERIFY_IDENTITY) && !(o->tls_ca && *o->tls_ca))
    bad = "tls mode verify-ca and verify-identity need tls ca";
  else if ((o->tls_cert && *o->tls_cert) != (o->tls_key && *o->tls_key))
    bad = "tls cert and key go together";
  if (!bad && o->tls_mode != FMH_TLS_DISABLED) {
    if (tls_uses_ca(o->tls_mode) && check_tls_file("ca", o->tls_ca, e) != 0) return -1;
    if (o->tls_cert && *o->tls_cert && check_tls_file("cert", o->tls_cert, e) != 0) return -1;
    if (o->tls_key && *o->tls_key && check_tls_file("key", o->tls_key, e) != 0) return -1;
  }
  if (!bad) {
    if (fmh_retry_policy_check(&o->connect_retry, e) == 0) return 0;
    char why[sizeof e->msg];
    snprintf(why, sizeof why, "%s", e->msg);
    fmh_error_set(e, "config", 0, 0, "pool: connect_retry: %s", why);
    return -1;
  }
  fmh_error_set(e, "config", 0, 0, "pool: %s", bad);
  return -1;
}

/* --- errors ------------------------------------------------------------ */

void fmh_pool_fill_error(fmh_error *e, unsigned code, const char *state, const char *text,
                         const char *what) {
  const char *cls;
  int r = fmh_retry_classify_mysql((int)code, &cls);
  fmh_error_set(e, "mysql", (int)code, r, "%s: %s (error %u, sqlstate %s)", what, text, code,
                state && *state ? state : "HY000");
  snprintf(e->sqlstate, sizeof e->sqlstate, "%s", state && *state ? state : "HY000");
}

/* The classes after which the session itself is gone. */
int fmh_pool_code_kills_conn(unsigned code) {
  const char *cls;
  fmh_retry_classify_mysql((int)code, &cls);
  return strcmp(cls, "connection") == 0 || strcmp(cls, "shutdown") == 0 || code == 1927 ||
         code == CR_COMMANDS_OUT_OF_SYNC || code == CR_MALFORMED_PACKET;
}

const char *fmh_pool_error_class(const fmh_error *e) {
  const char *cls = e->kind ? e->kind : "error";
  if (e->kind && strcmp(e->kind, "mysql") == 0) fmh_retry_classify_mysql(e->code, &cls);
  else if (e->kind && strcmp(e->kind, "timeout") == 0) cls = "pool_exhausted";
  return cls;
}

int fmh_conn_error(fmh_conn *c, fmh_error *e, const char *what) {
  unsigned code = mysql_errno(c->my);
  if (code == 0) {
    fmh_error_set(e, "mysql", 0, 0, "%s failed without an error from the server", what);
    return -1;
  }
  fmh_pool_fill_error(e, code, mysql_sqlstate(c->my), mysql_error(c->my), what);
  if (fmh_pool_code_kills_conn(code)) c->broken = 1;
  return -1;
}

void fmh_conn_mark_broken(fmh_conn *c) { c->broken = 1; }
int fmh_conn_is_broken(const fmh_conn *c) { return c->broken; }
MYSQL *fmh_conn_mysql(fmh_conn *c) { return c->my; }
fmh_pool *fmh_conn_pool(fmh_conn *c) { return c->pool; }
uint64_t fmh_conn_serial(const fmh_conn *c) { return c->serial; }
const char *fmh_pool_name(const fmh_pool *p) { return p->o.name; }

int fmh_pool_is_local(const fmh_pool *p) {
  const char *h = p->o.host;
  return !h || !*h || !strcmp(h, "localhost") || !strncmp(h, "127.", 4) || !strcmp(h, "::1");
}

int fmh_conn_exec(fmh_conn *c, const char *sql, size_t len, fmh_error *e) {
  if (mysql_real_query(c->my, sql, (unsigned long)len) != 0) return fmh_conn_error(c, e, "query");
  do {
    MYSQL_RES *r = mysql_store_result(c->my);
    if (r) mysql_free_result(r);
    else if (mysql_field_count(c->my) != 0) return fmh_conn_error(c, e, "query");
  } while (mysql_next_result(c->my) == 0);
  if (mysql_errno(c->my)) return fmh_conn_error(c, e, "query");
  return 0;
}

int fmh_conn_in_transaction(fmh_conn *c) {
  unsigned int status = 0;
  if (mariadb_get_infov(c->my, MARIADB_CONNECTION_SERVER_STATUS, &status) != 0) return 0;
  return (status & SERVER_STATUS_IN_TRANS) != 0;
}

int fmh_conn_ping(fmh_conn *c, fmh_error *e) {
  if (mysql_ping(c->my) != 0) return fmh_conn_error(c, e, "ping");
  return 0;
}

/* --- connections ------------------------------------------------------- */

static unsigned secs(int ms) { return (unsigned)((ms + 999) / 1000); }

static void describe_target(const fmh_pool *p, char *buf, size_t n) {
  const fmh_pool_opts *o = &p->o;
  if (o->host && strcmp(o->host, "localhost") == 0 && o->socket)
    snprintf(buf, n, "%s@%s/%s", o->user ? o->user : "", o->socket, o->database ? o->database : "");
  else
    snprintf(buf, n, "%s@%s:%u/%s", o->user ? o->user : "", o->host ? o->host : "127.0.0.1", o->port,
             o->database ? o->database : "");
}

/* A TLS failure in the user's terms: what was being checked (mode, CA,
 * host) and what libmariadb said. Never retryable: the same options fail the
 * same way. */
static void tls_error(const fmh_pool_opts *o, MYSQL *m, int refused, const char *what, fmh_error *e) {
  const char *mode = fmh_tls_mode_name(o->tls_mode), *lib = mysql_error(m);
  char text[sizeof e->msg];
  if (refused) {
    snprintf(text, sizeof text,
             "TLS required (mode %s) but the server does not offer TLS: refused before sending the user name "
             "or password, since the session is not encrypted",
             mode);
  } else if (tls_uses_ca(o->tls_mode) && (strstr(lib, "certificate") || strstr(lib, "verif"))) {
    char host[300] = "";
    if (o->tls_mode == FMH_TLS_VERIFY_IDENTITY)
      snprintf(host, sizeof host, ", host %s", o->host ? o->host : "127.0.0.1");
    snprintf(text, sizeof text, "server certificate verification failed (tls mode %s%s, ca %s): %s", mode, host,
             o->tls_ca, lib);
  } else if (tls_uses_ca(o->tls_mode)) {
    snprintf(text, sizeof text, "TLS handshake failed (tls mode %s, ca %s): %s", mode, o->tls_ca, lib);
  } else {
    snprintf(text, sizeof text, "TLS handshake failed (tls mode %s): %s", mode, lib);
  }
  const char *state = mysql_sqlstate(m);
  fmh_pool_fill_error(e, CR_SSL_CONNECTION_ERROR, refused ? "08001" : state, text, what);
  e->retryable = 0;
}

/* Open one MYSQL session with every option of the pool. */
static MYSQL *connect_mysql(fmh_pool *p, fmh_error *e) {
  const fmh_pool_opts *o = &p->o;
  char what[600], target[512];
  describe_target(p, target, sizeof target);
  snprintf(what, sizeof what, "connect %s", target);
  MYSQL *m = mysql_init(NULL);
  if (!m) {
    fmh_error_set(e, "os", ENOMEM, 0, "%s: out of memory", what);
    return NULL;
  }
  unsigned ct = secs(o->connect_timeout_ms), rt = secs(o->read_timeout_ms), wt = secs(o->write_timeout_ms);
  mysql_optionsv(m, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
  mysql_optionsv(m, MYSQL_OPT_READ_TIMEOUT, &rt);
  mysql_optionsv(m, MYSQL_OPT_WRITE_TIMEOUT, &wt);
  mysql_optionsv(m, MYSQL_SET_CHARSET_NAME, o->charset);
  unsigned li = o->local_infile ? 1 : 0;
  mysql_optionsv(m, MYSQL_OPT_LOCAL_INFILE, &li);
  my_bool no = 0, yes = 1;
  mysql_optionsv(m, MYSQL_OPT_RECONNECT, &no); /* the pool replaces, never reconnects silently */
  char init[512];
  if (o->time_zone) {
    snprintf(init, sizeof init, "SET time_zone = '%s'", o->time_zone);
    mysql_optionsv(m, MYSQL_INIT_COMMAND, init);
  }
  if (o->sql_mode) {
    snprintf(init, sizeof init, "SET sql_mode = '%s'", o->sql_mode);
    mysql_optionsv(m, MYSQL_INIT_COMMAND, init);
  }
  if (o->init_sql) mysql_optionsv(m, MYSQL_INIT_COMMAND, o->init_sql);
  int guarded = 0;
  if (o->tls_mode != FMH_TLS_DISABLED) {
    mysql_ssl_set(m, o->tls_key, o->tls_cert, tls_uses_ca(o->tls_mode) ? o->tls_ca : NULL, NULL, NULL);
    if (o->tls_mode >= FMH_TLS_REQUIRED) {
      mysql_optionsv(m, MYSQL_OPT_SSL_ENFORCE, &yes);
      if (tls_guard_ready) {
        mysql_optionsv(m, MYSQL_DEFAULT_AUTH, TLS_GUARD);
        guarded = 1;
      }
    }
    my_bool verify = o->tls_mode == FMH_TLS_VERIFY_IDENTITY;
    mysql_optionsv(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
  }
  guard_seen = GUARD_NOT_RUN;
  if (!mysql_real_connect(m, o->host, o->user, o->password, o->database, o->port, o->socket, 0)) {
    unsigned code = mysql_errno(m);
    if (code == CR_SSL_CONNECTION_ERROR || (guarded && guard_seen == GUARD_REFUSED)) {
      tls_error(o, m, guarded && guard_seen == GUARD_REFUSED, what, e);
    } else {
      fmh_pool_fill_error(e, code, mysql_sqlstate(m), mysql_error(m), what);
    }
    mysql_close(m);
    return NULL;
  }
  if (o->tls_mode >= FMH_TLS_REQUIRED && !mysql_get_ssl_cipher(m)) {
    /* only a server that announces no authentication plugins gets here
     * (MariaDB and MySQL announce them since 5.5): the guard did not run */
    char text[200];
    snprintf(text, sizeof text, "TLS required (mode %s) but the session is not encrypted",
             fmh_tls_mode_name(o->tls_mode));
    fmh_pool_fill_error(e, CR_SSL_CONNECTION_ERROR, "08001", text, what);
    mysql_close(m);
    return NULL;
  }
  return m;
}

typedef struct {
  fmh_pool *p;
  MYSQL *m;
} connect_ctx;

static int connect_attempt(void *ctx, int attempt, fmh_error *e) {
  connect_ctx *x = ctx;
  (void)attempt;
  x->m = connect_mysql(x->p, e);
  return x->m ? 0 : -1;
}

/* connect_mysql under the pool's connect_retry policy. */
MYSQL *fmh_pool_connect_retrying(fmh_pool *p, fmh_error *e) {
  if (p->o.connect_retry.max_attempts <= 1) return connect_mysql(p, e);
  connect_ctx x = {p, NULL};
  uint64_t run = atomic_fetch_add(&p->connect_runs, 1);
  uint64_t seed = p->o.connect_retry.seed ^ (run * 0x9E3779B97F4A7C15ULL);
  if (fmh_retry_run(&p->o.connect_retry, seed, connect_attempt, &x, e, NULL) != 0) return NULL;
  return x.m;
}

fmh_conn *fmh_pool_conn_new(fmh_pool *p, MYSQL *m) {
  fmh_conn *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->pool = p;
  c->my = m;
  c->created_ms = c->last_used_ms = fmh_pool_now_ms();
  c->thread_id = mysql_thread_id(m);
  return c;
}

/* Close the session and free the struct; p->mu must not be held. The
 * statement cache is the connection's memory, so it is freed here. */
void fmh_pool_conn_free(fmh_conn *c) {
  for (int i = 0; i < c->nstmts; i++) {
    mysql_stmt_close(c->stmts[i].stmt);
    free(c->stmts[i].sql);
  }
  c->nstmts = 0;
  if (c->my) mysql_close(c->my);
  free(c);
}
