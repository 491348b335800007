/*  cmd_admin: `heddle drain NODE` and `heddle resume NODE`: the ADMIN operations. A draining
    node gets no new task and finishes the ones it runs; resume gives it work again. Both need
    an admin key: KEYS/admin.cert_secret is used when it exists (or --cert FILE).  */
#include <string.h>

#include "commands.h"

enum { S_OPT_HELP = 'h' };

static void
s_help (const char *cmd)
{
    bool drain = strcmp (cmd, "drain") == 0;
    printf ("Usage: heddle %s [OPTIONS] NODE\n", cmd);
    if (drain)
        printf ("Drain NODE for maintenance: the broker sends it no new task; the tasks it runs\n"
                "finish and their results are delivered. The node stays in 'heddle nodes' with\n"
                "state 'draining' until 'heddle resume NODE' (or until its worker restarts).\n");
    else
        printf ("Resume NODE after 'heddle drain': the broker sends it tasks again.\n");
    printf ("Needs an admin key: KEYS/admin.cert_secret is used when it exists (its public key\n"
            "is in the broker's admins.keys), else the client key, which the broker refuses.\n\n"
            "Options:\n"
            "  -h, --help              show this help and exit\n");
    hd_cli_connect_help (stdout);
    printf ("\nExit status: 0 done; 1 refused (not an admin key, no such node) or the broker\n"
            "could not be asked; 2 bad usage.\n");
}

//  Parse argv into common and *node. Returns -1 to go on, else an exit code.
static int
s_parse (hd_cli_common_t *common, const char *cmd, int argc, char **argv, const char **node)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, S_OPT_HELP },
        HD_CLI_CONNECT_OPTIONS,
        { NULL, 0, NULL, 0 },
    };
    hd_cli_getopt_reset ();
    int c;
    while ((c = getopt_long (argc, argv, ":h" HD_CLI_CONNECT_SHORT, longopts, NULL)) != -1) {
        if (c == S_OPT_HELP) {
            s_help (cmd);
            return HD_CLI_EXIT_OK;
        }
        if (c == '?' || c == ':')
            return hd_cli_bad_option (cmd, c, argv);
        if (hd_cli_common_option (common, cmd, c, optarg) != HD_CLI_OPT_TAKEN)
            return HD_CLI_EXIT_USAGE;
    }
    if (optind >= argc || !*argv[optind])
        return hd_cli_usage (cmd, "which node? (heddle %s NODE)", cmd);
    if (argc - optind > 1)
        return hd_cli_usage (cmd, "one node at a time, not '%s'", argv[optind + 1]);
    *node = argv[optind];
    return -1;
}

static int
s_admin (hd_cli_common_t *common, const char *cmd, int argc, char **argv)
{
    const char *node = NULL;
    int code = s_parse (common, cmd, argc, argv, &node);
    if (code >= 0)
        return code;
    common->prefer_admin = true;
    hd_cli_common_finish (common);
    if (!common->broker)
        return hd_cli_usage (cmd,
                             "which broker? (--broker HOST or $HEDDLE_BROKER: an embedded "
                             "cluster has no node to %s)",
                             cmd);
    hd_cli_conn_t conn;
    if ((code = hd_cli_connect (common, 0, &conn)) != HD_CLI_EXIT_OK)
        return code;
    hd_err_t rc = hd_client_admin (conn.client, cmd, node);
    if (rc == HD_OK)
        printf ("%s: %s\n", node,
                strcmp (cmd, "drain") == 0 ? "draining (no new tasks; running ones finish)"
                                           : "resumed (takes tasks again)");
    else if (rc == HD_EDENIED)
        code = hd_cli_fail ("%s; use an admin key: --keys DIR holding admin.cert_secret, or "
                            "--cert FILE",
                            hd_client_last_error (conn.client));
    else
        code = hd_cli_fail ("%s", hd_client_last_error (conn.client));
    hd_cli_disconnect (&conn);
    return code;
}

int
hd_cmd_drain (hd_cli_common_t *common, int argc, char **argv)
{
    return s_admin (common, "drain", argc, argv);
}

int
hd_cmd_resume (hd_cli_common_t *common, int argc, char **argv)
{
    return s_admin (common, "resume", argc, argv);
}
