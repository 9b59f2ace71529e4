/* fmhost.proc, ports: whether a port answers or is free, who listens on it
 * (from /proc/net/tcp and the fds in /proc), and holding one open. */
#include "fmhost/proc.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fmhost/buf.h"
#include "fmhost/log.h"

/* --- ports -------------------------------------------------------------------- */

static struct addrinfo *resolve(const char *host, int port, int passive) {
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = passive ? AI_PASSIVE : 0;
  char ps[16];
  snprintf(ps, sizeof ps, "%d", port);
  if (getaddrinfo(host, ps, &hints, &res) != 0) return NULL;
  return res;
}

int fmh_proc_port_open(const char *host, int port, long timeout_ms) {
  struct addrinfo *res = resolve(host ? host : "127.0.0.1", port, 0);
  if (!res) return 0;
  int open_ = 0;
  double deadline = fmh_proc_now_ms() + (double)timeout_ms;
  for (struct addrinfo *a = res; a && !open_; a = a->ai_next) {
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) continue;
    int rc = connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc == 0) {
      open_ = 1;
    } else if (errno == EINPROGRESS) {
      double left = deadline - fmh_proc_now_ms();
      struct pollfd pf = {fd, POLLOUT, 0};
      if (left > 0 && poll(&pf, 1, (int)left + 1) == 1) {
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0) open_ = 1;
      }
    }
    close(fd);
  }
  freeaddrinfo(res);
  return open_;
}

int fmh_proc_port_free(const char *host, int port, fmh_error *err) {
  if (!host) host = "127.0.0.1";
  struct addrinfo *res = resolve(host, port, 1);
  if (!res) {
    fmh_error_set(err, "os", EINVAL, 0, "cannot resolve %s", host);
    return -1;
  }
  int result = 1;
  for (struct addrinfo *a = res; a; a = a->ai_next) {
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int one = 1;
    /* as a server would: TIME_WAIT leftovers do not make a port busy */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, 1) != 0) {
      int e = errno;
      close(fd);
      if (e == EADDRINUSE) {
        result = 0;
        break;
      }
      fmh_error_set(err, "os", e, 0, "cannot bind %s:%d: %s", host, port, strerror(e));
      result = -1;
      break;
    }
    close(fd);
  }
  freeaddrinfo(res);
  return result;
}

/* The inodes of TCP sockets listening on port, from /proc/net/tcp{,6}. */
static size_t listen_inodes(int port, unsigned long *ino, size_t max) {
  const char *files[] = {"/proc/net/tcp", "/proc/net/tcp6"};
  size_t n = 0;
  for (size_t f = 0; f < 2; f++) {
    FILE *fp = fopen(files[f], "re");
    if (!fp) continue;
    char line[512];
    if (!fgets(line, sizeof line, fp)) { fclose(fp); continue; } /* header */
    while (fgets(line, sizeof line, fp) && n < max) {
      char local[128], remote[128];
      unsigned st;
      unsigned long inode;
      if (sscanf(line, "%*d: %127s %127s %x %*s %*s %*s %*d %*d %lu", local, remote, &st, &inode) != 4)
        continue;
      char *colon = strrchr(local, ':');
      if (!colon || st != 0x0A) continue; /* TCP_LISTEN */
      if ((int)strtol(colon + 1, NULL, 16) == port && inode) ino[n++] = inode;
    }
    fclose(fp);
  }
  return n;
}

int fmh_proc_port_owner(int port, pid_t *pid, char *name, size_t size) {
  unsigned long ino[16];
  size_t ni = listen_inodes(port, ino, 16);
  if (ni == 0) return 0;
  DIR *d = opendir("/proc");
  if (!d) return 0;
  struct dirent *de;
  int found = 0;
  while (!found && (de = readdir(d)) != NULL) {
    char *end;
    long p = strtol(de->d_name, &end, 10);
    if (*end || p <= 0) continue;
    char fdpath[64];
    snprintf(fdpath, sizeof fdpath, "/proc/%ld/fd", p);
    DIR *fdd = opendir(fdpath);
    if (!fdd) continue;
    struct dirent *fe;
    while (!found && (fe = readdir(fdd)) != NULL) {
      if (fe->d_name[0] == '.') continue;
      char lp[384], target[64];
      snprintf(lp, sizeof lp, "%s/%s", fdpath, fe->d_name);
      ssize_t tl = readlink(lp, target, sizeof target - 1);
      if (tl <= 0) continue;
      target[tl] = '\0';
      unsigned long si;
      if (sscanf(target, "socket:[%lu]", &si) != 1) continue;
      for (size_t i = 0; i < ni; i++)
        if (ino[i] == si) found = 1;
    }
    closedir(fdd);
    if (found) {
      *pid = (pid_t)p;
      if (name && size) {
        if (fmh_proc_comm((pid_t)p, name, size) != 0) snprintf(name, size, "?");
      }
    }
  }
  closedir(d);
  return found;
}

int fmh_proc_listen(const char *host, int port, int *bound, fmh_error *err) {
  if (!host) host = "127.0.0.1";
  struct addrinfo *res = resolve(host, port, 1);
  if (!res) {
    fmh_error_set(err, "os", EINVAL, 0, "cannot resolve %s", host);
    return -1;
  }
  int fd = -1, e = 0;
  for (struct addrinfo *a = res; a; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) { e = errno; continue; }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 16) == 0) break;
    e = errno;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) {
    fmh_error_set(err, "os", e, e == EADDRINUSE, "cannot listen on %s:%d: %s", host, port, strerror(e));
    return -1;
  }
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  if (bound) {
    *bound = port;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
      if (ss.ss_family == AF_INET) *bound = ntohs(((struct sockaddr_in *)&ss)->sin_port);
      else if (ss.ss_family == AF_INET6) *bound = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
  }
  return fd;
}
