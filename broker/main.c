/*  heddle-broker: gather the settings (defaults, the [broker] section of the config file,
    $HEDDLE_KEYS, then flags), build the broker, run it until SIGINT/SIGTERM. The options are
    declared once in opts/hd_opts_broker.c; all the work is in hd_broker.  */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hd_broker.h"
#include "hd_config.h"
#include "hd_log.h"
#include "hd_nofile.h"
#include "hd_opts_tables.h"
#include "hd_transport.h"

static bool s_print_endpoints;

static void
s_defaults (hd_broker_settings_t *s)
{
    memset (s, 0, sizeof *s);
    hd_broker_config_defaults (&s->config);
    //  The program serves its web endpoint on loopback by default (docs/OPERATIONS.md): it
    //  costs a snapshot four times a second and shows nothing beyond this machine; when the
    //  port is taken (a second broker here), the broker runs on without it.
    s->config.http_endpoint = "127.0.0.1:7780";
    s->config.http_optional = true;
    s->log_level = HD_LOG_INFO;
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

//  The generator modes CMake runs at build time (cmake/gen-docs.sh): the man page, the
//  completion words. -1 when argv asks for neither.
static int
s_generate (int argc, char **argv, const hd_broker_settings_t *defaults)
{
    if (argc == 4 && strcmp (argv[1], "--help-man") == 0) {
        hd_opts_print_man (stdout, &hd_opts_broker, defaults, 8, argv[2], argv[3]);
        printf (".SH FILES\n/etc/heddle/heddle.conf ([broker] section)\n"
                ".SH SEE ALSO\nheddle(1), heddle-worker(8)\n");
        return 0;
    }
    if (argc == 2 && strcmp (argv[1], "--help-words") == 0) {
        hd_opts_print_words (stdout, &hd_opts_broker);
        printf ("\n");
        return 0;
    }
    return -1;
}

//  Settings in order: built-in defaults, the config file, the environment, the flags.
int
main (int argc, char **argv)
{
    hd_log_set_name ("heddle-broker");
    hd_log_set_level (HD_LOG_INFO);
    hd_broker_settings_t s, defaults;
    s_defaults (&s);
    s_defaults (&defaults);
    int code = s_generate (argc, argv, &defaults);
    if (code >= 0)
        return code;
    hd_config_t *file = NULL;
    if (hd_config_open (&file, "heddle-broker", hd_opts_sections, HD_OPTS_NSECTIONS, argc, argv)
        != HD_OK)
        return 2;
    hd_opts_use_t use = { &hd_opts_broker, &s };
    int rc = HD_OPTS_OK;
    if (hd_opts_apply_file (&use, file) != 0) {
        fprintf (stderr, "Try 'heddle-broker --help'.\n");
        rc = HD_OPTS_EXIT_USAGE;
    }
    const char *env = getenv ("HEDDLE_KEYS");
    if (env && *env)
        s.config.keys_dir = env;
    int first = argc;
    if (rc == HD_OPTS_OK)
        rc = hd_opts_parse (argc, argv, &use, 1, 0, &first);
    if (rc == HD_OPTS_OK && first < argc) {
        fprintf (stderr, "heddle-broker: unexpected argument '%s'\nTry 'heddle-broker --help'.\n",
                 argv[first]);
        rc = HD_OPTS_EXIT_USAGE;
    }
    if (rc == HD_OPTS_EXIT_HELP)
        hd_opts_print_help (stdout, &hd_opts_broker, &defaults);
    if (rc == HD_OPTS_OK && s.print_config) {
        printf ("config = %s\n", file ? hd_config_name (file) : "(none)");
        hd_opts_print_config (stdout, &hd_opts_broker, &s);
    }
    s_print_endpoints = s.print_endpoints;
    if (s.no_beacon)
        s.config.beacon_port = 0;
    code = rc == HD_OPTS_EXIT_HELP ? 0 : rc != HD_OPTS_OK ? 2 : s.print_config ? 0 : s_run (&s.config);
    hd_config_destroy (&file);
    return code;
}
