/*  common: shared option handling, reporting and connection set-up for the `heddle` commands.
    Precedence of settings: built-in defaults, then the [client] section of the config file,
    then the environment (HEDDLE_BROKER, HEDDLE_KEYS), then flags. With no broker from any of
    them, a command runs its own embedded cluster.  */
#include "common.h"

#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hd_log.h"
#include "hd_opts_tables.h"
#include "interrupt.h"

#define S_MAX_WORKERS 1024
#define S_MAX_TIMEOUT_MS 86400000u  //  one day
#define S_MAX_ATTEMPTS 1000
#define S_MAX_MEM_MB (1u << 24)

void
hd_cli_common_init (hd_cli_common_t *self)
{
    memset (self, 0, sizeof *self);
    self->connect_timeout_ms = HD_CLI_CONNECT_TIMEOUT_MS;
    self->slots = 1;
    self->log_level = HD_LOG_WARN;
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

hd_cli_doc_t hd_cli_doc_mode = HD_CLI_DOC_HELP;

#define S_TASK(field) offsetof (hd_task_opts_t, field)

//  The per-task options of call, map, bench, submit (bound to common->task). They are not
//  config file keys.
// clang-format off
static const hd_opt_t s_task_opts[] = {
    { .name = "Task options:", .kind = HD_OPTS_HEADING },
    { .name = "timeout", .kind = HD_OPTS_UINT, .meta = "MS", .unit = HD_OPTS_MS, .min = 0,
      .max = S_MAX_TIMEOUT_MS, .help = "deadline of each task on the worker (0: none)",
      .offset = S_TASK (timeout_ms) },
    { .name = "priority", .kind = HD_OPTS_INT, .meta = "N", .min = -1000, .max = 1000,
      .help = "-1000 .. 1000, higher runs first", .offset = S_TASK (priority) },
    { .name = "tags", .kind = HD_OPTS_STRING, .meta = "a,b",
      .help = "run only on nodes with all these tags", .def = "any", .offset = S_TASK (tags) },
    { .name = "node", .kind = HD_OPTS_STRING, .meta = "NAME", .help = "run only on this node",
      .def = "any", .offset = S_TASK (node) },
    { .name = "attempts", .kind = HD_OPTS_UINT, .meta = "N", .min = 1, .max = S_MAX_ATTEMPTS,
      .help = "tries before giving up", .def = "the broker's", .offset = S_TASK (max_attempts) },
    { .name = "min-mem", .kind = HD_OPTS_UINT, .meta = "MB", .unit = HD_OPTS_MB, .min = 0,
      .max = S_MAX_MEM_MB, .help = "run only on nodes with this much memory",
      .offset = S_TASK (min_mem_mb) },
    HD_OPTS_END,
};
// clang-format on

const hd_opts_prog_t hd_cli_task_opts = { .name = "heddle", .usage = "", .opts = s_task_opts };

void
hd_cli_help (FILE *out, const hd_opts_prog_t *cmd, const void *defaults, unsigned flags)
{
    hd_cli_common_t common;
    hd_cli_common_init (&common);
    fprintf (out, "Usage: %s\n", cmd->usage);
    if (cmd->summary)
        hd_opts_print_text (out, cmd->summary);
    fprintf (out, "\n");
    hd_opts_print_options (out, cmd, defaults);
    if (flags & HD_CLI_TASK) {
        fprintf (out, "\n");
        hd_opts_print_options (out, &hd_cli_task_opts, &common.task);
    }
    if (!(flags & HD_CLI_NO_CONNECT)) {
        fprintf (out, "\n");
        hd_opts_print_options (out, &hd_opts_client, &common);
    }
    if (cmd->epilog) {
        fprintf (out, "\n");
        hd_opts_print_text (out, cmd->epilog);
    }
}

//  --help in the generator modes of main.c: the command's man section (its own table only: the
//  shared ones are in the page once) or its completion words.
static void
s_doc (const hd_opts_prog_t *cmd, const void *defaults, unsigned flags)
{
    if (hd_cli_doc_mode == HD_CLI_DOC_MAN) {
        hd_opts_print_man_section (stdout, cmd, defaults);
        return;
    }
    hd_opts_print_words (stdout, cmd);
    if (flags & HD_CLI_TASK)
        hd_opts_print_words (stdout, &hd_cli_task_opts);
    if (!(flags & HD_CLI_NO_CONNECT))
        hd_opts_print_words (stdout, &hd_opts_client);
}

int
hd_cli_parse (hd_cli_common_t *common, const hd_opts_prog_t *cmd, void *target,
              const void *defaults, unsigned flags, int argc, char **argv, int *first)
{
    hd_opts_use_t uses[3] = { { cmd, target } };
    size_t n = 1;
    if (flags & HD_CLI_TASK)
        uses[n++] = (hd_opts_use_t) { &hd_cli_task_opts, &common->task };
    if (!(flags & HD_CLI_NO_CONNECT))
        uses[n++] = (hd_opts_use_t) { &hd_opts_client, common };
    int rc = hd_opts_parse (argc, argv, uses, n, flags & HD_OPTS_IN_ORDER, first);
    if (rc == HD_OPTS_EXIT_HELP) {
        if (hd_cli_doc_mode != HD_CLI_DOC_HELP)
            s_doc (cmd, defaults, flags);
        else
            hd_cli_help (stdout, cmd, defaults, flags);
        return HD_CLI_EXIT_OK;
    }
    return rc == HD_OPTS_OK ? -1 : HD_CLI_EXIT_USAGE;
}

// --- config file and environment -----------------------------------------------------------

int
hd_cli_common_load (hd_cli_common_t *self, int argc, char **argv)
{
    if (hd_config_open (&self->file, "heddle", hd_opts_sections, HD_OPTS_NSECTIONS, argc, argv)
        != HD_OK)
        return HD_CLI_EXIT_USAGE;
    hd_opts_use_t use = { &hd_opts_client, self };
    if (hd_opts_apply_file (&use, self->file) != 0)
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
