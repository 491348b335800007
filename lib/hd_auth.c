/*  hd_auth: ZAP handler. czmq's zauth keeps one key set for all domains, which cannot keep
    roles apart; this one keeps a set per domain and answers in the broker's own loop.  */
#include "hd_auth.h"

#include <czmq.h>
#include <string.h>
#include <time.h>

#include "hd_keys.h"
#include "hd_log.h"
#include "hd_ratelog.h"

#define S_MAX_DOMAINS 4

typedef struct {
    char name[32];
    zhashx_t *keys;  //  Z85 key -> role (static string)
} s_domain_t;

struct hd_auth {
    zsock_t *sock;
    s_domain_t domains[S_MAX_DOMAINS];
    int ndomains;
    uint64_t admitted, refused;
    hd_auth_pending_t *pending;  //  HD_AUTH_MAX_PENDING slots, oldest first; lazily allocated
    size_t npending;
    zhashx_t *rejected;          //  Z85 key -> "": refused and no longer listed
    const char *workers_file;    //  borrowed; approvals are appended here
    bool auto_approve;
    //  A refused key is logged once per window, then counted (a handshake flood once wrote
    //  one WARN line per attempt: 4,000 lines in 20 s); so are new pending worker keys.
    hd_ratelog_t refusals, newcomers;
};

static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

hd_err_t
hd_auth_new (hd_auth_t **out)
{
    return hd_auth_new_at (out, "inproc://zeromq.zap.01");
}

hd_err_t
hd_auth_new_at (hd_auth_t **out, const char *endpoint)
{
    *out = NULL;
    hd_auth_t *self = calloc (1, sizeof *self);
    if (!self)
        return HD_ENOMEM;
    self->sock = zsock_new (ZMQ_REP);
    //  The broker's only thread serves this socket: a receive must never wait (RCVTIMEO 0).
    if (self->sock)
        zsock_set_rcvtimeo (self->sock, 0);
    hd_ratelog_init (&self->refusals, HD_RATELOG_WINDOW_MS);
    hd_ratelog_init (&self->newcomers, HD_RATELOG_WINDOW_MS);
    if (!self->sock || zsock_bind (self->sock, "%s", endpoint) != 0) {
        hd_auth_destroy (&self);
        return HD_EIO;
    }
    *out = self;
    return HD_OK;
}

void
hd_auth_destroy (hd_auth_t **self_p)
{
    hd_auth_t *self = *self_p;
    if (!self)
        return;
    for (int i = 0; i < self->ndomains; i++)
        zhashx_destroy (&self->domains[i].keys);
    zhashx_destroy (&self->rejected);
    free (self->pending);
    zsock_destroy (&self->sock);
    free (self);
    *self_p = NULL;
}

static s_domain_t *
s_domain (hd_auth_t *self, const char *name, bool create)
{
    for (int i = 0; i < self->ndomains; i++)
        if (strcmp (self->domains[i].name, name) == 0)
            return &self->domains[i];
    if (!create || self->ndomains == S_MAX_DOMAINS)
        return NULL;
    s_domain_t *d = &self->domains[self->ndomains];
    d->keys = zhashx_new ();
    if (!d->keys)
        return NULL;
    snprintf (d->name, sizeof d->name, "%s", name);
    self->ndomains++;
    return d;
}

hd_err_t
hd_auth_allow (hd_auth_t *self, const char *domain, const char *key_z85, const char *role)
{
    if (!hd_keys_is_z85 (key_z85))
        return HD_EINVAL;
    s_domain_t *d = s_domain (self, domain, true);
    if (!d)
        return HD_ENOMEM;
    //  Roles are static strings ("client", "admin", "worker"): no copy, no destructor.
    zhashx_update (d->keys, key_z85, (void *) role);
    return HD_OK;
}

typedef struct {
    hd_auth_t *self;
    const char *domain;
    const char *role;
} s_load_ctx_t;

static void
s_load_one (const char *key, void *arg)
{
    s_load_ctx_t *ctx = arg;
    hd_auth_allow (ctx->self, ctx->domain, key, ctx->role);
}

hd_err_t
hd_auth_load (hd_auth_t *self, const char *domain, const char *path, const char *role,
              char *errbuf, size_t errlen)
{
    s_load_ctx_t ctx = { self, domain, role };
    if (!s_domain (self, domain, true))
        return HD_ENOMEM;
    return hd_keys_read_allowlist (path, s_load_one, &ctx, errbuf, errlen);
}

void *
hd_auth_socket (hd_auth_t *self)
{
    return zsock_resolve (self->sock);
}

//  Take the request's frames apart and decide. The role, or NULL to refuse.
static const char *
s_check (hd_auth_t *self, zmsg_t *req, char **domain_out, char key[HD_KEY_TEXT])
{
    char *domain = zmsg_popstr (req);
    char *address = zmsg_popstr (req);
    zframe_t *identity = zmsg_pop (req);
    char *mechanism = zmsg_popstr (req);
    zframe_t *cred = zmsg_pop (req);
    const char *role = NULL;
    key[0] = 0;
    if (domain && mechanism && strcmp (mechanism, "CURVE") == 0 && cred
        && zframe_size (cred) == 32) {
        zmq_z85_encode (key, zframe_data (cred), 32);
        role = hd_auth_check (self, domain, key, address);
    }
    else
        self->refused++;
    *domain_out = domain;
    zstr_free (&address);
    zframe_destroy (&identity);
    zstr_free (&mechanism);
    zframe_destroy (&cred);
    return role;
}

static void
s_handle_one (hd_auth_t *self, zmsg_t *req)
{
    char *version = zmsg_popstr (req);
    char *sequence = zmsg_popstr (req);
    char *domain = NULL;
    char key[HD_KEY_TEXT];
    const char *role = s_check (self, req, &domain, key);
    //  The User-Id names the role and the key: every message the connection delivers carries
    //  it, so the broker takes authority from it and never from what the peer says it is.
    char user[HD_AUTH_USER_ID];
    user[0] = 0;
    if (role)
        snprintf (user, sizeof user, "%s:%s", role, key);
    //  500 (not 400) when the key is allowed on another endpoint: the peer's monitor gets the
    //  code (libzmq passes 400 and 500 on in the ERROR command; 300 it drops silently), so a
    //  client pointed at the workers port is told so instead of "key not allowed". This
    //  handler sends no other 500.
    bool elsewhere = !role && key[0] && domain && hd_auth_known_elsewhere (self, domain, key);
    zsock_send (self->sock, "ssssss", version ? version : "1.0", sequence ? sequence : "",
                role ? "200" : elsewhere ? "500" : "400",
                role ? "OK" : elsewhere ? "key of another role" : "key not allowed", user, "");
    zstr_free (&version);
    zstr_free (&sequence);
    zstr_free (&domain);
}

void
hd_auth_handle (hd_auth_t *self)
{
    //  Until ZMQ_EVENTS says nothing is left (the broker polls this socket's edge-triggered
    //  ZMQ_FD). A failed getsockopt (EINTR) leaves `events` unset: treat it as "nothing".
    for (;;) {
        int events = 0;
        size_t len = sizeof events;
        if (zmq_getsockopt (zsock_resolve (self->sock), ZMQ_EVENTS, &events, &len) != 0
            || !(events & ZMQ_POLLIN))
            break;
        zmsg_t *req = zmsg_recv (self->sock);
        if (!req)
            return;
        s_handle_one (self, req);
        zmsg_destroy (&req);
    }
}

uint64_t
hd_auth_admitted (const hd_auth_t *self)
{
    return self->admitted;
}

uint64_t
hd_auth_refused (const hd_auth_t *self)
{
    return self->refused;
}

// --- enrollment -------------------------------------------------------------------------------

void
hd_auth_set_enroll (hd_auth_t *self, const char *workers_file, bool auto_approve)
{
    self->workers_file = workers_file;
    self->auto_approve = auto_approve;
}

static void
s_pending_remove (hd_auth_t *self, size_t index)
{
    memmove (&self->pending[index], &self->pending[index + 1],
             (self->npending - index - 1) * sizeof *self->pending);
    self->npending--;
}

//  Remember (or refresh) a refused worker key. Only a key seen for the first time is logged,
//  so that a worker retrying every 100 ms does not flood the log.
static void
s_pending_note (hd_auth_t *self, const char *key, const char *address)
{
    int64_t now = (int64_t) time (NULL);
    hd_auth_pending_t *p = NULL;
    for (size_t i = 0; i < self->npending && !p; i++)
        if (strcmp (self->pending[i].key, key) == 0)
            p = &self->pending[i];
    if (!p) {
        if (!self->pending
            && !(self->pending = calloc (HD_AUTH_MAX_PENDING, sizeof *self->pending)))
            return;
        if (self->npending == HD_AUTH_MAX_PENDING)
            s_pending_remove (self, 0);
        p = &self->pending[self->npending++];
        memset (p, 0, sizeof *p);
        snprintf (p->key, sizeof p->key, "%s", key);
        p->first_seen = now;
        hd_auth_tick (self);
        char id[HD_KEY_ID_TEXT] = "?";
        hd_keys_id (key, id);
        if (hd_ratelog_hit (&self->newcomers, s_now_ms (), address, 1))
            hd_warn ("worker key %s from %s is not enrolled: pending (heddle nodes approve %s)",
                     key, address && *address ? address : "?", id);
    }
    snprintf (p->address, sizeof p->address, "%s", address && *address ? address : "?");
    p->last_seen = now;
    p->attempts++;
}

static hd_err_t
s_save_key (hd_auth_t *self, const char *key, const char *why, char *errbuf, size_t errlen)
{
    if (!self->workers_file)
        return HD_OK;
    char comment[96];
    time_t now = time (NULL);
    struct tm tm;
    gmtime_r (&now, &tm);
    char date[32];
    strftime (date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf (comment, sizeof comment, "%s %s", why, date);
    return hd_keys_append_allowlist (self->workers_file, key, comment, errbuf, errlen);
}

static const char *
s_unknown_worker (hd_auth_t *self, const char *key, const char *address)
{
    if (self->rejected && zhashx_lookup (self->rejected, key))
        return NULL;
    if (!self->auto_approve) {
        s_pending_note (self, key, address);
        return NULL;
    }
    char err[256] = "";
    if (hd_auth_allow (self, HD_DOMAIN_WORKERS, key, "worker") != HD_OK)
        return NULL;
    hd_warn ("--auto-approve: admitted new worker key %s from %s", key,
             address && *address ? address : "?");
    if (s_save_key (self, key, "auto-approved", err, sizeof err) != HD_OK)
        hd_warn ("%s", err);
    return "worker";
}

bool
hd_auth_known_elsewhere (hd_auth_t *self, const char *domain, const char *key_z85)
{
    for (int i = 0; i < self->ndomains; i++)
        if (strcmp (self->domains[i].name, domain) != 0
            && zhashx_lookup (self->domains[i].keys, key_z85))
            return true;
    return false;
}

const char *
hd_auth_check (hd_auth_t *self, const char *domain, const char *key_z85, const char *address)
{
    s_domain_t *d = s_domain (self, domain, false);
    const char *role = d ? zhashx_lookup (d->keys, key_z85) : NULL;
    //  A client's key at the workers endpoint is a client at the wrong port, not a new board
    //  to enroll: refused (ZAP 500, s_handle_one) without becoming pending.
    if (!role && strcmp (domain, HD_DOMAIN_WORKERS) == 0 && hd_keys_is_z85 (key_z85)
        && !hd_auth_known_elsewhere (self, domain, key_z85))
        role = s_unknown_worker (self, key_z85, address);
    if (role)
        self->admitted++;
    else {
        self->refused++;
        //  Worker keys are logged once, when they become pending (s_pending_note).
        hd_auth_tick (self);
        if (strcmp (domain, HD_DOMAIN_WORKERS) != 0
            && hd_ratelog_hit (&self->refusals, s_now_ms (), address, 1))
            hd_warn ("refused key %s from %s on %s (not on that role's allowlist; more "
                     "refusals in the next %d s are counted, not logged)",
                     key_z85, address && *address ? address : "?", domain,
                     HD_RATELOG_WINDOW_MS / 1000);
    }
    return role;
}

//  "VERB 3,912 WHAT from 127.0.0.1 in the last 10 s"
static void
s_summary (hd_ratelog_t *r, const char *verb, const char *what)
{
    hd_ratelog_summary_t s;
    char count[27];
    if (hd_ratelog_flush (r, s_now_ms (), &s))
        hd_warn ("%s %s %s from %s%s in the last %" PRId64 " s", verb,
                 hd_ratelog_count_text (s.count, count), what,
                 s.mixed ? "several addresses, first " : "", *s.source ? s.source : "?",
                 s.seconds);
}

void
hd_auth_tick (hd_auth_t *self)
{
    s_summary (&self->refusals, "refused", "handshakes");
    s_summary (&self->newcomers, "noted", "new worker keys as pending");
}

size_t
hd_auth_pending_count (const hd_auth_t *self)
{
    return self->npending;
}

const hd_auth_pending_t *
hd_auth_pending_at (const hd_auth_t *self, size_t index)
{
    return index < self->npending ? &self->pending[index] : NULL;
}

static hd_err_t
s_find_pending (hd_auth_t *self, const char *id, size_t *index, char *errbuf, size_t errlen)
{
    size_t len = id ? strlen (id) : 0, found = 0;
    if (len < HD_AUTH_MIN_PREFIX || len > 40) {
        snprintf (errbuf, errlen, "give the key's id as `heddle nodes pending` shows it (at least "
                  "%d hex digits of its fingerprint), or its Z85 form",
                  HD_AUTH_MIN_PREFIX);
        return HD_EINVAL;
    }
    //  The id printed now (a fingerprint prefix in hex: shell-safe), or a Z85 prefix as before.
    for (size_t i = 0; i < self->npending; i++)
        if (hd_keys_matches (self->pending[i].key, id, HD_AUTH_MIN_PREFIX)) {
            *index = i;
            found++;
        }
    if (found == 0)
        snprintf (errbuf, errlen, "no pending key has the id %s (see `heddle nodes pending`)", id);
    else if (found > 1)
        snprintf (errbuf, errlen, "%zu pending keys match %s: give more of the id", found, id);
    return found == 1 ? HD_OK : found ? HD_EINVAL : HD_ENOTFOUND;
}

hd_err_t
hd_auth_approve (hd_auth_t *self, const char *id, char key_out[41], char *errbuf, size_t errlen)
{
    size_t i = 0;
    hd_err_t rc = s_find_pending (self, id, &i, errbuf, errlen);
    if (rc != HD_OK)
        return rc;
    snprintf (key_out, 41, "%s", self->pending[i].key);
    if ((rc = hd_auth_allow (self, HD_DOMAIN_WORKERS, key_out, "worker")) != HD_OK)
        return rc;
    s_pending_remove (self, i);
    return s_save_key (self, key_out, "approved", errbuf, errlen);
}

hd_err_t
hd_auth_reject (hd_auth_t *self, const char *id, char key_out[41], char *errbuf, size_t errlen)
{
    size_t i = 0;
    hd_err_t rc = s_find_pending (self, id, &i, errbuf, errlen);
    if (rc != HD_OK)
        return rc;
    if (!self->rejected && !(self->rejected = zhashx_new ()))
        return HD_ENOMEM;
    snprintf (key_out, 41, "%s", self->pending[i].key);
    zhashx_update (self->rejected, key_out, (void *) "");
    s_pending_remove (self, i);
    return HD_OK;
}

bool
hd_auth_split_user_id (const char *user_id, char role[16], char key[41])
{
    role[0] = key[0] = 0;
    if (!user_id)
        return false;
    const char *colon = strchr (user_id, ':');
    if (!colon || colon == user_id || (size_t) (colon - user_id) >= 16 || strlen (colon + 1) != 40)
        return false;
    memcpy (role, user_id, (size_t) (colon - user_id));
    role[colon - user_id] = 0;
    memcpy (key, colon + 1, 41);
    return true;
}

const char *
hd_auth_role (const hd_auth_t *self, const char *domain, const char *key_z85)
{
    for (int i = 0; i < self->ndomains; i++)
        if (strcmp (self->domains[i].name, domain) == 0)
            return zhashx_lookup (self->domains[i].keys, key_z85);
    return NULL;
}

//  The one admitted worker key starting with `id`, into key (HD_OK, HD_EINVAL, HD_ENOTFOUND).
static hd_err_t
s_find_worker (hd_auth_t *self, const char *id, char key[41], char *errbuf, size_t errlen)
{
    size_t len = id ? strlen (id) : 0, found = 0;
    s_domain_t *d = s_domain (self, HD_DOMAIN_WORKERS, false);
    if (len < HD_AUTH_MIN_PREFIX || len > 40) {
        snprintf (errbuf, errlen, "give the key's id (at least %d hex digits of its "
                  "fingerprint), or its Z85 form", HD_AUTH_MIN_PREFIX);
        return HD_EINVAL;
    }
    //  What approve accepts: a fingerprint prefix in hex, or a Z85 prefix.
    for (void *role = d ? zhashx_first (d->keys) : NULL; role; role = zhashx_next (d->keys)) {
        const char *k = zhashx_cursor (d->keys);
        if (hd_keys_matches (k, id, HD_AUTH_MIN_PREFIX) && found++ == 0)
            snprintf (key, 41, "%s", k);
    }
    if (found == 0)
        snprintf (errbuf, errlen, "no enrolled worker key starts with %s", id);
    else if (found > 1)
        snprintf (errbuf, errlen, "%zu enrolled worker keys start with %s: give more of it",
                  found, id);
    return found == 1 ? HD_OK : found ? HD_EINVAL : HD_ENOTFOUND;
}

hd_err_t
hd_auth_revoke (hd_auth_t *self, const char *id, char key_out[41], char *errbuf, size_t errlen)
{
    hd_err_t rc = s_find_worker (self, id, key_out, errbuf, errlen);
    if (rc != HD_OK)
        return rc;
    if (!self->rejected && !(self->rejected = zhashx_new ()))
        return HD_ENOMEM;
    zhashx_update (self->rejected, key_out, (void *) "");
    zhashx_delete (s_domain (self, HD_DOMAIN_WORKERS, false)->keys, key_out);
    for (size_t i = 0; i < self->npending; i++)
        if (strcmp (self->pending[i].key, key_out) == 0)
            s_pending_remove (self, i--);
    rc = self->workers_file
             ? hd_keys_remove_allowlist (self->workers_file, key_out, errbuf, errlen)
             : HD_OK;
    return rc == HD_ENOTFOUND ? HD_OK : rc;  //  admitted from memory only (auto-approve failed)
}
