/*  heddle_plugin.h: the ABI between heddle-worker and task functions, both plugins (shared
    objects loaded with `heddle-worker --plugin path.so`) and functions a program registers on
    an embedded worker. Public and installed. Depends on nothing but the C library.

    A plugin exports one symbol:
        int heddle_plugin_init (const heddle_host_t *host);
    It checks host->abi (must be HEDDLE_PLUGIN_ABI; return non-zero to refuse), then registers
    its functions with host->register_fn (host->ctx, "name", fn, arg), and returns 0.
    A non-zero return aborts loading with an error naming the plugin.

    A task function:
        int fn (heddle_task_t *task, const void *input, size_t size, void *arg);
    runs on one of the worker's slot threads (several run at once: keep shared state locked),
    reads its input (the task's payload, not NUL-terminated), appends its output with
    host->output (task, data, size) any number of times, and returns 0. To fail it calls
    host->fail (task, "reason ...") and returns non-zero: the client receives status FAILED with
    that text. A long function polls host->cancelled (task) and returns early when it is
    non-zero (deadline passed or task cancelled); the worker then reports TIMEOUT or CANCELLED.
    A function must not call exit() or longjmp out; a crash kills the worker (the broker then
    retries the task elsewhere, up to its attempts).  */
#ifndef HEDDLE_PLUGIN_H
#define HEDDLE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#define HEDDLE_PLUGIN_ABI 1

typedef struct heddle_task heddle_task_t;

typedef int (*heddle_fn_t) (heddle_task_t *task, const void *input, size_t size, void *arg);

typedef struct heddle_host {
    uint32_t abi;  //  HEDDLE_PLUGIN_ABI of the worker loading the plugin
    void *ctx;     //  pass back to register_fn
    //  Register `fn` under `name` (1..63 bytes of [A-Za-z0-9_.-]). 0 on success, -1 when the
    //  name is invalid or already taken.
    int (*register_fn) (void *ctx, const char *name, heddle_fn_t fn, void *arg);
    //  Append output bytes. 0, or -1 when the output limit would be passed (the task should fail).
    int (*output) (heddle_task_t *task, const void *data, size_t size);
    //  Set the error text of a failing task (printf-style, truncated to 1023 bytes).
    void (*fail) (heddle_task_t *task, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
    //  Non-zero when the task should stop now (deadline passed, cancelled, worker stopping).
    int (*cancelled) (heddle_task_t *task);
} heddle_host_t;

//  The symbol a plugin exports.
typedef int (*heddle_plugin_init_fn) (const heddle_host_t *host);
#define HEDDLE_PLUGIN_INIT_SYMBOL "heddle_plugin_init"
//  Defined by the plugin, never by the worker (declared here so the plugin's definition is
//  checked against the ABI). `host` stays valid while the plugin is loaded: the plugin may keep
//  the pointer and call host->output etc. from its functions. register_fn works only during
//  this call. A library is initialised at most once per worker.
int heddle_plugin_init (const heddle_host_t *host);

#endif
