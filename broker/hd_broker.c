/*  hd_broker: life cycle and the reactor loop. One thread polls the clients ROUTER, the workers
    ROUTER, the ZAP handler and a stop pipe; everything else (which task goes where) is decided
    by the pure scheduler and registry modules. The broker decodes headers and envelopes only:
    payload frames move from client to job to worker untouched.  */
#include "hd_broker_int.h"
#include "hd_grants.h"

#include <errno.h>
#include <limits.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "hd_log.h"
#include "hd_payload.h"
#include "hd_transport.h"

int64_t
hd_broker_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
hd_broker_config_defaults (hd_broker_config_t *config)
{
    memset (config, 0, sizeof *config);
    config->clients_endpoint = "tcp://*:7700";
    config->workers_endpoint = "tcp://*:7701";
    config->metrics_endpoint = "tcp://*:7702";
    config->events_endpoint = "tcp://*:7703";
    config->stale_ms = 5000;
    config->temp_limit_c = 80.0;
    config->journal_mode = HD_JOURNAL_SYNC;
    config->journal_dir = "heddle-journal";
    config->journal_batch_ms = 5;
    config->prefetch = 4;
    config->prefetch_short = 128;
    config->max_payload = HD_DEFAULT_MAX_PAYLOAD;
    config->max_queue = 1000000;
    config->heartbeat_ms = 1000;
    config->heartbeat_misses = 5;
    config->default_attempts = 3;
    config->max_client_tasks = 200000;
    config->max_key_tasks = 200000;
    config->max_key_sessions = 64;
    config->session_idle_ms = 600000;
    config->client_hwm = 1000;
    config->result_ttl_ms = 600000;
    config->worker_wait_ms = 60000;
    config->cluster = HD_CLUSTER_DEFAULT;
    config->beacon_port = HD_BEACON_PORT;
    config->max_worker_slots = 1024;
    config->max_worker_queue = 65536;
    config->max_worker_fns = HD_MAX_FNS;
    config->max_names_per_key = 256;
    config->handshake_ms = 10000;
    config->job_ttl_s = 7 * 86400;
    config->jobs_sync_ms = 100;
    config->results_max_bytes = HD_RESULTS_BUDGET_AUTO;
    config->max_key_jobs = 64;
}

static void
s_payload_free (void *payload)
{
    hd_payload_free (payload);
}

static hd_err_t
s_load_keys (hd_broker_t *self, char *errbuf, size_t errlen)
{
    const char *dir = self->config.keys_dir;
    if (!dir) {
        snprintf (errbuf, errlen, "no keys directory (--keys DIR; create one with "
                                  "`heddle keys init DIR`), or run with --insecure");
        return HD_ECRYPTO;
    }
    char path[PATH_MAX];
    bool lax = self->config.insecure_key_perms;
    hd_err_t rc = hd_keys_load_secret_checked (
        hd_keys_path (path, sizeof path, dir, "broker.cert_secret"), dir, lax, &self->cert,
        errbuf, errlen);
    if (rc == HD_OK)
        rc = hd_keys_fingerprint (zcert_public_txt (self->cert), self->fingerprint);
    if (rc == HD_OK)
        rc = hd_auth_new (&self->auth);
    if (rc == HD_EIO)
        snprintf (errbuf, errlen, "cannot start the ZAP handler (another broker in this process?)");
    static const struct { const char *file, *domain, *role; } lists[] = {
        { "clients.keys", HD_DOMAIN_CLIENTS, "client" },
        { "admins.keys", HD_DOMAIN_CLIENTS, "admin" },
        { "workers.keys", HD_DOMAIN_WORKERS, "worker" },
    };
    for (size_t i = 0; rc == HD_OK && i < sizeof lists / sizeof lists[0]; i++) {
        hd_keys_path (path, sizeof path, dir, lists[i].file);
        rc = hd_keys_check_mode (path, HD_KEYS_ALLOWLIST, lax, errbuf, errlen);
        if (rc == HD_OK)
            rc = hd_auth_load (self->auth, lists[i].domain, path, lists[i].role, errbuf, errlen);
    }
    hd_keys_path (self->workers_keys, sizeof self->workers_keys, dir, "workers.keys");
    hd_keys_path (self->workers_names, sizeof self->workers_names, dir, "workers.names");
    //  It binds node names to keys: whoever may write it may give a board's name to a key.
    if (rc == HD_OK)
        rc = hd_keys_check_mode (self->workers_names, HD_KEYS_ALLOWLIST, lax, errbuf, errlen);
    if (rc == HD_OK)
        hd_auth_set_enroll (self->auth, self->workers_keys, self->config.auto_approve);
    if (rc == HD_OK)
        rc = hd_broker_names_open (self, errbuf, errlen);
    if (rc == HD_OK)
        rc = hd_broker_grants_open (self, errbuf, errlen);
    return rc;
}

//  Count the connections of every listening socket against the cap (hd_conns), which stays
//  below the open-files limit: at that limit libzmq spins on accept() and serves no one new.
static hd_err_t
s_watch_conns (hd_broker_t *self, char *errbuf, size_t errlen)
{
    struct rlimit rl;
    uint64_t limit = getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                         ? rl.rlim_cur
                         : 1048576;
    uint32_t max = hd_conns_cap (self->config.max_connections, limit);
    if (self->config.max_connections > max)
        hd_warn ("--max-connections %u does not fit under the open-files limit %" PRIu64
                 " (less %u for the broker's own files): %u", self->config.max_connections,
                 limit, HD_CONNS_RESERVE, max);
    self->conns = hd_conns_new (max, limit);
    zsock_t *socks[] = { self->clients, self->workers, self->metrics, self->events };
    hd_err_t rc = self->conns ? HD_OK : HD_ENOMEM;
    for (size_t i = 0; rc == HD_OK && i < sizeof socks / sizeof socks[0]; i++)
        if (socks[i])
            rc = hd_conns_watch (self->conns, socks[i]);
    if (rc != HD_OK)
        snprintf (errbuf, errlen, "cannot watch the connections: %s", hd_strerror (rc));
    else
        hd_info ("at most %u connections at once (--max-connections; open-files limit %" PRIu64
                 "), handshake timeout %u ms", max, limit, self->config.handshake_ms);
    return rc;
}

static hd_err_t
s_bind (hd_broker_t *self, char *errbuf, size_t errlen)
{
    hd_sockopts_t o = { .insecure = self->config.insecure, .cert = self->cert,
                        .handshake_ms = (int) self->config.handshake_ms };
    //  Frames over this size drop the connection inside libzmq; between max_payload and this
    //  the broker answers TOO_LARGE itself, which is what a user should see.
    o.max_msg_size = (int64_t) self->config.max_payload * 4 + HD_MAX_ENVELOPE;
    if (o.max_msg_size > INT_MAX)
        o.max_msg_size = INT_MAX;
    o.zap_domain = HD_DOMAIN_CLIENTS;
    o.handover = true;  //  a client reconnecting with its session id takes its results back
    //  What one client connection may have queued and unread: a client that never reads
    //  costs at most this many messages (sends past it fail at once and are kept for later).
    o.sndhwm = (int) self->config.client_hwm;
    hd_err_t rc = hd_transport_bind (&self->clients, ZMQ_ROUTER, self->config.clients_endpoint,
                                     &o, errbuf, errlen);
    o.sndhwm = 0;
    o.zap_domain = HD_DOMAIN_WORKERS;
    //  No handover: a connection claiming a routing id in use is ignored, so another key
    //  cannot take a worker's route (and read its tasks). Workers pick a fresh random routing
    //  id per connection; a restarted one is recognised by its key and name (hd_broker_hello).
    o.handover = false;
    if (rc == HD_OK)
        rc = hd_transport_bind (&self->workers, ZMQ_ROUTER, self->config.workers_endpoint, &o,
                                errbuf, errlen);
    if (rc != HD_OK)
        return rc;
    snprintf (self->clients_ep, sizeof self->clients_ep, "%s", zsock_endpoint (self->clients));
    snprintf (self->workers_ep, sizeof self->workers_ep, "%s", zsock_endpoint (self->workers));
    self->clients_raw = zsock_resolve (self->clients);
    self->workers_raw = zsock_resolve (self->workers);
    rc = hd_broker_bind_extra (self, errbuf, errlen);
    if (rc != HD_OK)
        return rc;
    self->stop_fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (self->stop_fd < 0)
        return HD_ENOMEM;
    return s_watch_conns (self, errbuf, errlen);
}

//  Announce the workers endpoint on the LAN (hd_discovery). Never fatal: without a beacon,
//  workers given the broker's address still join. The beacon is its own thread (zbeacon).
static void
s_start_beacon (hd_broker_t *self)
{
    const hd_broker_config_t *c = &self->config;
    hd_beacon_t b;
    char why[256];
    if (!c->beacon_port)
        return;
    if (hd_discovery_beacon_for (&b, c->cluster, self->workers_ep, hd_broker_public_key (self),
                                 why, sizeof why)
        != HD_OK) {
        hd_debug ("no discovery beacon: %s", why);
        return;
    }
    hd_discovery_opts_t o = { .port = (uint16_t) c->beacon_port, .iface = c->beacon_interface };
    if (hd_discovery_announce (&self->beacon, &b, &o) != HD_OK)
        hd_warn ("no discovery beacon: cannot start it");
    else if (!*hd_discovery_address (self->beacon))
        hd_warn ("discovery beacon: no network interface can broadcast yet (%s); retrying",
                 c->beacon_interface ? c->beacon_interface : "none named");
    else {
        const char *iface = hd_discovery_iface (self->beacon);
        hd_info ("announcing cluster %s on UDP port %u (interface %s, %s)", b.cluster,
                 c->beacon_port, *iface ? iface : "?", hd_discovery_address (self->beacon));
    }
}

static hd_err_t
s_init_state (hd_broker_t *self)
{
    self->registry = hd_registry_new ();
    hd_scheduler_config_t sc = { .max_queued = self->config.max_queue,
                                 .default_attempts = self->config.default_attempts,
                                 .payload_free = s_payload_free,
                                 .result_free = hd_broker_result_free };
    self->scheduler = self->registry ? hd_scheduler_new (self->registry, &sc) : NULL;
    self->accepted = malloc (sizeof *self->accepted);
    hd_sessions_config_t ss = { .max_session_tasks = self->config.max_client_tasks,
                                .max_key_tasks = self->config.max_key_tasks,
                                .max_key_sessions = self->config.max_key_sessions,
                                .idle_ms = self->config.session_idle_ms };
    self->sessions = hd_sessions_new (&ss);
    if (!self->scheduler || !self->accepted || !self->sessions)
        return HD_ENOMEM;
    return hd_frames_init (&self->in, 2 + 2 * HD_MAX_BATCH);
}

hd_err_t
hd_broker_new (const hd_broker_config_t *config, hd_broker_t **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    hd_broker_t *self = calloc (1, sizeof *self);
    if (!self)
        return HD_ENOMEM;
    self->config = *config;
    self->stop_fd = -1;
    hd_ratelog_init (&self->full_log, HD_RATELOG_WINDOW_MS);
    hd_ratelog_init (&self->refuse_log, HD_RATELOG_WINDOW_MS);
    if (!self->config.heartbeat_ms || !self->config.heartbeat_misses || !self->config.max_queue) {
        snprintf (errbuf, errlen, "heartbeat, misses and queue size must be positive");
        free (self);
        return HD_EINVAL;
    }
    hd_err_t rc = self->config.insecure ? HD_OK : s_load_keys (self, errbuf, errlen);
    if (rc == HD_OK)
        rc = s_init_state (self);
    if (rc == HD_OK)
        rc = hd_broker_journal_open (self, errbuf, errlen);
    if (rc == HD_OK)
        rc = s_bind (self, errbuf, errlen);
    if (rc == HD_OK)
        rc = hd_broker_web_start (self, errbuf, errlen);
    if (rc != HD_OK) {
        hd_broker_destroy (&self);
        return rc;
    }
    s_start_beacon (self);
    if (self->config.insecure && (hd_transport_is_tcp (self->clients_ep)
                                  || hd_transport_is_tcp (self->workers_ep)))
        hd_warn ("--insecure: plain TCP, no encryption and no authentication on %s and %s",
                 self->clients_ep, self->workers_ep);
    if (self->config.auto_approve && !self->config.insecure)
        hd_warn ("--auto-approve: any worker key is admitted and added to %s; for trusted "
                 "networks only", self->workers_keys);
    *out = self;
    return HD_OK;
}

void
hd_broker_destroy (hd_broker_t **self_p)
{
    hd_broker_t *self = *self_p;
    if (!self)
        return;
    hd_discovery_destroy (&self->beacon);  //  first: stop announcing a broker that is going
    hd_broker_web_stop (self);
    hd_broker_journal_close (self);  //  commits what is pending, best effort
    hd_broker_jobs_close (self);
    hd_scheduler_destroy (&self->scheduler);
    for (hd_node_t *n = self->registry ? hd_registry_first (self->registry) : NULL; n;
         n = hd_registry_next (self->registry, n)) {
        hd_nodeout_t *o = n->user;
        if (o)
            free (o->jobs);
        free (o);
    }
    hd_registry_destroy (&self->registry);
    hd_grants_destroy (&self->grants);
    hd_frames_fini (&self->in);
    hd_buf_fini (&self->env);
    hd_buf_fini (&self->pack);
    free (self->accepted);
    free (self->touched);
    free (self->done.items);
    hd_accq_fini (&self->acc);
    free (self->outbox);
    free (self->down);
    free (self->conflicts);
    hd_nodenames_destroy (&self->names);
    free (self->fnwait);
    hd_buf_fini (&self->jbuf);
    hd_sessions_destroy (&self->sessions);
    hd_conns_destroy (&self->conns);  //  its monitors first, then the sockets they watch
    zsock_destroy (&self->clients);
    zsock_destroy (&self->workers);
    if (self->stop_fd >= 0)
        close (self->stop_fd);
    zsock_destroy (&self->metrics);
    zsock_destroy (&self->events);
    hd_auth_destroy (&self->auth);
    zcert_destroy (&self->cert);
    free (self);
    *self_p = NULL;
}

void
hd_broker_stop (hd_broker_t *self)
{
    uint64_t one = 1;
    if (write (self->stop_fd, &one, sizeof one) < 0)
        hd_error ("cannot signal the broker to stop: %s", strerror (errno));
}

const char *
hd_broker_clients_endpoint (const hd_broker_t *self)
{
    return self->clients_ep;
}

const char *
hd_broker_workers_endpoint (const hd_broker_t *self)
{
    return self->workers_ep;
}

const char *
hd_broker_metrics_endpoint (const hd_broker_t *self)
{
    return self->metrics_ep;
}

const char *
hd_broker_events_endpoint (const hd_broker_t *self)
{
    return self->events_ep;
}

const char *
hd_broker_public_key (const hd_broker_t *self)
{
    return self->cert ? zcert_public_txt (self->cert) : "";
}

const char *
hd_broker_fingerprint (const hd_broker_t *self)
{
    return self->fingerprint;
}

static void
s_log_stats (hd_broker_t *self)
{
    hd_broker_stats_t *s = &self->stats;
    hd_info ("stats: submitted %" PRIu64 " accepted %" PRIu64 " rejected %" PRIu64
             " dispatched %" PRIu64 " completed %" PRIu64 " failed %" PRIu64 " fenced %" PRIu64
             " malformed %" PRIu64 " unroutable %" PRIu64 " workers lost %" PRIu64
             " acked %" PRIu64 " resent %" PRIu64 " expired %" PRIu64 " busy %" PRIu64
             " refused workers %" PRIu64 " replaced %" PRIu64 " foreign %" PRIu64,
             s->submitted, s->accepted, s->rejected, s->dispatched, s->completed, s->failed,
             s->fenced, s->malformed, s->unroutable, s->lost_workers, s->acked, s->resent,
             s->expired, s->busy, s->refused_hellos, s->replaced, s->foreign);
}

hd_err_t
hd_broker_run (hd_broker_t *self)
{
    //  Only the two hot sockets are zmq items: zmq_poll asks each zmq item for ZMQ_EVENTS on
    //  every pass (two syscalls each). The quiet ones (ZAP requests, worker metrics, stop) are
    //  plain fds: ZAP's and the metrics SUB's ZMQ_FD are edge-triggered, and their handlers
    //  read until ZMQ_EVENTS shows nothing left, so no edge is lost.
    enum { S_CLIENTS, S_WORKERS, S_STOP, S_METRICS, S_AUTH, S_SYNCED, S_CONNS,
           S_NITEMS = S_CONNS + HD_CONNS_MAX_WATCH };
    zmq_pollitem_t items[S_NITEMS] = {
        [S_CLIENTS] = { self->clients_raw, 0, ZMQ_POLLIN, 0 },
        [S_WORKERS] = { self->workers_raw, 0, ZMQ_POLLIN, 0 },
        [S_STOP] = { NULL, self->stop_fd, ZMQ_POLLIN, 0 },
        [S_METRICS] = { NULL,
                        hd_transport_fd (self->metrics ? zsock_resolve (self->metrics) : NULL),
                        ZMQ_POLLIN, 0 },
        [S_AUTH] = { NULL, hd_transport_fd (self->auth ? hd_auth_socket (self->auth) : NULL),
                     ZMQ_POLLIN, 0 },
        [S_SYNCED] = { NULL, hd_broker_journal_fd (self), ZMQ_POLLIN, 0 },  //  a commit ended
    };
    int conn_fds[HD_CONNS_MAX_WATCH];  //  connections accepted or closed (-1: unused)
    hd_conns_fds (self->conns, conn_fds);
    for (int i = 0; i < HD_CONNS_MAX_WATCH; i++)
        items[S_CONNS + i] = (zmq_pollitem_t) { NULL, conn_fds[i], ZMQ_POLLIN, 0 };
    //  Whatever arrived before the loop started raised its edge already: look once.
    bool first = true, metrics_more = false;
    hd_info ("serving clients on %s, workers on %s%s", self->clients_ep, self->workers_ep,
             self->config.insecure ? " (insecure)" : " (CURVE)");
    self->next_beat_ms = hd_broker_now () + self->config.heartbeat_ms;
    while (!zsys_interrupted && !self->fatal) {
        int64_t now0 = hd_broker_now ();
        int64_t wait = self->next_beat_ms - now0;
        //  While a commit is in flight the next one waits for it: the syncer's fd wakes us.
        int64_t commit = hd_broker_journal_due_in (self, now0);
        if (commit >= 0 && commit < wait)
            wait = commit;
        int64_t due = hd_scheduler_next_due_ms (self->scheduler);  //  a retry's backoff ends
        if (due >= 0 && due - now0 < wait)
            wait = due - now0;
        int64_t accepts = hd_broker_accepts_due_in (self, now0);
        if (accepts >= 0 && accepts < wait)
            wait = accepts;
        int64_t held = hd_broker_jobs_due_in (self, now0);  //  a held JOB_FETCH's wait ends
        if (held >= 0 && held < wait)
            wait = held;
        int64_t web = hd_broker_web_due_in (self, now0);
        if (web >= 0 && web < wait)
            wait = web;
        if (first || metrics_more)
            wait = 0;
        if (zmq_poll (items, S_NITEMS, wait > 0 ? (long) wait : 0) < 0)
            break;  //  EINTR from a signal: zsys_interrupted is set
        if (items[S_STOP].revents & ZMQ_POLLIN)
            break;
        hd_scheduler_set_now (self->scheduler, hd_broker_now ());  //  dates backoffs of losses
        if (self->auth && (first || (items[S_AUTH].revents & ZMQ_POLLIN)))
            hd_auth_handle (self->auth);
        bool conns = first;
        for (int i = 0; i < HD_CONNS_MAX_WATCH; i++)
            conns |= (items[S_CONNS + i].revents & ZMQ_POLLIN) != 0;
        if (conns)
            hd_conns_handle (self->conns, hd_broker_now ());
        if (self->metrics && (first || metrics_more || (items[S_METRICS].revents & ZMQ_POLLIN)))
            metrics_more = hd_broker_on_metrics (self);  //  more left than one round takes
        first = false;
        if (items[S_WORKERS].revents & ZMQ_POLLIN)
            hd_broker_on_worker (self);
        if (items[S_CLIENTS].revents & ZMQ_POLLIN)
            hd_broker_on_client (self);
        hd_broker_dispatch (self);
        int64_t now = hd_broker_now ();
        if (now >= self->next_beat_ms) {
            first = true;  //  belt and braces: look at the quiet sockets once a beat
            hd_broker_beat (self, now);
            if (self->auth)
                hd_auth_tick (self->auth);  //  a window of counted refusals is summed up
            hd_conns_tick (self->conns, now);
            hd_broker_expire (self, now);
            hd_sessions_expire (self->sessions, now);
            hd_broker_wait_expire (self, now);
            hd_broker_jobs_beat (self, now);
            hd_registry_check_stale (self->registry, now, self->config.stale_ms);
            hd_broker_stats_event (self, now - self->next_beat_ms + self->config.heartbeat_ms);
            self->next_beat_ms = now + self->config.heartbeat_ms;
        }
        hd_broker_jobs_tick (self, now);
        hd_broker_journal_tick (self, now);
        hd_broker_web_tick (self, now);
    }
    s_log_stats (self);
    return self->fatal ? HD_EIO : HD_OK;
}
