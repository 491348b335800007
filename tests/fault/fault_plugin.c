/*  fault_plugin: task functions for the fault-injection suite, loaded by heddle-worker with
    --plugin. "slowecho" takes "MS|PAYLOAD", waits MS milliseconds (stopping early when
    cancelled) and returns PAYLOAD; "poison" kills the worker process when its input is "die"
    (a task that keeps crashing workers) and echoes anything else.  */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "heddle_plugin.h"

static const heddle_host_t *s_host;

static int
s_slowecho (heddle_task_t *task, const void *input, size_t size, void *arg)
{
    (void) arg;
    const char *text = input;
    const char *bar = memchr (text, '|', size);
    if (!bar) {
        s_host->fail (task, "slowecho: expected MS|PAYLOAD");
        return 1;
    }
    long ms = strtol (text, NULL, 10);
    for (long waited = 0; waited < ms; waited++) {
        if (s_host->cancelled (task))
            return 1;
        struct timespec ts = { 0, 1000000 };
        nanosleep (&ts, NULL);
    }
    size_t skip = (size_t) (bar + 1 - text);
    return s_host->output (task, bar + 1, size - skip) == 0 ? 0 : 1;
}

static int
s_poison (heddle_task_t *task, const void *input, size_t size, void *arg)
{
    (void) arg;
    if (size == 3 && memcmp (input, "die", 3) == 0)
        raise (SIGKILL);
    return s_host->output (task, input, size) == 0 ? 0 : 1;
}

int
heddle_plugin_init (const heddle_host_t *host)
{
    if (host->abi != HEDDLE_PLUGIN_ABI)
        return 1;
    s_host = host;
    if (host->register_fn (host->ctx, "slowecho", s_slowecho, NULL) != 0
        || host->register_fn (host->ctx, "poison", s_poison, NULL) != 0)
        return 2;
    return 0;
}
