/*  hd_client_admin: cluster administration calls of libheddle: the node list (NODES, with the
    live figures the broker has from each node's metrics) and ADMIN (drain, resume; pending,
    approve, reject of worker keys, whose answer text is the result). ADMIN is
    answered by a REJECTED without id whose code says how it went (0: done).  */
#include "hd_client_int.h"

#include "hd_codec_nodes.h"

//  hd_node_info_t's HD_NODE_HAS_* bits are the wire's HD_NI_* bits: copied as they are.
_Static_assert (HD_NODE_HAS_CPU == HD_NI_CPU && HD_NODE_HAS_MEM == HD_NI_MEM
                    && HD_NODE_HAS_TEMP == HD_NI_TEMP && HD_NODE_HAS_SCORE == HD_NI_SCORE
                    && HD_NODE_HAS_LOAD == HD_NI_LOAD && HD_NODE_HAS_AGE == HD_NI_AGE,
                "public and wire presence bits differ");
#define S_PRESENT_BITS (HD_NI_CPU | HD_NI_MEM | HD_NI_TEMP | HD_NI_SCORE | HD_NI_LOAD | HD_NI_AGE)

static void
s_join_tags (const hd_nodeinfo_t *src, char *out, size_t len)
{
    size_t used = 0;
    out[0] = 0;
    for (uint32_t t = 0; t < src->ntags && t < HD_MAX_TAGS; t++) {
        int n = snprintf (out + used, len - used, "%s%s", used ? "," : "", src->tags[t]);
        if (n < 0 || (size_t) n >= len - used)
            break;  //  a truncated list would name a tag the node does not have
        used += (size_t) n;
    }
    out[used] = 0;
}

static void
s_copy_node (const hd_nodeinfo_t *src, hd_node_info_t *d)
{
    snprintf (d->name, sizeof d->name, "%s", src->name);
    snprintf (d->arch, sizeof d->arch, "%s", src->arch);
    snprintf (d->state, sizeof d->state, "%s", src->state);
    d->slots = src->slots;
    d->busy = src->busy;
    d->cores = src->cores;
    d->capacity = src->capacity;
    d->done = src->done;
    d->failed = src->failed;
    d->present = src->present & S_PRESENT_BITS;
    d->cpu = src->cpu;
    d->mem_total = src->mem_total;
    d->mem_avail = src->mem_avail;
    d->temp = src->temp;
    d->score = src->score;
    d->load1 = src->load1;
    d->age_ms = src->age_ms;
    s_join_tags (src, d->tags, sizeof d->tags);
}

hd_err_t
hd_client_nodes (hd_client_t *self, hd_node_info_t **out, uint32_t *count)
{
    *out = NULL;
    *count = 0;
    hd_err_t rc = hd_client_flush (self);
    if (rc == HD_OK)
        rc = hd_client_fetch_nodes (self);
    if (rc != HD_OK)
        return rc;
    const hd_nodeinfo_t *src = self->nodes;
    hd_node_info_t *nodes = calloc (self->nnodes ? self->nnodes : 1, sizeof *nodes);
    if (!nodes)
        return HD_ENOMEM;
    for (uint32_t i = 0; i < self->nnodes; i++)
        s_copy_node (&src[i], &nodes[i]);
    *out = nodes;
    *count = self->nnodes;
    return HD_OK;
}

hd_err_t
hd_client_functions (hd_client_t *self, hd_function_info_t **out, uint32_t *count)
{
    *out = NULL;
    *count = 0;
    hd_err_t rc = hd_client_flush (self);
    if (rc == HD_OK)
        rc = hd_client_fetch_functions (self);
    if (rc != HD_OK)
        return rc;
    const hd_fninfo_t *src = self->fns;
    hd_function_info_t *fns = calloc (self->nfns ? self->nfns : 1, sizeof *fns);
    if (!fns)
        return HD_ENOMEM;
    for (uint32_t i = 0; i < self->nfns; i++) {
        hd_function_info_t *d = &fns[i];
        snprintf (d->name, sizeof d->name, "%s", src[i].name);
        d->nodes = src[i].nodes;
        size_t used = 0;
        for (uint32_t k = 0; k < src[i].nnames; k++)
            used += (size_t) snprintf (d->names + used, sizeof d->names - used, "%s%s",
                                       k ? "," : "", src[i].names[k]);
        d->queued = src[i].queued;
        d->running = src[i].running;
        d->done = src[i].done;
        d->mean_ms = src[i].ms;
    }
    *out = fns;
    *count = self->nfns;
    return HD_OK;
}

hd_err_t
hd_client_wait_nodes (hd_client_t *self, uint32_t count, uint32_t timeout_ms)
{
    int64_t deadline = hd_client_now_us () + (int64_t) timeout_ms * 1000;
    for (;;) {
        hd_node_info_t *nodes;
        uint32_t all, n = 0;
        hd_err_t rc = hd_client_nodes (self, &nodes, &all);
        for (uint32_t i = 0; rc == HD_OK && i < all; i++)
            n += strcmp (nodes[i].state, "down") != 0  //  remembered, not there
                 && strcmp (nodes[i].state, "conflict") != 0;  //  a refused claim
        free (nodes);
        if (rc != HD_OK || n >= count)
            return rc;
        if (hd_client_interrupted (self))
            return hd_client_fail (self, HD_ECLOSED, "interrupted");
        if (hd_client_now_us () >= deadline)
            return hd_client_fail (self, HD_ETIMEDOUT, "only %u of %u workers joined within %u ms",
                                   n, count, timeout_ms);
        //  Not a sleep: waits on the socket, so a result or a signal wakes it.
        hd_client_process (self, 20, NULL);
    }
}

//  The broker's answer to ADMIN as this library's error, with its reason as the last error.
static hd_err_t
s_admin_outcome (hd_client_t *self, const char *op, const char *node)
{
    const char *why = self->admin_reason[0] ? self->admin_reason
                                            : hd_status_str (self->admin_code);
    switch (self->admin_code) {
        case HD_ST_OK: return HD_OK;
        case HD_ST_DENIED:
            return hd_client_fail (self, HD_EDENIED, "%s %s: denied: %s", op, node, why);
        case HD_ST_UNSATISFIABLE:
            return hd_client_fail (self, HD_ENOTFOUND, "%s %s: %s", op, node, why);
        case HD_ST_MALFORMED: return hd_client_fail (self, HD_EINVAL, "%s %s: %s", op, node, why);
        default:
            return hd_client_fail (self, HD_EPROTO, "%s %s: the broker answered %s: %s", op, node,
                                   hd_status_str (self->admin_code), why);
    }
}

static hd_err_t s_admin_send (hd_client_t *self, const hd_admin_t *msg);

hd_err_t
hd_client_admin (hd_client_t *self, const char *op, const char *node)
{
    hd_admin_t msg;
    memset (&msg, 0, sizeof msg);
    if (!op || !node || !*node || strlen (op) >= sizeof msg.op || strlen (node) > HD_MAX_NAME)
        return hd_client_fail (self, HD_EINVAL, "admin: bad operation or node name");
    snprintf (msg.op, sizeof msg.op, "%s", op);
    snprintf (msg.node, sizeof msg.node, "%s", node);
    return s_admin_send (self, &msg);
}

typedef struct {
    hd_client_t *client;
    const char *worker_key;
    uint8_t worker_pub[32];
    uint32_t granted;
    hd_err_t rc;
} s_grant_ctx_t;

static void
s_grant_one (const uint8_t secret[32], void *arg)
{
    s_grant_ctx_t *g = arg;
    uint8_t sealed[HD_SEAL_SEALED_KEY_BYTES];
    if (g->rc != HD_OK || g->granted == HD_MAX_GRANTS)
        return;
    hd_admin_t msg;
    memset (&msg, 0, sizeof msg);
    snprintf (msg.op, sizeof msg.op, "grant");
    snprintf (msg.node, sizeof msg.node, "%s", g->worker_key);
    if ((g->rc = hd_seal_grant (secret, g->worker_pub, sealed)) != HD_OK)
        return;
    zmq_z85_encode (msg.grant, sealed, sizeof sealed);
    if ((g->rc = s_admin_send (g->client, &msg)) == HD_OK)
        g->granted++;
}

hd_err_t
hd_client_grant_payload (hd_client_t *self, const char *worker_key, const char *keys_dir,
                         uint32_t *granted)
{
    s_grant_ctx_t g = { .client = self, .worker_key = worker_key, .rc = HD_OK };
    if (granted)
        *granted = 0;
    if (!hd_keys_is_z85 (worker_key) || !zmq_z85_decode (g.worker_pub, worker_key))
        return hd_client_fail (self, HD_EINVAL, "not a worker key: %s", worker_key);
    size_t n = 0;
    if (!keys_dir || hd_keys_each_payload_secret (keys_dir, s_grant_one, &g, &n) != HD_OK)
        return hd_client_fail (self, HD_ENOTFOUND, "%s holds no payload secret key "
                               "(payload.cert_secret)", keys_dir ? keys_dir : "no keys directory");
    if (granted)
        *granted = g.granted;
    return g.rc;
}

static hd_err_t
s_admin_send (hd_client_t *self, const hd_admin_t *msg)
{
    const char *op = msg->op, *node = msg->node;
    hd_err_t rc = hd_client_flush (self);
    if (rc == HD_OK)
        rc = hd_codec_encode_admin (&self->env, msg);
    self->admin_pending = true;
    self->admin_reason[0] = 0;
    if (rc == HD_OK)
        rc = hd_client_send_env (self, HD_CMD_ADMIN);
    int64_t deadline = hd_client_now_us () + (int64_t) self->config.timeout_ms * 1000;
    while (rc == HD_OK && self->admin_pending) {
        int64_t left_ms = (deadline - hd_client_now_us ()) / 1000;
        if (left_ms <= 0)
            rc = hd_client_fail (self, HD_ETIMEDOUT, "no answer from %s to ADMIN %s",
                                 self->endpoint, op);
        else if (hd_client_interrupted (self))
            rc = hd_client_fail (self, HD_ECLOSED, "interrupted");
        else
            rc = hd_client_process (self, left_ms < 100 ? (int) left_ms : 100, NULL);
    }
    bool answered = !self->admin_pending;
    self->admin_pending = false;
    return rc == HD_OK && answered ? s_admin_outcome (self, op, node) : rc;
}

hd_err_t
hd_client_admin_text (hd_client_t *self, const char *op, const char *arg, char *out, size_t len)
{
    if (len)
        out[0] = 0;
    hd_err_t rc = hd_client_admin (self, op, arg);
    if (rc == HD_OK && len)
        snprintf (out, len, "%s", self->admin_reason);
    return rc;
}
