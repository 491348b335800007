/*  cmd_admin: `heddle drain NODE` and `heddle resume NODE`: the ADMIN operations. A draining
    node gets no new task and finishes the ones it runs; resume gives it work again. Both need
    an admin key: KEYS/admin.cert_secret is used when it exists (or --cert FILE).  */
#include <string.h>

#include "commands.h"

// clang-format off
static const hd_opt_t s_opts[] = { { .name = "Options:", .kind = HD_OPTS_HEADING }, HD_CLI_HELP_OPT,
                                   HD_OPTS_END };
// clang-format on

#define S_NEEDS_ADMIN                                                                          \
    "Needs an admin key: KEYS/admin.cert_secret is used when it exists (its public key is in "  \
    "the broker's admins.keys), else the client key, which the broker refuses."
#define S_EXIT                                                                                 \
    "Exit status: 0 done; 1 refused (not an admin key, no such node) or the broker could not "  \
    "be asked; 2 bad usage.\n"

static const hd_opts_prog_t s_drain = {
    .name = "heddle drain",
    .usage = "heddle drain [OPTIONS] NODE",
    .summary = "Drain NODE for maintenance: the broker sends it no new task; the tasks it runs "
               "finish and their results are delivered. The node stays in 'heddle nodes' with "
               "state 'draining' until 'heddle resume NODE' (or until its worker restarts). "
               S_NEEDS_ADMIN,
    .epilog = S_EXIT,
    .opts = s_opts,
};

static const hd_opts_prog_t s_resume = {
    .name = "heddle resume",
    .usage = "heddle resume [OPTIONS] NODE",
    .summary = "Resume NODE after 'heddle drain': the broker sends it tasks again. " S_NEEDS_ADMIN,
    .epilog = S_EXIT,
    .opts = s_opts,
};

//  Parse argv into common and *node. Returns -1 to go on, else an exit code.
static int
s_parse (hd_cli_common_t *common, const char *cmd, int argc, char **argv, const char **node)
{
    int first;
    int code = hd_cli_parse (common, strcmp (cmd, "drain") == 0 ? &s_drain : &s_resume, NULL,
                             NULL, 0, argc, argv, &first);
    if (code >= 0)
        return code;
    if (first >= argc || !*argv[first])
        return hd_cli_usage (cmd, "which node? (heddle %s NODE)", cmd);
    if (argc - first > 1)
        return hd_cli_usage (cmd, "one node at a time, not '%s'", argv[first + 1]);
    *node = argv[first];
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
