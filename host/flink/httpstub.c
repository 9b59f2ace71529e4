/* TEST SUPPORT ONLY (see include/fmhost/httpstub.h): a scripted HTTP server
 * on a thread, for the unit specs of the HTTP client's error handling.
 *
 * The thread serves one connection at a time: it reads a request (headers,
 * then a Content-Length or chunked body), records it, and answers as the
 * script says. Every wait is a poll() that also watches a self-pipe, so
 * fmh_httpstub_stop ends the thread promptly even while it "hangs". */
#include "fmhost/httpstub.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fmhost/log.h"

#define MAX_BODY (64u << 20)

typedef struct {
  int status;
  char *body;
  size_t body_len;
  char *content_type;
  long delay_ms;
  int hang, close;
} reply;

struct fmh_httpstub {
  int listen_fd;
  int wake[2];  /* self-pipe: written by stop */
  int port;
  pthread_t thread;
  reply *replies;
  size_t nreplies;
  pthread_mutex_t mu;
  fmh_httpstub_seen *seen;
  size_t nseen, capseen;
};

static char *dupn(const char *s, size_t n) {
  char *p = malloc(n + 1);
  if (!p) abort();
  if (n) memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

/* Wait until fd is readable (or writable); 1 ready, 0 stop requested, -1 error. */
static int wait_fd(fmh_httpstub *s, int fd, short events, long timeout_ms) {
  struct pollfd p[2] = {{.fd = fd, .events = events}, {.fd = s->wake[0], .events = POLLIN}};
  for (;;) {
    int r = poll(p, 2, timeout_ms < 0 ? -1 : (int)timeout_ms);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -1;
    if (p[1].revents) return 0;
    if (r == 0) return 2; /* timed out */
    return 1;
  }
}

/* Read until the request is complete. Returns 1 with the request in *seen,
 * 0 when stopping or the peer went away first. */
static int read_request(fmh_httpstub *s, int fd, fmh_httpstub_seen *seen) {
  fmh_buf b = {0};
  size_t head_end = 0, need = 0;
  int chunked = 0, have_head = 0;
  char tmp[16384];
  for (;;) {
    if (have_head) {
      if (!chunked && b.len >= head_end + need) break;
      if (chunked && b.len >= head_end + 5 && strstr(b.p + head_end, "0\r\n\r\n")) break;
    }
    int w = wait_fd(s, fd, POLLIN, -1);
    if (w != 1) { free(b.p); return 0; }
    ssize_t n = read(fd, tmp, sizeof tmp);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) { free(b.p); return 0; }
    if (b.len + (size_t)n > MAX_BODY) { free(b.p); return 0; }
    fmh_buf_putn(&b, tmp, (size_t)n);
    if (!have_head) {
      char *e = strstr(b.p, "\r\n\r\n");
      if (!e) continue;
      have_head = 1;
      head_end = (size_t)(e - b.p) + 4;
      /* the request line */
      char method[16] = "", target[4096] = "";
      if (sscanf(b.p, "%15s %4095s", method, target) != 2) { free(b.p); return 0; }
      snprintf(seen->method, sizeof seen->method, "%s", method);
      seen->target = dupn(target, strlen(target));
      seen->content_type = dupn("", 0);
      /* headers we need */
      for (char *line = strstr(b.p, "\r\n") + 2; line < e; line = strstr(line, "\r\n") + 2) {
        char *eol = strstr(line, "\r\n");
        size_t ll = (size_t)(eol - line);
        if (ll > 15 && strncasecmp(line, "Content-Length:", 15) == 0) {
          need = strtoul(line + 15, NULL, 10);
        } else if (ll > 18 && strncasecmp(line, "Transfer-Encoding:", 18) == 0) {
          chunked = memmem(line, ll, "chunked", 7) != NULL;
        } else if (ll > 13 && strncasecmp(line, "Content-Type:", 13) == 0) {
          const char *v = line + 13;
          while (*v == ' ') v++;
          free(seen->content_type);
          seen->content_type = dupn(v, (size_t)(eol - v));
        }
      }
      if (need > MAX_BODY) { free(b.p); return 0; }
    }
  }
  if (!chunked) {
    seen->body = dupn(b.p + head_end, need);
    seen->body_len = need;
  } else {
    /* de-chunk */
    fmh_buf out = {0};
    const char *p = b.p + head_end, *end = b.p + b.len;
    while (p < end) {
      size_t n = strtoul(p, NULL, 16);
      const char *crlf = strstr(p, "\r\n");
      if (!crlf || n == 0) break;
      p = crlf + 2;
      if (p + n > end) break;
      fmh_buf_putn(&out, p, n);
      p += n + 2;
    }
    seen->body = dupn(out.p ? out.p : "", out.len);
    seen->body_len = out.len;
    free(out.p);
  }
  free(b.p);
  return 1;
}

static void write_all(fmh_httpstub *s, int fd, const char *p, size_t n) {
  while (n > 0) {
    if (wait_fd(s, fd, POLLOUT, -1) != 1) return;
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    p += w;
    n -= (size_t)w;
  }
}

static const char *reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 202: return "Accepted";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 408: return "Request Timeout";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Status";
  }
}

static void serve(fmh_httpstub *s, int fd, size_t index) {
  fmh_httpstub_seen seen = {0};
  if (!read_request(s, fd, &seen)) {
    free(seen.target);
    free(seen.content_type);
    free(seen.body);
    return;
  }
  pthread_mutex_lock(&s->mu);
  if (s->nseen == s->capseen) {
    s->capseen = s->capseen ? s->capseen * 2 : 8;
    s->seen = realloc(s->seen, s->capseen * sizeof *s->seen);
    if (!s->seen) abort();
  }
  s->seen[s->nseen++] = seen;
  pthread_mutex_unlock(&s->mu);

  const reply *r = &s->replies[index < s->nreplies ? index : s->nreplies - 1];
  if (r->delay_ms > 0 && wait_fd(s, s->wake[0], POLLIN, r->delay_ms) == 0) return;
  if (r->close) return;
  if (r->hang) {
    /* keep the connection open, answer nothing, until the client gives up */
    char tmp[512];
    while (wait_fd(s, fd, POLLIN, -1) == 1) {
      ssize_t n = read(fd, tmp, sizeof tmp);
      if (n == 0 || (n < 0 && errno != EINTR)) break;
    }
    return;
  }
  char head[512];
  int hl = snprintf(head, sizeof head,
                    "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                    "Connection: close\r\n\r\n",
                    r->status, reason(r->status), r->content_type, r->body_len);
  write_all(s, fd, head, (size_t)hl);
  write_all(s, fd, r->body, r->body_len);
}

static void *run(void *ud) {
  fmh_httpstub *s = ud;
  size_t index = 0;
  for (;;) {
    if (wait_fd(s, s->listen_fd, POLLIN, -1) != 1) break;
    int fd = accept(s->listen_fd, NULL, NULL);
    if (fd < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED) continue;
      break;
    }
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    serve(s, fd, index++);
    shutdown(fd, SHUT_RDWR);
    close(fd);
  }
  return NULL;
}

fmh_httpstub *fmh_httpstub_start(const fmh_httpstub_reply *replies, size_t n, fmh_error *err) {
  if (n == 0) {
    fmh_error_set(err, "config", 0, 0, "the stub server needs at least one reply");
    return NULL;
  }
  fmh_httpstub *s = calloc(1, sizeof *s);
  if (!s) abort();
  s->listen_fd = -1;
  s->wake[0] = s->wake[1] = -1;
  pthread_mutex_init(&s->mu, NULL);
  s->replies = calloc(n, sizeof *s->replies);
  if (!s->replies) abort();
  s->nreplies = n;
  for (size_t i = 0; i < n; i++) {
    const fmh_httpstub_reply *r = &replies[i];
    s->replies[i].status = r->status ? r->status : 200;
    s->replies[i].body = dupn(r->body ? r->body : "", r->body ? r->body_len : 0);
    s->replies[i].body_len = r->body ? r->body_len : 0;
    s->replies[i].content_type = dupn(r->content_type ? r->content_type : "application/json",
                                      strlen(r->content_type ? r->content_type : "application/json"));
    s->replies[i].delay_ms = r->delay_ms;
    s->replies[i].hang = r->hang;
    s->replies[i].close = r->close;
  }
  if (pipe2(s->wake, O_CLOEXEC) != 0) goto fail;
  s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s->listen_fd < 0) goto fail;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(s->listen_fd, (struct sockaddr *)&a, sizeof a) != 0) goto fail;
  if (listen(s->listen_fd, 16) != 0) goto fail;
  socklen_t alen = sizeof a;
  if (getsockname(s->listen_fd, (struct sockaddr *)&a, &alen) != 0) goto fail;
  s->port = ntohs(a.sin_port);
  if (pthread_create(&s->thread, NULL, run, s) != 0) goto fail;
  return s;
fail:
  fmh_error_set(err, "os", errno, 0, "cannot start the stub server: %s", strerror(errno));
  if (s->listen_fd >= 0) close(s->listen_fd);
  if (s->wake[0] >= 0) { close(s->wake[0]); close(s->wake[1]); }
  s->listen_fd = s->wake[0] = -1;
  for (size_t i = 0; i < n; i++) { free(s->replies[i].body); free(s->replies[i].content_type); }
  free(s->replies);
  pthread_mutex_destroy(&s->mu);
  free(s);
  return NULL;
}

int fmh_httpstub_port(const fmh_httpstub *s) { return s->port; }

size_t fmh_httpstub_requests(fmh_httpstub *s, fmh_httpstub_seen **out) {
  pthread_mutex_lock(&s->mu);
  size_t n = s->nseen;
  fmh_httpstub_seen *copy = calloc(n ? n : 1, sizeof *copy);
  if (!copy) abort();
  for (size_t i = 0; i < n; i++) {
    memcpy(copy[i].method, s->seen[i].method, sizeof copy[i].method);
    copy[i].target = dupn(s->seen[i].target, strlen(s->seen[i].target));
    copy[i].content_type = dupn(s->seen[i].content_type, strlen(s->seen[i].content_type));
    copy[i].body = dupn(s->seen[i].body, s->seen[i].body_len);
    copy[i].body_len = s->seen[i].body_len;
  }
  pthread_mutex_unlock(&s->mu);
  *out = copy;
  return n;
}

void fmh_httpstub_seen_free(fmh_httpstub_seen *seen, size_t n) {
  if (!seen) return;
  for (size_t i = 0; i < n; i++) {
    free(seen[i].target);
    free(seen[i].content_type);
    free(seen[i].body);
  }
  free(seen);
}

void fmh_httpstub_stop(fmh_httpstub *s) {
  if (!s) return;
  ssize_t w;
  do { w = write(s->wake[1], "x", 1); } while (w < 0 && errno == EINTR);
  pthread_join(s->thread, NULL);
  close(s->listen_fd);
  close(s->wake[0]);
  close(s->wake[1]);
  for (size_t i = 0; i < s->nreplies; i++) {
    free(s->replies[i].body);
    free(s->replies[i].content_type);
  }
  free(s->replies);
  fmh_httpstub_seen_free(s->seen, s->nseen);
  pthread_mutex_destroy(&s->mu);
  free(s);
}
