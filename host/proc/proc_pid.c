/* fmhost.proc, any pid: what /proc says of a process fmhost may not have
 * spawned (alive, parent, command line, name) and killing a process tree. */
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

/* --- any pid ---------------------------------------------------------------- */

/* The state letter of /proc/PID/stat and its parent pid; 0 when gone. */
static char proc_state(pid_t pid, pid_t *ppid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  char *rp = strrchr(buf, ')'); /* comm may hold spaces and parentheses */
  if (!rp || rp[1] == '\0') return 0;
  char st = rp[2];
  if (ppid) *ppid = (pid_t)strtol(rp + 4, NULL, 10);
  return st;
}

/* Threads of pid still listed in /proc/PID/task. */
static int task_count(pid_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
  DIR *d = opendir(path);
  if (!d) return 0;
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL)
    if (de->d_name[0] != '.') n++;
  closedir(d);
  return n;
}

int fmh_proc_pid_alive(pid_t pid) {
  if (pid <= 0) return 0;
  if (fmh_proc_child_running(pid)) return 1;
  if (kill(pid, 0) != 0 && errno != EPERM) return 0;
  char st = proc_state(pid, NULL);
  if (st == 0) return access("/proc/self", F_OK) != 0; /* no /proc: trust kill() */
  if (st == 'Z' || st == 'X') {
    /* a killed multi-threaded process shows its leader as a zombie while
     * the other threads are still exiting and holding its files and ports */
    return task_count(pid) > 1;
  }
  return 1;
}

int fmh_proc_wait_pid(pid_t pid, long timeout_ms) {
  double deadline = fmh_proc_now_ms() + (double)timeout_ms;
  long step = 1;
  while (fmh_proc_pid_alive(pid)) {
    double now = fmh_proc_now_ms();
    if (timeout_ms >= 0 && now >= deadline) return 0;
    long nap = step;
    if (timeout_ms >= 0 && (double)nap > deadline - now) nap = (long)(deadline - now) + 1;
    fmh_proc_sleep_ms(nap);
    if (step < 50) step *= 2;
  }
  return 1;
}

ssize_t fmh_proc_cmdline(pid_t pid, char *buf, size_t size) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t n = 0;
  while (n < size) {
    ssize_t r = read(fd, buf + n, size - n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    n += (size_t)r;
  }
  close(fd);
  return (ssize_t)n;
}

int fmh_proc_comm(pid_t pid, char *buf, size_t size) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
  FILE *f = fopen(path, "re");
  if (!f || size == 0) {
    if (f) fclose(f);
    return -1;
  }
  if (!fgets(buf, (int)size, f)) {
    fclose(f);
    return -1;
  }
  fclose(f);
  buf[strcspn(buf, "\n")] = '\0';
  return 0;
}

/* Every (pid, ppid) in /proc; a malloc'ed array, count in *n. */
static pid_t *all_pids(size_t *n) {
  DIR *d = opendir("/proc");
  *n = 0;
  if (!d) return NULL;
  size_t cap = 256;
  pid_t *v = malloc(cap * 2 * sizeof *v);
  struct dirent *de;
  while (v && (de = readdir(d)) != NULL) {
    char *end;
    long pid = strtol(de->d_name, &end, 10);
    if (*end || pid <= 0) continue;
    pid_t ppid = 0;
    if (!proc_state((pid_t)pid, &ppid)) continue;
    if (*n == cap) {
      cap *= 2;
      pid_t *nv = realloc(v, cap * 2 * sizeof *v);
      if (!nv) break;
      v = nv;
    }
    v[2 * *n] = (pid_t)pid;
    v[2 * *n + 1] = ppid;
    (*n)++;
  }
  closedir(d);
  return v;
}

int fmh_proc_kill_tree(pid_t pid, int sig, int group) {
  if (pid <= 0) return 0;
  size_t n = 0;
  pid_t *v = all_pids(&n);
  /* breadth-first: the tree below pid, pid first */
  pid_t *tree = malloc((n + 1) * sizeof *tree);
  size_t nt = 0;
  int count = 0;
  if (tree) {
    tree[nt++] = pid;
    for (size_t i = 0; i < nt; i++)
      for (size_t j = 0; j < n; j++)
        if (v[2 * j + 1] == tree[i] && v[2 * j] != pid) {
          int dup = 0;
          for (size_t k = 0; k < nt; k++) dup |= tree[k] == v[2 * j];
          if (!dup && nt <= n) tree[nt++] = v[2 * j];
        }
    /* stop the whole tree first so that no one forks a new child meanwhile */
    if (sig == SIGKILL)
      for (size_t i = 0; i < nt; i++) kill(tree[i], SIGSTOP);
    /* the group only when pid leads it: never signal a group fmhost is in */
    if (group && getpgid(pid) == pid && kill(-pid, sig) == 0) count++;
    for (size_t i = 0; i < nt; i++)
      if (kill(tree[i], sig) == 0) count++;
  } else if (kill(pid, sig) == 0) {
    count = 1;
  }
  free(tree);
  free(v);
  return count;
}
