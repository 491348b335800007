/*  hd_sessions: sessions keyed by session id (hex, in a hash looked up only when the cached
    last session does not match), each owned by one key record; a second hash maps each
    connection's routing id to the session it speaks for, touched only when a session changes
    connection. Slots are reused through free
    lists so a job's session index stays valid while the job lives: a session is forgotten only
    when it holds nothing.  */
#include "hd_sessions.h"

#include <assert.h>
#include <stddef.h>
#include <czmq.h>
#include <string.h>

typedef struct {
    char key[HD_SESSION_KEY];
    uint32_t held;
    uint32_t sessions;  //  0: free slot
    uint32_t jobs;      //  of its sessions, those that are detached jobs
} s_key_t;

//  A growable array of T with a stack of free slots.
typedef struct {
    uint32_t *items;
    uint32_t count, cap;
} s_stack_t;

struct hd_sessions {
    hd_sessions_config_t config;
    hd_session_t *tab;
    uint32_t n, cap;  //  slots in use or freed, allocated
    s_key_t *keys;
    uint32_t nkeys, keys_cap;
    s_stack_t free_sessions, free_keys;
    zhashx_t *by_id;   //  hex(session id) -> index + 1
    zhashx_t *by_rid;  //  hex(connection routing id) -> index + 1
    zhashx_t *by_key;  //  key text -> index + 1
    uint32_t last;     //  cache: the session found last
    uint32_t live;
};

hd_sessions_t *
hd_sessions_new (const hd_sessions_config_t *config)
{
    hd_sessions_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->config = *config;
    self->by_id = zhashx_new ();
    self->by_rid = zhashx_new ();
    self->by_key = zhashx_new ();
    self->last = HD_SESSION_NONE;
    if (!self->by_id || !self->by_rid || !self->by_key)
        hd_sessions_destroy (&self);
    return self;
}

void
hd_sessions_destroy (hd_sessions_t **self_p)
{
    hd_sessions_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy (&self->by_id);
    zhashx_destroy (&self->by_rid);
    zhashx_destroy (&self->by_key);
    free (self->tab);
    free (self->keys);
    free (self->free_sessions.items);
    free (self->free_keys.items);
    free (self);
    *self_p = NULL;
}

static hd_err_t
s_push (s_stack_t *s, uint32_t v)
{
    if (s->count == s->cap) {
        uint32_t cap = s->cap ? s->cap * 2 : 16;
        uint32_t *items = realloc (s->items, cap * sizeof *items);
        if (!items)
            return HD_ENOMEM;
        s->items = items;
        s->cap = cap;
    }
    s->items[s->count++] = v;
    return HD_OK;
}

//  Make room for one more slot in a table of `size`-byte items; HD_ENOMEM.
static hd_err_t
s_grow (void **tab, uint32_t n, uint32_t *cap, size_t size)
{
    if (n < *cap)
        return HD_OK;
    uint32_t new_cap = *cap ? *cap * 2 : 16;
    void *t = realloc (*tab, new_cap * size);
    if (!t)
        return HD_ENOMEM;
    *tab = t;
    *cap = new_cap;
    return HD_OK;
}

static void
s_hex (char *out, const uint8_t *data, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 15];
    }
    out[2 * len] = 0;
}

//  The key record for `key`, created with no sessions when new; HD_SESSION_NONE on ENOMEM.
static uint32_t
s_key_index (hd_sessions_t *self, const char *key)
{
    uintptr_t found = (uintptr_t) zhashx_lookup (self->by_key, key);
    if (found)
        return (uint32_t) found - 1;
    uint32_t k;
    if (self->free_keys.count)
        k = self->free_keys.items[--self->free_keys.count];
    else if (s_grow ((void **) &self->keys, self->nkeys, &self->keys_cap, sizeof *self->keys) ==
             HD_OK)
        k = self->nkeys++;
    else
        return HD_SESSION_NONE;
    memset (&self->keys[k], 0, sizeof self->keys[k]);
    snprintf (self->keys[k].key, sizeof self->keys[k].key, "%s", key);
    if (zhashx_insert (self->by_key, self->keys[k].key, (void *) (uintptr_t) (k + 1)) != 0) {
        s_push (&self->free_keys, k);  //  room was reserved when it was taken
        return HD_SESSION_NONE;
    }
    return k;
}

//  A key record with no session left is forgotten (its slot was counted in nkeys, so the free
//  stack only grows up to nkeys).
static void
s_key_drop_unused (hd_sessions_t *self, uint32_t k)
{
    if (self->keys[k].sessions)
        return;
    zhashx_delete (self->by_key, self->keys[k].key);
    s_push (&self->free_keys, k);
}

static void
s_key_unref (hd_sessions_t *self, uint32_t k)
{
    assert (self->keys[k].sessions);
    self->keys[k].sessions--;
    s_key_drop_unused (self, k);
}

static hd_err_t
s_create (hd_sessions_t *self, const uint8_t *id, size_t len, const char *hex, uint32_t k,
          int64_t now, uint32_t *out)
{
    uint32_t i;
    if (self->free_sessions.count)
        i = self->free_sessions.items[--self->free_sessions.count];
    else if (s_grow ((void **) &self->tab, self->n, &self->cap, sizeof *self->tab) == HD_OK &&
             s_push (&self->free_sessions, 0) == HD_OK) {
        self->free_sessions.count--;  //  reserves the stack slot this session frees one day
        i = self->n++;
    } else
        return HD_ENOMEM;
    if (zhashx_insert (self->by_id, hex, (void *) (uintptr_t) (i + 1)) != 0) {
        self->tab[i].id_len = 0;
        s_push (&self->free_sessions, i);
        return HD_ENOMEM;
    }
    hd_session_t *s = &self->tab[i];
    memset (s, 0, offsetof (hd_session_t, rid));  //  rid[] is meaningful only up to rid_len
    memcpy (s->id, id, len);
    s->id_len = (uint8_t) len;
    s->key = k;
    s->last_seen_ms = now;
    self->keys[k].sessions++;
    self->live++;
    *out = i;
    return HD_OK;
}

//  A session restored from a format-1 journal has no owner (""): the first key takes it, with
//  what it holds.
static void
s_claim (hd_sessions_t *self, hd_session_t *s, uint32_t k)
{
    self->keys[s->key].held -= s->held;
    self->keys[k].held += s->held;
    self->keys[s->key].jobs -= s->job != 0;
    self->keys[k].jobs += s->job != 0;
    self->keys[k].sessions++;
    s_key_unref (self, s->key);
    s->key = k;
}

static void s_forget (hd_sessions_t *self, uint32_t i);

//  A key at its session limit makes room by forgetting its least recently seen session that
//  holds nothing (a `heddle run` in a loop opens a session per process); false when every one
//  of its sessions holds something. Scans the table: only when a key opens a session at its
//  limit, never per message.
static bool
s_make_room (hd_sessions_t *self, uint32_t k)
{
    uint32_t oldest = HD_SESSION_NONE;
    for (uint32_t i = 0; i < self->n; i++) {
        const hd_session_t *s = &self->tab[i];
        if (s->id_len && s->key == k && !s->held && !s->job &&
            (oldest == HD_SESSION_NONE || s->last_seen_ms < self->tab[oldest].last_seen_ms))
            oldest = i;
    }
    if (oldest == HD_SESSION_NONE)
        return false;
    self->keys[k].sessions++;  //  keeps the key record alive across the forget
    s_forget (self, oldest);
    self->keys[k].sessions--;
    return true;
}

//  The session no longer has a connection to send to.
static void
s_unbind (hd_sessions_t *self, hd_session_t *s)
{
    if (!s->rid_len)
        return;
    char hex[2 * HD_SESSION_MAX_RID + 1];
    s_hex (hex, s->rid, s->rid_len);
    zhashx_delete (self->by_rid, hex);
    s->rid_len = 0;
}

//  The owner spoke on connection `rid`: what the session is sent goes there now. A session
//  that had this connection before loses it (the connection speaks for this one now).
static hd_err_t
s_bind (hd_sessions_t *self, uint32_t i, const uint8_t *rid, size_t len)
{
    hd_session_t *s = &self->tab[i];
    if (s->rid_len == len && memcmp (s->rid, rid, len) == 0)
        return HD_OK;
    char hex[2 * HD_SESSION_MAX_RID + 1];
    s_hex (hex, rid, len);
    uintptr_t other = (uintptr_t) zhashx_lookup (self->by_rid, hex);
    if (other)
        s_unbind (self, &self->tab[other - 1]);
    s_unbind (self, s);
    if (zhashx_insert (self->by_rid, hex, (void *) (uintptr_t) (i + 1)) != 0)
        return HD_ENOMEM;  //  left without a connection: nothing is lost, nothing sent
    memcpy (s->rid, rid, len);
    s->rid_len = (uint8_t) len;
    return HD_OK;
}

//  A message under a key that does not own the session: refused. When it came on the
//  session's own connection, another key holds that connection now (ROUTER handover), and
//  nothing more goes there until the owner speaks again.
static hd_err_t
s_deny (hd_sessions_t *self, hd_session_t *s, const uint8_t *rid, size_t len, uint32_t k)
{
    if (rid && s->rid_len == len && memcmp (s->rid, rid, len) == 0)
        s_unbind (self, s);
    s_key_drop_unused (self, k);
    return HD_EDENIED;
}

//  rid NULL: restoring from the journal (no connection, the owner as recorded).
static hd_err_t
s_find (hd_sessions_t *self, const uint8_t *id, size_t len, const uint8_t *rid, size_t rid_len,
        const char *key, int64_t now, uint32_t *out)
{
    bool restoring = rid == NULL;
    *out = HD_SESSION_NONE;
    if (!len || len > HD_SESSION_MAX_ID
        || (!restoring && (!rid_len || rid_len > HD_SESSION_MAX_RID)))
        return HD_EINVAL;
    char hex[2 * HD_SESSION_MAX_ID + 1];
    s_hex (hex, id, len);
    uintptr_t found = (uintptr_t) zhashx_lookup (self->by_id, hex);
    uint32_t k = s_key_index (self, key);
    if (k == HD_SESSION_NONE)
        return HD_ENOMEM;
    if (found) {
        hd_session_t *s = &self->tab[found - 1];
        *out = (uint32_t) found - 1;
        //  Replay: an id the journal shows reused by another key after it held nothing.
        if (s->key != k &&
            ((!restoring && !self->keys[s->key].key[0] && key[0]) || (restoring && !s->held)))
            s_claim (self, s, k);
        if (s->key != k)
            return s_deny (self, s, rid, rid_len, k);
        s->last_seen_ms = now;
    }
    else {
        uint32_t max = self->config.max_key_sessions;
        hd_err_t rc = !restoring && max && self->keys[k].sessions - self->keys[k].jobs >= max
                              && !s_make_room (self, k)
                          ? HD_EFULL
                          : s_create (self, id, len, hex, k, now, out);
        if (rc != HD_OK) {
            s_key_drop_unused (self, k);  //  a record made for nothing
            return rc;
        }
    }
    return restoring ? HD_OK : s_bind (self, *out, rid, rid_len);
}

hd_err_t
hd_sessions_find (hd_sessions_t *self, const uint8_t *id, size_t id_len, const uint8_t *rid,
                  size_t rid_len, const char *key, int64_t now, uint32_t *out)
{
    //  Most messages come from the session and connection of the one before: no hash lookup
    //  then. The key is compared too, so another connection reusing the routing id reaches
    //  nothing through the cache.
    uint32_t last = self->last;
    if (last < self->n) {
        hd_session_t *s = &self->tab[last];
        if (s->id_len == id_len && s->rid_len == rid_len && memcmp (s->id, id, id_len) == 0
            && memcmp (s->rid, rid, rid_len) == 0 && strcmp (self->keys[s->key].key, key) == 0) {
            s->last_seen_ms = now;
            *out = last;
            return HD_OK;
        }
    }
    hd_err_t rc = rid ? s_find (self, id, id_len, rid, rid_len, key, now, out) : HD_EINVAL;
    self->last = rc == HD_OK ? *out : HD_SESSION_NONE;
    return rc;
}

hd_err_t
hd_sessions_restore (hd_sessions_t *self, const uint8_t *id, size_t id_len, const char *key,
                     int64_t now, uint32_t *out)
{
    return s_find (self, id, id_len, NULL, 0, key, now, out);
}

hd_session_t *
hd_sessions_at (const hd_sessions_t *self, uint32_t index)
{
    return index < self->n && self->tab[index].id_len ? &self->tab[index] : NULL;
}

const char *
hd_sessions_key (const hd_sessions_t *self, uint32_t index)
{
    const hd_session_t *s = hd_sessions_at (self, index);
    return s ? self->keys[s->key].key : "";
}

uint32_t
hd_sessions_key_held (const hd_sessions_t *self, uint32_t index)
{
    const hd_session_t *s = hd_sessions_at (self, index);
    return s ? self->keys[s->key].held : 0;
}

uint32_t
hd_sessions_key_sessions (const hd_sessions_t *self, uint32_t index)
{
    const hd_session_t *s = hd_sessions_at (self, index);
    return s ? self->keys[s->key].sessions : 0;
}

bool
hd_sessions_same_owner (const hd_sessions_t *self, uint32_t a, uint32_t b)
{
    const hd_session_t *x = hd_sessions_at (self, a), *y = hd_sessions_at (self, b);
    return x && y && x->key == y->key;
}

hd_err_t
hd_sessions_hold (hd_sessions_t *self, uint32_t index)
{
    hd_session_t *s = hd_sessions_at (self, index);
    assert (s);
    const hd_sessions_config_t *c = &self->config;
    if ((c->max_session_tasks && s->held >= c->max_session_tasks) ||
        (c->max_key_tasks && self->keys[s->key].held >= c->max_key_tasks))
        return HD_EFULL;
    s->held++;
    self->keys[s->key].held++;
    return HD_OK;
}

void
hd_sessions_hold_anyway (hd_sessions_t *self, uint32_t index)
{
    hd_session_t *s = hd_sessions_at (self, index);
    assert (s);
    s->held++;
    self->keys[s->key].held++;
}

void
hd_sessions_release (hd_sessions_t *self, uint32_t index)
{
    hd_session_t *s = hd_sessions_at (self, index);
    if (!s || !s->held)
        return;
    s->held--;
    self->keys[s->key].held--;
}

void
hd_sessions_move (hd_sessions_t *self, uint32_t from, uint32_t to)
{
    if (from == to)
        return;
    hd_sessions_release (self, from);
    hd_sessions_hold_anyway (self, to);
}

void
hd_sessions_set_job (hd_sessions_t *self, uint32_t index, uint32_t job)
{
    hd_session_t *s = hd_sessions_at (self, index);
    if (!s)
        return;
    self->keys[s->key].jobs += (job != 0) - (s->job != 0);
    s->job = job;
}

static void
s_forget (hd_sessions_t *self, uint32_t i)
{
    //  The free stack had room reserved for this slot when it was created.
    hd_session_t *s = &self->tab[i];
    char hex[2 * HD_SESSION_MAX_ID + 1];
    s_hex (hex, s->id, s->id_len);
    zhashx_delete (self->by_id, hex);
    s_unbind (self, s);
    s_key_unref (self, s->key);
    s->id_len = 0;
    self->free_sessions.items[self->free_sessions.count++] = i;  //  reserved at creation
    self->live--;
    if (self->last == i)
        self->last = HD_SESSION_NONE;
}

uint32_t
hd_sessions_expire (hd_sessions_t *self, int64_t now)
{
    uint32_t forgotten = 0;
    if (!self->config.idle_ms)
        return 0;
    for (uint32_t i = 0; i < self->n; i++) {
        hd_session_t *s = &self->tab[i];
        if (s->id_len && !s->held && !s->job
            && now - s->last_seen_ms >= (int64_t) self->config.idle_ms) {
            s_forget (self, i);
            forgotten++;
        }
    }
    return forgotten;
}

uint32_t
hd_sessions_count (const hd_sessions_t *self)
{
    return self->live;
}

uint32_t
hd_sessions_active (const hd_sessions_t *self, int64_t now, uint32_t within_ms)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < self->n; i++) {
        const hd_session_t *s = &self->tab[i];
        n += s->id_len && (s->held || now - s->last_seen_ms < (int64_t) within_ms);
    }
    return n;
}

const hd_sessions_config_t *
hd_sessions_config (const hd_sessions_t *self)
{
    return &self->config;
}
