/*  cmd_nodes: `heddle nodes`: ask the broker for its nodes and print them sorted by name, as a
    table (nodetable.h) or as JSON. Live figures (CPU, memory, temperature, score) come from
    each node's capacity metrics; a node without them yet shows "-".  */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "nodetable.h"

#define S_CMD "nodes"
#define S_DEFAULT_WAIT_MS 60000

typedef struct {
    bool json;
    uint32_t wait;  //  --wait N: nodes to wait for before listing (0: none)
    uint32_t wait_ms;
} s_args_t;

// clang-format off
static const hd_opt_t s_opts[] = {
    { .name = "Options:", .kind = HD_OPTS_HEADING },
    { .name = "json", .kind = HD_OPTS_FLAG,
      .help = "print a JSON array instead of a table (absent figures are left out; default: "
              "table)", .offset = offsetof (s_args_t, json) },
    { .name = "wait", .kind = HD_OPTS_UINT, .meta = "N", .min = 0, .max = 100000,
      .help = "first wait until N nodes have joined (for scripts that start workers, then "
              "submit; 0: list at once)", .offset = offsetof (s_args_t, wait) },
    { .name = "wait-timeout", .kind = HD_OPTS_UINT, .meta = "MS", .unit = HD_OPTS_MS, .min = 1,
      .max = 86400000, .help = "how long --wait may take", .offset = offsetof (s_args_t, wait_ms) },
    HD_CLI_HELP_OPT,
    HD_OPTS_END,
};
// clang-format on

static const hd_opts_prog_t s_prog = {
    .name = "heddle nodes",
    .usage = "heddle nodes [OPTIONS]\n"
             "       heddle nodes pending | approve ID | reject ID   (worker enrollment; --help)\n"
             "       heddle nodes revoke KEY|NAME                    (a stolen board; --help)",
    .summary = "List the nodes of the cluster: name, state (idle, busy, draining, stale, hot), "
               "architecture, cores, slots (busy/total), the capacity the scheduler uses now, "
               "CPU busy share, memory (available/total), temperature, benchmark score, tasks "
               "done and failed, and tags. A figure the broker has no metrics for shows '-'.",
    .epilog = "Exit status: 0 listed; 1 the broker could not be asked, or fewer than --wait "
              "nodes joined in time; 2 bad usage.\n",
    .words = "pending approve reject revoke",
    .opts = s_opts,
};

//  Parse argv into common and *a. Returns -1 to go on, else an exit code.
static int
s_parse (hd_cli_common_t *common, int argc, char **argv, s_args_t *a)
{
    const s_args_t defaults = { .wait_ms = S_DEFAULT_WAIT_MS };
    int first;
    int code = hd_cli_parse (common, &s_prog, a, &defaults, 0, argc, argv, &first);
    if (code >= 0)
        return code;
    if (first < argc)
        return hd_cli_usage (S_CMD, "unexpected argument '%s'", argv[first]);
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
    if (hd_cli_doc_mode == HD_CLI_DOC_MAN && argc == 2) {  //  the man page: the actions too
        int code = 0;
        const char *actions[] = { "nodes", "pending", "approve", "reject", "revoke" };
        for (size_t i = 0; i < 5 && code == 0; i++) {
            char *args[] = { (char *) actions[i], argv[1], NULL };
            code = i ? hd_cmd_nodes_enroll (common, 2, args) : 0;
        }
        if (code != 0)
            return code;
    }
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
