/*  hd_broker_web: the broker's side of the web endpoint (--http). The loop calls
    hd_broker_web_tick once a pass; at most every S_PUBLISH_MS it copies what the endpoint shows
    into a snapshot (hd_snapshot) and hands it to the HTTP thread (hd_http), which never reads
    broker state. Per-function totals (results by status, run-time histograms) and the recent
    events and history are kept here, fed by three hooks: a result, a broker-made failure, an
    event. With --http off, self->web is NULL and every hook returns at once.  */
#include "hd_broker_int.h"

#include <time.h>

#include "hd_http.h"
#include "hd_log.h"
#include "hd_snapshot.h"
#include "hd_syncer.h"

#ifndef HD_VERSION_TEXT
#define HD_VERSION_TEXT "unknown"
#endif

#define S_PUBLISH_MS 250  //  a snapshot at most four times a second

struct hd_web {
    hd_http_t *http;
    hd_snapshot_t *back;  //  the loop's; the HTTP thread holds another
    int64_t next_publish_ms, next_sample_ms, start_wall_ms;
    bool dirty;                                  //  a pass came too soon after the last publish
    hd_snap_fn_t acc[HD_SNAP_MAX_FNS + 1];       //  totals by function row (names unused)
    hd_snap_event_t events[HD_SNAP_MAX_EVENTS];  //  ring
    uint32_t ev_next, nevents;
    hd_snap_sample_t series[HD_SNAP_SERIES];  //  ring
    uint32_t se_next, nseries;
    uint32_t queued[HD_SNAP_MAX_FNS + 1], running[HD_SNAP_MAX_FNS + 1];  //  scratch
};

static int64_t
s_wall_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

hd_err_t
hd_broker_web_start (hd_broker_t *self, char *errbuf, size_t errlen)
{
    const hd_broker_config_t *c = &self->config;
    if (!c->http_endpoint)
        return HD_OK;
    hd_web_t *web = calloc (1, sizeof *web);
    if (!web || !(web->back = malloc (sizeof *web->back))) {
        free (web);
        return HD_ENOMEM;
    }
    hd_err_t rc = hd_http_start (&web->http, c->http_endpoint, c->http_token, errbuf, errlen);
    if (rc != HD_OK) {
        free (web->back);
        free (web);
        if (!c->http_optional)
            return rc;
        hd_warn ("no web endpoint: %s (set --http HOST:PORT, or --http none)", errbuf);
        return HD_OK;
    }
    web->start_wall_ms = s_wall_ms ();
    self->web = web;
    hd_info ("web endpoint on http://%s/ (metrics on /metrics)", hd_http_endpoint (web->http));
    return HD_OK;
}

void
hd_broker_web_stop (hd_broker_t *self)
{
    if (!self->web)
        return;
    hd_http_destroy (&self->web->http);  //  first: no request reads a snapshot after this
    free (self->web->back);
    free (self->web);
    self->web = NULL;
}

const char *
hd_broker_http_endpoint (const hd_broker_t *self)
{
    return self->web ? hd_http_endpoint (self->web->http) : "";
}

void
hd_broker_web_result (hd_broker_t *self, uint32_t fn, uint32_t status, int64_t elapsed_ms)
{
    hd_web_t *web = self->web;
    if (!web)
        return;
    hd_snap_fn_t *row = &web->acc[fn < HD_SNAP_MAX_FNS ? fn : HD_SNAP_MAX_FNS];
    row->completed[status < HD_SNAP_NSTATUS ? status : HD_ST_INTERNAL]++;
    if (elapsed_ms >= 0)
        hd_promhist_observe (&row->duration, hd_promhist_task_bounds, (double) elapsed_ms / 1000.0);
}

void
hd_broker_web_event (hd_broker_t *self, const char *type, const char *node, const char *state,
                     const char *text)
{
    hd_web_t *web = self->web;
    if (!web)
        return;
    hd_snap_event_t *e = &web->events[web->ev_next];
    web->ev_next = (web->ev_next + 1) % HD_SNAP_MAX_EVENTS;
    if (web->nevents < HD_SNAP_MAX_EVENTS)
        web->nevents++;
    e->t_ms = s_wall_ms ();
    hd_snapshot_copy_text (e->type, sizeof e->type, type);
    hd_snapshot_copy_text (e->node, sizeof e->node, node);
    hd_snapshot_copy_text (e->state, sizeof e->state, state);
    hd_snapshot_copy_text (e->text, sizeof e->text, text);
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
s_node_row (const hd_node_t *node, hd_snap_node_t *x, int64_t now)
{
    memset (x, 0, sizeof *x);
    hd_snapshot_copy_text (x->name, sizeof x->name, node->name);
    hd_snapshot_copy_text (x->arch, sizeof x->arch, node->arch);
    snprintf (x->state, sizeof x->state, "%s", s_state (node));
    x->up = true;
    x->slots = node->slots;
    x->running = node->in_flight;
    x->cores = node->cores;
    x->capacity = node->capacity;
    x->done = node->done;
    x->failed = node->failed;
    const hd_sysinfo_t *sys = &node->sys;
    if (!node->metrics_ms)
        return;
    x->age_ms = (uint32_t) (now - node->metrics_ms);
    x->present = (sys->present & HD_M_CPU ? HD_SNAP_CPU : 0) |
                 (sys->present & HD_M_TEMP ? HD_SNAP_TEMP : 0) |
                 (sys->present & HD_M_MEM_AVAIL && sys->present & HD_M_MEM_TOTAL ? HD_SNAP_MEM : 0);
    x->cpu = sys->cpu_util;
    x->temp = sys->temp_c;
    x->mem_avail = sys->mem_avail;
    x->mem_total = sys->mem_total;
}

static void
s_fill_nodes (hd_broker_t *self, hd_snapshot_t *s, int64_t now)
{
    hd_snap_node_t row;
    for (hd_node_t *n = hd_registry_first (self->registry); n;
         n = hd_registry_next (self->registry, n)) {
        s_node_row (n, &row, now);
        hd_snapshot_add_node (s, &row);
    }
    for (uint32_t i = 0; i < self->ndown; i++) {
        const hd_nodeinfo_t *d = &self->down[i];
        memset (&row, 0, sizeof row);
        hd_snapshot_copy_text (row.name, sizeof row.name, d->name);
        hd_snapshot_copy_text (row.arch, sizeof row.arch, d->arch);
        hd_snapshot_copy_text (row.state, sizeof row.state, d->state);
        row.slots = d->slots;
        row.cores = d->cores;
        row.done = d->done;
        row.failed = d->failed;
        hd_snapshot_add_node (s, &row);
    }
}

static void
s_fill_fns (hd_broker_t *self, hd_snapshot_t *s)
{
    hd_web_t *web = self->web;
    hd_scheduler_fn_counts (self->scheduler, web->queued, web->running, HD_SNAP_MAX_FNS + 1);
    const char *name;
    for (uint32_t fn = 0; fn < HD_MAX_FN_IDS && (name = hd_registry_fn_name (self->registry, fn));
         fn++)
        hd_snapshot_fn (s, fn, name);
    for (uint32_t i = 0; i < s->nfns; i++) {
        hd_snap_fn_t *row = &s->fns[i];
        memcpy (row->completed, web->acc[i].completed, sizeof row->completed);
        row->duration = web->acc[i].duration;
        row->queued = web->queued[i];
        row->running = web->running[i];
    }
}

static void
s_fill_pending (hd_broker_t *self, hd_snapshot_t *s)
{
    size_t n = self->auth ? hd_auth_pending_count (self->auth) : 0;
    int64_t now_s = (int64_t) time (NULL);
    s->pending_total = (uint32_t) n;
    for (size_t i = 0; i < n && s->npending < HD_SNAP_MAX_PENDING; i++) {
        const hd_auth_pending_t *p = hd_auth_pending_at (self->auth, i);
        hd_snap_pending_t *x = &s->pending[s->npending++];
        hd_snapshot_copy_text (x->key, sizeof x->key, p->key);
        hd_snapshot_copy_text (x->address, sizeof x->address, p->address);
        x->age_s = now_s - p->last_seen;
        x->attempts = p->attempts;
    }
}

//  The rings, oldest first.
static void
s_fill_history (hd_web_t *web, hd_snapshot_t *s)
{
    uint32_t first = (web->ev_next + HD_SNAP_MAX_EVENTS - web->nevents) % HD_SNAP_MAX_EVENTS;
    for (uint32_t i = 0; i < web->nevents; i++)
        s->events[i] = web->events[(first + i) % HD_SNAP_MAX_EVENTS];
    s->nevents = web->nevents;
    first = (web->se_next + HD_SNAP_SERIES - web->nseries) % HD_SNAP_SERIES;
    for (uint32_t i = 0; i < web->nseries; i++)
        s->series[i] = web->series[(first + i) % HD_SNAP_SERIES];
    s->nseries = web->nseries;
}

#define S_SESSION_IDLE_MS 30000

//  Client sessions in use: holding tasks or results, or heard from lately (the table keeps
//  idle ones up to --session-idle).
static uint32_t
s_sessions (const hd_broker_t *self, int64_t now)
{
    return hd_sessions_active (self->sessions, now, S_SESSION_IDLE_MS);
}

static void
s_fill_counts (hd_broker_t *self, hd_snapshot_t *s)
{
    const hd_broker_stats_t *t = &self->stats;
    hd_snap_counts_t *c = &s->c;
    *c = (hd_snap_counts_t){ .submitted = t->submitted,
                             .accepted = t->accepted,
                             .rejected = t->rejected,
                             .dispatched = t->dispatched,
                             .completed = t->completed,
                             .failed = t->failed,
                             .fenced = t->fenced,
                             .malformed = t->malformed,
                             .requeued = t->requeued,
                             .lost_workers = t->lost_workers,
                             .expired_leases = t->expired_leases,
                             .busy = t->busy,
                             .resent = t->resent,
                             .dead = t->dead,
                             .metrics = t->metrics,
                             .bad_metrics = t->bad_metrics,
                             .storage = t->storage,
                             .undurable = t->undurable };
    c->handshakes_refused = self->auth ? hd_auth_refused (self->auth) : 0;
    c->handshakes_admitted = self->auth ? hd_auth_admitted (self->auth) : 0;
    c->queued = hd_scheduler_queued (self->scheduler);
    c->running = hd_scheduler_leased (self->scheduler);
    c->sessions = s_sessions (self, hd_broker_now ());
    c->connections = self->conns ? hd_conns_count (self->conns) : 0;
    c->connections_refused = self->conns ? hd_conns_refused (self->conns) : 0;
    static const char *modes[] = { "none", "batch", "sync" };
    snprintf (s->journal_mode, sizeof s->journal_mode, "%s", modes[self->config.journal_mode]);
    s->journal_bytes = hd_journal_size (self->journal);
    if (self->syncer)
        hd_syncer_commit_hist (self->syncer, &s->commit);
}

static void
s_fill (hd_broker_t *self, hd_snapshot_t *s, int64_t now)
{
    hd_snapshot_clear (s);
    s->time_ms = s_wall_ms ();
    s->start_ms = self->web->start_wall_ms;
    snprintf (s->version, sizeof s->version, "%s", HD_VERSION_TEXT);
    hd_snapshot_copy_text (s->cluster, sizeof s->cluster, self->config.cluster);
    s_fill_counts (self, s);
    s_fill_fns (self, s);
    s_fill_nodes (self, s, now);
    s_fill_pending (self, s);
    s_fill_history (self->web, s);
}

int64_t
hd_broker_web_due_in (const hd_broker_t *self, int64_t now)
{
    const hd_web_t *web = self->web;
    if (!web || !web->dirty)
        return -1;
    return web->next_publish_ms > now ? web->next_publish_ms - now : 0;
}

void
hd_broker_web_tick (hd_broker_t *self, int64_t now)
{
    hd_web_t *web = self->web;
    if (!web)
        return;
    if (now < web->next_publish_ms) {
        web->dirty = true;  //  something may have changed: publish when due, even if idle
        return;
    }
    web->dirty = false;
    web->next_publish_ms = now + S_PUBLISH_MS;
    if (!web->back && !(web->back = malloc (sizeof *web->back)))
        return;  //  out of memory: the endpoint keeps showing the last snapshot
    if (now >= web->next_sample_ms) {
        web->series[web->se_next] =
            (hd_snap_sample_t){ .t_ms = s_wall_ms (),
                                .completed = self->stats.completed,
                                .queued = hd_scheduler_queued (self->scheduler),
                                .running = hd_scheduler_leased (self->scheduler) };
        web->se_next = (web->se_next + 1) % HD_SNAP_SERIES;
        if (web->nseries < HD_SNAP_SERIES)
            web->nseries++;
        web->next_sample_ms = now + HD_SNAP_SAMPLE_MS;
    }
    s_fill (self, web->back, now);
    if (!hd_http_publish (web->http, &web->back)) {
        web->next_publish_ms = now + 10;  //  a request is reading the last one: soon again,
        web->dirty = true;                //  even if the loop has nothing else to do
    }
}
