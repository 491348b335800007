/*  hd-raw: command line of the raw transport reference (see raw.h). One program, three modes,
    so scripts/bench-compare starts broker, workers and client as separate processes exactly as
    it starts heddle's, and can read each one's CPU time and memory.  */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "raw.h"

enum { S_OPT_CLIENTS = 256, S_OPT_WORKERS, S_OPT_INSECURE, S_OPT_PRINT, S_OPT_LIMIT, S_OPT_JSON };

static void
s_help (void)
{
    printf ("Usage: hd-raw MODE [OPTIONS]     MODE: broker | worker | client\n"
            "The raw transport limit under heddle's topology: client DEALER -> broker ROUTER /\n"
            "ROUTER -> worker DEALER and back, CURVE on, one message per task, no fabric.\n\n"
            "  -k, --keys DIR          heddle keys directory (`heddle keys init DIR`)\n"
            "      --insecure          plain TCP, no CURVE (every process must agree)\n"
            "      --time-limit S      stop after S seconds whatever happens (default %d)\n"
            "broker:\n"
            "      --clients EP        clients endpoint (default tcp://127.0.0.1:*)\n"
            "      --workers EP        workers endpoint (default tcp://127.0.0.1:*)\n"
            "      --print-endpoints   once bound, print \"clients=EP workers=EP\"\n"
            "worker and client:\n"
            "  -b, --broker EP         endpoint to connect to (loopback only)\n"
            "worker:\n"
            "  -n, --name NAME         node name put in replies (default raw-PID)\n"
            "client:\n"
            "  -n, --tasks N           messages in all (default 20000)\n"
            "  -w, --window N          messages in flight at most (default 1000)\n"
            "  -s, --size BYTES        payload of each message (default 64)\n"
            "      --json              accepted for symmetry: the report is always JSON, in the\n"
            "                          keys of `heddle bench --json`\n"
            "  -h, --help              this text\n",
            HD_BENCH_DEFAULT_LIMIT_S);
}

static int
s_option (hd_raw_config_t *cfg, bool client, int c, const char *arg)
{
    switch (c) {
        case 'k': cfg->keys_dir = arg; return 0;
        case 'b': cfg->broker_ep = arg; return 0;
        case 'n':
            if (!client) {
                cfg->name = arg;
                return 0;
            }
            return hd_bench_parse_u32 (cfg->prog, "--tasks", arg, 1, HD_BENCH_MAX_TASKS,
                                       &cfg->tasks);
        case 'w':
            return hd_bench_parse_u32 (cfg->prog, "--window", arg, 1, HD_BENCH_MAX_WINDOW,
                                       &cfg->window);
        case 's':
            return hd_bench_parse_u32 (cfg->prog, "--size", arg, 0, HD_BENCH_MAX_SIZE, &cfg->size);
        case S_OPT_LIMIT:
            return hd_bench_parse_u32 (cfg->prog, "--time-limit", arg, 1, 86400, &cfg->limit_s);
        case S_OPT_CLIENTS: cfg->clients_ep = arg; return 0;
        case S_OPT_WORKERS: cfg->workers_ep = arg; return 0;
        case S_OPT_INSECURE: cfg->insecure = true; return 0;
        case S_OPT_PRINT: cfg->print_endpoints = true; return 0;
        case S_OPT_JSON: return 0;
        default: return -1;
    }
}

//  Returns -1 to go on, else an exit status.
static int
s_parse (hd_raw_config_t *cfg, const char *mode, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, 'h' },
        { "keys", required_argument, NULL, 'k' },
        { "broker", required_argument, NULL, 'b' },
        { "name", required_argument, NULL, 'n' },
        { "tasks", required_argument, NULL, 'n' },
        { "window", required_argument, NULL, 'w' },
        { "size", required_argument, NULL, 's' },
        { "clients", required_argument, NULL, S_OPT_CLIENTS },
        { "workers", required_argument, NULL, S_OPT_WORKERS },
        { "insecure", no_argument, NULL, S_OPT_INSECURE },
        { "print-endpoints", no_argument, NULL, S_OPT_PRINT },
        { "time-limit", required_argument, NULL, S_OPT_LIMIT },
        { "json", no_argument, NULL, S_OPT_JSON },
        { NULL, 0, NULL, 0 },
    };
    int c;
    bool client = strcmp (mode, "client") == 0;
    while ((c = getopt_long (argc, argv, "hk:b:n:w:s:", longopts, NULL)) != -1) {
        if (c == 'h') {
            s_help ();
            return 0;
        }
        if (s_option (cfg, client, c, optarg) != 0)
            return 2;
    }
    if (optind < argc) {
        fprintf (stderr, "%s: unexpected argument '%s'\n", cfg->prog, argv[optind]);
        return 2;
    }
    return -1;
}

static int
s_check (const hd_raw_config_t *cfg, bool broker)
{
    if (!cfg->insecure && !cfg->keys_dir) {
        fprintf (stderr, "%s: --keys DIR is needed (or --insecure)\n", cfg->prog);
        return 2;
    }
    if (!broker && !cfg->broker_ep) {
        fprintf (stderr, "%s: --broker EP is needed\n", cfg->prog);
        return 2;
    }
    return -1;
}

int
main (int argc, char **argv)
{
    if (argc < 2 || strcmp (argv[1], "-h") == 0 || strcmp (argv[1], "--help") == 0) {
        s_help ();
        return argc < 2 ? 2 : 0;
    }
    const char *mode = argv[1];
    char prog[32], name[32];
    snprintf (prog, sizeof prog, "hd-raw %s", mode);
    snprintf (name, sizeof name, "raw-%ld", (long) getpid ());
    hd_raw_config_t cfg = { .prog = prog,
                            .clients_ep = "tcp://127.0.0.1:*",
                            .workers_ep = "tcp://127.0.0.1:*",
                            .name = name,
                            .tasks = 20000,
                            .window = 1000,
                            .size = 64,
                            .limit_s = HD_BENCH_DEFAULT_LIMIT_S };
    bool broker = strcmp (mode, "broker") == 0;
    if (!broker && strcmp (mode, "worker") != 0 && strcmp (mode, "client") != 0) {
        fprintf (stderr, "hd-raw: unknown mode '%s' (broker, worker or client)\n", mode);
        return 2;
    }
    int code = s_parse (&cfg, mode, argc - 1, argv + 1);
    if (code < 0)
        code = s_check (&cfg, broker);
    if (code >= 0)
        return code;
    zsys_handler_set (NULL);  //  czmq's handler would swallow SIGTERM; ours sets the flag
    zsys_init ();
    hd_bench_catch_signals ();
    if (broker)
        return hd_raw_broker_run (&cfg);
    return strcmp (mode, "worker") == 0 ? hd_raw_worker_run (&cfg) : hd_raw_client_run (&cfg);
}
