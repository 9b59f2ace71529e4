/* fmhost.proc, run to completion: a child spawned, fed its input, its output
 * captured up to a limit, killed with everything it started when it outlives
 * its timeout (fmh_proc_run). Builds on spawning (proc.c) and on killing a
 * process tree (proc_pid.c). */
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
#include "proc_int.h"

/* --- run to completion ------------------------------------------------------ */

typedef struct {
  fmh_buf b;
  size_t max;
  int truncated;
} capbuf;

static void cap_add(capbuf *c, const char *s, size_t n) {
  size_t room = c->max > c->b.len ? c->max - c->b.len : 0;
  if (n > room) {
    c->truncated = 1;
    n = room;
  }
  if (n == 0) return;
  if (fmh_buf_put(&c->b, s, n) != 0) c->truncated = 1;
}

/* write without dying of SIGPIPE when the child closed its stdin early */
static ssize_t write_nosigpipe(int fd, const char *s, size_t n) {
  sigset_t pipe_set, old;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  sigset_t pending;
  sigpending(&pending);
  int was_pending = sigismember(&pending, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  ssize_t w = write(fd, s, n);
  int e = errno;
  if (w < 0 && e == EPIPE && !was_pending) {
    struct timespec zero = {0, 0};
    sigtimedwait(&pipe_set, NULL, &zero);
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  errno = e;
  return w;
}

static void set_nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int fmh_proc_run(const fmh_proc_opts *o, const char *input, size_t inlen, long timeout_ms,
                 size_t max_out, fmh_proc_result *r, fmh_error *err) {
  memset(r, 0, sizeof *r);
  r->code = -1;
  double t0 = fmh_proc_now_ms();
  int po[2] = {-1, -1}, pe[2] = {-1, -1}, pi[2] = {-1, -1};
  int fd0 = -1;
  const char *name = fmh_proc_prog_name(o);
  fmh_proc_reap();
  if (pipe2(po, O_CLOEXEC) != 0 || pipe2(pe, O_CLOEXEC) != 0 ||
      (input && pipe2(pi, O_CLOEXEC) != 0)) {
    int e = errno;
    fmh_error_set(err, "os", e, 0, "cannot start %s: pipe: %s", name, strerror(e));
    goto fail_fds;
  }
  if (input) {
    fd0 = pi[0];
  } else {
    const char *in = o->stdin_path ? o->stdin_path : "/dev/null";
    fd0 = open(in, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd0 < 0) {
      int e = errno;
      fmh_error_set(err, "os", e, 0, "cannot start %s: cannot open %s for stdin: %s", name, in, strerror(e));
      goto fail_fds;
    }
  }
  pid_t pid = fmh_proc_spawn_fds(o, fd0, po[1], o->merge_stderr ? po[1] : pe[1], NULL, 1, err);
  if (!input) close(fd0);
  fd0 = -1;
  if (pid < 0) goto fail_fds;
  fmh_proc *p = fmh_proc_reg_add(pid);
  close(po[1]);
  close(pe[1]);
  po[1] = pe[1] = -1;
  if (input) {
    close(pi[0]);
    pi[0] = -1;
    set_nonblock(pi[1]);
  }
  set_nonblock(po[0]);
  set_nonblock(pe[0]);

  capbuf bo = {.max = max_out}, be = {.max = max_out};
  size_t inoff = 0;
  if (input && inlen == 0) {
    close(pi[1]);
    pi[1] = -1;
  }
  double deadline = t0 + (double)timeout_ms;
  int timed_out = 0;
  char chunk[16384];
  while (po[0] >= 0 || pe[0] >= 0) {
    struct pollfd fds[3];
    int nf = 0, io = -1, ie = -1, ii = -1;
    if (po[0] >= 0) { io = nf; fds[nf++] = (struct pollfd){po[0], POLLIN, 0}; }
    if (pe[0] >= 0) { ie = nf; fds[nf++] = (struct pollfd){pe[0], POLLIN, 0}; }
    if (pi[1] >= 0) { ii = nf; fds[nf++] = (struct pollfd){pi[1], POLLOUT, 0}; }
    int wait = -1;
    if (timeout_ms >= 0) {
      double left = deadline - fmh_proc_now_ms();
      if (left <= 0) { timed_out = 1; break; }
      wait = left > 1000 ? 1000 : (int)left + 1;
    }
    int k = poll(fds, (nfds_t)nf, wait);
    if (k < 0 && errno != EINTR) break;
    if (k <= 0) continue;
    if (io >= 0 && fds[io].revents) {
      ssize_t n = read(po[0], chunk, sizeof chunk);
      if (n > 0) cap_add(&bo, chunk, (size_t)n);
      else if (n == 0 || (errno != EAGAIN && errno != EINTR)) { close(po[0]); po[0] = -1; }
    }
    if (ie >= 0 && fds[ie].revents) {
      ssize_t n = read(pe[0], chunk, sizeof chunk);
      if (n > 0) cap_add(&be, chunk, (size_t)n);
      else if (n == 0 || (errno != EAGAIN && errno != EINTR)) { close(pe[0]); pe[0] = -1; }
    }
    if (ii >= 0 && fds[ii].revents) {
      ssize_t n = write_nosigpipe(pi[1], input + inoff, inlen - inoff);
      if (n > 0) inoff += (size_t)n;
      if ((n < 0 && errno != EAGAIN && errno != EINTR) || inoff >= inlen) { close(pi[1]); pi[1] = -1; }
    }
  }
  if (pi[1] >= 0) { close(pi[1]); pi[1] = -1; }
  int code = -1, sig = 0;
  if (!timed_out) {
    long left = timeout_ms < 0 ? -1 : (long)(deadline - fmh_proc_now_ms());
    if (timeout_ms >= 0 && left < 0) left = 0;
    if (!fmh_proc_wait(p, left, &code, &sig)) timed_out = 1;
  }
  if (timed_out) {
    fmh_proc_kill_tree(pid, SIGKILL, 1);
    fmh_proc_wait(p, 10000, &code, &sig);
  }
  fmh_proc_release(p);
  if (po[0] >= 0) close(po[0]);
  if (pe[0] >= 0) close(pe[0]);
  r->out = bo.b.p ? bo.b.p : calloc(1, 1);
  r->err = be.b.p ? be.b.p : calloc(1, 1);
  r->outlen = bo.b.len;
  r->errlen = be.b.len;
  r->out_truncated = bo.truncated;
  r->err_truncated = be.truncated;
  r->code = code;
  r->sig = sig;
  r->timed_out = timed_out;
  r->wall_ms = fmh_proc_now_ms() - t0;
  if (timed_out) {
    fmh_error_set(err, "timeout", ETIMEDOUT, 1, "%s did not finish within %ld ms and was killed", name,
                  timeout_ms);
    return -1;
  }
  return 0;

fail_fds:
  for (int i = 0; i < 2; i++) {
    if (po[i] >= 0) close(po[i]);
    if (pe[i] >= 0) close(pe[i]);
    if (pi[i] >= 0) close(pi[i]);
  }
  if (fd0 >= 0 && fd0 != pi[0]) close(fd0);
  r->wall_ms = fmh_proc_now_ms() - t0;
  return -1;
}

void fmh_proc_result_free(fmh_proc_result *r) {
  free(r->out);
  free(r->err);
  r->out = r->err = NULL;
}
