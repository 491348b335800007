/*  hd_opts_worker: heddle-worker's options, declared once (getopt, --help, the [worker] keys
    of the config file and their check, --print-config, man page, completion: lib/hd_opts).
    The order here is the order of --help.  */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "hd_discovery.h"
#include "hd_keys.h"
#include "hd_log.h"
#include "hd_opts_tables.h"

#define S_OFF(field) offsetof (hd_worker_settings_t, field)
#define S_CFG(field) offsetof (hd_worker_settings_t, config.field)
#define S_U32_MAX 4294967295LL

static bool
s_cluster_ok (const char *value)
{
    return hd_discovery_cluster_ok (value);
}

static bool
s_fingerprint_ok (const char *value)
{
    char fp[HD_FINGERPRINT_TEXT];
    return hd_keys_parse_fingerprint (value, fp) == HD_OK;
}

//  --plugin is repeatable: each one is added to the list.
static int
s_add_plugin (void *target, const hd_opt_t *opt, const char *arg, char *err, size_t errlen)
{
    (void) opt;
    hd_worker_settings_t *s = target;
    if (s->nplugins == HD_WORKER_MAX_PLUGINS) {
        snprintf (err, errlen, "at most %d plugins", HD_WORKER_MAX_PLUGINS);
        return -1;
    }
    s->plugins[s->nplugins++] = arg;
    return 0;
}

// clang-format off
static const hd_opt_t s_opts[] = {
    { .name = "broker", .letter = 'b', .kind = HD_OPTS_ENDPOINT, .meta = "ENDPOINT",
      .choices = "auto",
      .help = "broker's workers endpoint: tcp://HOST:7701, HOST:PORT or HOST; or 'auto': find "
              "it by its discovery beacon on the LAN",
      .def = "$HEDDLE_WORKER_BROKER, else auto", .unset = "auto", .offset = S_CFG (endpoint) },
    { .name = "cluster", .kind = HD_OPTS_STRING, .meta = "NAME",
      .help = "discovery: join only a broker of this cluster", .valid = s_cluster_ok,
      .valid_text = "a cluster name (1..32 of A-Z a-z 0-9 . _ -)", .unset = HD_CLUSTER_DEFAULT,
      .def = HD_CLUSTER_DEFAULT, .offset = S_OFF (cluster) },
    { .name = "beacon-port", .kind = HD_OPTS_UINT, .meta = "N", .min = 1, .max = 65535,
      .help = "discovery: UDP port of the beacons", .def = "7709", .unset = "7709",
      .offset = S_OFF (beacon_port) },
    { .name = "beacon-interface", .kind = HD_OPTS_STRING, .meta = "IFACE",
      .help = "discovery: listen on this network interface only",
      .def = "$ZSYS_INTERFACE, else '*': every interface", .unset = "(default)",
      .offset = S_OFF (beacon_iface) },
    { .name = "discover-timeout", .kind = HD_OPTS_UINT, .meta = "SECONDS",
      .unit = HD_OPTS_SECONDS, .min = 0, .max = S_U32_MAX,
      .help = "discovery: give up (exit 1) after this long",
      .def = "0: wait for ever, saying so every 10 s", .offset = S_OFF (discover_timeout_s) },
    { .name = "broker-fingerprint", .kind = HD_OPTS_STRING, .meta = "FP",
      .help = "refuse a broker whose key has another fingerprint (`heddle keys fingerprint`; "
              "heddle-broker logs its own)", .valid = s_fingerprint_ok,
      .valid_text = "a key fingerprint (32 hex digits, as `heddle keys fingerprint` prints it)",
      .offset = S_CFG (broker_fingerprint) },
    { .name = "keys", .letter = 'k', .kind = HD_OPTS_STRING, .meta = "DIR",
      .help = "keys directory: worker.cert_secret + broker.cert", .def = "$HEDDLE_KEYS",
      .offset = S_CFG (keys_dir) },
    { .name = "cert", .kind = HD_OPTS_STRING, .meta = "FILE",
      .help = "this worker's secret certificate (overrides --keys)", .offset = S_CFG (cert_path) },
    { .name = "broker-key", .kind = HD_OPTS_STRING, .meta = "KEY",
      .help = "broker public key, Z85 text or cert file (overrides --keys)",
      .offset = S_CFG (broker_key) },
    { .name = "state-dir", .kind = HD_OPTS_STRING, .meta = "DIR",
      .help = "without --cert or KEYS/worker.cert_secret: the worker's own key pair, made here "
              "on first start (0600), and the pinned broker key broker.pin",
      .offset = S_CFG (state_dir) },
    { .name = "insecure", .kind = HD_OPTS_FLAG,
      .help = "plain TCP without CURVE (the broker must agree)", .offset = S_CFG (insecure) },
    { .name = "insecure-key-perms", .kind = HD_OPTS_FLAG,
      .help = "start even when the secret key or its directory is open to group or others (a "
              "warning; refused otherwise)", .offset = S_CFG (insecure_key_perms) },
    { .name = "name", .letter = 'n', .kind = HD_OPTS_STRING, .meta = "NAME",
      .help = "node name, unique in the cluster", .def = "host name", .unset = "(host name)",
      .offset = S_CFG (name) },
    { .name = "slots", .letter = 's', .kind = HD_OPTS_UINT, .meta = "N", .min = 1,
      .max = S_U32_MAX, .help = "tasks run at once", .def = "online cores",
      .unset = "(online cores)", .offset = S_CFG (slots) },
    { .name = "tags", .letter = 't', .kind = HD_OPTS_STRING, .meta = "A,B",
      .help = "tags offered to task requirements", .def = "none", .offset = S_CFG (tags) },
    { .name = "plugin", .letter = 'p', .kind = HD_OPTS_STRING, .meta = "FILE.so",
      .help = "load task functions from a plugin (repeatable)", .offset = -1,
      .set = s_add_plugin },
    { .name = "allow-exec", .kind = HD_OPTS_FLAG,
      .help = "offer the `exec` function (runs commands, no shell)", .offset = S_CFG (allow_exec) },
    { .name = "max-output", .kind = HD_OPTS_UINT, .meta = "BYTES", .unit = HD_OPTS_BYTES,
      .min = 1, .max = S_U32_MAX, .help = "output per task at most",
      .offset = S_CFG (max_output) },
    { .name = "misses", .kind = HD_OPTS_UINT, .meta = "N", .min = 1, .max = S_U32_MAX,
      .help = "silent heartbeats before reconnecting", .offset = S_CFG (heartbeat_misses) },
    { .name = "capacity", .kind = HD_OPTS_NUMBER, .meta = "X", .flags = HD_OPTS_POSITIVE,
      .help = "capacity score sent to the broker, a positive number",
      .def = "measured at start by a 50 ms CPU benchmark", .offset = S_CFG (capacity) },
    { .name = "metrics-interval", .kind = HD_OPTS_UINT, .meta = "MS", .unit = HD_OPTS_MS,
      .min = 1, .max = S_U32_MAX, .help = "capacity metrics period",
      .offset = S_CFG (metrics_interval_ms) },
    { .name = "work-dir", .kind = HD_OPTS_STRING, .meta = "DIR",
      .help = "directory whose free disk space is advertised", .offset = S_CFG (work_dir) },
    { .name = "log-level", .kind = HD_OPTS_ENUM, .meta = "LEVEL", .choices = HD_OPTS_LEVELS,
      .help = "error|warn|info|debug", .offset = S_OFF (log_level),
      .set = hd_opts_set_log_level },
    { .name = "config", .kind = HD_OPTS_STRING, .meta = "FILE",
      .help = "config file, [worker] section; flags win",
      .def = "$HEDDLE_CONFIG, else /etc/heddle/heddle.conf if it exists",
      .flags = HD_OPTS_NOCONF | HD_OPTS_NOPRINT, .offset = S_OFF (config_path) },
    { .name = "print-config", .kind = HD_OPTS_FLAG,
      .help = "print the effective configuration and exit",
      .flags = HD_OPTS_NOCONF | HD_OPTS_NOPRINT, .offset = S_OFF (print_config) },
    { .name = "help", .letter = 'h', .kind = HD_OPTS_HELP, .help = "this text", .offset = -1 },
    HD_OPTS_END,
};
// clang-format on

const hd_opts_prog_t hd_opts_worker = {
    .name = "heddle-worker",
    .section = "worker",
    .usage = "heddle-worker [--broker ENDPOINT|auto] [OPTIONS]",
    .summary = "Join a heddle cluster and run its tasks.",
    .opts = s_opts,
};
