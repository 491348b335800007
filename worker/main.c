/*  heddle-worker: gather the settings (defaults, the [worker] section of the config file, the
    environment, then flags), find the broker when none is named (hd_discovery: `--broker
    auto`, the default), build the worker, load plugins, run until SIGINT/SIGTERM. The options
    are declared once in opts/hd_opts_worker.c; all the work is in hd_worker.  */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hd_config.h"
#include "hd_discovery.h"
#include "hd_log.h"
#include "hd_nofile.h"
#include "hd_opts_tables.h"
#include "hd_worker.h"
#include "hd_worker_keys.h"

typedef struct {
    hd_worker_settings_t s;
    char endpoint[HD_ENDPOINT_MAX], broker_key[HD_KEY_TEXT];  //  what discovery found
} s_args_t;

static void
s_defaults (hd_worker_settings_t *s)
{
    memset (s, 0, sizeof *s);
    hd_worker_config_defaults (&s->config);
    s->log_level = HD_LOG_INFO;
}

//  $HEDDLE_WORKER_BROKER and $HEDDLE_KEYS, over the config file.
static void
s_apply_env (hd_worker_settings_t *s)
{
    const char *env = getenv ("HEDDLE_WORKER_BROKER");
    if (env && *env)
        s->config.endpoint = env;
    env = getenv ("HEDDLE_KEYS");
    if (env && *env)
        s->config.keys_dir = env;
}

//  The config file, the environment, the flags. HD_OPTS_OK, HD_OPTS_EXIT_HELP (help printed)
//  or HD_OPTS_EXIT_USAGE (why printed).
static int
s_settings (int argc, char **argv, hd_worker_settings_t *s, const hd_config_t *file,
            const hd_worker_settings_t *defaults)
{
    hd_opts_use_t use = { &hd_opts_worker, s };
    if (hd_opts_apply_file (&use, file) != 0) {
        fprintf (stderr, "Try 'heddle-worker --help'.\n");
        return HD_OPTS_EXIT_USAGE;
    }
    s_apply_env (s);
    int first = argc;
    int rc = hd_opts_parse (argc, argv, &use, 1, 0, &first);
    if (rc == HD_OPTS_EXIT_HELP)
        hd_opts_print_help (stdout, &hd_opts_worker, defaults);
    if (rc != HD_OPTS_OK)
        return rc;
    if (first < argc) {
        fprintf (stderr, "heddle-worker: unexpected argument '%s'\nTry 'heddle-worker --help'.\n",
                 argv[first]);
        return HD_OPTS_EXIT_USAGE;
    }
    struct stat st;
    if (stat (s->config.work_dir, &st) != 0 || !S_ISDIR (st.st_mode)) {
        fprintf (stderr, "heddle-worker: --work-dir %s is not a directory\n", s->config.work_dir);
        return HD_OPTS_EXIT_USAGE;
    }
    return HD_OPTS_OK;
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
    if (hd_worker_keys_trust (&a->s.config, &trust, err, sizeof err) != HD_OK) {
        fprintf (stderr, "heddle-worker: %s\n", err);
        return 1;
    }
    hd_discovery_find_t find = { .net = { .port = (uint16_t) a->s.beacon_port,
                                          .iface = a->s.beacon_iface },
                                 .cluster = a->s.cluster,
                                 .timeout_s = a->s.discover_timeout_s,
                                 .accept = s_accept,
                                 .arg = &trust };
    hd_beacon_t b;
    hd_err_t rc = hd_discovery_find (&find, &b, a->endpoint, sizeof a->endpoint);
    if (rc == HD_ECLOSED)
        return 0;
    if (rc == HD_ETIMEDOUT)
        fprintf (stderr, "heddle-worker: no broker of cluster %s found within %u s "
                 "(--discover-timeout)\n", a->s.cluster ? a->s.cluster : HD_CLUSTER_DEFAULT,
                 a->s.discover_timeout_s);
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
    a->s.config.endpoint = a->endpoint;
    if (*b.key)
        a->s.config.broker_key = a->broker_key;
    return -1;
}

static bool
s_wants_discovery (const s_args_t *a)
{
    const char *ep = a->s.config.endpoint;
    return !ep || !*ep || strcmp (ep, "auto") == 0;
}

//  The generator modes CMake runs at build time (cmake/gen-docs.sh): the man page, the
//  completion words. -1 when argv asks for neither.
static int
s_generate (int argc, char **argv, const hd_worker_settings_t *defaults)
{
    if (argc == 4 && strcmp (argv[1], "--help-man") == 0) {
        hd_opts_print_man (stdout, &hd_opts_worker, defaults, 8, argv[2], argv[3]);
        printf (".SH FILES\n/etc/heddle/heddle.conf ([worker] section)\n"
                ".SH SEE ALSO\nheddle(1), heddle-broker(8)\n");
        return 0;
    }
    if (argc == 2 && strcmp (argv[1], "--help-words") == 0) {
        hd_opts_print_words (stdout, &hd_opts_worker);
        printf ("\n");
        return 0;
    }
    return -1;
}

static int
s_run (s_args_t *a)
{
    hd_nofile_raise_and_log (256);  //  plugins and exec'd commands open files too
    hd_worker_t *worker = NULL;
    char err[512] = "";
    hd_err_t rc = hd_worker_new (&a->s.config, &worker, err, sizeof err);
    for (int i = 0; rc == HD_OK && i < a->s.nplugins; i++)
        rc = hd_worker_load_plugin (worker, a->s.plugins[i], err, sizeof err);
    if (rc == HD_OK)
        rc = hd_worker_run (worker);
    hd_worker_destroy (&worker);
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

//  Settings in order: built-in defaults, the config file, the environment, the flags.
int
main (int argc, char **argv)
{
    hd_log_set_name ("heddle-worker");
    hd_log_set_level (HD_LOG_INFO);
    s_args_t a;
    hd_worker_settings_t defaults;
    memset (&a, 0, sizeof a);
    s_defaults (&a.s);
    s_defaults (&defaults);
    int code = s_generate (argc, argv, &defaults);
    if (code >= 0)
        return code;
    hd_config_t *file = NULL;
    if (hd_config_open (&file, "heddle-worker", hd_opts_sections, HD_OPTS_NSECTIONS, argc, argv)
        != HD_OK)
        return 2;
    int rc = s_settings (argc, argv, &a.s, file, &defaults);
    if (rc == HD_OPTS_OK && a.s.print_config) {
        printf ("config = %s\n", file ? hd_config_name (file) : "(none)");
        hd_opts_print_config (stdout, &hd_opts_worker, &a.s);
        for (int i = 0; i < a.s.nplugins; i++)
            printf ("plugin = %s\n", a.s.plugins[i]);
    }
    if (rc != HD_OPTS_OK || a.s.print_config)
        code = rc == HD_OPTS_EXIT_USAGE ? 2 : 0;
    else
        code = s_wants_discovery (&a) ? s_discover (&a) : -1;
    if (code < 0)
        code = s_run (&a);
    hd_config_destroy (&file);
    return code;
}
