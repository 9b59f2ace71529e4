/* Shared by the files of host/proc/ (not a public header). */
#ifndef FMHOST_PROC_INT_H
#define FMHOST_PROC_INT_H

#include <sys/types.h>

#include "fmhost/proc.h"

/* 1 when pid is a child fmhost spawned and has not reaped yet (proc.c's
 * registry; reaps what has ended first). */
int fmh_proc_child_running(pid_t pid);

/* Spawning, for proc_run.c (defined in proc.c): the registry entry of a
 * new child; the program's name for messages; posix_spawn with fds as 0-2
 * (-1: fmhost's own), or with the terminal at path tty on all three. */
struct fmh_proc *fmh_proc_reg_add(pid_t pid);
const char *fmh_proc_prog_name(const fmh_proc_opts *o);
pid_t fmh_proc_spawn_fds(const fmh_proc_opts *o, int fd0, int fd1, int fd2, const char *tty,
                         int force_group, fmh_error *err);

#endif
