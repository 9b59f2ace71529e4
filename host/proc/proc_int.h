/* Shared by the files of host/proc/ (not a public header). */
#ifndef FMHOST_PROC_INT_H
#define FMHOST_PROC_INT_H

#include <sys/types.h>

/* 1 when pid is a child fmhost spawned and has not reaped yet (proc.c's
 * registry; reaps what has ended first). */
int fmh_proc_child_running(pid_t pid);

#endif
