/*  hd_client_admin: cluster administration calls of libheddle (nodes), and hd_keys_init_dir's
    public entry point.  */
#include "hd_client_int.h"

#include "hd_codec_nodes.h"

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
    for (uint32_t i = 0; i < self->nnodes; i++) {
        hd_node_info_t *d = &nodes[i];
        snprintf (d->name, sizeof d->name, "%s", src[i].name);
        snprintf (d->arch, sizeof d->arch, "%s", src[i].arch);
        snprintf (d->state, sizeof d->state, "%s", src[i].state);
        d->slots = src[i].slots;
        d->busy = src[i].busy;
        d->cores = src[i].cores;
        d->capacity = src[i].capacity;
        d->done = src[i].done;
        d->failed = src[i].failed;
    }
    *out = nodes;
    *count = self->nnodes;
    return HD_OK;
}

hd_err_t
hd_client_wait_nodes (hd_client_t *self, uint32_t count, uint32_t timeout_ms)
{
    int64_t deadline = hd_client_now_us () + (int64_t) timeout_ms * 1000;
    for (;;) {
        hd_node_info_t *nodes;
        uint32_t n;
        hd_err_t rc = hd_client_nodes (self, &nodes, &n);
        free (nodes);
        if (rc != HD_OK || n >= count)
            return rc;
        if (hd_client_now_us () >= deadline)
            return hd_client_fail (self, HD_ETIMEDOUT, "only %u of %u workers joined within %u ms",
                                   n, count, timeout_ms);
        //  Not a sleep: waits on the socket, so a result or a signal wakes it.
        hd_client_process (self, 20, NULL);
    }
}
