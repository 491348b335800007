/*  heddle-broker: parse options (defaults, then flags), build the broker, run it until
    SIGINT/SIGTERM. All the work is in hd_broker.  */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hd_broker.h"
#include "hd_log.h"
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
             "  -k, --keys DIR           keys directory from `heddle keys init` (default "
             "$HEDDLE_KEYS)\n"
             "      --insecure           plain TCP without CURVE (a warning is logged)\n"
             "      --journal MODE       sync: ACCEPTED only after fdatasync (default); batch: "
             "group\n"
             "                           commit within --journal-batch MS; none: no journal\n"
             "      --journal-dir DIR    where journal.log lives (default %s)\n"
             "      --journal-batch MS   batch mode's longest delay (default %u)\n"
             "      --prefetch N         tasks per slot a worker may hold waiting, 0..4 (default "
             "%u)\n"
             "      --max-payload BYTES  largest task payload accepted (default %u)\n"
             "      --max-queue N        tasks queued + running at most (default %u)\n"
             "      --heartbeat MS       heartbeat interval (default %u)\n"
             "      --misses N           silent intervals before a worker is lost (default %u)\n"
             "      --attempts N         dispatches per task at most (default %u)\n"
             "      --max-client-tasks N per client: queued + running + unacknowledged "
             "(default %u)\n"
             "      --result-ttl MS      forget a result unacknowledged this long (default %u)\n"
             "      --stale MS           no task to a node whose metrics are this old (default "
             "%u)\n"
             "      --temp-limit C       no task to a node this hot, 0: no limit (default %.0f)\n"
             "      --log-level LEVEL    error|warn|info|debug (default info)\n"
             "      --print-config       print the effective configuration and exit\n"
             "      --print-endpoints    once bound, print \"clients=EP workers=EP\" on stdout "
             "(for\n"
             "                           scripts binding port *)\n"
             "  -h, --help               this text\n"
             "Endpoints take tcp://host:port, host:port, or a bare host (default ports 7700 and "
             "7701).\n",
             d->clients_endpoint, d->workers_endpoint, d->metrics_endpoint, d->events_endpoint,
             d->journal_dir, d->journal_batch_ms, d->prefetch, d->max_payload, d->max_queue, d->heartbeat_ms, d->heartbeat_misses,
             d->default_attempts, d->max_client_tasks, d->result_ttl_ms, d->stale_ms,
             d->temp_limit_c);
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

static int
s_parse (int argc, char **argv, hd_broker_config_t *c, char *clients, char *workers, bool *print)
{
    static const struct option opts[] = {
        { "clients", 1, 0, 'c' }, { "workers", 1, 0, 'w' }, { "keys", 1, 0, 'k' },
        { "insecure", 0, 0, 'I' }, { "max-payload", 1, 0, 'P' }, { "max-queue", 1, 0, 'Q' },
        { "heartbeat", 1, 0, 'H' }, { "misses", 1, 0, 'M' }, { "attempts", 1, 0, 'A' },
        { "prefetch", 1, 0, 'F' }, { "journal", 1, 0, 'j' }, { "journal-dir", 1, 0, 'J' }, { "journal-batch", 1, 0, 'B' },
        { "metrics", 1, 0, 'm' }, { "events", 1, 0, 'e' }, { "max-client-tasks", 1, 0, 'C' },
        { "result-ttl", 1, 0, 'T' }, { "stale", 1, 0, 'S' }, { "temp-limit", 1, 0, 't' },
        { "log-level", 1, 0, 'L' }, { "print-config", 0, 0, 'p' }, { "print-endpoints", 0, 0, 'E' },
        { "help", 0, 0, 'h' },
        { 0, 0, 0, 0 } };
    int ch, rc = 0;
    hd_log_level_t level;
    while (rc == 0 && (ch = getopt_long (argc, argv, "c:w:k:h", opts, NULL)) != -1) {
        switch (ch) {
            case 'c': hd_transport_endpoint (clients, 256, optarg, 7700); break;
            case 'w': hd_transport_endpoint (workers, 256, optarg, 7701); break;
            case 'k': c->keys_dir = optarg; break;
            case 'I': c->insecure = true; break;
            case 'P': rc = s_uint_arg ("max-payload", optarg, &c->max_payload); break;
            case 'Q': rc = s_uint_arg ("max-queue", optarg, &c->max_queue); break;
            case 'H': rc = s_uint_arg ("heartbeat", optarg, &c->heartbeat_ms); break;
            case 'M': rc = s_uint_arg ("misses", optarg, &c->heartbeat_misses); break;
            case 'A': rc = s_uint_arg ("attempts", optarg, &c->default_attempts); break;
            case 'j': rc = s_journal_mode (optarg, &c->journal_mode); break;
            case 'J': c->journal_dir = optarg; break;
            case 'F':
                c->prefetch = 0;
                rc = strcmp (optarg, "0") ? s_uint_arg ("prefetch", optarg, &c->prefetch) : 0;
                if (rc == 0 && c->prefetch > 4) {
                    fprintf (stderr, "heddle-broker: --prefetch is 0..4\n");
                    rc = -1;
                }
                break;
            case 'B': rc = s_uint_arg ("journal-batch", optarg, &c->journal_batch_ms); break;
            case 'm': c->metrics_endpoint = s_endpoint_or_none (optarg, s_metrics_ep, 7702); break;
            case 'e': c->events_endpoint = s_endpoint_or_none (optarg, s_events_ep, 7703); break;
            case 'C': rc = s_uint_arg ("max-client-tasks", optarg, &c->max_client_tasks); break;
            case 'T': rc = s_uint_arg ("result-ttl", optarg, &c->result_ttl_ms); break;
            case 'S': rc = s_uint_arg ("stale", optarg, &c->stale_ms); break;
            case 't': rc = s_double_arg ("temp-limit", optarg, &c->temp_limit_c); break;
            case 'L':
                if (hd_log_parse_level (optarg, &level) != 0) {
                    fprintf (stderr, "heddle-broker: unknown log level '%s'\n", optarg);
                    rc = -1;
                }
                else
                    hd_log_set_level (level);
                break;
            case 'p': *print = true; break;
            case 'E': s_print_endpoints = true; break;
            case 'h': s_usage (stdout, c); exit (0);
            default: rc = -1;
        }
    }
    if (rc == 0 && optind < argc) {
        fprintf (stderr, "heddle-broker: unexpected argument '%s'\n", argv[optind]);
        rc = -1;
    }
    return rc;
}

int
main (int argc, char **argv)
{
    hd_log_set_name ("heddle-broker");
    hd_log_set_level (HD_LOG_INFO);
    hd_broker_config_t config;
    hd_broker_config_defaults (&config);
    config.keys_dir = getenv ("HEDDLE_KEYS");
    char clients[256], workers[256];
    snprintf (clients, sizeof clients, "%s", config.clients_endpoint);
    snprintf (workers, sizeof workers, "%s", config.workers_endpoint);
    bool print = false;
    if (s_parse (argc, argv, &config, clients, workers, &print) != 0) {
        fprintf (stderr, "Try 'heddle-broker --help'.\n");
        return 2;
    }
    config.clients_endpoint = clients;
    config.workers_endpoint = workers;
    if (print) {
        printf ("clients = %s\nworkers = %s\nmetrics = %s\nevents = %s\nkeys = %s\n"
                "insecure = %s\nmax-payload = %u\nmax-queue = %u\nheartbeat = %u\nmisses = %u\n"
                "attempts = %u\nmax-client-tasks = %u\nresult-ttl = %u\nstale = %u\n"
                "temp-limit = %.1f\njournal = %s\njournal-dir = %s\njournal-batch = %u\n",
                clients, workers, config.metrics_endpoint ? config.metrics_endpoint : "none",
                config.events_endpoint ? config.events_endpoint : "none",
                config.keys_dir ? config.keys_dir : "(none)", config.insecure ? "yes" : "no",
                config.max_payload, config.max_queue, config.heartbeat_ms,
                config.heartbeat_misses, config.default_attempts, config.max_client_tasks,
                config.result_ttl_ms, config.stale_ms, config.temp_limit_c,
                (const char *[]) { "none", "batch", "sync" }[config.journal_mode],
                config.journal_dir, config.journal_batch_ms);
        return 0;
    }
    zsys_init ();
    hd_broker_t *broker = NULL;
    char err[512] = "";
    hd_err_t rc = hd_broker_new (&config, &broker, err, sizeof err);
    if (rc != HD_OK) {
        fprintf (stderr, "heddle-broker: %s: %s\n", hd_strerror (rc), err);
        return 1;
    }
    if (s_print_endpoints) {
        printf ("clients=%s workers=%s metrics=%s events=%s\n",
                hd_broker_clients_endpoint (broker), hd_broker_workers_endpoint (broker),
                *hd_broker_metrics_endpoint (broker) ? hd_broker_metrics_endpoint (broker) : "none",
                *hd_broker_events_endpoint (broker) ? hd_broker_events_endpoint (broker) : "none");
        fflush (stdout);
    }
    rc = hd_broker_run (broker);
    hd_broker_destroy (&broker);
    return rc == HD_OK ? 0 : 1;
}
