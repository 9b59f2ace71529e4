/* fmhost.proc, locks: an flock(2) on a file that serialises fmhost
 * processes (the local stack's commands), with a timeout. */
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

/* --- locks ------------------------------------------------------------------ */

int fmh_proc_lock(const char *path, long timeout_ms, fmh_error *err) {
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
  if (fd < 0) {
    int e = errno;
    fmh_error_set(err, "os", e, 0, "cannot open lock file %s: %s", path, strerror(e));
    return -1;
  }
  double deadline = fmh_proc_now_ms() + (double)timeout_ms;
  long step = 1;
  while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    if (e == EINTR) continue;
    if (e != EWOULDBLOCK) {
      close(fd);
      fmh_error_set(err, "os", e, 0, "cannot lock %s: %s", path, strerror(e));
      return -1;
    }
    if (timeout_ms >= 0 && fmh_proc_now_ms() >= deadline) {
      close(fd);
      fmh_error_set(err, "timeout", ETIMEDOUT, 1, "%s stayed locked by another process for %ld ms", path,
                    timeout_ms);
      return -1;
    }
    fmh_proc_sleep_ms(step);
    if (step < 50) step *= 2;
  }
  return fd;
}
