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
             "  -k, --keys DIR           keys directory from `heddle keys init` (default "
             "$HEDDLE_KEYS)\n"
             "      --insecure           plain TCP without CURVE (a warning is logged)\n"
             "      --max-payload BYTES  largest task payload accepted (default %u)\n"
             "      --max-queue N        tasks queued + running at most (default %u)\n"
             "      --heartbeat MS       heartbeat interval (default %u)\n"
             "      --misses N           silent intervals before a worker is lost (default %u)\n"
             "      --attempts N         dispatches per task at most (default %u)\n"
             "      --log-level LEVEL    error|warn|info|debug (default info)\n"
             "      --print-config       print the effective configuration and exit\n"
             "      --print-endpoints    once bound, print \"clients=EP workers=EP\" on stdout "
             "(for\n"
             "                           scripts binding port *)\n"
             "  -h, --help               this text\n"
             "Endpoints take tcp://host:port, host:port, or a bare host (default ports 7700 and "
             "7701).\n",
             d->clients_endpoint, d->workers_endpoint, d->max_payload, d->max_queue,
             d->heartbeat_ms, d->heartbeat_misses, d->default_attempts);
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

static int
s_parse (int argc, char **argv, hd_broker_config_t *c, char *clients, char *workers, bool *print)
{
    static const struct option opts[] = {
        { "clients", 1, 0, 'c' }, { "workers", 1, 0, 'w' }, { "keys", 1, 0, 'k' },
        { "insecure", 0, 0, 'I' }, { "max-payload", 1, 0, 'P' }, { "max-queue", 1, 0, 'Q' },
        { "heartbeat", 1, 0, 'H' }, { "misses", 1, 0, 'M' }, { "attempts", 1, 0, 'A' },
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
        printf ("clients = %s\nworkers = %s\nkeys = %s\ninsecure = %s\nmax-payload = %u\n"
                "max-queue = %u\nheartbeat = %u\nmisses = %u\nattempts = %u\n",
                clients, workers, config.keys_dir ? config.keys_dir : "(none)",
                config.insecure ? "yes" : "no", config.max_payload, config.max_queue,
                config.heartbeat_ms, config.heartbeat_misses, config.default_attempts);
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
        printf ("clients=%s workers=%s\n", hd_broker_clients_endpoint (broker),
                hd_broker_workers_endpoint (broker));
        fflush (stdout);
    }
    rc = hd_broker_run (broker);
    hd_broker_destroy (&broker);
    return rc == HD_OK ? 0 : 1;
}
