/* fmhost.proxy sockets: the clock, address resolution, socket options,
 * listening sockets bound to an explicit port, and the blocking spec client. */
#include "proxy_int.h"

usec fmh_proxy_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (usec)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* --- sockets ---------------------------------------------------------- */

void fmh_proxy_set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

void fmh_proxy_set_abortive(int fd) {
  struct linger lg = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
}

int fmh_proxy_resolve(const char *host, int port, int passive, struct sockaddr_storage *out,
                   socklen_t *outlen, fmh_error *err, const char *what) {
  struct addrinfo hints = {0}, *res = NULL;
  char portstr[16];
  snprintf(portstr, sizeof portstr, "%d", port);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  int rc = getaddrinfo(host, portstr, &hints, &res);
  if (rc != 0 || !res) {
    fmh_error_set(err, "os", rc, 0, "cannot resolve %s host '%s': %s", what, host, gai_strerror(rc));
    return -1;
  }
  /* "localhost" may list ::1 first while servers here listen on 127.0.0.1 */
  struct addrinfo *pick = res;
  for (struct addrinfo *r = res; r; r = r->ai_next)
    if (r->ai_family == AF_INET) {
      pick = r;
      break;
    }
  memcpy(out, pick->ai_addr, pick->ai_addrlen);
  *outlen = pick->ai_addrlen;
  freeaddrinfo(res);
  return 0;
}

static void set_port(struct sockaddr_storage *a, int port) {
  if (a->ss_family == AF_INET) ((struct sockaddr_in *)a)->sin_port = htons((uint16_t)port);
  else if (a->ss_family == AF_INET6) ((struct sockaddr_in6 *)a)->sin6_port = htons((uint16_t)port);
}

static int get_port(int fd) {
  struct sockaddr_storage a;
  socklen_t len = sizeof a;
  if (getsockname(fd, (struct sockaddr *)&a, &len) != 0) return -1;
  if (a.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&a)->sin_port);
  if (a.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&a)->sin6_port);
  return -1;
}

static int bound_socket(const struct sockaddr_storage *a, socklen_t len) {
  int fd = socket(a->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, (const struct sockaddr *)a, len) != 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

/* A listening socket bound to an explicit port (see the file comment). */
int fmh_proxy_open_listener(fmh_proxy *p, int port, fmh_error *err) {
  struct sockaddr_storage a = p->listen_addr;
  int probe = -1;
  if (port == 0) {
    probe = bound_socket(&a, p->listen_len);
    if (probe < 0 || (port = get_port(probe)) <= 0) goto fail;
  }
  set_port(&a, port);
  int fd = bound_socket(&a, p->listen_len);
  if (fd < 0) goto fail;
  if (probe >= 0) close(probe);
  if (listen(fd, 128) != 0) {
    int e = errno;
    close(fd);
    errno = e;
    probe = -1;
    goto fail;
  }
  p->port = port;
  return fd;
fail : {
  int e = errno;
  if (probe >= 0) close(probe);
  char host[INET6_ADDRSTRLEN] = "?";
  const void *ip = a.ss_family == AF_INET6 ? (const void *)&((struct sockaddr_in6 *)&a)->sin6_addr
                                           : (const void *)&((struct sockaddr_in *)&a)->sin_addr;
  inet_ntop(a.ss_family, ip, host, sizeof host);
  fmh_error_set(err, "os", e, 0, "proxy '%s': cannot listen on %s:%d: %s", p->name, host, port,
                strerror(e));
  return -1;
}
}


/* --- the spec client ---------------------------------------------------- */

static int remaining_ms(usec deadline) {
  usec left = deadline - fmh_proxy_now_us();
  return left <= 0 ? 0 : (int)((left + 999) / 1000);
}

static void os_error(fmh_error *err, int e, const char *what) {
  fmh_error_set(err, "os", e, e == ECONNREFUSED || e == ECONNRESET || e == EPIPE || e == ETIMEDOUT, "%s: %s",
                what, strerror(e));
}

int fmh_proxy_client_connect(const char *host, int port, int timeout_ms, fmh_error *err) {
  struct sockaddr_storage a;
  socklen_t len;
  if (fmh_proxy_resolve(host, port, 0, &a, &len, err, "client") != 0) return -1;
  int fd = socket(a.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    os_error(err, errno, "socket");
    return -1;
  }
  fmh_proxy_set_nodelay(fd);
  if (connect(fd, (struct sockaddr *)&a, len) == 0) return fd;
  if (errno != EINPROGRESS) {
    int e = errno;
    close(fd);
    fmh_error_set(err, "os", e, 1, "connect to %s:%d: %s", host, port, strerror(e));
    return -1;
  }
  struct pollfd pf = {.fd = fd, .events = POLLOUT};
  int rc;
  do rc = poll(&pf, 1, timeout_ms);
  while (rc < 0 && errno == EINTR);
  if (rc == 0) {
    close(fd);
    fmh_error_set(err, "timeout", ETIMEDOUT, 1, "connect to %s:%d timed out after %d ms", host, port, timeout_ms);
    return -1;
  }
  int soerr = 0;
  socklen_t sl = sizeof soerr;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
  if (rc < 0 || soerr != 0) {
    int e = rc < 0 ? errno : soerr;
    close(fd);
    fmh_error_set(err, "os", e, 1, "connect to %s:%d: %s", host, port, strerror(e));
    return -1;
  }
  return fd;
}

long fmh_proxy_client_exchange(int fd, const void *out, size_t outlen, void *in, size_t n, size_t *got,
                               int *eof, int timeout_ms, fmh_error *err) {
  usec deadline = fmh_proxy_now_us() + (usec)timeout_ms * 1000;
  size_t sent = 0;
  *got = 0;
  *eof = 0;
  while (sent < outlen || (*got < n && !*eof)) {
    struct pollfd pf = {.fd = fd, .events = 0};
    if (sent < outlen) pf.events |= POLLOUT;
    if (*got < n && !*eof) pf.events |= POLLIN;
    int left = remaining_ms(deadline);
    int rc = left > 0 ? poll(&pf, 1, left) : 0;
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) {
      os_error(err, errno, "poll");
      return -1;
    }
    if (rc == 0) {
      fmh_error_set(err, "timeout", ETIMEDOUT, 1,
                    "timed out after %d ms (sent %zu of %zu bytes, received %zu of %zu)", timeout_ms, sent,
                    outlen, *got, n);
      return -1;
    }
    if ((pf.revents & (POLLIN | POLLHUP | POLLERR)) && *got < n && !*eof) {
      ssize_t r = recv(fd, (char *)in + *got, n - *got, 0);
      if (r > 0) *got += (size_t)r;
      else if (r == 0) *eof = 1;
      else if (errno != EAGAIN && errno != EINTR) {
        os_error(err, errno, "recv");
        return -1;
      }
    }
    if ((pf.revents & (POLLOUT | POLLERR)) && sent < outlen) {
      ssize_t w = send(fd, (const char *)out + sent, outlen - sent, MSG_NOSIGNAL);
      if (w > 0) sent += (size_t)w;
      else if (w < 0 && errno != EAGAIN && errno != EINTR) {
        os_error(err, errno, "send");
        return -1;
      }
    }
  }
  return (long)*got;
}

int fmh_proxy_client_send(int fd, const void *buf, size_t len, int timeout_ms, fmh_error *err) {
  size_t got;
  int eof;
  return fmh_proxy_client_exchange(fd, buf, len, NULL, 0, &got, &eof, timeout_ms, err) < 0 ? -1 : 0;
}

long fmh_proxy_client_recv(int fd, void *buf, size_t n, size_t *got, int *eof, int timeout_ms, fmh_error *err) {
  return fmh_proxy_client_exchange(fd, NULL, 0, buf, n, got, eof, timeout_ms, err);
}
