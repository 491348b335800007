/*  hd_fnreg: the worker's function table, a fixed array searched linearly (HD_MAX_FNS is small
    and lookups are one per task), plus the plugins it loaded. Filled before any slot thread
    starts and never changed after, which is why readers need no lock. It calls functions never:
    the runner does.  */
#include "hd_fnreg.h"

#include <assert.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hd_task.h"

//  One loaded plugin. The host table lives here, not on the loader's stack, because a plugin
//  may keep the pointer it was given and use host->output etc. from its functions later.
typedef struct hd_plugin {
    struct hd_plugin *next;
    hd_fnreg_t *owner;
    void *handle;        //  dlopen handle, closed at destroy
    heddle_host_t host;  //  ctx points back to this record
    bool loading;        //  register_fn works only while heddle_plugin_init runs
    hd_err_t reg_err;    //  first failure of register_fn during init
    char bad_name[HD_MAX_FN + 2];
} hd_plugin_t;

struct hd_fnreg {
    hd_fnentry_t entries[HD_MAX_FNS];
    uint32_t count;
    hd_plugin_t *plugins;  //  most recently loaded first
};

hd_fnreg_t *
hd_fnreg_new (void)
{
    return calloc (1, sizeof (hd_fnreg_t));
}

void
hd_fnreg_destroy (hd_fnreg_t **self_p)
{
    assert (self_p);
    hd_fnreg_t *self = *self_p;
    if (!self)
        return;
    //  Entries point into the plugins' code: forget them before unloading it.
    self->count = 0;
    while (self->plugins) {
        hd_plugin_t *plugin = self->plugins;
        self->plugins = plugin->next;
        dlclose (plugin->handle);
        free (plugin);
    }
    free (self);
    *self_p = NULL;
}

static bool
s_name_is_valid (const char *name)
{
    size_t len = 0;
    for (; name[len] && len <= HD_MAX_FN; len++) {
        char c = name[len];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-';
        if (!ok)
            return false;
    }
    return len >= 1 && len <= HD_MAX_FN;
}

hd_err_t
hd_fnreg_add (hd_fnreg_t *self, const char *name, heddle_fn_t fn, void *arg)
{
    assert (self);
    if (!name || !fn || !s_name_is_valid (name) || hd_fnreg_find (self, name))
        return HD_EINVAL;
    if (self->count >= HD_MAX_FNS)
        return HD_EFULL;
    hd_fnentry_t *entry = &self->entries[self->count++];
    memset (entry, 0, sizeof *entry);
    strcpy (entry->name, name);  //  length checked by s_name_is_valid
    entry->fn = fn;
    entry->arg = arg;
    return HD_OK;
}

const hd_fnentry_t *
hd_fnreg_find (const hd_fnreg_t *self, const char *name)
{
    assert (self);
    assert (name);
    for (uint32_t i = 0; i < self->count; i++)
        if (strcmp (self->entries[i].name, name) == 0)
            return &self->entries[i];
    return NULL;
}

uint32_t
hd_fnreg_count (const hd_fnreg_t *self)
{
    assert (self);
    return self->count;
}

const hd_fnentry_t *
hd_fnreg_at (const hd_fnreg_t *self, uint32_t i)
{
    assert (self);
    assert (i < self->count);
    return &self->entries[i];
}

//  register_fn of a plugin's host table. Remembers the first failure so the loader can name it;
//  the plugin may ignore our -1 and still return 0.
static int
s_plugin_register (void *ctx, const char *name, heddle_fn_t fn, void *arg)
{
    hd_plugin_t *plugin = (hd_plugin_t *) ctx;
    hd_err_t rc = plugin->loading ? hd_fnreg_add (plugin->owner, name, fn, arg) : HD_EINVAL;
    if (rc != HD_OK && plugin->reg_err == HD_OK) {
        plugin->reg_err = rc;
        snprintf (plugin->bad_name, sizeof plugin->bad_name, "%s", name ? name : "(null)");
    }
    return rc == HD_OK ? 0 : -1;
}

static hd_plugin_t *
s_plugin_new (hd_fnreg_t *owner, void *handle)
{
    hd_plugin_t *plugin = calloc (1, sizeof *plugin);
    if (!plugin)
        return NULL;
    plugin->owner = owner;
    plugin->handle = handle;
    plugin->host = *hd_task_host ();
    plugin->host.ctx = plugin;
    plugin->host.register_fn = s_plugin_register;
    return plugin;
}

static void
s_set_error (char *errbuf, size_t errlen, const char *text)
{
    if (errbuf && errlen)
        snprintf (errbuf, errlen, "%s", text ? text : "unknown dynamic loader error");
}

//  dlopen + dlsym. HD_EIO with the loader's text in errbuf.
static hd_err_t
s_plugin_open (const char *path, void **handle_p, heddle_plugin_init_fn *init_p, char *errbuf,
               size_t errlen)
{
    dlerror ();  //  clear a stale message
    void *handle = dlopen (path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        s_set_error (errbuf, errlen, dlerror ());
        return HD_EIO;
    }
    //  ISO C forbids casting void * to a function pointer; POSIX guarantees the copy works.
    void *sym = dlsym (handle, HEDDLE_PLUGIN_INIT_SYMBOL);
    if (!sym) {
        s_set_error (errbuf, errlen, dlerror ());
        dlclose (handle);
        return HD_EIO;
    }
    memcpy (init_p, &sym, sizeof *init_p);
    *handle_p = handle;
    return HD_OK;
}

static void
s_plugin_error (const hd_plugin_t *plugin, int init_rc, const char *path, char *errbuf,
                size_t errlen)
{
    if (!errbuf || !errlen)
        return;
    if (plugin->reg_err == HD_EFULL)
        snprintf (errbuf, errlen, "plugin %s: cannot register '%s': more than %d functions", path,
                  plugin->bad_name, HD_MAX_FNS);
    else if (plugin->reg_err != HD_OK)
        snprintf (errbuf, errlen, "plugin %s: function name '%s' invalid or taken", path,
                  plugin->bad_name);
    else
        snprintf (errbuf, errlen, "plugin %s refused to load (init returned %d)", path, init_rc);
}

//  Runs heddle_plugin_init. On any failure the plugin's functions are removed again, since
//  the caller will dlclose the code they point to. A failed register_fn is reported in
//  preference to init's return code: it is the cause, and a careful plugin returns non-zero
//  because of it.
static hd_err_t
s_plugin_init (hd_fnreg_t *self, hd_plugin_t *plugin, heddle_plugin_init_fn init, const char *path,
               char *errbuf, size_t errlen)
{
    uint32_t count_before = self->count;
    plugin->loading = true;
    int rc = init (&plugin->host);
    plugin->loading = false;
    if (rc == 0 && plugin->reg_err == HD_OK)
        return HD_OK;
    self->count = count_before;
    s_plugin_error (plugin, rc, path, errbuf, errlen);
    return plugin->reg_err != HD_OK ? plugin->reg_err : HD_EINVAL;
}

//  dlopen hands back the same handle for a library already loaded (under any path). Running its
//  init again would register its names twice and could repoint a host pointer the plugin
//  keeps at a record we then free, so a second load is refused up front.
static bool
s_plugin_is_loaded (const hd_fnreg_t *self, const void *handle)
{
    for (const hd_plugin_t *plugin = self->plugins; plugin; plugin = plugin->next)
        if (plugin->handle == handle)
            return true;
    return false;
}

hd_err_t
hd_fnreg_load_plugin (hd_fnreg_t *self, const char *path, char *errbuf, size_t errlen)
{
    assert (self);
    assert (path);
    void *handle = NULL;
    heddle_plugin_init_fn init = NULL;
    hd_err_t rc = s_plugin_open (path, &handle, &init, errbuf, errlen);
    if (rc != HD_OK)
        return rc;
    if (s_plugin_is_loaded (self, handle)) {
        dlclose (handle);
        if (errbuf && errlen)
            snprintf (errbuf, errlen, "plugin %s is already loaded", path);
        return HD_EINVAL;
    }
    hd_plugin_t *plugin = s_plugin_new (self, handle);
    if (!plugin) {
        dlclose (handle);
        s_set_error (errbuf, errlen, "out of memory");
        return HD_ENOMEM;
    }
    rc = s_plugin_init (self, plugin, init, path, errbuf, errlen);
    if (rc != HD_OK) {
        dlclose (handle);
        free (plugin);
        return rc;
    }
    plugin->next = self->plugins;
    self->plugins = plugin;
    if (errbuf && errlen)
        errbuf[0] = '\0';
    return HD_OK;
}
