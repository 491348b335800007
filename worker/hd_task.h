/*  hd_task: the context a task function runs with (heddle_task_t of the plugin ABI): its output
    buffer, its error text and its stop conditions. One per slot, reused task after task.
    Knows nothing of sockets; the runner fills it and reads it.  */
#ifndef HD_TASK_H
#define HD_TASK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "hd_buf.h"
#include "hd_proto.h"
#include "heddle_plugin.h"

struct heddle_task {
    hd_buf_t out;                   //  output, reset before each task
    size_t max_output;              //  output limit, bytes
    char error[HD_MAX_ERROR + 1];   //  set by fail
    int64_t deadline_ms;            //  monotonic ms; 0: none
    atomic_int cancel;              //  set by the runner's main thread: 1 cancelled, 2 stopping
};

//  The host table given to plugins and used by built-ins (static, never NULL).
const heddle_host_t *hd_task_host (void);

//  Make `task` a valid empty context (a zeroed struct is one too). Pair with hd_task_fini.
void hd_task_init (heddle_task_t *task);
//  Prepare `task` for a new run (keeps buffer memory): empty output, no error. The cancel flag
//  is not touched (its owner, the runner, clears it when the task is handed to a slot).
//  deadline_ms is on the hd_now_ms clock (0: none); max_output 0 means unlimited.
void hd_task_reset (heddle_task_t *task, int64_t deadline_ms, size_t max_output);
//  Frees the output buffer. Harmless on a zeroed or already finished task.
void hd_task_fini (heddle_task_t *task);
//  Same as the host table entries, callable directly. hd_task_output: 0, or -1 (output left
//  unchanged) when out.size + size would pass max_output or memory runs out. hd_task_cancelled:
//  non-zero when cancel != 0 or the deadline has passed.
int hd_task_output (heddle_task_t *task, const void *data, size_t size);
void hd_task_fail (heddle_task_t *task, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
int hd_task_cancelled (heddle_task_t *task);
//  Monotonic clock in ms (shared helper).
int64_t hd_now_ms (void);

#endif
