/*  hd_fnreg: the worker's table of task functions by name: built-ins, plugin functions and
    functions an embedding program adds. Filled at start-up, read-only while tasks run (so slot
    threads read it without locks). Also loads plugins (dlopen) and keeps their handles.  */
#ifndef HD_FNREG_H
#define HD_FNREG_H

#include <stdbool.h>
#include <stdint.h>

#include "hd_err.h"
#include "hd_proto.h"
#include "heddle_plugin.h"

typedef struct hd_fnreg hd_fnreg_t;

typedef struct {
    char name[HD_MAX_FN + 1];
    heddle_fn_t fn;
    void *arg;
} hd_fnentry_t;

//  NULL only when memory runs out.
hd_fnreg_t *hd_fnreg_new (void);
//  dlcloses plugins. NULL-safe; sets *self_p = NULL.
void hd_fnreg_destroy (hd_fnreg_t **self_p);
//  HD_OK; HD_EINVAL for a bad name (empty, > HD_MAX_FN, characters outside [A-Za-z0-9_.-]) or a
//  name already registered; HD_EFULL past HD_MAX_FNS; HD_ENOMEM.
hd_err_t hd_fnreg_add (hd_fnreg_t *self, const char *name, heddle_fn_t fn, void *arg);
//  Borrowed entry, NULL when unknown.
const hd_fnentry_t *hd_fnreg_find (const hd_fnreg_t *self, const char *name);
uint32_t hd_fnreg_count (const hd_fnreg_t *self);
//  Entry i in registration order (0 <= i < count).
const hd_fnentry_t *hd_fnreg_at (const hd_fnreg_t *self, uint32_t i);
//  Load a plugin: dlopen(path), find heddle_plugin_init, call it with a host table whose
//  register_fn adds to this registry. HD_OK; HD_EIO when dlopen/dlsym fails; HD_EINVAL when the
//  plugin refuses (non-zero init) or registers a bad/duplicate name. `errbuf` gets a message.
hd_err_t hd_fnreg_load_plugin (hd_fnreg_t *self, const char *path, char *errbuf, size_t errlen);

//  Register the built-ins: echo, sleep, sha256, pi, wordcount (worker/hd_builtins.c), and
//  `exec` only when allow_exec is true.
hd_err_t hd_builtins_register (hd_fnreg_t *self, bool allow_exec);

#endif
