/*  heddle-worker: gather the settings (defaults, the [worker] section of the config file, the
    environment, then flags), find the broker when none is named (hd_discovery: `--broker
    auto`, the default), build the worker, load plugins, run until SIGINT/SIGTERM. All the
    work is in hd_worker.  */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hd_config.h"
#include "hd_discovery.h"
#include "hd_log.h"
#include "hd_nofile.h"
#include "hd_worker.h"
#include "hd_worker_keys.h"

#define S_MAX_PLUGINS 32

static void
s_usage (FILE *out)
{
    fprintf (out,
             "Usage: heddle-worker [--broker ENDPOINT|auto] [OPTIONS]\n"
             "Join a heddle cluster and run its tasks.\n\n"
             "  -b, --broker ENDPOINT   broker's workers endpoint: tcp://HOST:7701, HOST:PORT or "
             "HOST;\n"
             "                          or 'auto': find it by its discovery beacon on the LAN\n"
             "                          (default $HEDDLE_WORKER_BROKER, else auto)\n"
             "      --cluster NAME      discovery: join only a broker of this cluster (default "
             "heddle)\n"
             "      --beacon-port N     discovery: UDP port of the beacons (default 7709)\n"
             "      --beacon-interface IFACE  discovery: listen on this network interface only\n"
             "                          (default $ZSYS_INTERFACE, else '*': every interface)\n"
             "      --discover-timeout SECONDS  discovery: give up (exit 1) after this long\n"
             "                          (default 0: wait for ever, saying so every 10 s)\n"
             "      --broker-fingerprint FP  refuse a broker whose key has another fingerprint\n"
             "                          (`heddle keys fingerprint`; heddle-broker logs its own)\n"
             "  -k, --keys DIR          keys directory: worker.cert_secret + broker.cert "
             "(default $HEDDLE_KEYS)\n"
             "      --cert FILE         this worker's secret certificate (overrides --keys)\n"
             "      --broker-key KEY    broker public key, Z85 text or cert file (overrides "
             "--keys)\n"
             "      --state-dir DIR     without --cert or KEYS/worker.cert_secret: the worker's\n"
             "                          own key pair, made here on first start (0600), and the\n"
             "                          pinned broker key broker.pin (default /var/lib/heddle)\n"
             "      --insecure          plain TCP without CURVE (the broker must agree)\n"
             "      --insecure-key-perms  start even when the secret key or its directory is "
             "open\n"
             "                          to group or others (a warning; refused otherwise)\n"
             "  -n, --name NAME         node name, unique in the cluster (default: host name)\n"
             "  -s, --slots N           tasks run at once (default: online cores)\n"
             "  -t, --tags A,B          tags offered to task requirements (default: none)\n"
             "  -p, --plugin FILE.so    load task functions from a plugin (repeatable)\n"
             "      --allow-exec        offer the `exec` function (runs commands, no shell)\n"
             "      --max-output BYTES  output per task at most (default 67108864)\n"
             "      --misses N          silent heartbeats before reconnecting (default 5)\n"
             "      --capacity X        capacity score sent to the broker, a positive number\n"
             "                          (default: measured at start by a 50 ms CPU benchmark)\n"
             "      --metrics-interval MS  capacity metrics period (default 1000)\n"
             "      --work-dir DIR      directory whose free disk space is advertised\n"
             "                          (default .)\n"
             "      --log-level LEVEL   error|warn|info|debug (default info)\n"
             "      --config FILE       config file, [worker] section (default $HEDDLE_CONFIG,\n"
             "                          else /etc/heddle/heddle.conf if it exists); flags win\n"
             "  -h, --help              this text\n");
}

typedef struct {
    hd_worker_config_t config;
    const char *plugins[S_MAX_PLUGINS];
    int nplugins;
    const char *cluster, *beacon_iface;  //  discovery (--broker auto)
    uint32_t beacon_port, discover_timeout_s;
    char endpoint[HD_ENDPOINT_MAX], broker_key[HD_KEY_TEXT];  //  what discovery found
} s_args_t;

static int
s_uint_arg (const char *name, const char *text, uint32_t *out)
{
    char *end;
    unsigned long v = strtoul (text, &end, 10);
    if (!*text || *end || v == 0 || v > UINT32_MAX) {
        fprintf (stderr, "heddle-worker: --%s needs a positive integer, got '%s'\n", name, text);
        return -1;
    }
    *out = (uint32_t) v;
    return 0;
}

static int
s_capacity_arg (const char *text, double *out)
{
    char *end;
    double v = strtod (text, &end);
    if (!*text || *end || !isfinite (v) || v <= 0) {
        fprintf (stderr, "heddle-worker: --capacity needs a positive number, got '%s'\n", text);
        return -1;
    }
    *out = v;
    return 0;
}

static int
s_cluster_arg (const char *text, const char **out)
{
    if (!hd_discovery_cluster_ok (text)) {
        fprintf (stderr, "heddle-worker: --cluster takes 1..%d of A-Z a-z 0-9 . _ -, got '%s'\n",
                 HD_CLUSTER_MAX, text);
        return -1;
    }
    *out = text;
    return 0;
}

static int
s_fingerprint_arg (const char *text, const char **out)
{
    char fp[HD_FINGERPRINT_TEXT];
    if (hd_keys_parse_fingerprint (text, fp) != HD_OK) {
        fprintf (stderr,
                 "heddle-worker: --broker-fingerprint takes 32 hex digits (as `heddle keys "
                 "fingerprint` prints them), got '%s'\n",
                 text);
        return -1;
    }
    *out = text;
    return 0;
}

static int
s_beacon_port_arg (const char *text, uint32_t *out)
{
    if (s_uint_arg ("beacon-port", text, out) != 0)
        return -1;
    if (*out > 65535) {
        fprintf (stderr, "heddle-worker: --beacon-port is 1..65535\n");
        return -1;
    }
    return 0;
}

//  Seconds, 0 meaning "wait for ever".
static int
s_timeout_arg (const char *text, uint32_t *out)
{
    *out = 0;
    return strcmp (text, "0") == 0 ? 0 : s_uint_arg ("discover-timeout", text, out);
}

static const struct option s_opts[] = {
    { "broker", 1, 0, 'b' }, { "keys", 1, 0, 'k' }, { "cert", 1, 0, 'C' },
    { "broker-key", 1, 0, 'K' }, { "state-dir", 1, 0, 'D' }, { "insecure", 0, 0, 'I' },
    { "name", 1, 0, 'n' },
    { "slots", 1, 0, 's' }, { "tags", 1, 0, 't' }, { "plugin", 1, 0, 'p' },
    { "allow-exec", 0, 0, 'X' }, { "max-output", 1, 0, 'O' }, { "misses", 1, 0, 'M' },
    { "capacity", 1, 0, 'Y' }, { "metrics-interval", 1, 0, 'i' }, { "work-dir", 1, 0, 'W' },
    { "log-level", 1, 0, 'L' }, { "config", 1, 0, 'G' }, { "help", 0, 0, 'h' },
    { "cluster", 1, 0, 'U' }, { "beacon-port", 1, 0, 'P' }, { "beacon-interface", 1, 0, 'F' },
    { "discover-timeout", 1, 0, 'T' }, { "broker-fingerprint", 1, 0, 'R' },
    { "insecure-key-perms", 0, 0, 'Z' }, { 0, 0, 0, 0 } };

//  One option, from the command line or from the config file (same names, same checks).
static int
s_option (s_args_t *a, int ch, const char *arg)
{
    hd_worker_config_t *c = &a->config;
    hd_log_level_t level;
    switch (ch) {
        case 'b': c->endpoint = arg; return 0;
        case 'k': c->keys_dir = arg; return 0;
        case 'C': c->cert_path = arg; return 0;
        case 'K': c->broker_key = arg; return 0;
        case 'D': c->state_dir = arg; return 0;
        case 'I': c->insecure = true; return 0;
        case 'Z': c->insecure_key_perms = true; return 0;
        case 'n': c->name = arg; return 0;
        case 's': return s_uint_arg ("slots", arg, &c->slots);
        case 't': c->tags = arg; return 0;
        case 'X': c->allow_exec = true; return 0;
        case 'O': return s_uint_arg ("max-output", arg, &c->max_output);
        case 'M': return s_uint_arg ("misses", arg, &c->heartbeat_misses);
        case 'Y': return s_capacity_arg (arg, &c->capacity);
        case 'i': return s_uint_arg ("metrics-interval", arg, &c->metrics_interval_ms);
        case 'W': c->work_dir = arg; return 0;
        case 'U': return s_cluster_arg (arg, &a->cluster);
        case 'P': return s_beacon_port_arg (arg, &a->beacon_port);
        case 'F': a->beacon_iface = arg; return 0;
        case 'T': return s_timeout_arg (arg, &a->discover_timeout_s);
        case 'R': return s_fingerprint_arg (arg, &c->broker_fingerprint);
        case 'p':
            if (a->nplugins == S_MAX_PLUGINS) {
                fprintf (stderr, "heddle-worker: at most %d plugins\n", S_MAX_PLUGINS);
                return -1;
            }
            a->plugins[a->nplugins++] = arg;
            return 0;
        case 'L':
            if (hd_log_parse_level (arg, &level) != 0) {
                fprintf (stderr, "heddle-worker: unknown log level '%s'\n", arg);
                return -1;
            }
            hd_log_set_level (level);
            return 0;
        case 'G': return 0;  //  read before any other option (hd_config_open)
        case 'h': s_usage (stdout); exit (0);
        default: return -1;
    }
}

static int
s_file_option (int val, const char *arg, void *ctx)
{
    return s_option (ctx, val, arg);
}

//  The [worker] section of the config file, as if its keys were given as long options.
static int
s_apply_file (s_args_t *a, const hd_config_t *file)
{
    return hd_config_apply (file, "worker", s_opts, s_file_option, a, "heddle-worker");
}

//  $HEDDLE_WORKER_BROKER and $HEDDLE_KEYS, over the config file.
static void
s_apply_env (s_args_t *a)
{
    const char *env = getenv ("HEDDLE_WORKER_BROKER");
    if (env && *env)
        a->config.endpoint = env;
    env = getenv ("HEDDLE_KEYS");
    if (env && *env)
        a->config.keys_dir = env;
}

static int
s_parse (int argc, char **argv, s_args_t *a)
{
    int ch;
    while ((ch = getopt_long (argc, argv, "b:k:n:s:t:p:h", s_opts, NULL)) != -1)
        if (s_option (a, ch, optarg) != 0)
            return -1;
    if (optind < argc) {
        fprintf (stderr, "heddle-worker: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    struct stat st;
    if (stat (a->config.work_dir, &st) != 0 || !S_ISDIR (st.st_mode)) {
        fprintf (stderr, "heddle-worker: --work-dir %s is not a directory\n", a->config.work_dir);
        return -1;
    }
    return 0;
}

static bool
s_accept (const hd_beacon_t *beacon, const char *endpoint, void *arg, char *why, size_t whylen)
{
    (void) endpoint;
    return hd_worker_keys_trusts (arg, beacon->key, why, whylen);
}

//  No broker named (or `auto`): wait for the beacon of one this worker may trust, then use its
//  endpoint and key as if they had been given. -1 to go on, else the exit status
//  (interrupted: 0).
static int
s_discover (s_args_t *a)
{
    hd_worker_trust_t trust;
    char err[512] = "", fp[HD_FINGERPRINT_TEXT] = "";
    if (hd_worker_keys_trust (&a->config, &trust, err, sizeof err) != HD_OK) {
        fprintf (stderr, "heddle-worker: %s\n", err);
        return 1;
    }
    hd_discovery_find_t find = { .net = { .port = (uint16_t) a->beacon_port,
                                          .iface = a->beacon_iface },
                                 .cluster = a->cluster,
                                 .timeout_s = a->discover_timeout_s,
                                 .accept = s_accept,
                                 .arg = &trust };
    hd_beacon_t b;
    hd_err_t rc = hd_discovery_find (&find, &b, a->endpoint, sizeof a->endpoint);
    if (rc == HD_ECLOSED)
        return 0;
    if (rc == HD_ETIMEDOUT)
        fprintf (stderr, "heddle-worker: no broker of cluster %s found within %u s "
                 "(--discover-timeout)\n", a->cluster ? a->cluster : HD_CLUSTER_DEFAULT,
                 a->discover_timeout_s);
    else if (rc != HD_OK)
        fprintf (stderr, "heddle-worker: discovery: %s\n", hd_strerror (rc));
    if (rc != HD_OK)
        return 1;
    hd_keys_fingerprint (b.key, fp);
    const char *why = !*b.key          ? "no CURVE"
                      : !trust.key[0] ? "trusted on first use"
                      : trust.pinned  ? "the pinned key"
                                      : "the configured key";
    hd_info ("found the broker of cluster %s at %s (key fingerprint %s: %s)", b.cluster,
             a->endpoint, *fp ? fp : "none, insecure", why);
    snprintf (a->broker_key, sizeof a->broker_key, "%s", b.key);
    a->config.endpoint = a->endpoint;
    if (*b.key)
        a->config.broker_key = a->broker_key;
    return -1;
}

static bool
s_wants_discovery (const s_args_t *a)
{
    return !a->config.endpoint || !*a->config.endpoint || strcmp (a->config.endpoint, "auto") == 0;
}

//  Settings in order: built-in defaults, the config file, the environment, the flags.
int
main (int argc, char **argv)
{
    hd_log_set_name ("heddle-worker");
    hd_log_set_level (HD_LOG_INFO);
    s_args_t a;
    memset (&a, 0, sizeof a);
    hd_worker_config_defaults (&a.config);
    hd_config_t *file = NULL;
    if (hd_config_open (&file, "heddle-worker", argc, argv) != HD_OK)
        return 2;
    int bad = s_apply_file (&a, file);
    s_apply_env (&a);
    if (bad || s_parse (argc, argv, &a) != 0) {
        fprintf (stderr, "Try 'heddle-worker --help'.\n");
        hd_config_destroy (&file);
        return 2;
    }
    int code = s_wants_discovery (&a) ? s_discover (&a) : -1;
    if (code >= 0) {
        hd_config_destroy (&file);
        return code;
    }
    hd_nofile_raise_and_log (256);  //  plugins and exec'd commands open files too
    hd_worker_t *worker = NULL;
    char err[512] = "";
    hd_err_t rc = hd_worker_new (&a.config, &worker, err, sizeof err);
    for (int i = 0; rc == HD_OK && i < a.nplugins; i++)
        rc = hd_worker_load_plugin (worker, a.plugins[i], err, sizeof err);
    if (rc == HD_OK)
        rc = hd_worker_run (worker);
    hd_worker_destroy (&worker);
    hd_config_destroy (&file);
    if (rc != HD_OK) {
        if (rc == HD_EDENIED && !err[0])  //  hd_worker_run logged the broker's reason
            fprintf (stderr, "heddle-worker: refused by the broker (reason above)\n");
        else
            fprintf (stderr, "heddle-worker: %s%s%s\n", hd_strerror (rc), err[0] ? ": " : "",
                     err);
        return 1;
    }
    return 0;
}
