/*  hd_broker_hello: who may join as which node. A HELLO is checked against the broker's bounds
    (slots, queue, functions), against the key that sent it (still enrolled; the node name
    belongs to the first key that joined with it: hd_nodenames), and an older connection with
    the same key and name is replaced. Everything a node needs is allocated before it is
    registered, so a failure leaves no node half-registered. Refusals are final for the worker
    (HD_ST_REFUSED: it logs the reason and stops). Also ADMIN revoke, and the name conflicts
    shown to the operator. The routing id is only a connection handle: identity is the key.  */
#include "hd_broker_int.h"

#include <time.h>

#include "hd_log.h"
#include "hd_transport.h"

hd_err_t
hd_broker_names_open (hd_broker_t *self, char *errbuf, size_t errlen)
{
    return hd_nodenames_load (&self->names, self->workers_names, errbuf, errlen);
}

//  The sender's key (Z85; "" insecure) and peer address, from the header frame's metadata.
static void
s_peer (hd_broker_t *self, char key[HD_KEY_Z85 + 1], char address[64])
{
    char role[16];
    zmq_msg_t *msg = &self->in.msg[1];
    hd_auth_split_user_id (zmq_msg_gets (msg, "User-Id"), role, key);
    const char *addr = zmq_msg_gets (msg, "Peer-Address");
    snprintf (address, 64, "%s", addr && *addr ? addr : "?");
}

static bool
s_within_bounds (const hd_broker_t *self, const hd_hello_t *h, char *why, size_t len)
{
    const hd_broker_config_t *c = &self->config;
    if (!hd_nodenames_valid (h->name))
        snprintf (why, len, "node name is empty or holds control characters");
    else if (h->slots == 0 || h->slots > c->max_worker_slots)
        snprintf (why, len, "slots %u outside 1..%u (the broker's --max-worker-slots)", h->slots,
                  c->max_worker_slots);
    else if (h->queue > c->max_worker_queue)
        snprintf (why, len, "queue %u over %u (the broker's --max-worker-queue)", h->queue,
                  c->max_worker_queue);
    else if (h->nfns > c->max_worker_fns)
        snprintf (why, len, "%u functions over %u (the broker's --max-worker-functions)", h->nfns,
                  c->max_worker_fns);
    else
        return true;
    return false;
}

//  --- name conflicts -----------------------------------------------------------------------

static void
s_conflicts_drop (hd_broker_t *self, const char *key)
{
    for (uint32_t i = 0; i < self->nconflicts;)
        if (!strcmp (self->conflicts[i].key, key) || !strcmp (self->conflicts[i].owner, key)) {
            memmove (&self->conflicts[i], &self->conflicts[i + 1],
                     (self->nconflicts - i - 1) * sizeof *self->conflicts);
            self->nconflicts--;
        }
        else
            i++;
}

//  Remember a refused claim; the first of each (key, name) is logged and sent as an event.
static void
s_conflict_note (hd_broker_t *self, const char *key, const char *owner, const hd_hello_t *h,
                 const char *address)
{
    for (uint32_t i = 0; i < self->nconflicts; i++) {
        hd_conflict_t *c = &self->conflicts[i];
        if (!strcmp (c->key, key) && !strcmp (c->name, h->name)) {
            c->attempts++;
            c->last_seen = (int64_t) time (NULL);
            snprintf (c->address, sizeof c->address, "%s", address);
            return;
        }
    }
    if (!self->conflicts
        && !(self->conflicts = calloc (HD_BROKER_MAX_CONFLICTS, sizeof *self->conflicts)))
        return;
    if (self->nconflicts == HD_BROKER_MAX_CONFLICTS)
        memmove (&self->conflicts[0], &self->conflicts[1],
                 --self->nconflicts * sizeof *self->conflicts);
    hd_conflict_t *c = &self->conflicts[self->nconflicts++];
    *c = (hd_conflict_t){ .attempts = 1, .last_seen = (int64_t) time (NULL) };
    snprintf (c->key, sizeof c->key, "%s", key);
    snprintf (c->owner, sizeof c->owner, "%s", owner);
    snprintf (c->name, sizeof c->name, "%s", h->name);
    snprintf (c->arch, sizeof c->arch, "%s", h->arch);
    snprintf (c->address, sizeof c->address, "%s", address);
    const hd_node_t *live = hd_registry_find_name (self->registry, h->name);
    char text[300];
    snprintf (text, sizeof text, "key %.8s... from %s claims the name of key %.8s...%s%s", key,
              address, owner, live ? " at " : "", live ? live->address : "");
    hd_warn ("two boards claim node name %s: refused worker key %s from %s, the name belongs to "
             "key %s%s%s; give one board another --name, or `heddle nodes revoke` the key that "
             "must not have it", h->name, key, address, owner, live ? " connected from " : "",
             live ? live->address : "");
    hd_broker_event (self, "node", h->name, "conflict", text);
}

size_t
hd_broker_conflicts_text (const hd_broker_t *self, char *out, size_t len)
{
    size_t used = 0;
    int64_t now = (int64_t) time (NULL);
    for (uint32_t i = 0; i < self->nconflicts; i++) {
        const hd_conflict_t *c = &self->conflicts[i];
        int n = snprintf (out + used, len - used, "%s %s %lld %u name-conflict: '%s' belongs "
                          "to key %.8s\n", c->key, c->address, (long long) (now - c->last_seen),
                          c->attempts, c->name, c->owner);
        if (n < 0 || used + (size_t) n >= len) {
            out[used] = 0;
            break;
        }
        used += (size_t) n;
    }
    return used;
}

void
hd_broker_conflicts_info (const hd_broker_t *self, hd_nodeinfo_t *out)
{
    for (uint32_t i = 0; i < self->nconflicts; i++) {
        memset (&out[i], 0, sizeof out[i]);
        snprintf (out[i].name, sizeof out[i].name, "%s", self->conflicts[i].name);
        snprintf (out[i].arch, sizeof out[i].arch, "%s", self->conflicts[i].arch);
        snprintf (out[i].state, sizeof out[i].state, "conflict");
    }
}

//  --- admission ----------------------------------------------------------------------------

void
hd_broker_hello_tick (hd_broker_t *self, int64_t now)
{
    hd_ratelog_summary_t s;
    char n[27];
    if (self->refuse_log.count && hd_ratelog_flush (&self->refuse_log, now, &s))
        hd_warn ("refused %s worker HELLOs from %s in the last %lld s",
                 hd_ratelog_count_text (s.count, n), s.mixed ? "several addresses" : s.source,
                 (long long) s.seconds);
}

//  The worker is told why; the log says so once per window (a hostile key may say HELLO in a
//  loop), then counts.
static void
s_refuse (hd_broker_t *self, const void *rid, size_t rid_len, const char *address,
          const char *name, const char *why)
{
    self->stats.refused_hellos++;
    int64_t now = hd_broker_now ();
    hd_broker_hello_tick (self, now);
    if (hd_ratelog_hit (&self->refuse_log, now, address, 1))
        hd_warn ("refused worker %s from %s: %s", name, address, why);
    hd_broker_worker_error (self, rid, rid_len, HD_ST_REFUSED, "%s", why);
}

//  The batch room of a node announcing `h` (hd_broker_dispatch fills it): allocated before the
//  node is registered. NULL when memory runs out.
static hd_nodeout_t *
s_out_new (hd_broker_t *self, const hd_hello_t *h, uint32_t *credit_out, uint32_t *deep_out)
{
    //  The worker said how many tasks it takes at once (HELLO queue); one that did not takes
    //  5 x slots (protocol 1's first workers). Never more than one TASK message holds.
    uint64_t queue = h->queue >= h->slots ? h->queue : 5ull * h->slots;
    if (queue > HD_MAX_BATCH)
        queue = HD_MAX_BATCH > h->slots ? HD_MAX_BATCH : h->slots;
    uint32_t prefetch = self->config.prefetch < 4 ? self->config.prefetch : 4;
    uint64_t credit = (uint64_t) h->slots * (1 + prefetch);
    uint64_t deep = (uint64_t) h->slots * (1 + self->config.prefetch_short);
    *credit_out = (uint32_t) (credit < queue ? credit : queue);
    *deep_out = (uint32_t) (deep < queue ? deep : queue);
    if (*deep_out < *credit_out)
        *deep_out = *credit_out;
    uint32_t want = (uint32_t) hd_registry_size (self->registry) + 1;
    if (self->touched_cap < want) {
        hd_node_t **t = realloc (self->touched, 2 * want * sizeof *t);
        if (!t)
            return NULL;
        self->touched = t;
        self->touched_cap = 2 * want;
    }
    hd_nodeout_t *o = calloc (1, sizeof *o);
    if (o && !(o->jobs = malloc (*deep_out * sizeof *o->jobs))) {
        free (o);
        return NULL;
    }
    if (o)
        o->cap = *deep_out;
    return o;
}

static void
s_out_free (hd_nodeout_t *o)
{
    if (o)
        free (o->jobs);
    free (o);
}

//  Whether the key may have the name: "" or the reason it may not (written to why).
static bool
s_name_allowed (hd_broker_t *self, const char *key, const hd_hello_t *h, const char *address,
                char *why, size_t len)
{
    if (!self->names)  //  insecure: nobody has a key, so names belong to nobody
        return true;
    if (!hd_auth_role (self->auth, HD_DOMAIN_WORKERS, key)) {
        snprintf (why, len, "this worker key was revoked: ask an admin to enroll it again");
        return false;
    }
    const char *owner = hd_nodenames_owner (self->names, h->name);
    if (!owner || !strcmp (owner, key))
        return true;
    s_conflict_note (self, key, owner, h, address);
    snprintf (why, len, "node name '%s' belongs to another worker key (%.8s...): start this "
              "board with another --name, or revoke that key (heddle nodes revoke %.8s)",
              h->name, owner, owner);
    return false;
}

//  The key takes the name for good (persisted). false with the reason when it may not.
static bool
s_bind_name (hd_broker_t *self, const char *key, const char *name, char *why, size_t len)
{
    char err[512] = "";
    if (!self->names)
        return true;
    hd_err_t rc = hd_nodenames_bind (self->names, key, name, self->config.max_names_per_key, err,
                                     sizeof err);
    if (rc == HD_EIO)
        hd_error ("node name %s bound to key %.8s... in memory only: %s", name, key, err);
    else if (rc != HD_OK)
        snprintf (why, len, "%s", rc == HD_EFULL ? err : hd_strerror (rc));
    return rc == HD_OK || rc == HD_EIO;
}

//  An older connection with the same key and name: a restart, or two boards sharing one key
//  and one name (a cloned SD card). The newer one wins; the older is told so and stops.
static void
s_replace (hd_broker_t *self, hd_node_t *old, const char *address)
{
    char text[300];
    snprintf (text, sizeof text, "a newer connection with this key and name from %s replaces "
              "the one from %s", address, old->address);
    hd_warn ("worker %s (key %.8s...) connected again from %s: replacing its older connection "
             "from %s (a restart, or two boards sharing one key and name: a cloned SD card?)",
             old->name, old->key[0] ? old->key : "none", address, old->address);
    self->stats.replaced++;
    hd_broker_event (self, "node", old->name, "replaced", text);
    hd_broker_worker_error (self, old->rid, old->rid_len, HD_ST_REFUSED, "%s", text);
    hd_broker_node_lost (self, old, "replaced");
}

static void
s_welcome (hd_broker_t *self, hd_node_t *node, uint32_t nfns)
{
    hd_info ("worker %s joined from %s: %u slots, %u functions, arch %s", node->name,
             node->address, node->slots, nfns, node->arch);
    hd_welcome_t w = { .heartbeat_ms = self->config.heartbeat_ms,
                       .max_payload = self->config.max_payload,
                       .metrics_port = self->metrics_port,
                       .pack = true };
    hd_broker_grants_welcome (self, node, &w);
    hd_broker_event (self, "node", node->name, "joined", NULL);
    hd_broker_node_up (self, node->name);
    if (hd_codec_encode_welcome (&self->env, &w) == HD_OK
        && hd_send_frame (self->workers_raw, node->rid, node->rid_len, ZMQ_SNDMORE) == 0
        && hd_send_header (self->workers_raw, HD_CMD_WELCOME, ZMQ_SNDMORE) == 0)
        hd_send_frame (self->workers_raw, self->env.data, self->env.size, 0);
}

//  Register the node (all checks passed, `o` allocated): nothing fails after hd_registry_add.
static hd_node_t *
s_register (hd_broker_t *self, const void *rid, size_t rid_len, const hd_hello_t *h, int64_t now,
            hd_nodeout_t *o, char *why, size_t len)
{
    hd_node_t *existing = hd_registry_lookup (self->registry, rid, rid_len);
    if (existing && existing->in_flight)  //  said HELLO again: what it ran is gone
        hd_broker_node_lost (self, existing, "restarted");
    hd_node_t *node = NULL;
    hd_err_t rc = hd_registry_add (self->registry, rid, rid_len, h, now, &node);
    if (rc != HD_OK) {
        snprintf (why, len, "%s", rc == HD_EFULL ? "the broker's function table is full "
                  "(names offered by live workers or named by held tasks)" : hd_strerror (rc));
        return NULL;
    }
    s_out_free (node->user);
    node->user = o;
    return node;
}

void
hd_broker_on_hello (hd_broker_t *self, const void *rid, size_t rid_len, int64_t now)
{
    hd_hello_t *hello = malloc (sizeof *hello);  //  ~9 KB: rare message, keep it off the stack
    if (!hello || self->in.count != 3
        || hd_codec_decode_hello (hd_frames_data (&self->in, 2), hd_frames_size (&self->in, 2),
                                  hello) != HD_OK) {
        self->stats.malformed++;
        hd_broker_worker_error (self, rid, rid_len, HD_ST_MALFORMED, "malformed HELLO");
        free (hello);
        return;
    }
    char key[HD_KEY_Z85 + 1], address[64], why[400] = "";
    s_peer (self, key, address);
    hd_node_t *existing = hd_registry_lookup (self->registry, rid, rid_len);
    hd_node_t *old = hd_registry_find_name (self->registry, hello->name);
    if (old == existing)
        old = NULL;  //  the same connection said HELLO again: s_register handles it
    uint32_t credit = 0, deep = 0;
    hd_nodeout_t *o = NULL;
    if (existing && !hd_broker_from_node (existing, &self->in.msg[1])) {
        self->stats.foreign++;
        snprintf (why, sizeof why, "this connection's routing id belongs to another worker key");
    }
    else if (!s_within_bounds (self, hello, why, sizeof why)
             || !s_name_allowed (self, key, hello, address, why, sizeof why))
        ;
    else if (old && strcmp (old->key, key) != 0)
        snprintf (why, sizeof why, "node name '%s' is in use by another worker key",
                  hello->name);
    else if (!(o = s_out_new (self, hello, &credit, &deep)))
        snprintf (why, sizeof why, "out of memory");
    else if (s_bind_name (self, key, hello->name, why, sizeof why)) {
        hd_node_t *node = s_register (self, rid, rid_len, hello, now, o, why, sizeof why);
        if (node) {
            node->credit = credit;
            node->deep_credit = deep;
            snprintf (node->key, sizeof node->key, "%s", key);
            snprintf (node->address, sizeof node->address, "%s", address);
            if (old)
                s_replace (self, old, address);
            s_conflicts_drop (self, key);
            s_welcome (self, node, hello->nfns);
            o = NULL;
        }
    }
    if (why[0]) {
        s_out_free (o);
        s_refuse (self, rid, rid_len, address, hello->name, why);
    }
    free (hello);
}

//  --- revocation ---------------------------------------------------------------------------

//  The worker key named by `id`: a node name it owns, else the key or a prefix of it.
static hd_err_t
s_revoke_key (hd_broker_t *self, const char *id, char key[HD_KEY_Z85 + 1], char *err,
              size_t errlen)
{
    const char *owner = hd_nodenames_owner (self->names, id);
    return hd_auth_revoke (self->auth, owner ? owner : id, key, err, errlen);
}

void
hd_broker_revoke (hd_broker_t *self, const char *id)
{
    char key[HD_KEY_Z85 + 1], err[512] = "", err2[512] = "";
    if (!self->auth) {
        hd_broker_reject (self, NULL, HD_ST_MALFORMED, 0, "no keys: the broker is --insecure");
        return;
    }
    hd_err_t rc = s_revoke_key (self, id, key, err, sizeof err);
    if (rc == HD_ENOTFOUND || rc == HD_EINVAL || rc == HD_ENOMEM) {
        hd_broker_reject (self, NULL, rc == HD_ENOTFOUND ? HD_ST_UNSATISFIABLE
                          : rc == HD_EINVAL ? HD_ST_MALFORMED : HD_ST_INTERNAL, 0, "%s",
                          rc == HD_ENOMEM ? hd_strerror (rc) : err);
        return;
    }
    if (hd_nodenames_forget (self->names, key, err2, sizeof err2) == HD_EIO)
        hd_error ("revoked key %s still owns its names on disk: %s", key, err2);
    s_conflicts_drop (self, key);
    uint32_t n = 0;
    for (hd_node_t *node = hd_registry_first (self->registry), *next; node; node = next) {
        next = hd_registry_next (self->registry, node);
        if (memcmp (node->key, key, HD_KEY_Z85) != 0)
            continue;
        hd_broker_worker_error (self, node->rid, node->rid_len, HD_ST_REFUSED,
                                "this worker key was revoked by an admin");
        hd_broker_node_lost (self, node, "key revoked");
        n++;
    }
    hd_warn ("worker key %s revoked by an admin: %u node(s) disconnected, their tasks requeued%s%s",
             key, n, rc == HD_EIO ? "; NOT removed from the file: " : "", rc == HD_EIO ? err : "");
    hd_broker_event (self, "node", "", "revoked", key);
    hd_broker_reject (self, NULL, HD_ST_OK, 0, "%s revoked: %u node(s) disconnected, their tasks "
                      "requeued; the key can no longer connect%s%s", key, n,
                      rc == HD_EIO ? "; NOT removed from workers.keys: " : "",
                      rc == HD_EIO ? err : "");
}
