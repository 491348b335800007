/*  cmd_nodes: `heddle nodes`: ask the broker for its nodes and print them sorted by name, as a
    table (nodetable.h) or as JSON. Live figures (CPU, memory, temperature, score) come from
    each node's capacity metrics; a node without them yet shows "-".  */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "nodetable.h"

#define S_CMD "nodes"
#define S_DEFAULT_WAIT_MS 60000

enum { S_OPT_HELP = 'h', S_OPT_JSON = HD_OPT_COMMAND_, S_OPT_WAIT, S_OPT_WAIT_TIMEOUT };

typedef struct {
    bool json;
    uint32_t wait;  //  --wait N: nodes to wait for before listing (0: none)
    uint32_t wait_ms;
} s_args_t;

static void
s_help (void)
{
    printf ("Usage: heddle nodes [OPTIONS]\n"
            "       heddle nodes pending | approve ID | reject ID   (worker enrollment; --help)\n"
            "       heddle nodes revoke KEY|NAME                    (a stolen board; --help)\n"
            "List the nodes of the cluster: name, state (idle, busy, draining, stale, hot),\n"
            "architecture, cores, slots (busy/total), the capacity the scheduler uses now,\n"
            "CPU busy share, memory (available/total), temperature, benchmark score, tasks\n"
            "done and failed, and tags. A figure the broker has no metrics for shows '-'.\n\n"
            "Options:\n"
            "      --json              print a JSON array instead of a table (absent figures\n"
            "                          are left out; default: table)\n"
            "      --wait N            first wait until N nodes have joined (for scripts that\n"
            "                          start workers, then submit; default 0: list at once)\n"
            "      --wait-timeout MS   how long --wait may take (default %u)\n"
            "  -h, --help              show this help and exit\n",
            S_DEFAULT_WAIT_MS);
    hd_cli_connect_help (stdout);
    printf ("\nExit status: 0 listed; 1 the broker could not be asked, or fewer than --wait\n"
            "nodes joined in time; 2 bad usage.\n");
}

static int
s_option (hd_cli_common_t *common, s_args_t *a, int c, const char *arg)
{
    switch (c) {
    case S_OPT_JSON:
        a->json = true;
        return -1;
    case S_OPT_WAIT:
        if (hd_cli_parse_u32 (arg, 0, 100000, &a->wait) != 0)
            return hd_cli_usage (S_CMD, "--wait wants a node count from 0 to 100000, not '%s'",
                                 arg);
        return -1;
    case S_OPT_WAIT_TIMEOUT:
        if (hd_cli_parse_u32 (arg, 1, 86400000, &a->wait_ms) != 0)
            return hd_cli_usage (S_CMD, "--wait-timeout wants ms from 1 to 86400000, not '%s'",
                                 arg);
        return -1;
    default:
        return hd_cli_common_option (common, S_CMD, c, arg) == HD_CLI_OPT_TAKEN
                   ? -1
                   : HD_CLI_EXIT_USAGE;
    }
}

//  Parse argv into common and *a. Returns -1 to go on, else an exit code.
static int
s_parse (hd_cli_common_t *common, int argc, char **argv, s_args_t *a)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, S_OPT_HELP },
        { "json", no_argument, NULL, S_OPT_JSON },
        { "wait", required_argument, NULL, S_OPT_WAIT },
        { "wait-timeout", required_argument, NULL, S_OPT_WAIT_TIMEOUT },
        HD_CLI_CONNECT_OPTIONS,
        { NULL, 0, NULL, 0 },
    };
    hd_cli_getopt_reset ();
    int c, code;
    while ((c = getopt_long (argc, argv, ":h" HD_CLI_CONNECT_SHORT, longopts, NULL)) != -1) {
        if (c == S_OPT_HELP) {
            s_help ();
            return HD_CLI_EXIT_OK;
        }
        if (c == '?' || c == ':')
            return hd_cli_bad_option (S_CMD, c, argv);
        if ((code = s_option (common, a, c, optarg)) >= 0)
            return code;
    }
    if (optind < argc)
        return hd_cli_usage (S_CMD, "unexpected argument '%s'", argv[optind]);
    return -1;
}

//  The enrollment action word anywhere after `nodes` (options may come before it), or 0.
static int
s_find_action (int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp (argv[i], "pending") || !strcmp (argv[i], "approve")
            || !strcmp (argv[i], "reject") || !strcmp (argv[i], "revoke"))
            return i;
    return 0;
}

//  Hand `nodes [OPTS] ACTION [ARGS]` to the enrollment command as `ACTION [OPTS] [ARGS]`.
static int
s_enroll (hd_cli_common_t *common, int argc, char **argv, int at)
{
    char *args[65];
    if (argc > 64)
        return hd_cli_usage (S_CMD, "too many arguments");
    args[0] = argv[at];
    for (int i = 1, k = 1; i < argc; i++)
        if (i != at)
            args[k++] = argv[i];
    args[argc - 1] = NULL;  //  `nodes` itself is gone: the action took its place
    return hd_cmd_nodes_enroll (common, argc - 1, args);
}

int
hd_cmd_nodes (hd_cli_common_t *common, int argc, char **argv)
{
    int at = s_find_action (argc, argv);
    if (at)
        return s_enroll (common, argc, argv, at);
    s_args_t a = { .wait_ms = S_DEFAULT_WAIT_MS };
    int code = s_parse (common, argc, argv, &a);
    if (code >= 0)
        return code;
    hd_cli_common_finish (common);
    //  No broker from flags, environment or config file: the nodes listed are those of an
    //  embedded cluster started for this command alone. Listing them silently looked like a
    //  cluster configured somewhere (issue 12); they are listed, but said to be that.
    if (!common->broker)
        fprintf (stderr, "heddle nodes: no cluster configured (no --broker, $HEDDLE_BROKER or "
                         "[client] broker in the config file): these are the nodes of an embedded "
                         "cluster started for this command, gone when it ends\n");
    hd_cli_conn_t conn;
    code = hd_cli_connect (common, 0, &conn);
    if (code != HD_CLI_EXIT_OK)
        return code;
    hd_node_info_t *nodes = NULL;
    uint32_t count = 0;
    hd_err_t rc = a.wait ? hd_client_wait_nodes (conn.client, a.wait, a.wait_ms) : HD_OK;
    if (rc != HD_OK)
        code = hd_cli_fail ("waiting for %u node%s: %s", a.wait, a.wait == 1 ? "" : "s",
                            hd_client_last_error (conn.client));
    else if ((rc = hd_client_nodes (conn.client, &nodes, &count)) != HD_OK)
        code = hd_cli_fail ("listing nodes: %s", hd_client_last_error (conn.client));
    else {
        hd_cli_nodes_sort (nodes, count);
        if (a.json)
            hd_cli_nodes_json (stdout, nodes, count);
        else
            hd_cli_nodes_table_fit (stdout, nodes, count, hd_cli_term_width (STDOUT_FILENO));
    }
    free (nodes);
    hd_cli_disconnect (&conn);
    return code;
}
