/* Child processes fmhost spawns, for the local stack and fault scenarios (any
 * pid: proc_pid.c; run to completion: proc_run.c; ports: proc_port.c; locks:
 * proc_lock.c).
 *
 * posix_spawn (not fork) because fmhost has worker threads: no atfork
 * hazards, and glibc reports exec failures (ENOENT, EACCES) from the child
 * back to the caller. Output files are opened here in the parent so that a
 * bad path gives a precise error before anything starts. The registry of
 * spawned children is what makes "a handle's death does not kill the child"
 * safe: a released child is still reaped by pid, so no zombie piles up and
 * no waitpid(-1) steals another part's child. */
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

extern char **environ;

/* --- time --------------------------------------------------------------- */

double fmh_proc_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

double fmh_proc_wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void fmh_proc_sleep_ms(long ms) {
  if (ms <= 0) return;
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* --- the registry --------------------------------------------------------- */

struct fmh_proc {
  pid_t pid;
  int ended;      /* reaped */
  int status;     /* waitpid status once ended */
  int released;   /* no handle refers to it any more */
  int pty;        /* the master side of its terminal (spawned with pty), or -1 */
  struct fmh_proc *next;
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fmh_proc *reg_head = NULL;

/* Reap one entry; the lock is held. */
static void reap_entry(struct fmh_proc *p) {
  if (p->ended) return;
  int st;
  pid_t r;
  do r = waitpid(p->pid, &st, WNOHANG); while (r < 0 && errno == EINTR);
  if (r == p->pid) {
    p->ended = 1;
    p->status = st;
  } else if (r < 0 && errno == ECHILD) {
    /* someone else reaped it (a waitpid(-1) elsewhere): it has ended, status unknown */
    p->ended = 1;
    p->status = 0;
  }
}

/* Reap everything and free released entries that have ended; lock held. */
static void reap_all_locked(void) {
  struct fmh_proc **pp = &reg_head;
  while (*pp) {
    struct fmh_proc *p = *pp;
    reap_entry(p);
    if (p->ended && p->released) {
      *pp = p->next;
      free(p);
    } else {
      pp = &p->next;
    }
  }
}

void fmh_proc_reap(void) {
  pthread_mutex_lock(&reg_lock);
  reap_all_locked();
  pthread_mutex_unlock(&reg_lock);
}

struct fmh_proc *fmh_proc_reg_add(pid_t pid) {
  struct fmh_proc *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->pid = pid;
  p->pty = -1;
  pthread_mutex_lock(&reg_lock);
  p->next = reg_head;
  reg_head = p;
  pthread_mutex_unlock(&reg_lock);
  return p;
}

int fmh_proc_child_running(pid_t pid) {
  int child = 0;
  pthread_mutex_lock(&reg_lock);
  reap_all_locked();
  /* a child of ours is alive until waitpid reaps it, which happens only
   * once every thread has ended (and its sockets are closed) */
  for (struct fmh_proc *p = reg_head; p; p = p->next)
    if (p->pid == pid && !p->ended) child = 1;
  pthread_mutex_unlock(&reg_lock);
  return child;
}

/* --- signals ------------------------------------------------------------- */

static const struct {
  const char *name;
  int num;
} signals[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},     {"QUIT", SIGQUIT}, {"ILL", SIGILL},
    {"TRAP", SIGTRAP}, {"ABRT", SIGABRT},   {"BUS", SIGBUS},   {"FPE", SIGFPE},
    {"KILL", SIGKILL}, {"USR1", SIGUSR1},   {"SEGV", SIGSEGV}, {"USR2", SIGUSR2},
    {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},   {"TERM", SIGTERM}, {"CHLD", SIGCHLD},
    {"CONT", SIGCONT}, {"STOP", SIGSTOP},   {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},
    {"TTOU", SIGTTOU}, {"URG", SIGURG},     {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ},
    {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},
    {"SYS", SIGSYS},
};

int fmh_proc_signum(const char *name) {
  if (!name || !*name) return -1;
  char *end;
  long n = strtol(name, &end, 10);
  if (*end == '\0') return (n > 0 && n < NSIG) ? (int)n : -1;
  if (strncasecmp(name, "SIG", 3) == 0) name += 3;
  for (size_t i = 0; i < sizeof signals / sizeof *signals; i++)
    if (strcasecmp(name, signals[i].name) == 0) return signals[i].num;
  return -1;
}

const char *fmh_proc_signame(int sig) {
  for (size_t i = 0; i < sizeof signals / sizeof *signals; i++)
    if (signals[i].num == sig) return signals[i].name;
  return NULL;
}

/* --- spawning ------------------------------------------------------------- */

const char *fmh_proc_prog_name(const fmh_proc_opts *o) {
  return (o->argv && o->argv[0]) ? o->argv[0] : "(no program)";
}

/* The value of K in a "K=V" list, or NULL. */
static const char *env_lookup(char *const *envp, const char *key) {
  size_t kl = strlen(key);
  for (; envp && *envp; envp++)
    if (strncmp(*envp, key, kl) == 0 && (*envp)[kl] == '=') return *envp + kl + 1;
  return NULL;
}

/* The child's environment: fmhost's (unless clear_env) with the overrides
 * applied. A malloc'ed array of borrowed strings, or NULL on ENOMEM. */
static char **build_env(const fmh_proc_opts *o) {
  size_t nbase = 0, nover = 0;
  if (!o->clear_env)
    for (char **e = environ; e && *e; e++) nbase++;
  if (o->env)
    for (const char *const *e = o->env; *e; e++) nover++;
  char **out = calloc(nbase + nover + 1, sizeof *out);
  if (!out) return NULL;
  size_t n = 0;
  for (size_t i = 0; i < nbase; i++) out[n++] = environ[i];
  for (size_t j = 0; j < nover; j++) {
    const char *ov = o->env[j];
    const char *eq = strchr(ov, '=');
    size_t kl = eq ? (size_t)(eq - ov) : strlen(ov);
    size_t w = 0;
    for (size_t i = 0; i < n; i++) /* drop earlier definitions of the key */
      if (!(strncmp(out[i], ov, kl) == 0 && out[i][kl] == '=')) out[w++] = out[i];
    n = w;
    if (eq) out[n++] = (char *)ov;
  }
  out[n] = NULL;
  return out;
}

/* Find the program as execvp would, in the child's PATH. 0, or an errno. */
static int resolve_program(const char *prog, char *const *envp, char *buf, size_t size) {
  if (!prog || !*prog) return ENOENT;
  if (strchr(prog, '/')) {
    if (snprintf(buf, size, "%s", prog) >= (int)size) return ENAMETOOLONG;
    return access(buf, X_OK) == 0 ? 0 : errno;
  }
  const char *path = env_lookup(envp, "PATH");
  if (!path) path = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin";
  int seen_eacces = 0;
  while (1) {
    const char *colon = strchr(path, ':');
    size_t dl = colon ? (size_t)(colon - path) : strlen(path);
    int n = dl ? snprintf(buf, size, "%.*s/%s", (int)dl, path, prog) : snprintf(buf, size, "%s", prog);
    if (n > 0 && (size_t)n < size) {
      struct stat st;
      if (stat(buf, &st) == 0 && S_ISREG(st.st_mode)) {
        if (access(buf, X_OK) == 0) return 0;
        seen_eacces = 1;
      }
    }
    if (!colon) break;
    path = colon + 1;
  }
  return seen_eacces ? EACCES : ENOENT;
}

static int open_out(const char *path, int append) {
  return open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY | (append ? O_APPEND : O_TRUNC), 0644);
}

/* Spawn with the given fds for 0, 1, 2 (-1: inherit fmhost's), or, when
 * tty is a terminal's path, with that terminal on 0, 1 and 2 as the
 * controlling terminal of a new session. */
pid_t fmh_proc_spawn_fds(const fmh_proc_opts *o, int fd0, int fd1, int fd2, const char *tty,
                         int force_group, fmh_error *err) {
  const char *name = fmh_proc_prog_name(o);
  if (!o->argv || !o->argv[0]) {
    fmh_error_set(err, "os", EINVAL, 0, "cannot start a process: no program given");
    return -1;
  }
  if (o->cwd) {
    struct stat st;
    if (stat(o->cwd, &st) != 0) {
      int e = errno;
      fmh_error_set(err, "os", e, 0, "cannot start %s: working directory %s: %s", name, o->cwd, strerror(e));
      return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
      fmh_error_set(err, "os", ENOTDIR, 0, "cannot start %s: working directory %s: %s", name, o->cwd,
                    strerror(ENOTDIR));
      return -1;
    }
  }
  char **envp = build_env(o);
  if (!envp) {
    fmh_error_set(err, "os", ENOMEM, 0, "cannot start %s: out of memory", name);
    return -1;
  }
  char path[PATH_MAX];
  int e = resolve_program(o->argv[0], envp, path, sizeof path);
  if (e) {
    free(envp);
    fmh_error_set(err, "os", e, 0, "cannot start %s: %s", name, strerror(e));
    return -1;
  }

  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&at);
  if (tty) {
    /* glibc runs setsid before the file actions, and a session leader
     * opening a terminal without O_NOCTTY makes it its controlling one */
    posix_spawn_file_actions_addopen(&fa, 0, tty, O_RDWR, 0);
    posix_spawn_file_actions_adddup2(&fa, 0, 1);
    posix_spawn_file_actions_adddup2(&fa, 0, 2);
  } else {
    if (fd0 >= 0) posix_spawn_file_actions_adddup2(&fa, fd0, 0);
    if (fd1 >= 0) posix_spawn_file_actions_adddup2(&fa, fd1, 1);
    if (fd2 >= 0) posix_spawn_file_actions_adddup2(&fa, fd2, 2);
  }
  if (o->cwd) posix_spawn_file_actions_addchdir_np(&fa, o->cwd);
  /* only 0-2 reach the child: a daemon must not hold fmhost's sockets,
   * pipes or log files open */
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);

  short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&at, &all);
  posix_spawnattr_setsigmask(&at, &none);
  if (o->new_session || tty) {
    flags |= POSIX_SPAWN_SETSID;
  } else if (o->new_group || force_group) {
    flags |= POSIX_SPAWN_SETPGROUP;
    posix_spawnattr_setpgroup(&at, 0);
  }
  posix_spawnattr_setflags(&at, flags);

  pid_t pid = -1;
  e = posix_spawn(&pid, path, &fa, &at, (char *const *)o->argv, envp);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  free(envp);
  if (e) {
    fmh_error_set(err, "os", e, 0, "cannot start %s: %s", name, strerror(e));
    return -1;
  }
  fmh_log_field f[] = {FMH_LS("program", path), FMH_LI("pid", pid)};
  fmh_log_emit(FMH_LOG_DEBUG, "proc.spawn", NULL, NULL, f, 2);
  return pid;
}

/* A new pseudo-terminal: its master fd (close-on-exec) and the slave's
 * path in tty; -1 with err. */
static int open_pty(const fmh_proc_opts *o, char *tty, size_t size, fmh_error *err) {
  const char *name = fmh_proc_prog_name(o);
  int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (m < 0 || grantpt(m) != 0 || unlockpt(m) != 0 || ptsname_r(m, tty, size) != 0) {
    int e = errno;
    if (m >= 0) close(m);
    fmh_error_set(err, "os", e, 0, "cannot start %s: cannot open a pseudo-terminal: %s", name, strerror(e));
    return -1;
  }
  struct winsize ws = {0};
  ws.ws_row = (unsigned short)(o->pty_rows > 0 ? o->pty_rows : 24);
  ws.ws_col = (unsigned short)(o->pty_cols > 0 ? o->pty_cols : 80);
  ioctl(m, TIOCSWINSZ, &ws);
  return m;
}

static fmh_proc *spawn_pty(const fmh_proc_opts *o, fmh_error *err) {
  char tty[128];
  int m = open_pty(o, tty, sizeof tty, err);
  if (m < 0) return NULL;
  pid_t pid = fmh_proc_spawn_fds(o, -1, -1, -1, tty, 0, err);
  if (pid < 0) {
    close(m);
    return NULL;
  }
  fmh_proc *p = fmh_proc_reg_add(pid);
  if (!p) {
    close(m); /* the child gets SIGHUP */
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
    fmh_error_set(err, "os", ENOMEM, 0, "cannot start %s: out of memory", fmh_proc_prog_name(o));
    return NULL;
  }
  p->pty = m;
  return p;
}

fmh_proc *fmh_proc_spawn(const fmh_proc_opts *o, fmh_error *err) {
  const char *name = fmh_proc_prog_name(o);
  int fd0 = -1, fd1 = -1, fd2 = -1, close0 = 0, close1 = 0, close2 = 0;
  fmh_proc *p = NULL;
  fmh_proc_reap();
  if (o->pty) return spawn_pty(o, err);

  const char *in = o->stdin_path ? o->stdin_path : "/dev/null";
  fd0 = open(in, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd0 < 0) {
    int e = errno;
    fmh_error_set(err, "os", e, 0, "cannot start %s: cannot open %s for stdin: %s", name, in, strerror(e));
    goto done;
  }
  close0 = 1;
  if (!o->inherit_stdout) {
    const char *out = o->stdout_path ? o->stdout_path : "/dev/null";
    fd1 = open_out(out, o->append);
    if (fd1 < 0) {
      int e = errno;
      fmh_error_set(err, "os", e, 0, "cannot start %s: cannot open %s for stdout: %s", name, out, strerror(e));
      goto done;
    }
    close1 = 1;
  }
  if (o->merge_stderr) {
    fd2 = o->inherit_stdout ? 1 : fd1;
  } else if (!o->inherit_stderr) {
    const char *ep = o->stderr_path ? o->stderr_path : "/dev/null";
    if (o->stdout_path && o->stderr_path && strcmp(o->stdout_path, o->stderr_path) == 0) {
      fd2 = fd1; /* one file for both: share the offset, no interleaved overwrites */
    } else {
      fd2 = open_out(ep, o->append);
      if (fd2 < 0) {
        int e = errno;
        fmh_error_set(err, "os", e, 0, "cannot start %s: cannot open %s for stderr: %s", name, ep, strerror(e));
        goto done;
      }
      close2 = 1;
    }
  }
  pid_t pid = fmh_proc_spawn_fds(o, fd0, fd1, fd2, NULL, 0, err);
  if (pid < 0) goto done;
  p = fmh_proc_reg_add(pid);
  if (!p) { /* cannot track it: do not leave it running untracked */
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
    fmh_error_set(err, "os", ENOMEM, 0, "cannot start %s: out of memory", name);
  }
done:
  if (close0) close(fd0);
  if (close1) close(fd1);
  if (close2) close(fd2);
  return p;
}

pid_t fmh_proc_pid(const fmh_proc *p) { return p->pid; }

int fmh_proc_alive(fmh_proc *p) {
  pthread_mutex_lock(&reg_lock);
  reap_entry(p);
  int alive = !p->ended;
  pthread_mutex_unlock(&reg_lock);
  return alive;
}

static void decode_status(int st, int *code, int *sig) {
  if (WIFEXITED(st)) {
    if (code) *code = WEXITSTATUS(st);
    if (sig) *sig = 0;
  } else if (WIFSIGNALED(st)) {
    if (code) *code = -1;
    if (sig) *sig = WTERMSIG(st);
  } else {
    if (code) *code = -1;
    if (sig) *sig = 0;
  }
}

int fmh_proc_wait(fmh_proc *p, long timeout_ms, int *code, int *sig) {
  double deadline = fmh_proc_now_ms() + (double)timeout_ms;
  long step = 1;
  for (;;) {
    pthread_mutex_lock(&reg_lock);
    reap_entry(p);
    int ended = p->ended, st = p->status;
    pthread_mutex_unlock(&reg_lock);
    if (ended) {
      decode_status(st, code, sig);
      return 1;
    }
    double now = fmh_proc_now_ms();
    if (timeout_ms >= 0 && now >= deadline) return 0;
    long nap = step;
    if (timeout_ms >= 0 && (double)nap > deadline - now) nap = (long)(deadline - now) + 1;
    fmh_proc_sleep_ms(nap);
    if (step < 20) step *= 2;
  }
}

int fmh_proc_kill(pid_t pid, int sig, int group, fmh_error *err) {
  if (pid <= 0) {
    fmh_error_set(err, "os", EINVAL, 0, "cannot signal pid %d: not a process id", (int)pid);
    return -1;
  }
  if (kill(group ? -pid : pid, sig) != 0) {
    int e = errno;
    const char *sn = fmh_proc_signame(sig);
    fmh_error_set(err, "os", e, 0, "cannot send SIG%s to %s %d: %s", sn ? sn : "?",
                  group ? "process group" : "pid", (int)pid, strerror(e));
    return -1;
  }
  return 0;
}

int fmh_proc_signal(fmh_proc *p, int sig, int group, fmh_error *err) {
  pthread_mutex_lock(&reg_lock);
  reap_entry(p);
  int ended = p->ended;
  int rc = 0;
  /* the check and the kill under the lock: once reaped, the pid may be reused */
  if (ended) {
    fmh_error_set(err, "os", ESRCH, 0, "cannot signal pid %d: it has ended", (int)p->pid);
    rc = -1;
  } else {
    /* the group only when the child leads one (spawned with group or
     * session); otherwise -pgid could be fmhost's own group */
    rc = fmh_proc_kill(p->pid, sig, group && getpgid(p->pid) == p->pid, err);
  }
  pthread_mutex_unlock(&reg_lock);
  return rc;
}

void fmh_proc_release(fmh_proc *p) {
  if (!p) return;
  pthread_mutex_lock(&reg_lock);
  if (p->pty >= 0) close(p->pty);
  p->pty = -1;
  p->released = 1;
  reap_all_locked();
  pthread_mutex_unlock(&reg_lock);
}

/* --- the terminal of a pty child ----------------------------------------------- */

static int no_pty(const fmh_proc *p, fmh_error *err) {
  fmh_error_set(err, "usage", EINVAL, 0, "pid %d was not spawned with a pseudo-terminal (pty)", (int)p->pid);
  return -1;
}

int fmh_proc_pty_write(fmh_proc *p, const char *s, size_t n, long timeout_ms, fmh_error *err) {
  if (p->pty < 0) return no_pty(p, err);
  double deadline = fmh_proc_now_ms() + (double)timeout_ms;
  size_t off = 0;
  while (off < n) {
    int wait = -1;
    if (timeout_ms >= 0) {
      double left = deadline - fmh_proc_now_ms();
      if (left <= 0) {
        fmh_error_set(err, "timeout", ETIMEDOUT, 1, "the terminal of pid %d took no input for %ld ms (%zu of %zu bytes written)",
                      (int)p->pid, timeout_ms, off, n);
        return -1;
      }
      wait = (int)left + 1;
    }
    struct pollfd pf = {p->pty, POLLOUT, 0};
    int k = poll(&pf, 1, wait);
    if (k < 0 && errno != EINTR) break;
    if (k <= 0) continue;
    ssize_t w = write(p->pty, s + off, n - off);
    if (w > 0) off += (size_t)w;
    else if (w < 0 && errno != EAGAIN && errno != EINTR) break;
  }
  if (off < n) {
    int e = errno;
    fmh_error_set(err, e == EIO ? "closed" : "os", e, 0, "cannot write to the terminal of pid %d: %s", (int)p->pid,
                  e == EIO ? "it is closed" : strerror(e));
    return -1;
  }
  return 0;
}

long fmh_proc_pty_read(fmh_proc *p, char *buf, size_t size, long timeout_ms, fmh_error *err) {
  if (p->pty < 0) return no_pty(p, err);
  double deadline = fmh_proc_now_ms() + (double)timeout_ms;
  for (;;) {
    int wait = -1;
    if (timeout_ms >= 0) {
      double left = deadline - fmh_proc_now_ms();
      wait = left > 0 ? (int)left + 1 : 0;
    }
    struct pollfd pf = {p->pty, POLLIN, 0};
    int k = poll(&pf, 1, wait);
    if (k < 0 && errno == EINTR) continue;
    if (k == 0) return 0;
    ssize_t r = k > 0 ? read(p->pty, buf, size) : -1;
    if (r > 0) return (long)r;
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    /* Linux: EIO once every process has closed the terminal's other side */
    int e = r == 0 ? EIO : errno;
    fmh_error_set(err, e == EIO ? "closed" : "os", e, 0, "cannot read the terminal of pid %d: %s", (int)p->pid,
                  e == EIO ? "it is closed" : strerror(e));
    return -1;
  }
}
