/*  hd_opts_broker: heddle-broker's options, declared once: getopt, --help, the [broker] keys of
    the config file, their check, --print-config, the man page and the completion words all come
    from this table (lib/hd_opts). The order here is the order of --help.  */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "hd_codec_jobs.h"
#include "hd_conns.h"
#include "hd_discovery.h"
#include "hd_log.h"
#include "hd_opts_tables.h"
#include "hd_proto.h"
#include "hd_transport.h"

#define S_STR(x) #x
#define S_XSTR(x) S_STR (x)
#define S_OFF(field) offsetof (hd_broker_settings_t, field)
#define S_CFG(field) offsetof (hd_broker_settings_t, config.field)
#define S_U32_MAX 4294967295LL

int
hd_opts_set_log_level (void *target, const hd_opt_t *opt, const char *arg, char *err,
                       size_t errlen)
{
    (void) target, (void) opt, (void) err, (void) errlen;
    hd_log_level_t level;
    if (hd_log_parse_level (arg, &level) != 0)
        return -1;  //  the choices were checked: cannot happen
    hd_log_set_level (level);
    return 0;
}

static bool
s_cluster_ok (const char *value)
{
    return hd_discovery_cluster_ok (value);
}

//  The endpoint as given, completed with the default port, kept in `buf` (an array of the
//  settings) and pointed to by the config's field; "none" (where allowed) is NULL.
static void
s_endpoint (const char *arg, char *buf, const char **field, int port)
{
    if (strcmp (arg, "none") == 0)
        *field = NULL;
    else {
        hd_transport_endpoint (buf, HD_OPTS_EP_MAX, arg, port);
        *field = buf;
    }
}

static int
s_set_endpoint (void *target, const hd_opt_t *opt, const char *arg, char *err, size_t errlen)
{
    (void) err, (void) errlen;
    hd_broker_settings_t *s = target;
    hd_broker_config_t *c = &s->config;
    if (strcmp (opt->name, "clients") == 0)
        s_endpoint (arg, s->clients, &c->clients_endpoint, 7700);
    else if (strcmp (opt->name, "workers") == 0)
        s_endpoint (arg, s->workers, &c->workers_endpoint, 7701);
    else if (strcmp (opt->name, "metrics") == 0)
        s_endpoint (arg, s->metrics, &c->metrics_endpoint, 7702);
    else
        s_endpoint (arg, s->events, &c->events_endpoint, 7703);
    return 0;
}

//  --http HOST:PORT or none. A port alone means loopback; the address given is then required
//  (a bind failure is fatal), unlike the default, which only warns.
static int
s_set_http (void *target, const hd_opt_t *opt, const char *arg, char *err, size_t errlen)
{
    (void) opt, (void) err, (void) errlen;
    hd_broker_settings_t *s = target;
    s->config.http_optional = false;
    if (strcmp (arg, "none") == 0)
        s->config.http_endpoint = NULL;
    else {
        if (strspn (arg, "0123456789") == strlen (arg))
            snprintf (s->http, sizeof s->http, "127.0.0.1:%s", arg);
        else
            snprintf (s->http, sizeof s->http, "%s", arg);
        s->config.http_endpoint = s->http;
    }
    return 0;
}

static const int s_journal_modes[] = { HD_JOURNAL_SYNC, HD_JOURNAL_BATCH, HD_JOURNAL_NONE };

// clang-format off
static const hd_opt_t s_opts[] = {
    { .name = "clients", .letter = 'c', .kind = HD_OPTS_ENDPOINT, .meta = "ENDPOINT",
      .help = "clients endpoint", .offset = S_CFG (clients_endpoint), .set = s_set_endpoint },
    { .name = "workers", .letter = 'w', .kind = HD_OPTS_ENDPOINT, .meta = "ENDPOINT",
      .help = "workers endpoint", .offset = S_CFG (workers_endpoint), .set = s_set_endpoint },
    { .name = "metrics", .kind = HD_OPTS_ENDPOINT, .meta = "ENDPOINT", .choices = "none",
      .help = "SUB for worker metrics, or 'none'", .unset = "none", .offset = S_CFG (metrics_endpoint),
      .set = s_set_endpoint },
    { .name = "events", .kind = HD_OPTS_ENDPOINT, .meta = "ENDPOINT", .choices = "none",
      .help = "PUB of cluster events, or 'none'", .unset = "none", .offset = S_CFG (events_endpoint),
      .set = s_set_endpoint },
    { .name = "http", .kind = HD_OPTS_STRING, .meta = "HOST:PORT",
      .help = "web endpoint: /metrics (Prometheus), /api/state, dashboard on /; a port alone "
              "means loopback; 'none' turns it off (beyond loopback it needs --http-token)",
      .unset = "none", .offset = S_CFG (http_endpoint), .set = s_set_http },
    { .name = "http-token", .kind = HD_OPTS_STRING, .meta = "TOKEN",
      .help = "what peers beyond loopback must send (Authorization: Bearer TOKEN or "
              "?token=TOKEN); better in the config file",
      .flags = HD_OPTS_SECRET, .offset = S_CFG (http_token) },
    { .name = "keys", .letter = 'k', .kind = HD_OPTS_STRING, .meta = "DIR",
      .help = "keys directory from `heddle keys init`", .def = "$HEDDLE_KEYS",
      .offset = S_CFG (keys_dir) },
    { .name = "insecure", .kind = HD_OPTS_FLAG,
      .help = "plain TCP without CURVE (a warning is logged)", .offset = S_CFG (insecure) },
    { .name = "auto-approve", .kind = HD_OPTS_FLAG,
      .help = "admit unknown worker keys at once and add them to KEYS/workers.keys (a warning "
              "each; trusted networks only)", .offset = S_CFG (auto_approve) },
    { .name = "insecure-key-perms", .kind = HD_OPTS_FLAG,
      .help = "start even when KEYS, its secret key or an allowlist is open to group or others "
              "(a warning; refused otherwise)", .offset = S_CFG (insecure_key_perms) },
    { .name = "max-connections", .kind = HD_OPTS_UINT, .meta = "N", .min = 1, .max = S_U32_MAX,
      .help = "TCP connections at once, all endpoints; more are closed at once",
      .def = "open-files limit - " S_XSTR (HD_CONNS_RESERVE) ", at most "
             S_XSTR (HD_CONNS_DEFAULT_MAX), .unset = "auto", .offset = S_CFG (max_connections) },
    { .name = "handshake-timeout", .kind = HD_OPTS_UINT, .meta = "MS", .unit = HD_OPTS_MS,
      .min = 1, .max = S_U32_MAX,
      .help = "close a connection that has not finished its handshake within MS",
      .offset = S_CFG (handshake_ms) },
    { .name = "journal", .kind = HD_OPTS_ENUM, .meta = "MODE", .choices = "sync|batch|none",
      .values = s_journal_modes,
      .help = "sync: ACCEPTED only after fdatasync; batch: group commit within --journal-batch "
              "MS; none: no journal", .offset = S_CFG (journal_mode) },
    { .name = "journal-dir", .kind = HD_OPTS_STRING, .meta = "DIR",
      .help = "where journal.log lives", .offset = S_CFG (journal_dir) },
    { .name = "journal-batch", .kind = HD_OPTS_UINT, .meta = "MS", .unit = HD_OPTS_MS, .min = 1,
      .max = S_U32_MAX, .help = "batch mode's longest delay", .offset = S_CFG (journal_batch_ms) },
    { .name = "journal-max-mb", .kind = HD_OPTS_UINT, .meta = "MB", .unit = HD_OPTS_MIB, .min = 1,
      .max = S_U32_MAX, .help = "journal's space", .def = "half the free space at start",
      .unset = "auto", .offset = S_CFG (journal_max_mb) },
    { .name = "prefetch", .kind = HD_OPTS_UINT, .meta = "N", .min = 0, .max = 4,
      .help = "tasks per slot a worker may hold waiting, 0..4", .offset = S_CFG (prefetch) },
    { .name = "prefetch-short", .kind = HD_OPTS_UINT, .meta = "N", .min = 0,
      .max = HD_MAX_BATCH - 1,
      .help = "the same for short functions (runs under 0.5 ms), 0..1023 (a worker's HELLO "
              "queue caps it)", .offset = S_CFG (prefetch_short) },
    { .name = "max-payload", .kind = HD_OPTS_UINT, .meta = "BYTES", .unit = HD_OPTS_BYTES,
      .min = 1, .max = S_U32_MAX, .help = "largest task payload accepted",
      .offset = S_CFG (max_payload) },
    { .name = "max-queue", .kind = HD_OPTS_UINT, .meta = "N", .min = 1, .max = S_U32_MAX,
      .help = "tasks queued + running at most", .offset = S_CFG (max_queue) },
    { .name = "heartbeat", .kind = HD_OPTS_UINT, .meta = "MS", .unit = HD_OPTS_MS, .min = 1,
      .max = S_U32_MAX, .help = "heartbeat interval", .offset = S_CFG (heartbeat_ms) },
    { .name = "misses", .kind = HD_OPTS_UINT, .meta = "N", .min = 1, .max = S_U32_MAX,
      .help = "silent intervals before a worker is lost", .offset = S_CFG (heartbeat_misses) },
    { .name = "attempts", .kind = HD_OPTS_UINT, .meta = "N", .min = 1, .max = S_U32_MAX,
      .help = "dispatches per task at most", .offset = S_CFG (default_attempts) },
    { .name = "result-ttl", .kind = HD_OPTS_UINT, .meta = "MS", .unit = HD_OPTS_MS, .min = 1,
      .max = S_U32_MAX, .help = "forget a result unacknowledged this long",
      .offset = S_CFG (result_ttl_ms) },
    { .name = "worker-wait", .kind = HD_OPTS_UINT, .meta = "MS", .unit = HD_OPTS_MS, .min = 0,
      .max = S_U32_MAX,
      .help = "a task for a function no worker offers yet waits this long for one, then fails "
              "UNKNOWN_FN; 0: at once", .offset = S_CFG (worker_wait_ms) },
    { .name = "stale", .kind = HD_OPTS_UINT, .meta = "MS", .unit = HD_OPTS_MS, .min = 1,
      .max = S_U32_MAX, .help = "no task to a node whose metrics are this old",
      .offset = S_CFG (stale_ms) },
    { .name = "temp-limit", .kind = HD_OPTS_NUMBER, .meta = "C", .unit = HD_OPTS_CELSIUS,
      .min = 0, .help = "no task to a node this hot, 0: no limit",
      .offset = S_CFG (temp_limit_c) },
    { .name = "cluster", .kind = HD_OPTS_STRING, .meta = "NAME",
      .help = "cluster name announced to workers", .valid = s_cluster_ok,
      .valid_text = "a cluster name (1..32 of A-Z a-z 0-9 . _ -)", .offset = S_CFG (cluster) },
    { .name = "beacon-port", .kind = HD_OPTS_UINT, .meta = "N", .min = 1, .max = 65535,
      .help = "UDP port of the discovery beacon", .offset = S_CFG (beacon_port) },
    { .name = "beacon-interface", .kind = HD_OPTS_STRING, .meta = "IFACE",
      .help = "network interface the beacon goes out on",
      .def = "$ZSYS_INTERFACE, else the one holding the workers address, else the first with "
             "broadcast", .unset = "(default)", .offset = S_CFG (beacon_interface) },
    { .name = "no-beacon", .kind = HD_OPTS_FLAG,
      .help = "do not announce this broker on the LAN (workers then need --broker HOST)",
      .offset = S_OFF (no_beacon) },
    { .name = "log-level", .kind = HD_OPTS_ENUM, .meta = "LEVEL", .choices = HD_OPTS_LEVELS,
      .help = "error|warn|info|debug", .offset = S_OFF (log_level),
      .set = hd_opts_set_log_level },
    { .name = "config", .kind = HD_OPTS_STRING, .meta = "FILE",
      .help = "config file, [broker] section; flags win",
      .def = "$HEDDLE_CONFIG, else /etc/heddle/heddle.conf if it exists",
      .flags = HD_OPTS_NOCONF | HD_OPTS_NOPRINT, .offset = S_OFF (config_path) },
    { .name = "print-config", .kind = HD_OPTS_FLAG,
      .help = "print the effective configuration and exit",
      .flags = HD_OPTS_NOCONF | HD_OPTS_NOPRINT, .offset = S_OFF (print_config) },
    { .name = "print-endpoints", .kind = HD_OPTS_FLAG,
      .help = "once bound, print \"clients=EP workers=EP ... fingerprint=FP\" on stdout (for "
              "scripts binding port *)",
      .flags = HD_OPTS_NOCONF | HD_OPTS_NOPRINT, .offset = S_OFF (print_endpoints) },
    { .name = "help", .letter = 'h', .kind = HD_OPTS_HELP, .help = "this text", .offset = -1 },
    { .name = "Client sessions (a session is a session id under the key that opened it):",
      .kind = HD_OPTS_HEADING },
    { .name = "max-client-tasks", .kind = HD_OPTS_UINT, .meta = "N", .min = 1, .max = S_U32_MAX,
      .help = "per session: queued + running + unacknowledged",
      .offset = S_CFG (max_client_tasks) },
    { .name = "max-key-tasks", .kind = HD_OPTS_UINT, .meta = "N", .min = 1, .max = S_U32_MAX,
      .help = "queued + running + unacknowledged over all the key's sessions",
      .offset = S_CFG (max_key_tasks) },
    { .name = "max-key-sessions", .kind = HD_OPTS_UINT, .meta = "N", .min = 1, .max = S_U32_MAX,
      .help = "sessions one client key may hold", .offset = S_CFG (max_key_sessions) },
    { .name = "session-idle", .kind = HD_OPTS_UINT, .meta = "MS", .unit = HD_OPTS_MS, .min = 1,
      .max = S_U32_MAX, .help = "forget a session holding nothing after this idle time",
      .offset = S_CFG (session_idle_ms) },
    { .name = "client-hwm", .kind = HD_OPTS_UINT, .meta = "N", .min = 1, .max = S_U32_MAX,
      .help = "messages queued to one client connection at most", .offset = S_CFG (client_hwm) },
    { .name = "Detached jobs (results kept beside the journal until released; not with "
              "--journal none):", .kind = HD_OPTS_HEADING },
    { .name = "job-ttl", .kind = HD_OPTS_UINT, .meta = "SECONDS", .unit = HD_OPTS_SECONDS,
      .min = 1, .max = 90 * 86400,
      .help = "a job is released this long after it was opened, when its client gives none "
              "(7 days; at most 90 days)", .offset = S_CFG (job_ttl_s) },
    { .name = "results-max-bytes", .kind = HD_OPTS_U64, .meta = "BYTES", .unit = HD_OPTS_BYTES,
      .min = 0, .max = INT64_MAX,
      .help = "new jobs are refused while the stored results take this much (0: no detached "
              "jobs)", .def = "10% of the journal disk's free space at start, at most 4 GiB",
      .unset = "auto", .offset = S_CFG (results_max_bytes) },
    { .name = "jobs-sync", .kind = HD_OPTS_UINT, .meta = "MS", .unit = HD_OPTS_MS, .min = 1,
      .max = S_U32_MAX,
      .help = "fdatasync the result stores this often; the journal forgets their tasks after "
              "(one fdatasync per commit, not two)", .offset = S_CFG (jobs_sync_ms) },
    { .name = "max-key-jobs", .kind = HD_OPTS_UINT, .meta = "N", .min = 1,
      .max = HD_MAX_JOBS_LIST, .help = "open jobs per client key, 1.." S_XSTR (HD_MAX_JOBS_LIST),
      .offset = S_CFG (max_key_jobs) },
    { .name = "Workers (a HELLO over a bound is refused; the worker logs why and stops):",
      .kind = HD_OPTS_HEADING },
    { .name = "max-worker-slots", .kind = HD_OPTS_UINT, .meta = "N", .min = 1, .max = S_U32_MAX,
      .help = "slots a worker may declare", .offset = S_CFG (max_worker_slots) },
    { .name = "max-worker-queue", .kind = HD_OPTS_UINT, .meta = "N", .min = 1, .max = S_U32_MAX,
      .help = "queue a worker may declare", .offset = S_CFG (max_worker_queue) },
    { .name = "max-worker-functions", .kind = HD_OPTS_UINT, .meta = "N", .min = 1,
      .max = HD_MAX_FNS, .help = "functions a worker may offer, 1.." S_XSTR (HD_MAX_FNS),
      .offset = S_CFG (max_worker_fns) },
    { .name = "max-names-per-key", .kind = HD_OPTS_UINT, .meta = "N", .min = 1, .max = S_U32_MAX,
      .help = "node names one worker key may own", .offset = S_CFG (max_names_per_key) },
    HD_OPTS_END,
};
// clang-format on

const hd_opts_prog_t hd_opts_broker = {
    .name = "heddle-broker",
    .section = "broker",
    .usage = "heddle-broker [OPTIONS]",
    .summary = "Queue tasks from clients and dispatch them to workers by capacity.",
    .epilog = "Endpoints take tcp://host:port, host:port, or a bare host (default ports 7700 "
              "and 7701).\n",
    .opts = s_opts,
};
