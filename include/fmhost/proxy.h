/* fmhost.proxy: a TCP fault proxy, usable from plain C.
 *
 * A proxy listens on a local port and forwards every accepted connection to
 * one upstream (MariaDB, say). Its own thread runs an epoll loop; callers
 * only configure it. Toxics, switched at run time, change what the link
 * does: refuse and drop connections (down), reset them (reset_peer), delay
 * (latency + jitter), cap the rate (bandwidth), swallow data (blackhole,
 * timeout) or cut it into small delayed pieces (slicer). "up" is the client
 * to server direction, "down" the server to client one.
 *
 * A configuration call returns after the proxy thread has applied it, so a
 * connection attempted after fmh_proxy_set_toxic(.. DOWN ..) returns is
 * refused. Jitter and slice sizes come from a PRNG seeded by opts.seed.
 *
 * For specs the same engine also runs as an echo server (every byte a
 * client sends comes back to it), and a small blocking TCP client is here,
 * so that the proxy can be tested without a database. */
#ifndef FMHOST_PROXY_H
#define FMHOST_PROXY_H

#include <stddef.h>
#include <stdint.h>

#include "fmhost/error.h"

typedef struct fmh_proxy fmh_proxy;

typedef struct {
  const char *name;          /* for logs; "proxy" when NULL */
  const char *listen_host;   /* numeric or resolvable; "127.0.0.1" when NULL */
  int listen_port;           /* 0: an ephemeral port (see fmh_proxy_port) */
  const char *upstream_host; /* resolved once, at start */
  int upstream_port;
  int connect_timeout_ms;    /* upstream connect; 0: 5000 */
  uint64_t seed;             /* jitter and slice sizes */
} fmh_proxy_opts;

typedef enum {
  FMH_TOXIC_DOWN = 0,    /* refuse new connections (port closed), drop existing ones */
  FMH_TOXIC_RESET_PEER,  /* reset connections (RST), now, after timeout_ms or after_bytes */
  FMH_TOXIC_LATENCY,     /* delay every chunk by ms +- jitter_ms, order kept */
  FMH_TOXIC_BANDWIDTH,   /* at most rate_kib KiB/s */
  FMH_TOXIC_BLACKHOLE,   /* read and discard, never forward, never close */
  FMH_TOXIC_SLICER,      /* cut into avg_size +- size_variation byte pieces, delay_us apart */
  FMH_TOXIC_TIMEOUT,     /* as blackhole, and close the connection after timeout_ms */
  FMH_TOXIC_COUNT
} fmh_toxic_kind;

enum { FMH_DIR_UP = 1, FMH_DIR_DOWN = 2, FMH_DIR_BOTH = 3 };

typedef struct {
  fmh_toxic_kind kind;
  int direction;           /* FMH_DIR_*; for reset_peer: whose bytes count toward after_bytes */
  double ms, jitter_ms;    /* latency */
  double rate_kib;         /* bandwidth, KiB (1024 bytes) per second, > 0 */
  int avg_size;            /* slicer, bytes, >= 1 */
  int size_variation;      /* slicer, bytes, < avg_size */
  int delay_us;            /* slicer, between pieces */
  long long after_bytes;   /* reset_peer: let this many bytes pass, reset at the next; -1: no limit */
  int timeout_ms;          /* reset_peer: reset this long after activation or accept (0: now);
                              timeout: close this long after (0: never, i.e. blackhole) */
  int reset;               /* down: drop existing connections with RST instead of FIN */
} fmh_proxy_toxic;

typedef struct {
  uint64_t bytes_up, bytes_down;       /* forwarded (written to the other side) */
  uint64_t bytes_dropped;              /* read and discarded by blackhole/timeout/reset_peer */
  uint64_t accepted, active, closed;   /* connections */
  uint64_t upstream_errors;            /* upstream connect failures */
  /* what each toxic did: down: connections dropped; reset_peer: connections
   * reset; latency: chunks delayed; bandwidth: writes held back; blackhole:
   * chunks discarded; slicer: chunks sliced; timeout: connections closed */
  uint64_t activations[FMH_TOXIC_COUNT];
} fmh_proxy_stats;

/* Start a proxy. NULL with err set (kind "os") when the listen port cannot
 * be bound or the upstream does not resolve. */
fmh_proxy *fmh_proxy_start(const fmh_proxy_opts *opts, fmh_error *err);
/* Start an echo server: a proxy whose upstream is the client itself. Toxics
 * apply (the "up" direction is the only one). */
fmh_proxy *fmh_proxy_start_echo(const fmh_proxy_opts *opts, fmh_error *err);
/* Stop the thread, close every socket, free p. NULL is fine. */
void fmh_proxy_close(fmh_proxy *p);

int fmh_proxy_port(const fmh_proxy *p);
const char *fmh_proxy_name(const fmh_proxy *p);
const char *fmh_proxy_upstream_host(const fmh_proxy *p); /* NULL for an echo server */
int fmh_proxy_upstream_port(const fmh_proxy *p);
int fmh_proxy_is_echo(const fmh_proxy *p);

/* Set (or replace) a toxic for the directions in t->direction. Returns 0,
 * or -1 with err (kind "config") when a parameter is out of range. */
int fmh_proxy_set_toxic(fmh_proxy *p, const fmh_proxy_toxic *t, fmh_error *err);
/* Remove a toxic in the given directions; returns how many slots were set. */
int fmh_proxy_remove_toxic(fmh_proxy *p, fmh_toxic_kind kind, int direction);
void fmh_proxy_clear(fmh_proxy *p);
/* Close every open connection once (RST when abortive, else FIN), leaving
 * no toxic behind: new connections work at once. Returns how many. */
int fmh_proxy_close_connections(fmh_proxy *p, int abortive);
/* The active toxics: fills up to max entries, one per kind and direction
 * (a toxic with the same parameters both ways is one entry with
 * direction FMH_DIR_BOTH); returns the count. */
int fmh_proxy_list_toxics(fmh_proxy *p, fmh_proxy_toxic *out, int max);
void fmh_proxy_get_stats(fmh_proxy *p, fmh_proxy_stats *out);

const char *fmh_proxy_toxic_name(fmh_toxic_kind kind);
/* -1 when unknown */
int fmh_proxy_toxic_kind_of(const char *name);
/* Defaults for a kind (the values fmh_proxy_set_toxic would use). */
void fmh_proxy_toxic_defaults(fmh_toxic_kind kind, fmh_proxy_toxic *t);

/* --- a blocking TCP client for specs ---------------------------------
 * Every call has its own timeout. Errors: kind "timeout" (retryable) or
 * "os" with code = errno (ECONNREFUSED, ECONNRESET, ...). */
int fmh_proxy_client_connect(const char *host, int port, int timeout_ms, fmh_error *err);
/* Send all of buf. 0, or -1 with err. */
int fmh_proxy_client_send(int fd, const void *buf, size_t len, int timeout_ms, fmh_error *err);
/* Read until n bytes or end of stream; *eof = 1 when the peer closed.
 * Returns the count read (the bytes are in buf even on error), or -1 with
 * err; *got holds the count in both cases. */
long fmh_proxy_client_recv(int fd, void *buf, size_t n, size_t *got, int *eof, int timeout_ms,
                           fmh_error *err);
/* Send out while reading n bytes into in, both at once (an echo of a large
 * payload would deadlock if done one after the other). Returns the count
 * read, or -1 with err; *got and *eof as for recv. */
long fmh_proxy_client_exchange(int fd, const void *out, size_t outlen, void *in, size_t n,
                               size_t *got, int *eof, int timeout_ms, fmh_error *err);

#endif
