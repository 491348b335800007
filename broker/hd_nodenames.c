/*  hd_nodenames: a small array of (key, name) pairs, scanned: it holds one entry per enrolled
    worker key, and is read on HELLO, never per message. The file is rewritten whole (a
    temporary file, fsync, rename), so a crash leaves the old table or the new one.  */
#include "hd_nodenames.h"

#include <assert.h>
#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hd_keys.h"
#include "hd_proto.h"

typedef struct {
    char key[41];
    char name[HD_MAX_NAME + 1];
} s_binding_t;

struct hd_nodenames {
    s_binding_t *items;
    size_t count, cap;
    char *path;  //  NULL: memory only
};

bool
hd_nodenames_valid (const char *name)
{
    size_t len = strlen (name);
    if (len == 0 || len > HD_MAX_NAME)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char) name[i] < 0x20 || name[i] == 0x7f)
            return false;
    return true;
}

static s_binding_t *
s_by_name (const hd_nodenames_t *self, const char *name)
{
    for (size_t i = 0; i < self->count; i++)
        if (strcmp (self->items[i].name, name) == 0)
            return &self->items[i];
    return NULL;
}

static hd_err_t
s_add (hd_nodenames_t *self, const char *key, const char *name)
{
    if (self->count == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 16;
        s_binding_t *items = realloc (self->items, cap * sizeof *items);
        if (!items)
            return HD_ENOMEM;
        self->items = items;
        self->cap = cap;
    }
    s_binding_t *b = &self->items[self->count++];
    snprintf (b->key, sizeof b->key, "%s", key);
    snprintf (b->name, sizeof b->name, "%s", name);
    return HD_OK;
}

//  One line "KEY NAME" (the name is the rest of the line). Blank lines and '#' comments pass
//  ('#' is also a Z85 character: a line is a binding first when it has that shape).
static hd_err_t
s_parse_line (hd_nodenames_t *self, char *line)
{
    line[strcspn (line, "\r\n")] = 0;
    bool shaped = strlen (line) >= 42 && line[40] == ' ';
    if (shaped)
        line[40] = 0;
    if (!shaped || !hd_keys_is_z85 (line)) {
        if (shaped)
            line[40] = ' ';
        return !line[0] || line[0] == '#' ? HD_OK : HD_EINVAL;
    }
    const char *name = line + 41;
    if (!hd_nodenames_valid (name) || s_by_name (self, name))
        return HD_EINVAL;
    return s_add (self, line, name);
}

static hd_err_t
s_read (hd_nodenames_t *self, char *errbuf, size_t errlen)
{
    FILE *f = fopen (self->path, "r");
    if (!f) {
        if (errno == ENOENT)
            return HD_OK;
        snprintf (errbuf, errlen, "cannot read %s: %s", self->path, strerror (errno));
        return HD_EIO;
    }
    char line[256];
    hd_err_t rc = HD_OK;
    for (unsigned n = 1; rc == HD_OK && fgets (line, sizeof line, f); n++)
        if ((rc = s_parse_line (self, line)) == HD_EINVAL)
            snprintf (errbuf, errlen, "%s:%u: expected \"KEY NAME\" (a Z85 worker key, one "
                      "space, a node name owned by no other key)", self->path, n);
    fclose (f);
    return rc;
}

hd_err_t
hd_nodenames_load (hd_nodenames_t **out, const char *path, char *errbuf, size_t errlen)
{
    *out = NULL;
    hd_nodenames_t *self = calloc (1, sizeof *self);
    if (!self || (path && !(self->path = strdup (path)))) {
        free (self);
        return HD_ENOMEM;
    }
    hd_err_t rc = self->path ? s_read (self, errbuf, errlen) : HD_OK;
    if (rc != HD_OK) {
        hd_nodenames_destroy (&self);
        return rc;
    }
    *out = self;
    return HD_OK;
}

void
hd_nodenames_destroy (hd_nodenames_t **self_p)
{
    assert (self_p);
    hd_nodenames_t *self = *self_p;
    if (!self)
        return;
    free (self->items);
    free (self->path);
    free (self);
    *self_p = NULL;
}

//  Rewrite the file: PATH.tmp written, flushed to disk and renamed over PATH.
static hd_err_t
s_save (hd_nodenames_t *self, char *errbuf, size_t errlen)
{
    if (!self->path)
        return HD_OK;
    char tmp[4200];
    snprintf (tmp, sizeof tmp, "%s.tmp", self->path);
    FILE *f = fopen (tmp, "w");
    //  Never writable by group or others, whatever the umask: the broker refuses to start
    //  with a names file others may write (hd_keys_check_mode).
    struct stat st;
    if (f && fstat (fileno (f), &st) == 0 && (st.st_mode & 022))
        fchmod (fileno (f), st.st_mode & 0755);
    bool ok = f != NULL
              && fprintf (f, "# heddle node names: each worker key owns one node name. Written "
                             "by heddle-broker;\n# free a name with `heddle nodes revoke "
                             "KEY|NAME`.\n") > 0;
    for (size_t i = 0; ok && i < self->count; i++)
        ok = fprintf (f, "%s %s\n", self->items[i].key, self->items[i].name) > 0;
    ok = ok && fflush (f) == 0 && fsync (fileno (f)) == 0;
    if (f && fclose (f) != 0)
        ok = false;
    if (!ok || rename (tmp, self->path) != 0) {
        snprintf (errbuf, errlen, "cannot save %s: %s", self->path, strerror (errno));
        unlink (tmp);
        return HD_EIO;
    }
    return HD_OK;
}

const char *
hd_nodenames_owner (const hd_nodenames_t *self, const char *name)
{
    assert (self && name);
    s_binding_t *b = s_by_name (self, name);
    return b ? b->key : NULL;
}

size_t
hd_nodenames_count_of (const hd_nodenames_t *self, const char *key)
{
    assert (self && key);
    size_t n = 0;
    for (size_t i = 0; i < self->count; i++)
        n += strcmp (self->items[i].key, key) == 0;
    return n;
}

hd_err_t
hd_nodenames_bind (hd_nodenames_t *self, const char *key, const char *name, size_t max_per_key,
                   char *errbuf, size_t errlen)
{
    assert (self && key && name);
    bool valid = hd_keys_is_z85 (key) && hd_nodenames_valid (name);
    s_binding_t *owner = valid ? s_by_name (self, name) : NULL;
    if (!valid || (owner && strcmp (owner->key, key) != 0)) {
        snprintf (errbuf, errlen, "cannot bind node name '%s' to key %.8s...", name, key);
        return HD_EINVAL;
    }
    if (owner)
        return HD_OK;
    if (max_per_key && hd_nodenames_count_of (self, key) >= max_per_key) {
        snprintf (errbuf, errlen, "key %.8s... owns %zu node names already (the bound)", key,
                  max_per_key);
        return HD_EFULL;
    }
    if (s_add (self, key, name) != HD_OK)
        return HD_ENOMEM;
    return s_save (self, errbuf, errlen);
}

hd_err_t
hd_nodenames_forget (hd_nodenames_t *self, const char *key, char *errbuf, size_t errlen)
{
    assert (self && key);
    size_t before = self->count;
    for (size_t i = 0; i < self->count;)
        if (strcmp (self->items[i].key, key) == 0)
            self->items[i] = self->items[--self->count];
        else
            i++;
    if (self->count == before)
        return HD_ENOTFOUND;
    return s_save (self, errbuf, errlen);
}

size_t
hd_nodenames_count (const hd_nodenames_t *self)
{
    assert (self);
    return self->count;
}
