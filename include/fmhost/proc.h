/* fmhost.proc: child processes (the local stack's daemons, client tools,
 * fault injection) and the small facts about processes and ports that a
 * supervisor needs.
 *
 * Children are spawned with posix_spawn: only fds 0-2 reach the child,
 * signal dispositions and mask start at their defaults, and the program is
 * looked up in the child's PATH. Every child fmhost spawned is kept in a
 * process-wide registry and reaped there (waitpid on that pid only, never
 * waitpid(-1)), so dropping a handle neither kills the child nor leaves a
 * zombie behind for longer than the next fmh_proc_* call. */
#ifndef FMHOST_PROC_H
#define FMHOST_PROC_H

#include <stddef.h>
#include <sys/types.h>

#include "fmhost/error.h"

typedef struct fmh_proc_opts {
  const char *const *argv;  /* NULL-terminated; argv[0] without '/' is searched in PATH */
  const char *const *env;   /* NULL-terminated "K=V" (set) or "K" (unset); may be NULL */
  int clear_env;            /* start from an empty environment, not fmhost's */
  const char *cwd;          /* NULL: fmhost's */
  const char *stdin_path;   /* NULL: /dev/null */
  const char *stdout_path;  /* NULL: /dev/null (relative paths: to fmhost's cwd) */
  const char *stderr_path;  /* NULL: /dev/null */
  int inherit_stdout;       /* write to fmhost's own stdout instead */
  int inherit_stderr;
  int merge_stderr;         /* stderr goes where stdout goes */
  int append;               /* append to the output files (default: truncate) */
  int new_group;            /* own process group (pgid = pid) */
  int new_session;          /* own session (setsid; implies own group) */
  int pty;                  /* stdin, stdout and stderr on a new pseudo-terminal that becomes
                               the child's controlling terminal (own session; the stdin/
                               stdout/stderr options are ignored): a person at a terminal */
  int pty_rows, pty_cols;   /* its size; 0: 24 x 80 */
} fmh_proc_opts;

typedef struct fmh_proc fmh_proc;

/* Spawn a child. NULL with err set ("cannot start NAME: reason") when the
 * program, cwd or an output file is unusable; nothing is left running. */
fmh_proc *fmh_proc_spawn(const fmh_proc_opts *o, fmh_error *err);
pid_t fmh_proc_pid(const fmh_proc *p);
/* 1 while running (reaps the child when it has ended). */
int fmh_proc_alive(fmh_proc *p);
/* Wait up to timeout_ms (<0: no limit). 1 when the child has ended, with
 * *code = exit status or -1, *sig = terminating signal or 0; 0 on timeout. */
int fmh_proc_wait(fmh_proc *p, long timeout_ms, int *code, int *sig);
/* Send sig to the child, or to its process group when group is set and
 * the child leads one (never to a group fmhost itself is in).
 * 0, or -1 with err (a child already reaped: ESRCH). */
int fmh_proc_signal(fmh_proc *p, int sig, int group, fmh_error *err);
/* Drop the handle. The child runs on; the registry reaps it when it ends.
 * A pty child's terminal is closed here (it gets SIGHUP, as when a terminal
 * window closes). */
void fmh_proc_release(fmh_proc *p);
/* The terminal of a child spawned with pty, as the person at it sees it:
 * write what they type (all of it, within timeout_ms: 0, or -1 with err);
 * read what the terminal shows, waiting up to timeout_ms for the first byte:
 * the byte count, 0 when nothing came in time, -1 with err when the
 * terminal is closed (kind "closed": the child and everything it started
 * have closed it) or the child was not spawned with pty. */
int fmh_proc_pty_write(fmh_proc *p, const char *s, size_t n, long timeout_ms, fmh_error *err);
long fmh_proc_pty_read(fmh_proc *p, char *buf, size_t size, long timeout_ms, fmh_error *err);
/* Reap every registered child that has ended (called by every function here). */
void fmh_proc_reap(void);

/* Run to completion capturing output: stdout and stderr each kept up to
 * max_out bytes (the rest is read and dropped, *_truncated set); input, when
 * not NULL, is written to the child's stdin. The child gets its own process
 * group; on timeout the group and every descendant are killed (SIGKILL) and
 * reaped. Returns 0 when the child ended (any status), -1 with err on spawn
 * failure or timeout (kind "timeout"; the partial output stays in r). */
typedef struct fmh_proc_result {
  char *out, *err;
  size_t outlen, errlen;
  int out_truncated, err_truncated;
  int code;       /* exit status, or -1 when killed by a signal */
  int sig;        /* terminating signal, or 0 */
  int timed_out;
  double wall_ms;
} fmh_proc_result;
int fmh_proc_run(const fmh_proc_opts *o, const char *input, size_t inlen, long timeout_ms,
                 size_t max_out, fmh_proc_result *r, fmh_error *err);
void fmh_proc_result_free(fmh_proc_result *r);

/* --- any process, by pid ---------------------------------------------- */
/* 1 when pid exists and is not a zombie (a registered child is reaped). */
int fmh_proc_pid_alive(pid_t pid);
/* Wait until pid is gone; 1 when gone, 0 on timeout. */
int fmh_proc_wait_pid(pid_t pid, long timeout_ms);
/* kill(2) with an error value; group: signal the process group -pid. */
int fmh_proc_kill(pid_t pid, int sig, int group, fmh_error *err);
/* Signal pid and all its descendants (found through /proc), and its group
 * when group is set. Returns how many processes were signalled. */
int fmh_proc_kill_tree(pid_t pid, int sig, int group);
/* The command line of pid, NUL-separated; returns its length, or -1. */
ssize_t fmh_proc_cmdline(pid_t pid, char *buf, size_t size);
/* The short name of pid (/proc/PID/comm); 0, or -1. */
int fmh_proc_comm(pid_t pid, char *buf, size_t size);

/* --- signals ---------------------------------------------------------- */
/* "TERM", "SIGTERM", "term" or "15" -> 15; -1 when unknown. */
int fmh_proc_signum(const char *name);
/* 15 -> "TERM"; NULL when unknown. */
const char *fmh_proc_signame(int sig);

/* --- ports ------------------------------------------------------------ */
/* 1 when a TCP connect to host:port succeeds within timeout_ms. */
int fmh_proc_port_open(const char *host, int port, long timeout_ms);
/* 1 when host:port can be bound for listening, 0 when in use, -1 with err. */
int fmh_proc_port_free(const char *host, int port, fmh_error *err);
/* The process listening on TCP port (any address): 1 with *pid and its
 * name, 0 when none is found (or it is not visible to this user). */
int fmh_proc_port_owner(int port, pid_t *pid, char *name, size_t size);
/* A listening socket (close-on-exec) on host:port; port 0 picks a free one,
 * returned in *bound. The fd, or -1 with err. */
int fmh_proc_listen(const char *host, int port, int *bound, fmh_error *err);

/* --- locks ------------------------------------------------------------ */
/* An exclusive flock(2) on path (created when missing), waiting up to
 * timeout_ms (<0: no limit). The fd (close it to unlock), or -1 with err
 * (kind "timeout" when another process held it all along). */
int fmh_proc_lock(const char *path, long timeout_ms, fmh_error *err);

/* --- time ------------------------------------------------------------- */
double fmh_proc_now_ms(void);  /* CLOCK_MONOTONIC */
double fmh_proc_wall_ms(void); /* CLOCK_REALTIME: ms since the epoch, comparable with other processes' clocks */
void fmh_proc_sleep_ms(long ms);

#endif
