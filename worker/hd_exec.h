/*  hd_exec: the opt-in `exec` built-in (private to worker/). Runs a command given as an argv,
    without a shell, and returns what it printed. Registered by hd_builtins_register only when
    the worker was started with exec allowed.  */
#ifndef HD_EXEC_H
#define HD_EXEC_H

#include <stddef.h>

#include "heddle_plugin.h"

#define HD_EXEC_MAX_OUTPUT (1024u * 1024u)  //  output kept, bytes, note included
#define HD_EXEC_DEFAULT_LIMIT_MS 60000      //  run time when the task has no deadline
#define HD_EXEC_TRUNCATED_NOTE "\n[output truncated]"

//  The task function. Input: argv as NUL-separated strings ("prog\0arg1\0arg2", a trailing NUL
//  optional; empty arguments are kept, an empty argv[0] is refused). The command runs with
//  PATH lookup (execvp), in its own process group, stdin from /dev/null, stdout and stderr into
//  one pipe. Output: what it printed; past HD_EXEC_MAX_OUTPUT (or the task's smaller
//  max_output) the rest is discarded and the output ends with HD_EXEC_TRUNCATED_NOTE, the
//  whole staying within the limit. Returns 0 when the command exits with status 0; otherwise
//  fails (output kept) with "exit status N", "killed by signal N",
//  "exec: cannot run 'PROG': <strerror>", "exec: timed out" (task deadline, or
//  HD_EXEC_DEFAULT_LIMIT_MS without one; the process group is killed) or "cancelled".
int hd_exec_run (heddle_task_t *task, const void *input, size_t size, void *arg);

#endif
