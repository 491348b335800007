/*  hd_auth: ZAP handler. czmq's zauth keeps one key set for all domains, which cannot keep
    roles apart; this one keeps a set per domain and answers in the broker's own loop.  */
#include "hd_auth.h"

#include <czmq.h>
#include <string.h>

#include "hd_keys.h"
#include "hd_log.h"

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
};

hd_err_t
hd_auth_new (hd_auth_t **out)
{
    *out = NULL;
    hd_auth_t *self = calloc (1, sizeof *self);
    if (!self)
        return HD_ENOMEM;
    self->sock = zsock_new (ZMQ_REP);
    if (!self->sock || zsock_bind (self->sock, "inproc://zeromq.zap.01") != 0) {
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

//  The role for a request, or NULL to refuse.
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
        s_domain_t *d = s_domain (self, domain, false);
        role = d ? zhashx_lookup (d->keys, key) : NULL;
    }
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
    if (role)
        self->admitted++;
    else {
        self->refused++;
        hd_warn ("refused key %s on %s (not on that role's allowlist)", key[0] ? key : "(none)",
                 domain ? domain : "(no domain)");
    }
    zsock_send (self->sock, "ssssss", version ? version : "1.0", sequence ? sequence : "",
                role ? "200" : "400", role ? "OK" : "key not allowed", role ? role : "", "");
    zstr_free (&version);
    zstr_free (&sequence);
    zstr_free (&domain);
}

void
hd_auth_handle (hd_auth_t *self)
{
    while (zsock_events (self->sock) & ZMQ_POLLIN) {
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
