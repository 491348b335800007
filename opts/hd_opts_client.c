/*  hd_opts_client: the connection options every `heddle` command takes, which are also the keys
    of the [client] section of the config file. Declared once (lib/hd_opts): getopt of every
    command, the "Connection options" of each --help, the [client] check, the man page.  */
#include <stddef.h>
#include <string.h>

#include "common.h"
#include "hd_opts_tables.h"

#define S_OFF(field) offsetof (hd_cli_common_t, field)

// clang-format off
static const hd_opt_t s_opts[] = {
    { .name = "Connection options:", .kind = HD_OPTS_HEADING },
    { .name = "broker", .letter = 'b', .kind = HD_OPTS_ENDPOINT, .meta = "ENDPOINT",
      .help = "broker to use: tcp://host:port, host:port or host",
      .def = "$HEDDLE_BROKER; when neither is set, start an embedded cluster in this process: "
             "see --workers", .unset = "(embedded cluster)", .offset = S_OFF (broker) },
    { .name = "keys", .letter = 'k', .kind = HD_OPTS_STRING, .meta = "DIR",
      .help = "key directory made by 'heddle keys init'",
      .def = "$HEDDLE_KEYS, else ~/.config/heddle/keys if it exists", .offset = S_OFF (keys_dir) },
    { .name = "cert", .kind = HD_OPTS_STRING, .meta = "FILE",
      .help = "this client's secret certificate",
      .def = "KEYS/client.cert_secret; drain, resume and run use KEYS/admin.cert_secret when it "
             "exists, as does every command when KEYS has no client.cert_secret",
      .offset = S_OFF (cert_path) },
    { .name = "insecure", .kind = HD_OPTS_FLAG,
      .help = "plain TCP, no CURVE: only for a broker run with --insecure",
      .offset = S_OFF (insecure) },
    { .name = "plain-payloads", .kind = HD_OPTS_FLAG,
      .help = "do not seal task payloads end to end (default: sealed when KEYS holds "
              "payload.cert; $HEDDLE_PLAIN_PAYLOADS=1)", .offset = S_OFF (plain_payloads) },
    { .name = "insecure-key-perms", .kind = HD_OPTS_FLAG,
      .help = "use a secret key open to group or others (a warning; refused otherwise: chmod "
              "600 the file, 700 its directory)", .offset = S_OFF (insecure_key_perms) },
    { .name = "connect-timeout", .kind = HD_OPTS_UINT, .meta = "MS", .unit = HD_OPTS_MS,
      .min = 1, .max = 86400000, .help = "how long the broker may take to answer",
      .offset = S_OFF (connect_timeout_ms) },
    { .name = "workers", .kind = HD_OPTS_UINT, .meta = "N", .min = 1, .max = 1024,
      .help = "embedded cluster: workers", .def = "online cores", .unset = "(online cores)",
      .offset = S_OFF (workers) },
    { .name = "slots", .kind = HD_OPTS_UINT, .meta = "N", .min = 0, .max = 1024,
      .help = "embedded cluster: slots per worker (0: one per core)", .offset = S_OFF (slots) },
    { .name = "log-level", .kind = HD_OPTS_ENUM, .meta = "LEVEL", .choices = HD_OPTS_LEVELS,
      .help = "error, warn, info or debug", .offset = S_OFF (log_level),
      .set = hd_opts_set_log_level },
    { .name = "verbose", .letter = 'v', .kind = HD_OPTS_FLAG,
      .help = "say what is connected or started (the embedded cluster is otherwise started "
              "quietly)", .offset = S_OFF (verbose) },
    { .name = "config", .kind = HD_OPTS_STRING, .meta = "FILE",
      .help = "config file, [client] section; the environment and flags win over it",
      .def = "$HEDDLE_CONFIG, else /etc/heddle/heddle.conf if it exists",
      .flags = HD_OPTS_NOCONF | HD_OPTS_NOPRINT, .offset = S_OFF (config_path) },
    HD_OPTS_END,
};
// clang-format on

const hd_opts_prog_t hd_opts_client = {
    .name = "heddle",
    .section = "client",
    .usage = "heddle [CONNECTION OPTIONS] COMMAND [ARGS]",
    .opts = s_opts,
};

const hd_opts_section_t hd_opts_sections[HD_OPTS_NSECTIONS] = {
    { "broker", &hd_opts_broker },
    { "worker", &hd_opts_worker },
    { "client", &hd_opts_client },
};
