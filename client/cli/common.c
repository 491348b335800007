/*  common: shared option handling, reporting and connection set-up for the `heddle` commands.
    Precedence of settings: built-in defaults, then the [client] section of the config file,
    then the environment (HEDDLE_BROKER, HEDDLE_KEYS), then flags. With no broker from any of
    them, a command runs its own embedded cluster.  */
#include "common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hd_log.h"
#include "interrupt.h"

#define S_MAX_WORKERS 1024
#define S_MAX_SLOTS 1024
#define S_MAX_TIMEOUT_MS 86400000u  //  one day
#define S_MAX_ATTEMPTS 1000
#define S_MAX_MEM_MB (1u << 24)

void
hd_cli_common_init (hd_cli_common_t *self)
{
    memset (self, 0, sizeof *self);
    self->connect_timeout_ms = HD_CLI_CONNECT_TIMEOUT_MS;
    self->slots = 1;
}

// --- reporting ----------------------------------------------------------------------------

int
hd_cli_fail (const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    fputs ("heddle: ", stderr);
    vfprintf (stderr, fmt, ap);
    fputc ('\n', stderr);
    va_end (ap);
    return HD_CLI_EXIT_FAIL;
}

int
hd_cli_usage (const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    fprintf (stderr, "heddle%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    vfprintf (stderr, fmt, ap);
    fprintf (stderr, "\nTry 'heddle%s%s --help'.\n", cmd ? " " : "", cmd ? cmd : "");
    va_end (ap);
    return HD_CLI_EXIT_USAGE;
}

void
hd_cli_getopt_reset (void)
{
    optind = 0;
    opterr = 0;
}

int
hd_cli_bad_option (const char *cmd, int c, char **argv)
{
    //  A short option's letter is in optopt; for a long one, the token is the last one read.
    const char *token = optind > 0 ? argv[optind - 1] : "?";
    if (c == ':')
        return optopt > 0 && optopt < 256 ? hd_cli_usage (cmd, "option '-%c' needs a value", optopt)
                                          : hd_cli_usage (cmd, "option '%s' needs a value", token);
    if (optopt > 0 && optopt < 256)
        return hd_cli_usage (cmd, "unknown option '-%c'", optopt);
    return hd_cli_usage (cmd, "unknown or ambiguous option '%s'", token);
}

// --- numbers ------------------------------------------------------------------------------

static int
s_parse_long (const char *text, long long min, long long max, long long *out)
{
    if (!text || !*text)
        return -1;
    errno = 0;
    char *end;
    long long n = strtoll (text, &end, 10);
    if (errno || *end || n < min || n > max)
        return -1;
    *out = n;
    return 0;
}

int
hd_cli_parse_u32 (const char *text, uint32_t min, uint32_t max, uint32_t *out)
{
    long long n;
    if (s_parse_long (text, min, max, &n) != 0)
        return -1;
    *out = (uint32_t) n;
    return 0;
}

int
hd_cli_parse_i32 (const char *text, int32_t min, int32_t max, int32_t *out)
{
    long long n;
    if (s_parse_long (text, min, max, &n) != 0)
        return -1;
    *out = (int32_t) n;
    return 0;
}

// --- options ------------------------------------------------------------------------------

static hd_cli_opt_t
s_bad_number (const char *cmd, const char *opt, const char *arg, long long min, long long max)
{
    hd_cli_usage (cmd, "%s wants an integer from %lld to %lld, not '%s'", opt, min, max, arg);
    return HD_CLI_OPT_BAD;
}

static hd_cli_opt_t
s_string_option (const char **field, const char *cmd, const char *opt, const char *arg)
{
    if (!*arg) {
        hd_cli_usage (cmd, "%s wants a non-empty value", opt);
        return HD_CLI_OPT_BAD;
    }
    *field = arg;
    return HD_CLI_OPT_TAKEN;
}

static hd_cli_opt_t
s_u32_option (uint32_t *field, const char *cmd, const char *opt, const char *arg, uint32_t min,
              uint32_t max)
{
    if (hd_cli_parse_u32 (arg, min, max, field) != 0)
        return s_bad_number (cmd, opt, arg, min, max);
    return HD_CLI_OPT_TAKEN;
}

static hd_cli_opt_t
s_log_level_option (const char *cmd, const char *arg)
{
    hd_log_level_t level;
    if (hd_log_parse_level (arg, &level) != 0) {
        hd_cli_usage (cmd, "--log-level wants error, warn, info or debug, not '%s'", arg);
        return HD_CLI_OPT_BAD;
    }
    hd_log_set_level (level);
    return HD_CLI_OPT_TAKEN;
}

static hd_cli_opt_t
s_task_option (hd_task_opts_t *task, const char *cmd, int c, const char *arg)
{
    switch (c) {
    case HD_OPT_TIMEOUT:
        return s_u32_option (&task->timeout_ms, cmd, "--timeout", arg, 0, S_MAX_TIMEOUT_MS);
    case HD_OPT_PRIORITY:
        if (hd_cli_parse_i32 (arg, -1000, 1000, &task->priority) != 0)
            return s_bad_number (cmd, "--priority", arg, -1000, 1000);
        return HD_CLI_OPT_TAKEN;
    case HD_OPT_TAGS:
        return s_string_option (&task->tags, cmd, "--tags", arg);
    case HD_OPT_NODE:
        return s_string_option (&task->node, cmd, "--node", arg);
    case HD_OPT_ATTEMPTS:
        return s_u32_option (&task->max_attempts, cmd, "--attempts", arg, 1, S_MAX_ATTEMPTS);
    case HD_OPT_MIN_MEM:
        return s_u32_option (&task->min_mem_mb, cmd, "--min-mem", arg, 0, S_MAX_MEM_MB);
    default:
        return HD_CLI_OPT_NOT_MINE;
    }
}

hd_cli_opt_t
hd_cli_common_option (hd_cli_common_t *self, const char *cmd, int c, const char *arg)
{
    switch (c) {
    case 'b':
    case HD_OPT_BROKER:
        return s_string_option (&self->broker, cmd, "--broker", arg);
    case 'k':
    case HD_OPT_KEYS:
        return s_string_option (&self->keys_dir, cmd, "--keys", arg);
    case HD_OPT_INSECURE:
        self->insecure = true;
        return HD_CLI_OPT_TAKEN;
    case HD_OPT_PLAIN_PAYLOADS:
        self->plain_payloads = true;
        return HD_CLI_OPT_TAKEN;
    case HD_OPT_INSECURE_KEY_PERMS:
        self->insecure_key_perms = true;
        return HD_CLI_OPT_TAKEN;
    case HD_OPT_CERT:
        return s_string_option (&self->cert_path, cmd, "--cert", arg);
    case HD_OPT_CONFIG:
        self->config_path = arg;  //  already read by hd_cli_common_load; `config check` uses it
        return HD_CLI_OPT_TAKEN;
    case 'v':
    case HD_OPT_VERBOSE:
        self->verbose = true;
        return HD_CLI_OPT_TAKEN;
    case HD_OPT_LOG_LEVEL:
        return s_log_level_option (cmd, arg);
    case HD_OPT_CONNECT_TIMEOUT:
        return s_u32_option (&self->connect_timeout_ms, cmd, "--connect-timeout", arg, 1,
                             S_MAX_TIMEOUT_MS);
    case HD_OPT_WORKERS:
        return s_u32_option (&self->workers, cmd, "--workers", arg, 1, S_MAX_WORKERS);
    case HD_OPT_SLOTS:
        return s_u32_option (&self->slots, cmd, "--slots", arg, 0, S_MAX_SLOTS);
    default:
        return s_task_option (&self->task, cmd, c, arg);
    }
}

// --- config file and environment -----------------------------------------------------------

//  The [client] section, as if its keys were given as connection options (the config check
//  has already refused keys that are not options). A `no` boolean is the default.
static int
s_apply_file (hd_cli_common_t *self, const hd_config_t *file)
{
    static const struct option opts[] = { HD_CLI_CONNECT_OPTIONS, { NULL, 0, NULL, 0 } };
    for (size_t i = 0; i < hd_config_size (file); i++) {
        const hd_config_entry_t *e = hd_config_entry (file, i);
        const struct option *o = opts;
        while (o->name && strcmp (o->name, e->key) != 0)
            o++;
        bool on = true;
        if (strcmp (e->section, "client") != 0 || !o->name
            || (!o->has_arg && (hd_config_parse_bool (e->value, &on) != 0 || !on)))
            continue;
        if (hd_cli_common_option (self, NULL, o->val, e->value) != HD_CLI_OPT_TAKEN) {
            fprintf (stderr, "heddle: (%s:%d)\n", hd_config_name (file), e->line);
            return HD_CLI_EXIT_USAGE;
        }
    }
    return HD_CLI_EXIT_OK;
}

int
hd_cli_common_load (hd_cli_common_t *self, int argc, char **argv)
{
    if (hd_config_open (&self->file, "heddle", argc, argv) != HD_OK)
        return HD_CLI_EXIT_USAGE;
    if (self->file && s_apply_file (self, self->file) != HD_CLI_EXIT_OK)
        return HD_CLI_EXIT_USAGE;
    const char *env = getenv ("HEDDLE_BROKER");
    if (env && *env)
        self->broker = env;
    const char *plain = getenv ("HEDDLE_PLAIN_PAYLOADS");
    if (plain && *plain && strcmp (plain, "0") != 0)
        self->plain_payloads = true;
    env = getenv ("HEDDLE_KEYS");
    if (env && *env)
        self->keys_dir = env;
    return HD_CLI_EXIT_OK;
}

void
hd_cli_common_fini (hd_cli_common_t *self)
{
    hd_config_destroy (&self->file);
}

static bool
s_is_dir (const char *path)
{
    struct stat st;
    return stat (path, &st) == 0 && S_ISDIR (st.st_mode);
}

//  The admin certificate when the command wants one, or when it is the only one here (an
//  admin's machine gets admin.cert_secret, not client.cert_secret). Else the library's default.
static void
s_choose_cert (hd_cli_common_t *self)
{
    char client[600];
    int n = snprintf (self->cert_default, sizeof self->cert_default, "%s/admin.cert_secret",
                      self->keys_dir);
    int m = snprintf (client, sizeof client, "%s/client.cert_secret", self->keys_dir);
    if (n <= 0 || (size_t) n >= sizeof self->cert_default || m <= 0 || (size_t) m >= sizeof client
        || access (self->cert_default, R_OK) != 0)
        return;
    if (self->prefer_admin || access (client, R_OK) != 0)
        self->cert_path = self->cert_default;
}

void
hd_cli_common_finish (hd_cli_common_t *self)
{
    const char *home = getenv ("HOME");
    if (!self->keys_dir && home && *home) {
        int n = snprintf (self->keys_default, sizeof self->keys_default, "%s/.config/heddle/keys",
                          home);
        if (n > 0 && (size_t) n < sizeof self->keys_default && s_is_dir (self->keys_default))
            self->keys_dir = self->keys_default;
    }
    if (!self->cert_path && self->keys_dir)
        s_choose_cert (self);
    if (self->workers == 0) {
        long cores = sysconf (_SC_NPROCESSORS_ONLN);
        self->workers = cores < 1 ? 1 : cores > S_MAX_WORKERS ? S_MAX_WORKERS : (uint32_t) cores;
    }
}

void
hd_cli_connect_help (FILE *out)
{
    fprintf (
        out,
        "\nConnection options:\n"
        "  -b, --broker ENDPOINT   broker to use: tcp://host:port, host:port or host\n"
        "                          (default: $HEDDLE_BROKER; when neither is set, start an\n"
        "                          embedded cluster in this process: see --workers)\n"
        "  -k, --keys DIR          key directory made by 'heddle keys init' (default:\n"
        "                          $HEDDLE_KEYS, else ~/.config/heddle/keys if it exists)\n"
        "      --cert FILE         this client's secret certificate (default: KEYS/\n"
        "                          client.cert_secret; drain, resume and run use KEYS/\n"
        "                          admin.cert_secret when it exists, as does every command\n"
        "                          when KEYS has no client.cert_secret)\n"
        "      --insecure          plain TCP, no CURVE: only for a broker run with --insecure\n"
        "      --plain-payloads    do not seal task payloads end to end (default: sealed\n"
        "                          when KEYS holds payload.cert; $HEDDLE_PLAIN_PAYLOADS=1)\n"
        "      --insecure-key-perms  use a secret key open to group or others (a warning;\n"
        "                          refused otherwise: chmod 600 the file, 700 its directory)\n"
        "      --connect-timeout MS  how long the broker may take to answer (default %u)\n"
        "      --workers N         embedded cluster: workers (default: online cores)\n"
        "      --slots N           embedded cluster: slots per worker (default 1; 0: one\n"
        "                          per core)\n"
        "      --log-level LEVEL   error, warn, info or debug (default warn)\n"
        "  -v, --verbose           say what is connected or started (the embedded\n"
        "                          cluster is otherwise started quietly)\n"
        "      --config FILE       config file, [client] section (default: $HEDDLE_CONFIG,\n"
        "                          else /etc/heddle/heddle.conf if it exists); the\n"
        "                          environment and flags win over it\n",
        HD_CLI_CONNECT_TIMEOUT_MS);
}

void
hd_cli_task_help (FILE *out)
{
    fprintf (out,
             "\nTask options:\n"
             "      --timeout MS        deadline of each task on the worker (default 0: none)\n"
             "      --priority N        -1000 .. 1000, higher runs first (default 0)\n"
             "      --tags a,b          run only on nodes with all these tags (default: any)\n"
             "      --node NAME         run only on this node (default: any)\n"
             "      --attempts N        tries before giving up (default: the broker's)\n"
             "      --min-mem MB        run only on nodes with this much memory (default 0)\n");
}

// --- connecting ---------------------------------------------------------------------------

//  The library's reasons say what failed; this adds how to get keys when they are the problem
//  (not when the keys are there and only their permissions are wrong: that reason names its
//  own fix, a chmod).
static const char *
s_connect_hint (hd_err_t rc, const char *reason)
{
    return rc == HD_ECRYPTO && !strstr (reason, "chmod ")
               ? " (give --keys DIR made by 'heddle keys init', or --insecure for a broker run "
                 "with --insecure)"
               : "";
}

static int
s_connect_remote (const hd_cli_common_t *self, uint32_t window, hd_cli_conn_t *conn)
{
    if (!self->insecure && !self->keys_dir)
        return hd_cli_fail ("connecting to %s: no key directory (give --keys DIR or set "
                            "HEDDLE_KEYS; make one with 'heddle keys init'), or --insecure for "
                            "a broker run with --insecure",
                            self->broker);
    hd_client_config_t config;
    hd_cli_client_config (self, &config);
    config.window = window;
    if (self->verbose)
        fprintf (stderr, "heddle: connecting to %s (%s)\n", self->broker,
                 self->insecure ? "insecure" : self->cert_path ? self->cert_path : self->keys_dir);
    char reason[512] = "";
    hd_err_t rc = hd_client_connect_verbose (&config, &conn->client, reason, sizeof reason);
    if (rc != HD_OK && hd_cli_interrupted)
        return hd_cli_interrupt_code ();
    if (rc != HD_OK)
        return hd_cli_fail ("connecting to %s: %s%s", self->broker,
                            *reason ? reason : hd_strerror (rc), s_connect_hint (rc, reason));
    return HD_CLI_EXIT_OK;
}

static int
s_start_embedded (const hd_cli_common_t *self, uint32_t window, hd_cli_conn_t *conn)
{
    if (self->verbose)
        fprintf (stderr, "heddle: no --broker given: running an embedded cluster (%u workers)\n",
                 self->workers);
    hd_err_t rc = hd_cluster_start (self->workers, self->slots, &conn->cluster);
    if (rc != HD_OK)
        return hd_cli_fail ("starting the embedded cluster: %s", hd_strerror (rc));
    hd_client_config_t config = { .endpoint = hd_cluster_endpoint (conn->cluster),
                                  .insecure = true,
                                  .timeout_ms = self->connect_timeout_ms,
                                  .window = window,
                                  .interrupt = &hd_cli_interrupted };
    char reason[512] = "";
    rc = hd_client_connect_verbose (&config, &conn->client, reason, sizeof reason);
    if (rc == HD_OK)
        rc = hd_client_wait_nodes (conn->client, self->workers, HD_CLI_WAIT_NODES_MS);
    if (rc != HD_OK && hd_cli_interrupted)
        return hd_cli_interrupt_code ();
    if (rc != HD_OK && !conn->client)
        return hd_cli_fail ("connecting to the embedded cluster: %s",
                            *reason ? reason : hd_strerror (rc));
    if (rc != HD_OK)
        return hd_cli_fail ("embedded cluster: waiting for %u workers: %s", self->workers,
                            hd_client_last_error (conn->client));
    return HD_CLI_EXIT_OK;
}

void
hd_cli_client_config (const hd_cli_common_t *self, hd_client_config_t *out)
{
    *out = (hd_client_config_t) { .endpoint = self->broker,
                                  .keys_dir = self->insecure ? NULL : self->keys_dir,
                                  .cert_path = self->insecure ? NULL : self->cert_path,
                                  .insecure = self->insecure,
                                  .plain_payloads = self->plain_payloads,
                                  .insecure_key_perms = self->insecure_key_perms,
                                  .timeout_ms = self->connect_timeout_ms,
                                  .interrupt = &hd_cli_interrupted };
}

//  The broker queued tasks for a function no worker offers yet: say so once per function,
//  instead of letting the user wonder why nothing happens.
void
hd_cli_on_notice (hd_client_t *client, const char *fn, uint32_t nodes, uint32_t wait_ms,
                  const char *text, void *arg)
{
    (void) client, (void) nodes, (void) arg;
    static char said[16][64];
    static uint32_t nsaid;
    for (uint32_t i = 0; i < nsaid; i++)
        if (strcmp (said[i], fn) == 0)
            return;
    if (nsaid < 16)
        snprintf (said[nsaid++], sizeof said[0], "%s", fn);
    fprintf (stderr, "heddle: %s; its tasks fail with 'unknown function' if none joins within "
             "%.0f s\n", text, wait_ms / 1000.0);
}

int
hd_cli_connect (const hd_cli_common_t *self, uint32_t window, hd_cli_conn_t *conn)
{
    memset (conn, 0, sizeof *conn);
    int code = self->broker ? s_connect_remote (self, window, conn)
                            : s_start_embedded (self, window, conn);
    if (code != HD_CLI_EXIT_OK)
        hd_cli_disconnect (conn);
    else
        hd_client_set_notice_handler (conn->client, hd_cli_on_notice, NULL);
    return code;
}

void
hd_cli_disconnect (hd_cli_conn_t *conn)
{
    hd_client_destroy (&conn->client);
    if (conn->cluster)
        hd_cluster_stop (&conn->cluster);
}

// --- small helpers ------------------------------------------------------------------------

hd_err_t
hd_cli_read_file (const char *path, hd_buf_t *buf, char *errbuf, size_t errlen)
{
    bool is_stdin = strcmp (path, "-") == 0;
    FILE *file = is_stdin ? stdin : fopen (path, "rb");
    if (!file) {
        snprintf (errbuf, errlen, "%s", strerror (errno));
        return HD_EIO;
    }
    hd_err_t rc = HD_OK;
    while (rc == HD_OK && !feof (file) && !ferror (file)) {
        rc = hd_buf_reserve (buf, 65536);
        if (rc == HD_OK)
            buf->size += fread (buf->data + buf->size, 1, buf->cap - buf->size, file);
    }
    if (rc == HD_OK && ferror (file)) {
        snprintf (errbuf, errlen, "%s", strerror (errno));
        rc = HD_EIO;
    } else if (rc != HD_OK)
        snprintf (errbuf, errlen, "%s", hd_strerror (rc));
    if (!is_stdin)
        fclose (file);
    return rc;
}

void
hd_cli_json_string (FILE *out, const char *text)
{
    fputc ('"', out);
    for (const unsigned char *p = (const unsigned char *) text; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf (out, "\\%c", *p);
        else if (*p < 0x20)
            fprintf (out, "\\u%04x", *p);
        else
            fputc (*p, out);
    }
    fputc ('"', out);
}

double
hd_cli_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}
