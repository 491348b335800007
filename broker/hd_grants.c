/*  hd_grants: worker key -> up to HD_MAX_GRANTS sealed payload keys, in a czmq hash.  */
#include "hd_grants.h"

#include <czmq.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    uint32_t count;
    char grant[HD_MAX_GRANTS][HD_GRANT_TEXT];
} s_entry_t;

struct hd_grants {
    zhashx_t *by_key;  //  Z85 worker key -> s_entry_t (owned)
};

static void
s_entry_free (void **item)
{
    free (*item);
    *item = NULL;
}

hd_grants_t *
hd_grants_new (void)
{
    hd_grants_t *self = calloc (1, sizeof *self);
    if (!self || !(self->by_key = zhashx_new ())) {
        free (self);
        return NULL;
    }
    zhashx_set_destructor (self->by_key, s_entry_free);
    return self;
}

void
hd_grants_destroy (hd_grants_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhashx_destroy (&(*self_p)->by_key);
    free (*self_p);
    *self_p = NULL;
}

static bool
s_is_z85 (const char *text, size_t len)
{
    if (strlen (text) != len)
        return false;
    uint8_t raw[HD_GRANT_TEXT];
    return len % 5 == 0 && len / 5 * 4 <= sizeof raw && zmq_z85_decode (raw, text) != NULL;
}

//  Keep in memory only. HD_OK (also when already held), HD_ENOMEM.
static hd_err_t
s_keep (hd_grants_t *self, const char *key, const char *grant, bool *added)
{
    *added = false;
    s_entry_t *e = zhashx_lookup (self->by_key, key);
    if (!e) {
        if (!(e = calloc (1, sizeof *e)))
            return HD_ENOMEM;
        if (zhashx_insert (self->by_key, key, e) != 0) {
            free (e);
            return HD_ENOMEM;
        }
    }
    for (uint32_t i = 0; i < e->count; i++)
        if (strcmp (e->grant[i], grant) == 0)
            return HD_OK;
    if (e->count == HD_MAX_GRANTS) {  //  the oldest goes: a worker keeps at most this many keys
        memmove (e->grant[0], e->grant[1], (HD_MAX_GRANTS - 1) * sizeof e->grant[0]);
        e->count--;
    }
    snprintf (e->grant[e->count++], HD_GRANT_TEXT, "%s", grant);
    *added = true;
    return HD_OK;
}

hd_err_t
hd_grants_add (hd_grants_t *self, const char *key, const char *grant, const char *path,
               char *errbuf, size_t errlen)
{
    if (!s_is_z85 (key, 40) || !s_is_z85 (grant, HD_GRANT_TEXT - 1)) {
        snprintf (errbuf, errlen, "a grant is a 40-character worker key and a %d-character "
                                  "sealed key, both Z85", HD_GRANT_TEXT - 1);
        return HD_EINVAL;
    }
    bool added = false;
    hd_err_t rc = s_keep (self, key, grant, &added);
    if (rc != HD_OK || !added || !path)
        return rc;
    mode_t old = umask (077);
    FILE *f = fopen (path, "a");
    umask (old);
    if (!f || fprintf (f, "grant %s %s\n", key, grant) < 0 || fclose (f) != 0) {
        snprintf (errbuf, errlen, "cannot write %s: %s", path, strerror (errno));
        return HD_EIO;
    }
    return HD_OK;
}

hd_err_t
hd_grants_load (hd_grants_t *self, const char *path, char *errbuf, size_t errlen)
{
    FILE *f = fopen (path, "r");
    if (!f)
        return errno == ENOENT ? HD_OK : (snprintf (errbuf, errlen, "cannot read %s: %s", path,
                                                    strerror (errno)),
                                          HD_EIO);
    char line[512], key[64], grant[256];
    hd_err_t rc = HD_OK;
    for (unsigned n = 1; rc == HD_OK && fgets (line, sizeof line, f); n++) {
        //  Each line starts with the word "grant": Z85 text may start with '#', which starts
        //  a comment line.
        const char *p = line + strspn (line, " \t");
        if (*p == '#' || *p == '\n' || !*p)
            continue;
        if (sscanf (p, "grant %63s %255s", key, grant) != 2) {
            snprintf (errbuf, errlen, "%s:%u: want: grant WORKERKEY GRANT", path, n);
            rc = HD_EINVAL;
            continue;
        }
        bool added;
        if (!s_is_z85 (key, 40) || !s_is_z85 (grant, HD_GRANT_TEXT - 1)) {
            snprintf (errbuf, errlen, "%s:%u: not a Z85 worker key and grant", path, n);
            rc = HD_EINVAL;
        }
        else
            rc = s_keep (self, key, grant, &added);
    }
    fclose (f);
    return rc;
}

uint32_t
hd_grants_for (const hd_grants_t *self, const char *key, char out[][HD_GRANT_TEXT], uint32_t max)
{
    const s_entry_t *e = zhashx_lookup (self->by_key, key);
    uint32_t n = 0;
    for (; e && n < e->count && n < max; n++)
        memcpy (out[n], e->grant[n], HD_GRANT_TEXT);
    return n;
}

uint32_t
hd_grants_drop (hd_grants_t *self, const char *key)
{
    const s_entry_t *e = zhashx_lookup (self->by_key, key);
    uint32_t n = e ? e->count : 0;
    zhashx_delete (self->by_key, key);
    return n;
}

size_t
hd_grants_keys (const hd_grants_t *self)
{
    return zhashx_size (self->by_key);
}
