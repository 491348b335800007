/*  hd_broker_admin: what the broker tells and accepts beyond tasks: worker metrics (a SUB
    socket; lossy hints that update each node's figures and capacity), cluster events (a PUB
    socket for `heddle top`), ADMIN drain/resume and pending/approve/reject of worker keys
    (admin key), NODES replies, and the check that a task's requirements can be met by some
    node at all.  */
#include "hd_broker_int.h"

#include <inttypes.h>
#include <time.h>

#include "hd_codec_metrics.h"
#include "hd_keys.h"
#include "hd_log.h"
#include "hd_transport.h"

static uint32_t
s_port_of (const char *endpoint)
{
    const char *colon = strrchr (endpoint, ':');
    return colon ? (uint32_t) strtoul (colon + 1, NULL, 10) : 0;
}

hd_err_t
hd_broker_bind_extra (hd_broker_t *self, char *errbuf, size_t errlen)
{
    hd_sockopts_t o = { .insecure = self->config.insecure, .cert = self->cert,
                        .handshake_ms = (int) self->config.handshake_ms };
    hd_err_t rc = HD_OK;
    if (self->config.metrics_endpoint) {
        o.zap_domain = HD_DOMAIN_WORKERS;  //  only worker keys may publish metrics
        o.max_msg_size = HD_MAX_METRICS_ENVELOPE + 64;
        rc = hd_transport_bind (&self->metrics, ZMQ_SUB, self->config.metrics_endpoint, &o,
                                errbuf, errlen);
        if (rc != HD_OK)
            return rc;
        uint8_t header[HD_HEADER_BYTES];
        hd_codec_metrics_header (header);
        zmq_setsockopt (zsock_resolve (self->metrics), ZMQ_SUBSCRIBE, header, sizeof header);
        snprintf (self->metrics_ep, sizeof self->metrics_ep, "%s", zsock_endpoint (self->metrics));
        self->metrics_port = s_port_of (self->metrics_ep);
    }
    if (self->config.events_endpoint) {
        o.zap_domain = HD_DOMAIN_CLIENTS;
        o.max_msg_size = 1024;
        rc = hd_transport_bind (&self->events, ZMQ_PUB, self->config.events_endpoint, &o, errbuf,
                                errlen);
        if (rc == HD_OK)
            snprintf (self->events_ep, sizeof self->events_ep, "%s",
                      zsock_endpoint (self->events));
    }
    return rc;
}

bool
hd_broker_on_metrics (hd_broker_t *self)
{
    int64_t now = hd_broker_now ();
    void *sock = zsock_resolve (self->metrics);
    hd_metrics_t m;
    //  Read until ZMQ_EVENTS says nothing is left: the loop polls this socket's edge-triggered
    //  ZMQ_FD, which is raised again only after that.
    int n = 0;
    for (; n < 1024 && (zsock_events (self->metrics) & ZMQ_POLLIN); n++) {
        if (hd_frames_recv (&self->in, sock, ZMQ_DONTWAIT) != HD_OK)
            break;
        hd_node_t *node = NULL;
        if (self->in.count == 2
            && hd_codec_decode_metrics (hd_frames_data (&self->in, 1),
                                        hd_frames_size (&self->in, 1), &m) == HD_OK
            && (node = hd_registry_find_name (self->registry, m.name))
            && hd_broker_from_node (node, &self->in.msg[1])) {
            bool was_hot = node->hot;
            hd_registry_update_metrics (node, &m, now, self->config.temp_limit_c);
            self->stats.metrics++;
            if (node->hot != was_hot)
                hd_broker_event (self, "node", node->name, node->hot ? "hot" : "cool",
                                 node->hot ? "temperature limit reached: no new tasks"
                                           : "temperature back under the limit");
        }
        else if (node) {
            self->stats.foreign++;  //  under a name that belongs to another key: dropped
            self->stats.bad_metrics++;
        }
        else
            self->stats.bad_metrics++;  //  malformed, or from a node not (yet) registered
    }
    hd_frames_clear (&self->in);
    return n == 1024;
}

void
hd_broker_event (hd_broker_t *self, const char *type, const char *node, const char *state,
                 const char *text)
{
    hd_broker_web_event (self, type, node, state, text);
    if (!self->events)
        return;
    hd_event_t e = { 0 };
    snprintf (e.type, sizeof e.type, "%s", type);
    snprintf (e.node, sizeof e.node, "%s", node ? node : "");
    snprintf (e.state, sizeof e.state, "%s", state ? state : "");
    snprintf (e.text, sizeof e.text, "%s", text ? text : "");
    e.queued = hd_scheduler_queued (self->scheduler);
    e.running = hd_scheduler_leased (self->scheduler);
    e.done = self->stats.completed;
    e.failed = self->stats.failed;
    if (hd_codec_encode_event (&self->env, &e) != HD_OK)
        return;
    void *sock = zsock_resolve (self->events);
    uint8_t header[HD_HEADER_BYTES] = { HD_PROTO_SIG0, HD_PROTO_SIG1, HD_PROTO_VERSION,
                                        HD_CMD_EVENT };
    //  PUB never blocks: at its high-water mark it drops, which is right for display hints.
    zmq_send (sock, header, sizeof header, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send (sock, self->env.data, self->env.size, ZMQ_DONTWAIT);
}

void
hd_broker_stats_event (hd_broker_t *self, int64_t elapsed_ms)
{
    if (!self->events || elapsed_ms <= 0)
        return;
    hd_event_t e = { 0 };
    snprintf (e.type, sizeof e.type, "stats");
    e.queued = hd_scheduler_queued (self->scheduler);
    e.running = hd_scheduler_leased (self->scheduler);
    e.done = self->stats.completed;
    e.failed = self->stats.failed;
    e.rate = (double) (e.done - self->last_completed) * 1000.0 / (double) elapsed_ms;
    self->last_completed = e.done;
    if (hd_codec_encode_event (&self->env, &e) != HD_OK)
        return;
    uint8_t header[HD_HEADER_BYTES] = { HD_PROTO_SIG0, HD_PROTO_SIG1, HD_PROTO_VERSION,
                                        HD_CMD_EVENT };
    void *sock = zsock_resolve (self->events);
    zmq_send (sock, header, sizeof header, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send (sock, self->env.data, self->env.size, ZMQ_DONTWAIT);
}

static void
s_send_drain (hd_broker_t *self, hd_node_t *node, bool on)
{
    if (hd_codec_encode_drain (&self->env, on) != HD_OK)
        return;
    if (hd_send_frame (self->workers_raw, node->rid, node->rid_len, ZMQ_SNDMORE) == 0
        && hd_send_header (self->workers_raw, HD_CMD_DRAIN, ZMQ_SNDMORE) == 0)
        hd_send_frame (self->workers_raw, self->env.data, self->env.size, 0);
}

//  "pending": one line per key, "KEY ADDRESS SECONDS_AGO ATTEMPTS", oldest first, as many as
//  fit in a REJECTED reason; a last line "+N more" says how many did not.
static void
s_admin_pending (hd_broker_t *self)
{
    char text[HD_MAX_ERROR + 1] = "";
    size_t used = 0, n = self->auth ? hd_auth_pending_count (self->auth) : 0, i = 0;
    int64_t now = (int64_t) time (NULL);
    for (; i < n; i++) {
        const hd_auth_pending_t *p = hd_auth_pending_at (self->auth, i);
        char line[160];
        int len = snprintf (line, sizeof line, "%s %s %" PRId64 " %u\n", p->key, p->address,
                            now - p->last_seen, p->attempts);
        if (len < 0 || used + (size_t) len + 16 > sizeof text)
            break;
        memcpy (text + used, line, (size_t) len + 1);
        used += (size_t) len;
    }
    if (i < n)
        used += (size_t) snprintf (text + used, sizeof text - used, "+%zu more\n", n - i);
    if (used < sizeof text)
        hd_broker_conflicts_text (self, text + used, sizeof text - used);
    hd_broker_reject (self, NULL, HD_ST_OK, 0, "%s", text);
}

//  "approve" / "reject" a pending worker key named by a unique prefix.
static void
s_admin_enroll (hd_broker_t *self, const hd_admin_t *a, bool approve)
{
    char key[HD_KEY_TEXT], err[256] = "";
    if (!self->auth) {
        hd_broker_reject (self, NULL, HD_ST_MALFORMED, 0,
                          "no enrollment: the broker is --insecure");
        return;
    }
    hd_err_t rc = approve ? hd_auth_approve (self->auth, a->node, key, err, sizeof err)
                          : hd_auth_reject (self->auth, a->node, key, err, sizeof err);
    if (rc == HD_ENOTFOUND || rc == HD_EINVAL) {
        hd_broker_reject (self, NULL, rc == HD_ENOTFOUND ? HD_ST_UNSATISFIABLE : HD_ST_MALFORMED,
                          0, "%s", err);
        return;
    }
    if (rc != HD_OK && rc != HD_EIO) {
        hd_broker_reject (self, NULL, HD_ST_INTERNAL, 0, "%s: %s", a->op, hd_strerror (rc));
        return;
    }
    if (rc == HD_EIO)
        hd_error ("approved worker key %s, but not saved: %s", key, err);
    if (approve && a->grant[0] && hd_broker_grants_add (self, key, a->grant, err, sizeof err) != HD_OK)
        hd_error ("approved worker key %s, but its payload key grant was not kept: %s", key, err);
    hd_info ("worker key %s %s by an admin", key, approve ? "approved" : "rejected");
    hd_broker_reject (self, NULL, HD_ST_OK, 0, "%s %s%s%s", key,
                      approve ? "approved: the worker joins at its next connection attempt"
                              : "rejected: it stays refused and is no longer listed",
                      rc == HD_EIO ? "; NOT saved: " : "", rc == HD_EIO ? err : "");
}

//  "drain" / "resume" a node by name.
static void
s_admin_drain (hd_broker_t *self, const hd_admin_t *a, bool drain)
{
    hd_node_t *node = hd_registry_find_name (self->registry, a->node);
    if (!node) {
        hd_broker_reject (self, NULL, HD_ST_UNSATISFIABLE, 0, "no node named %s", a->node);
        return;
    }
    hd_registry_set_draining (node, drain);
    s_send_drain (self, node, drain);
    hd_info ("node %s %s by an admin", node->name, drain ? "draining" : "resumed");
    hd_broker_event (self, "node", node->name, drain ? "draining" : "resumed",
                     drain ? "no new tasks; running ones finish" : "takes tasks again");
    hd_broker_reject (self, NULL, HD_ST_OK, 0, "node %s %s", node->name,
                      drain ? "draining: running tasks finish, no new ones" : "resumed");
}

void
hd_broker_on_admin (hd_broker_t *self, uint32_t client)
{
    hd_admin_t a;
    if (hd_codec_decode_admin (hd_frames_data (&self->in, 2), hd_frames_size (&self->in, 2), &a)
        != HD_OK) {
        hd_broker_reject (self, NULL, HD_ST_MALFORMED, 0, "malformed ADMIN");
        return;
    }
    (void) client;
    //  The role of this very message's key (its User-Id), never one cached for the session.
    if (!self->config.insecure && strcmp (self->in_role, "admin") != 0) {
        self->stats.denied++;
        hd_broker_reject (self, NULL, HD_ST_DENIED, 0, "'%s' needs an admin key (admins.keys)",
                          a.op);
        return;
    }
    if (strcmp (a.op, "drain") == 0 || strcmp (a.op, "resume") == 0)
        s_admin_drain (self, &a, strcmp (a.op, "drain") == 0);
    else if (strcmp (a.op, "pending") == 0)
        s_admin_pending (self);
    else if (strcmp (a.op, "approve") == 0 || strcmp (a.op, "reject") == 0)
        s_admin_enroll (self, &a, strcmp (a.op, "approve") == 0);
    else if (strcmp (a.op, "revoke") == 0)
        hd_broker_revoke (self, a.node);
    else if (strcmp (a.op, "grant") == 0)
        hd_broker_admin_grant (self, &a);
    else
        hd_broker_reject (self, NULL, HD_ST_MALFORMED, 0, "unknown admin op '%s'", a.op);
}

//  Some registered node offering the function meets the task's requirements, or could once its
//  figures are in (hd_scheduler_eligible, HD_ELIGIBLE_EVER). No registered node offering it at
//  all is not this check's to answer (the task waits for a worker: hd_broker_wait.c), except
//  for a task pinned to a registered node, which does not offer it.
bool
hd_broker_satisfiable (hd_broker_t *self, const hd_submit_t *s, char *why, size_t len)
{
    uint32_t fn;
    hd_reqs_t reqs;
    if (!hd_scheduler_reqs_of (s, &reqs))
        return true;
    if (hd_registry_fn_find (self->registry, s->fn, &fn) != HD_OK
        || hd_registry_fn_providers (self->registry, fn) == 0) {
        //  No node offers it (yet): the task waits, unless it is pinned to a node that is here
        //  and does not (`heddle run` on a node without --allow-exec must not wait).
        if (!s->node[0] || !hd_registry_find_name (self->registry, s->node))
            return true;
        snprintf (why, len, "node %s does not offer function '%s'", s->node, s->fn);
        return false;
    }
    for (hd_node_t *node = hd_registry_first (self->registry); node;
         node = hd_registry_next (self->registry, node))
        if (hd_scheduler_eligible (node, fn, &reqs, HD_ELIGIBLE_EVER))
            return true;
    char mem[48] = "";
    if (s->min_mem_mb)
        snprintf (mem, sizeof mem, "%u MB of memory", s->min_mem_mb);
    snprintf (why, len, "no node offering '%s' has %s%s%s%s%s%s (see heddle nodes)", s->fn,
              s->node[0] ? "the name " : "", s->node, s->node[0] && (s->ntags || *mem) ? ", " : "",
              s->ntags ? "the tags asked for" : "", s->ntags && *mem ? ", " : "", mem);
    return false;
}

static const char *
s_state (const hd_node_t *node)
{
    if (node->state == HD_NODE_DRAINING)
        return "draining";
    if (node->stale)
        return "stale";
    if (node->hot)
        return "hot";
    return node->in_flight ? "busy" : "idle";
}

static void
s_fill_info (const hd_node_t *node, hd_nodeinfo_t *x, int64_t now)
{
    snprintf (x->name, sizeof x->name, "%s", node->name);
    snprintf (x->arch, sizeof x->arch, "%s", node->arch);
    snprintf (x->state, sizeof x->state, "%s", s_state (node));
    x->slots = node->slots;
    x->busy = node->in_flight;
    x->cores = node->cores;
    x->capacity = node->capacity;
    x->done = node->done;
    x->failed = node->failed;
    const hd_sysinfo_t *sys = &node->sys;
    x->present = (sys->present & HD_M_CPU ? HD_NI_CPU : 0)
                 | (sys->present & HD_M_MEM_AVAIL && sys->present & HD_M_MEM_TOTAL ? HD_NI_MEM : 0)
                 | (sys->present & HD_M_TEMP ? HD_NI_TEMP : 0) | (node->score > 0 ? HD_NI_SCORE : 0)
                 | (sys->present & HD_M_LOAD1 ? HD_NI_LOAD : 0) | (node->metrics_ms ? HD_NI_AGE : 0);
    x->cpu = sys->cpu_util;
    x->mem_total = sys->mem_total;
    x->mem_avail = sys->mem_avail;
    x->temp = sys->temp_c;
    x->score = node->score;
    x->load1 = sys->load1;
    x->age_ms = node->metrics_ms ? (uint32_t) (now - node->metrics_ms) : 0;
    x->ntags = node->ntags;
    memcpy (x->tags, node->tags, sizeof x->tags);
}

#define S_MAX_DOWN 256  //  nodes remembered as down; the oldest is forgotten first

void
hd_broker_node_up (hd_broker_t *self, const char *name)
{
    for (uint32_t i = 0; i < self->ndown; i++)
        if (strcmp (self->down[i].name, name) == 0) {
            memmove (&self->down[i], &self->down[i + 1], (self->ndown - i - 1) * sizeof *self->down);
            self->ndown--;
            return;
        }
}

void
hd_broker_node_down (hd_broker_t *self, const hd_node_t *node, const char *state)
{
    hd_broker_node_up (self, node->name);
    if (!self->down && !(self->down = calloc (S_MAX_DOWN, sizeof *self->down)))
        return;
    if (self->ndown == S_MAX_DOWN)
        hd_broker_node_up (self, self->down[0].name);
    hd_nodeinfo_t *x = &self->down[self->ndown++];
    s_fill_info (node, x, hd_broker_now ());
    snprintf (x->state, sizeof x->state, "%s", state);
    x->busy = 0;
    x->present = 0;  //  its last figures are history, not live
}

void
hd_broker_on_nodes (hd_broker_t *self, uint32_t client)
{
    uint32_t n = (uint32_t) hd_registry_size (self->registry), k = 0;
    hd_nodeinfo_t *info = calloc (n + self->ndown + self->nconflicts + 1, sizeof *info);
    if (!info)
        return;
    int64_t now = hd_broker_now ();
    for (hd_node_t *node = hd_registry_first (self->registry); node && k < n;
         node = hd_registry_next (self->registry, node))
        s_fill_info (node, &info[k++], now);
    for (uint32_t i = 0; i < self->ndown; i++)
        info[k++] = self->down[i];
    hd_broker_conflicts_info (self, info + k);
    k += self->nconflicts;
    if (hd_codec_encode_nodes (&self->env, info, k) == HD_OK
        && hd_broker_send_to_client (self, client, HD_CMD_NODES_REPLY) == 0)
        hd_send_frame (self->clients_raw, self->env.data, self->env.size, 0);
    free (info);
}

//  One function's entry: nodes offering it now (the first HD_FN_NAMES by index), its tasks.
static void
s_fill_fn (hd_broker_t *self, uint32_t fn, hd_fninfo_t *f)
{
    snprintf (f->name, sizeof f->name, "%s", hd_registry_fn_name (self->registry, fn));
    for (hd_node_t *node = hd_registry_first (self->registry); node;
         node = hd_registry_next (self->registry, node)) {
        if (!hd_registry_offers (node, fn))
            continue;
        if (f->nnames < HD_FN_NAMES)
            snprintf (f->names[f->nnames++], sizeof f->names[0], "%s", node->name);
        f->nodes++;
    }
    hd_fnstats_t st;
    hd_scheduler_fn_stats (self->scheduler, fn, &st);
    f->queued = st.queued;
    f->running = st.running;
    f->done = st.done;
    f->ms = st.mean_ms;
}

//  FUNCTIONS: every function some worker offered since the broker started, or with tasks.
void
hd_broker_on_functions (hd_broker_t *self, uint32_t client)
{
    uint32_t n = hd_registry_fn_count (self->registry), k = 0;
    hd_fninfo_t *fns = calloc (n ? n : 1, sizeof *fns);
    if (!fns)
        return;
    for (uint32_t fn = 0; fn < n && k < HD_MAX_FUNCTIONS; fn++) {
        if (!hd_registry_fn_name (self->registry, fn))
            continue;  //  forgotten to make room (hd_registry_fn_intern)
        s_fill_fn (self, fn, &fns[k]);
        if (hd_registry_fn_offered (self->registry, fn) || fns[k].queued || fns[k].running)
            k++;
        else
            memset (&fns[k], 0, sizeof fns[k]);
    }
    if (hd_codec_encode_functions (&self->env, fns, k) == HD_OK
        && hd_broker_send_to_client (self, client, HD_CMD_FUNCTIONS_REPLY) == 0)
        hd_send_frame (self->clients_raw, self->env.data, self->env.size, 0);
    free (fns);
}
