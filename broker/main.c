/*  heddle-broker: gather the settings (defaults, the [broker] section of the config file,
    $HEDDLE_KEYS, then flags), build the broker, run it until SIGINT/SIGTERM. All the work is
    in hd_broker.  */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hd_broker.h"
#include "hd_codec_jobs.h"
#include "hd_config.h"
#include "hd_conns.h"
#include "hd_discovery.h"
#include "hd_log.h"
#include "hd_nofile.h"
#include "hd_transport.h"

static void
s_usage (FILE *out, const hd_broker_config_t *d)
{
    fprintf (out,
             "Usage: heddle-broker [OPTIONS]\n"
             "Queue tasks from clients and dispatch them to workers by capacity.\n\n"
             "  -c, --clients ENDPOINT   clients endpoint (default %s)\n"
             "  -w, --workers ENDPOINT   workers endpoint (default %s)\n"
             "      --metrics ENDPOINT   SUB for worker metrics, or 'none' (default %s)\n"
             "      --events ENDPOINT    PUB of cluster events, or 'none' (default %s)\n"
             "      --http HOST:PORT     web endpoint: /metrics (Prometheus), /api/state, "
             "dashboard\n"
             "                           on /; 'none' turns it off (default %s; beyond "
             "loopback\n"
             "                           it needs --http-token)\n"
             "      --http-token TOKEN   what peers beyond loopback must send (Authorization: "
             "Bearer\n"
             "                           TOKEN or ?token=TOKEN); better in the config file\n"
             "  -k, --keys DIR           keys directory from `heddle keys init` (default "
             "$HEDDLE_KEYS)\n"
             "      --insecure           plain TCP without CURVE (a warning is logged)\n"
             "      --auto-approve       admit unknown worker keys at once and add them to\n"
             "                           KEYS/workers.keys (a warning each; trusted networks "
             "only)\n"
             "      --insecure-key-perms start even when KEYS, its secret key or an allowlist "
             "is open\n"
             "                           to group or others (a warning; refused otherwise)\n"
             "      --max-connections N  TCP connections at once, all endpoints; more are "
             "closed at\n"
             "                           once (default: open-files limit - %u, at most %u)\n"
             "      --handshake-timeout MS  close a connection that has not finished its "
             "handshake\n"
             "                           within MS (default %u)\n"
             "      --journal MODE       sync: ACCEPTED only after fdatasync (default); batch: "
             "group\n"
             "                           commit within --journal-batch MS; none: no journal\n"
             "      --journal-dir DIR    where journal.log lives (default %s)\n"
             "      --journal-batch MS   batch mode's longest delay (default %u)\n"
             "      --journal-max-mb MB  journal's space (default: half the free at start)\n"
             "      --prefetch N         tasks per slot a worker may hold waiting, 0..4 (default "
             "%u)\n"
             "      --prefetch-short N   the same for short functions (runs under 0.5 ms), "
             "0..1023\n"
             "                           (default %u; a worker's HELLO queue caps it)\n"
             "      --max-payload BYTES  largest task payload accepted (default %u)\n"
             "      --max-queue N        tasks queued + running at most (default %u)\n"
             "      --heartbeat MS       heartbeat interval (default %u)\n"
             "      --misses N           silent intervals before a worker is lost (default %u)\n"
             "      --attempts N         dispatches per task at most (default %u)\n"
             "      (client sessions and keys: see the end)\n"
             "      --result-ttl MS      forget a result unacknowledged this long (default %u)\n"
             "      --worker-wait MS     a task for a function no worker offers yet waits this "
             "long\n"
             "                           for one, then fails UNKNOWN_FN; 0: at once (default "
             "%u)\n"
             "      --stale MS           no task to a node whose metrics are this old (default "
             "%u)\n"
             "      --temp-limit C       no task to a node this hot, 0: no limit (default %.0f)\n"
             "      --cluster NAME       cluster name announced to workers (default %s)\n"
             "      --beacon-port N      UDP port of the discovery beacon (default %u)\n"
             "      --beacon-interface IFACE  network interface the beacon goes out on\n"
             "                           (default $ZSYS_INTERFACE, else the one holding the "
             "workers\n"
             "                           address, else the first with broadcast)\n"
             "      --no-beacon          do not announce this broker on the LAN (workers then "
             "need\n"
             "                           --broker HOST)\n"
             "      --log-level LEVEL    error|warn|info|debug (default info)\n"
             "      --config FILE        config file, [broker] section (default $HEDDLE_CONFIG, "
             "else\n"
             "                           /etc/heddle/heddle.conf if it exists); flags win\n"
             "      --print-config       print the effective configuration and exit\n"
             "      --print-endpoints    once bound, print \"clients=EP workers=EP ... "
             "fingerprint=FP\"\n"
             "                           on stdout (for scripts binding port *)\n"
             "  -h, --help               this text\n"
             "Endpoints take tcp://host:port, host:port, or a bare host (default ports 7700 and "
             "7701).\n",
             d->clients_endpoint, d->workers_endpoint, d->metrics_endpoint, d->events_endpoint,
             d->http_endpoint ? d->http_endpoint : "none",
             HD_CONNS_RESERVE, HD_CONNS_DEFAULT_MAX, d->handshake_ms, d->journal_dir, d->journal_batch_ms, d->prefetch, d->prefetch_short, d->max_payload, d->max_queue, d->heartbeat_ms, d->heartbeat_misses,
             d->default_attempts, d->result_ttl_ms, d->worker_wait_ms, d->stale_ms,
             d->temp_limit_c, d->cluster, d->beacon_port);
    fprintf (out,
             "Client sessions (a session is a session id under the key that opened it):\n"
             "      --max-client-tasks N per session: queued + running + unacknowledged "
             "(default %u)\n"
             "      --max-key-tasks N    queued + running + unacknowledged over all the key's\n"
             "                           sessions (default %u)\n"
             "      --max-key-sessions N sessions one client key may hold (default %u)\n"
             "      --session-idle MS    forget a session holding nothing after this idle time\n"
             "                           (default %u)\n"
             "      --client-hwm N       messages queued to one client connection at most "
             "(default %u)\n",
             d->max_client_tasks, d->max_key_tasks, d->max_key_sessions, d->session_idle_ms,
             d->client_hwm);
    fprintf (out,
             "Detached jobs (results kept beside the journal until released; not with "
             "--journal none):\n"
             "      --job-ttl SECONDS    a job is released this long after it was opened, when "
             "its\n"
             "                           client gives none (default %u = 7 days; at most 90 "
             "days)\n"
             "      --results-max-bytes BYTES  new jobs are refused while the stored results "
             "take\n"
             "                           this much (default: 10%% of the journal disk's free "
             "space at\n"
             "                           start, at most 4 GiB; 0: no detached jobs)\n"
             "      --max-key-jobs N     open jobs per client key, 1..%d (default %u)\n",
             d->job_ttl_s, HD_MAX_JOBS_LIST, d->max_key_jobs);
    fprintf (out,
             "Workers (a HELLO over a bound is refused; the worker logs why and stops):\n"
             "      --max-worker-slots N     slots a worker may declare (default %u)\n"
             "      --max-worker-queue N     queue a worker may declare (default %u)\n"
             "      --max-worker-functions N functions a worker may offer, 1..%d (default %u)\n"
             "      --max-names-per-key N    node names one worker key may own (default %u)\n",
             d->max_worker_slots, d->max_worker_queue, HD_MAX_FNS, d->max_worker_fns,
             d->max_names_per_key);
}

static int
s_uint_arg (const char *name, const char *text, uint32_t *out)
{
    char *end;
    unsigned long v = strtoul (text, &end, 10);
    if (!*text || *end || v == 0 || v > UINT32_MAX) {
        fprintf (stderr, "heddle-broker: --%s needs a positive integer, got '%s'\n", name, text);
        return -1;
    }
    *out = (uint32_t) v;
    return 0;
}

static bool s_print_endpoints;
static char s_metrics_ep[256], s_events_ep[256];

static const char *
s_endpoint_or_none (const char *text, char *buf, int port)
{
    if (strcmp (text, "none") == 0)
        return NULL;
    hd_transport_endpoint (buf, 256, text, port);
    return buf;
}

static int
s_journal_mode (const char *text, hd_journal_mode_t *out)
{
    static const char *names[] = { "none", "batch", "sync" };
    for (int i = 0; i < 3; i++)
        if (strcmp (text, names[i]) == 0) {
            *out = (hd_journal_mode_t) i;
            return 0;
        }
    fprintf (stderr, "heddle-broker: --journal takes sync, batch or none, got '%s'\n", text);
    return -1;
}

static int
s_double_arg (const char *name, const char *text, double *out)
{
    char *end;
    double v = strtod (text, &end);
    if (!*text || *end || v < 0) {
        fprintf (stderr, "heddle-broker: --%s needs a number >= 0, got '%s'\n", name, text);
        return -1;
    }
    *out = v;
    return 0;
}

typedef struct {
    hd_broker_config_t config;
    char clients[256], workers[256];
    bool print;
    bool no_beacon;  //  wins over --beacon-port, whatever their order
} s_args_t;

enum { S_OPT_HTTP = 0x100, S_OPT_HTTP_TOKEN, S_OPT_WSLOTS, S_OPT_WQUEUE, S_OPT_WFNS, S_OPT_WNAMES,
       S_OPT_JOB_TTL, S_OPT_RESULTS_MAX, S_OPT_KEY_JOBS };  //  long options without a short letter

static const struct option s_opts[] = {
    { "clients", 1, 0, 'c' }, { "workers", 1, 0, 'w' }, { "keys", 1, 0, 'k' },
    { "insecure", 0, 0, 'I' }, { "auto-approve", 0, 0, 'U' }, { "max-payload", 1, 0, 'P' },
    { "max-queue", 1, 0, 'Q' },
    { "heartbeat", 1, 0, 'H' }, { "misses", 1, 0, 'M' }, { "attempts", 1, 0, 'A' },
    { "prefetch", 1, 0, 'F' }, { "prefetch-short", 1, 0, 'f' }, { "journal", 1, 0, 'j' }, { "journal-dir", 1, 0, 'J' },
    { "journal-batch", 1, 0, 'B' }, { "journal-max-mb", 1, 0, 'X' }, { "metrics", 1, 0, 'm' }, { "events", 1, 0, 'e' },
    { "max-client-tasks", 1, 0, 'C' }, { "result-ttl", 1, 0, 'T' }, { "stale", 1, 0, 'S' },
    { "temp-limit", 1, 0, 't' }, { "log-level", 1, 0, 'L' }, { "config", 1, 0, 'G' },
    { "print-config", 0, 0, 'p' }, { "print-endpoints", 0, 0, 'E' }, { "help", 0, 0, 'h' },
    { "cluster", 1, 0, 'N' }, { "beacon-port", 1, 0, 'o' }, { "no-beacon", 0, 0, 'n' },
    { "beacon-interface", 1, 0, 'i' }, { "worker-wait", 1, 0, 'W' },
    { "insecure-key-perms", 0, 0, 'K' }, { "max-connections", 1, 0, 'x' },
    { "handshake-timeout", 1, 0, 'y' }, { "http", 1, 0, S_OPT_HTTP },
    { "http-token", 1, 0, S_OPT_HTTP_TOKEN },
    { "max-key-tasks", 1, 0, 0x5c1 }, { "max-key-sessions", 1, 0, 0x5c2 },
    { "session-idle", 1, 0, 0x5c3 }, { "client-hwm", 1, 0, 0x5c4 },
    { "max-worker-slots", 1, 0, S_OPT_WSLOTS }, { "max-worker-queue", 1, 0, S_OPT_WQUEUE },
    { "max-worker-functions", 1, 0, S_OPT_WFNS }, { "max-names-per-key", 1, 0, S_OPT_WNAMES },
    { "job-ttl", 1, 0, S_OPT_JOB_TTL }, { "results-max-bytes", 1, 0, S_OPT_RESULTS_MAX },
    { "max-key-jobs", 1, 0, S_OPT_KEY_JOBS },
    { 0, 0, 0, 0 } };

static int
s_prefetch_arg (const char *name, const char *text, uint32_t max, uint32_t *out)
{
    *out = 0;
    if (strcmp (text, "0") != 0 && s_uint_arg (name, text, out) != 0)
        return -1;
    if (*out > max) {
        fprintf (stderr, "heddle-broker: --%s is 0..%u\n", name, max);
        return -1;
    }
    return 0;
}

//  BYTES: 0 or a positive integer.
static int
s_bytes_arg (const char *name, const char *text, uint64_t *out)
{
    char *end;
    unsigned long long v = strtoull (text, &end, 10);
    if (!*text || *end || *text == '-') {
        fprintf (stderr, "heddle-broker: --%s needs a number of bytes (0 or more), got '%s'\n",
                 name, text);
        return -1;
    }
    *out = v == UINT64_MAX ? UINT64_MAX - 1 : (uint64_t) v;
    return 0;
}

//  1..max.
static int
s_range_arg (const char *name, const char *text, uint32_t max, uint32_t *out)
{
    if (s_uint_arg (name, text, out) != 0)
        return -1;
    if (*out > max) {
        fprintf (stderr, "heddle-broker: --%s is 1..%u\n", name, max);
        return -1;
    }
    return 0;
}

static int
s_log_level_arg (const char *text)
{
    hd_log_level_t level;
    if (hd_log_parse_level (text, &level) != 0) {
        fprintf (stderr, "heddle-broker: unknown log level '%s'\n", text);
        return -1;
    }
    hd_log_set_level (level);
    return 0;
}

static int
s_cluster_arg (const char *text, const char **out)
{
    if (!hd_discovery_cluster_ok (text)) {
        fprintf (stderr, "heddle-broker: --cluster takes 1..%d of A-Z a-z 0-9 . _ -, got '%s'\n",
                 HD_CLUSTER_MAX, text);
        return -1;
    }
    *out = text;
    return 0;
}

static int
s_port_arg (const char *text, uint32_t *out)
{
    if (s_uint_arg ("beacon-port", text, out) != 0)
        return -1;
    if (*out > 65535) {
        fprintf (stderr, "heddle-broker: --beacon-port is 1..65535\n");
        return -1;
    }
    return 0;
}

//  --http HOST:PORT or none. A port alone means loopback; the address given is then required
//  (a bind failure is fatal), unlike the default, which only warns.
static int
s_http_arg (hd_broker_config_t *c, const char *text)
{
    static char buf[256];
    c->http_optional = false;
    if (strcmp (text, "none") == 0) {
        c->http_endpoint = NULL;
        return 0;
    }
    if (!strchr (text, ':') && strspn (text, "0123456789") == strlen (text) && *text)
        snprintf (buf, sizeof buf, "127.0.0.1:%s", text);
    else
        snprintf (buf, sizeof buf, "%s", text);
    c->http_endpoint = buf;
    return 0;
}

//  One option, from the command line or from the config file (same names, same checks).
static int
s_option (s_args_t *a, int ch, const char *arg)
{
    hd_broker_config_t *c = &a->config;
    switch (ch) {
        case 'c': hd_transport_endpoint (a->clients, 256, arg, 7700); return 0;
        case 'w': hd_transport_endpoint (a->workers, 256, arg, 7701); return 0;
        case 'k': c->keys_dir = arg; return 0;
        case 'I': c->insecure = true; return 0;
        case 'U': c->auto_approve = true; return 0;
        case 'K': c->insecure_key_perms = true; return 0;
        case 'x': return s_uint_arg ("max-connections", arg, &c->max_connections);
        case 'y': return s_uint_arg ("handshake-timeout", arg, &c->handshake_ms);
        case 'P': return s_uint_arg ("max-payload", arg, &c->max_payload);
        case 'Q': return s_uint_arg ("max-queue", arg, &c->max_queue);
        case 'H': return s_uint_arg ("heartbeat", arg, &c->heartbeat_ms);
        case 'M': return s_uint_arg ("misses", arg, &c->heartbeat_misses);
        case 'A': return s_uint_arg ("attempts", arg, &c->default_attempts);
        case 'j': return s_journal_mode (arg, &c->journal_mode);
        case 'J': c->journal_dir = arg; return 0;
        case 'F': return s_prefetch_arg ("prefetch", arg, 4, &c->prefetch);
        case 'f': return s_prefetch_arg ("prefetch-short", arg, HD_MAX_BATCH - 1, &c->prefetch_short);
        case 'B': return s_uint_arg ("journal-batch", arg, &c->journal_batch_ms);
        case 'X': return s_uint_arg ("journal-max-mb", arg, &c->journal_max_mb);
        case 'm': c->metrics_endpoint = s_endpoint_or_none (arg, s_metrics_ep, 7702); return 0;
        case 'e': c->events_endpoint = s_endpoint_or_none (arg, s_events_ep, 7703); return 0;
        case 'C': return s_uint_arg ("max-client-tasks", arg, &c->max_client_tasks);
        case 0x5c1: return s_uint_arg ("max-key-tasks", arg, &c->max_key_tasks);
        case 0x5c2: return s_uint_arg ("max-key-sessions", arg, &c->max_key_sessions);
        case 0x5c3: return s_uint_arg ("session-idle", arg, &c->session_idle_ms);
        case 0x5c4: return s_uint_arg ("client-hwm", arg, &c->client_hwm);
        case 'T': return s_uint_arg ("result-ttl", arg, &c->result_ttl_ms);
        case 'W': return s_prefetch_arg ("worker-wait", arg, UINT32_MAX, &c->worker_wait_ms);
        case 'S': return s_uint_arg ("stale", arg, &c->stale_ms);
        case 't': return s_double_arg ("temp-limit", arg, &c->temp_limit_c);
        case 'L': return s_log_level_arg (arg);
        case 'N': return s_cluster_arg (arg, &c->cluster);
        case 'o': return s_port_arg (arg, &c->beacon_port);
        case 'n': a->no_beacon = true; return 0;
        case 'i': c->beacon_interface = arg; return 0;
        case S_OPT_WSLOTS: return s_uint_arg ("max-worker-slots", arg, &c->max_worker_slots);
        case S_OPT_WQUEUE: return s_uint_arg ("max-worker-queue", arg, &c->max_worker_queue);
        case S_OPT_WFNS: return s_range_arg ("max-worker-functions", arg, HD_MAX_FNS, &c->max_worker_fns);
        case S_OPT_WNAMES: return s_uint_arg ("max-names-per-key", arg, &c->max_names_per_key);
        case S_OPT_JOB_TTL: return s_range_arg ("job-ttl", arg, 90 * 86400, &c->job_ttl_s);
        case S_OPT_RESULTS_MAX: return s_bytes_arg ("results-max-bytes", arg, &c->results_max_bytes);
        case S_OPT_KEY_JOBS: return s_range_arg ("max-key-jobs", arg, HD_MAX_JOBS_LIST, &c->max_key_jobs);
        case S_OPT_HTTP: return s_http_arg (c, arg);
        case S_OPT_HTTP_TOKEN: c->http_token = arg; return 0;
        case 'G': return 0;  //  read before any other option (hd_config_open)
        case 'p': a->print = true; return 0;
        case 'E': s_print_endpoints = true; return 0;
        case 'h': s_usage (stdout, c); exit (0);
        default: return -1;
    }
}

static int
s_file_option (int val, const char *arg, void *ctx)
{
    return s_option (ctx, val, arg);
}

//  The [broker] section of the config file, as if its keys were given as long options.
static int
s_apply_file (s_args_t *a, const hd_config_t *file)
{
    return hd_config_apply (file, "broker", s_opts, s_file_option, a, "heddle-broker");
}

static int
s_parse (int argc, char **argv, s_args_t *a)
{
    int ch;
    while ((ch = getopt_long (argc, argv, "c:w:k:h", s_opts, NULL)) != -1)
        if (s_option (a, ch, optarg) != 0)
            return -1;
    if (optind < argc) {
        fprintf (stderr, "heddle-broker: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    return 0;
}

static const char *
s_max_conns_text (uint32_t n)
{
    static char text[16];
    if (!n)
        return "auto";
    snprintf (text, sizeof text, "%u", n);
    return text;
}

static const char *
s_budget_text (uint64_t n)
{
    static char text[24];
    if (n == HD_RESULTS_BUDGET_AUTO)
        return "auto";
    snprintf (text, sizeof text, "%llu", (unsigned long long) n);
    return text;
}

static void
s_print_config (const s_args_t *a, const hd_config_t *file)
{
    const hd_broker_config_t *c = &a->config;
    printf ("config = %s\nclients = %s\nworkers = %s\nmetrics = %s\nevents = %s\nkeys = %s\n"
            "insecure = %s\nauto-approve = %s\nmax-payload = %u\nmax-queue = %u\n"
            "heartbeat = %u\nmisses = %u\n"
            "attempts = %u\nmax-client-tasks = %u\nmax-key-tasks = %u\nmax-key-sessions = %u\n"
            "session-idle = %u\nclient-hwm = %u\nresult-ttl = %u\nworker-wait = %u\nstale = %u\n"
            "temp-limit = %.1f\njournal = %s\njournal-dir = %s\njournal-batch = %u\n"
            "journal-max-mb = %u\ncluster = %s\nbeacon-port = %u\nbeacon-interface = %s\nno-beacon = %s\n"
            "insecure-key-perms = %s\nmax-connections = %s\nhandshake-timeout = %u\n"
            "http = %s\nhttp-token = %s\n"
            "max-worker-slots = %u\nmax-worker-queue = %u\nmax-worker-functions = %u\n"
            "max-names-per-key = %u\njob-ttl = %u\nresults-max-bytes = %s\nmax-key-jobs = %u\n",
            file ? hd_config_name (file) : "(none)", a->clients, a->workers,
            c->metrics_endpoint ? c->metrics_endpoint : "none",
            c->events_endpoint ? c->events_endpoint : "none", c->keys_dir ? c->keys_dir : "(none)",
            c->insecure ? "yes" : "no", c->auto_approve ? "yes" : "no", c->max_payload,
            c->max_queue, c->heartbeat_ms, c->heartbeat_misses, c->default_attempts,
            c->max_client_tasks, c->max_key_tasks, c->max_key_sessions, c->session_idle_ms,
            c->client_hwm, c->result_ttl_ms, c->worker_wait_ms, c->stale_ms, c->temp_limit_c,
            (const char *[]) { "none", "batch", "sync" }[c->journal_mode], c->journal_dir,
            c->journal_batch_ms, c->journal_max_mb, c->cluster, c->beacon_port,
            c->beacon_interface ? c->beacon_interface : "(default)",
            a->no_beacon ? "yes" : "no", c->insecure_key_perms ? "yes" : "no",
            s_max_conns_text (c->max_connections), c->handshake_ms,
            c->http_endpoint ? c->http_endpoint : "none", c->http_token ? "(set)" : "(none)",
            c->max_worker_slots, c->max_worker_queue, c->max_worker_fns, c->max_names_per_key,
            c->job_ttl_s, s_budget_text (c->results_max_bytes), c->max_key_jobs);
}

static int
s_run (const hd_broker_config_t *config)
{
    //  Before any socket: each connection costs a file, and systemd's soft limit is 1024.
    hd_nofile_raise_and_log (1024);
    zsys_init ();
    hd_broker_t *broker = NULL;
    char err[512] = "";
    hd_err_t rc = hd_broker_new (config, &broker, err, sizeof err);
    if (rc != HD_OK) {
        fprintf (stderr, "heddle-broker: %s: %s\n", hd_strerror (rc), err);
        return 1;
    }
    const char *fp = hd_broker_fingerprint (broker);
    if (*fp)
        hd_info ("broker key %s, fingerprint %s (workers can check it: --broker-fingerprint)",
                 hd_broker_public_key (broker), fp);
    if (s_print_endpoints) {
        printf ("clients=%s workers=%s metrics=%s events=%s fingerprint=%s http=%s\n",
                hd_broker_clients_endpoint (broker), hd_broker_workers_endpoint (broker),
                *hd_broker_metrics_endpoint (broker) ? hd_broker_metrics_endpoint (broker) : "none",
                *hd_broker_events_endpoint (broker) ? hd_broker_events_endpoint (broker) : "none",
                *fp ? fp : "none",
                *hd_broker_http_endpoint (broker) ? hd_broker_http_endpoint (broker) : "none");
        fflush (stdout);
    }
    rc = hd_broker_run (broker);
    hd_broker_destroy (&broker);
    return rc == HD_OK ? 0 : 1;
}

//  Settings in order: built-in defaults, the config file, the environment, the flags.
int
main (int argc, char **argv)
{
    hd_log_set_name ("heddle-broker");
    hd_log_set_level (HD_LOG_INFO);
    s_args_t a;
    memset (&a, 0, sizeof a);
    hd_broker_config_defaults (&a.config);
    //  The program serves its web endpoint on loopback by default (docs/OPERATIONS.md): it
    //  costs a snapshot four times a second and shows nothing beyond this machine; when the
    //  port is taken (a second broker here), the broker runs on without it.
    a.config.http_endpoint = "127.0.0.1:7780";
    a.config.http_optional = true;
    snprintf (a.clients, sizeof a.clients, "%s", a.config.clients_endpoint);
    snprintf (a.workers, sizeof a.workers, "%s", a.config.workers_endpoint);
    hd_config_t *file = NULL;
    if (hd_config_open (&file, "heddle-broker", argc, argv) != HD_OK)
        return 2;
    int rc = s_apply_file (&a, file);
    const char *env = getenv ("HEDDLE_KEYS");
    if (env && *env)
        a.config.keys_dir = env;
    if (rc == 0)
        rc = s_parse (argc, argv, &a);
    if (rc != 0) {
        fprintf (stderr, "Try 'heddle-broker --help'.\n");
        hd_config_destroy (&file);
        return 2;
    }
    a.config.clients_endpoint = a.clients;
    a.config.workers_endpoint = a.workers;
    if (a.print)
        s_print_config (&a, file);
    if (a.no_beacon)
        a.config.beacon_port = 0;
    int code = a.print ? 0 : s_run (&a.config);
    hd_config_destroy (&file);
    return code;
}
