/*  hd_task: the per-slot task context behind the plugin ABI's heddle_task_t: output buffer with
    a size limit, error text, and the stop test (cancel flag or deadline). It does not know who
    runs the task or how results travel; the runner resets it before a task and reads it after.  */
#include "hd_task.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

//  Built-ins and embedded callers get this table; they have no registry to register into, so
//  register_fn refuses. Plugins get their own copy from hd_fnreg_load_plugin.
static int
s_register_refused (void *ctx, const char *name, heddle_fn_t fn, void *arg)
{
    (void) ctx;
    (void) name;
    (void) fn;
    (void) arg;
    return -1;
}

static const heddle_host_t s_host = {
    .abi = HEDDLE_PLUGIN_ABI,
    .ctx = NULL,
    .register_fn = s_register_refused,
    .output = hd_task_output,
    .fail = hd_task_fail,
    .cancelled = hd_task_cancelled,
};

const heddle_host_t *
hd_task_host (void)
{
    return &s_host;
}

void
hd_task_init (heddle_task_t *task)
{
    memset (task, 0, sizeof *task);
    hd_buf_init (&task->out);
    atomic_init (&task->cancel, 0);
}

void
hd_task_reset (heddle_task_t *task, int64_t deadline_ms, size_t max_output)
{
    hd_buf_reset (&task->out);
    task->max_output = max_output;
    task->error[0] = '\0';
    task->deadline_ms = deadline_ms;
    //  The cancel flag is left alone: the runner clears it under its lock when a slot takes the
    //  task, and a cancel (or the worker stopping) set between that and this call must stand.
    //  Clearing it here lost such a cancel, and a stopping worker then waited for ever.
}

void
hd_task_fini (heddle_task_t *task)
{
    hd_buf_fini (&task->out);
}

int
hd_task_output (heddle_task_t *task, const void *data, size_t size)
{
    //  Written so that out.size + size cannot overflow.
    if (task->max_output && (size > task->max_output || task->out.size > task->max_output - size))
        return -1;
    return hd_buf_append (&task->out, data, size) == HD_OK ? 0 : -1;
}

void
hd_task_fail (heddle_task_t *task, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    int n = vsnprintf (task->error, sizeof task->error, fmt, ap);
    va_end (ap);
    //  An encoding error leaves the buffer undefined; a failing task must still say something.
    if (n < 0)
        snprintf (task->error, sizeof task->error, "task failed");
}

int
hd_task_cancelled (heddle_task_t *task)
{
    if (atomic_load (&task->cancel) != 0)
        return 1;
    return task->deadline_ms && hd_now_ms () >= task->deadline_ms;
}

int64_t
hd_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
