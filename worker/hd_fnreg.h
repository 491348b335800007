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
//  Load a plugin: dlopen(path, RTLD_NOW | RTLD_LOCAL), find heddle_plugin_init, call it with a
//  host table whose register_fn adds to this registry (the table stays valid until destroy, so
//  a plugin may keep the pointer). HD_OK (errbuf set to ""); HD_EIO when dlopen/dlsym fails
//  (errbuf: the dlerror text); HD_EINVAL when the plugin refuses (non-zero init: "plugin P
//  refused to load (init returned N)"), registers a bad/duplicate name ("plugin P: function name
//  'F' invalid or taken") or is already loaded; HD_EFULL when it would pass HD_MAX_FNS;
//  HD_ENOMEM. On failure nothing of the plugin stays registered and it is dlclosed.
//  errbuf may be NULL; the message is truncated to errlen.
hd_err_t hd_fnreg_load_plugin (hd_fnreg_t *self, const char *path, char *errbuf, size_t errlen);

//  Register the built-ins: echo, sleep, sha256, pi, wordcount (worker/hd_builtins.c, whose top
//  comment gives their input and output formats), and `exec` (worker/hd_exec.h) only when
//  allow_exec is true. HD_OK; HD_ECRYPTO when libsodium cannot initialise; otherwise the
//  hd_fnreg_add error (HD_EINVAL: a built-in's name is already taken; HD_EFULL).
hd_err_t hd_builtins_register (hd_fnreg_t *self, bool allow_exec);

#endif
