/*  cmd_run: `heddle run [--all | --nodes a,b | --tag t] -- CMD ARGS...`: run one command on
    each chosen node through the opt-in `exec` function (one task pinned to each node by name),
    then print the outputs grouped by node, each under a "== NODE (outcome)" line. A node whose
    worker does not offer exec is reported as refused, with how to enable it.  */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "hd_proto.h"
#include "interrupt.h"
#include "nodetable.h"

#define S_CMD "run"
#define S_DEFAULT_TIMEOUT_MS 30000
#define S_MAX_TIMEOUT_MS 86400000u
#define S_GRACE_MS 5000  //  past the command's deadline, for the worker's TIMEOUT to come back
#define S_MAX_TARGETS 4096

typedef struct {
    bool all;
    const char *nodes;  //  --nodes a,b
    const char *tag;    //  --tag t
    uint32_t timeout_ms;
    char **argv;  //  the command and its arguments
    int argc;
} s_args_t;

typedef struct {
    char name[64];
    char state[16];
    bool known;  //  the broker lists it
    bool submitted;
    uint8_t id[16];
    hd_reply_t *reply;  //  NULL: none in time
} s_target_t;

#define S_OFF(field) offsetof (s_args_t, field)

// clang-format off
static const hd_opt_t s_opts[] = {
    { .name = "Options:", .kind = HD_OPTS_HEADING },
    { .name = "all", .kind = HD_OPTS_FLAG, .help = "every node of the cluster",
      .offset = S_OFF (all) },
    { .name = "nodes", .kind = HD_OPTS_STRING, .meta = "A,B", .help = "these nodes, by name",
      .offset = S_OFF (nodes) },
    { .name = "tag", .kind = HD_OPTS_STRING, .meta = "T", .help = "the nodes that have tag T",
      .offset = S_OFF (tag) },
    { .name = "timeout", .kind = HD_OPTS_UINT, .meta = "MS", .unit = HD_OPTS_MS, .min = 1,
      .max = S_MAX_TIMEOUT_MS, .help = "the command's deadline on each node",
      .offset = S_OFF (timeout_ms) },
    HD_CLI_HELP_OPT,
    HD_OPTS_END,
};
// clang-format on

static const hd_opts_prog_t s_prog = {
    .name = "heddle run",
    .usage = "heddle run [OPTIONS] (--all | --nodes A,B | --tag T) -- CMD [ARGS...]",
    .summary = "Run CMD with ARGS on each chosen node (no shell: use 'sh -c \"...\"' for one) "
               "and print what it wrote, grouped by node under a line '== NODE (exit 0)', or "
               "'== NODE (failed: exit status N)', or '== NODE (refused: why)'. Commands run "
               "through the 'exec' function, which a worker offers only when started with "
               "--allow-exec. Uses KEYS/admin.cert_secret when it exists.",
    .epilog = "Exit status: 0 the command succeeded on every chosen node; 1 it failed, timed out "
              "or was refused on some node, or no node matched; 2 bad usage; 130 interrupted "
              "(Ctrl-C cancels the commands still running and prints what came back).\n",
    .opts = s_opts,
};

//  Parse argv into common and *a. Returns -1 to go on, else an exit code.
static int
s_parse (hd_cli_common_t *common, int argc, char **argv, s_args_t *a)
{
    const s_args_t defaults = { .timeout_ms = S_DEFAULT_TIMEOUT_MS };
    int first;
    //  In order: stop at the command, so its own options are not taken for ours.
    int code = hd_cli_parse (common, &s_prog, a, &defaults, HD_OPTS_IN_ORDER, argc, argv, &first);
    if (code >= 0)
        return code;
    if ((a->all ? 1 : 0) + (a->nodes ? 1 : 0) + (a->tag ? 1 : 0) != 1)
        return hd_cli_usage (S_CMD, "choose the nodes with one of --all, --nodes A,B or --tag T");
    if (first >= argc || !*argv[first])
        return hd_cli_usage (S_CMD, "which command? (heddle run --all -- CMD [ARGS...])");
    a->argv = argv + first;
    a->argc = argc - first;
    return -1;
}

static bool
s_has_tag (const char *tags, const char *tag)
{
    size_t len = strlen (tag);
    for (const char *p = tags; *p;) {
        const char *end = strchr (p, ',');
        size_t n = end ? (size_t) (end - p) : strlen (p);
        if (n == len && strncmp (p, tag, len) == 0)
            return true;
        p += n + (end ? 1 : 0);
    }
    return false;
}

static s_target_t *
s_add_target (s_target_t *targets, uint32_t *count, const char *name)
{
    for (uint32_t i = 0; i < *count; i++)
        if (strcmp (targets[i].name, name) == 0)
            return NULL;  //  named twice: run once
    if (*count == S_MAX_TARGETS)
        return NULL;
    s_target_t *t = &targets[(*count)++];
    snprintf (t->name, sizeof t->name, "%s", name);
    return t;
}

static const hd_node_info_t *
s_find_node (const hd_node_info_t *nodes, uint32_t count, const char *name)
{
    for (uint32_t i = 0; i < count; i++)
        if (strcmp (nodes[i].name, name) == 0)
            return &nodes[i];
    return NULL;
}

//  The chosen nodes, in the order named (--nodes) or by name (--all, --tag).
static void
s_select (const s_args_t *a, const hd_node_info_t *nodes, uint32_t n, s_target_t *targets,
          uint32_t *count)
{
    char list[4096];
    snprintf (list, sizeof list, "%s", a->nodes ? a->nodes : "");
    for (char *save = NULL, *name = strtok_r (list, ",", &save); a->nodes && name;
         name = strtok_r (NULL, ",", &save))
        s_add_target (targets, count, name);
    for (uint32_t i = 0; !a->nodes && i < n; i++)  //  --all and --tag: nodes that are up
        if (strcmp (nodes[i].state, "down") != 0 && strcmp (nodes[i].state, "conflict") != 0
            && (a->all || s_has_tag (nodes[i].tags, a->tag)))
            s_add_target (targets, count, nodes[i].name);
    for (uint32_t i = 0; i < *count; i++) {
        const hd_node_info_t *node = s_find_node (nodes, n, targets[i].name);
        targets[i].known = node != NULL;
        if (node)
            snprintf (targets[i].state, sizeof targets[i].state, "%s", node->state);
    }
}

//  Ask the broker for its nodes and fill targets. HD_CLI_EXIT_OK or an exit code after a message.
static int
s_choose (hd_client_t *client, const s_args_t *a, s_target_t *targets, uint32_t *count)
{
    hd_node_info_t *nodes = NULL;
    uint32_t n = 0;
    if (hd_client_nodes (client, &nodes, &n) != HD_OK)
        return hd_cli_fail ("run: listing nodes: %s", hd_client_last_error (client));
    hd_cli_nodes_sort (nodes, n);
    s_select (a, nodes, n, targets, count);
    free (nodes);
    if (*count == 0)
        return hd_cli_fail ("run: no node %s%s", a->tag ? "has the tag " : "in the cluster",
                            a->tag ? a->tag : "");
    return HD_CLI_EXIT_OK;
}

//  The command as exec's input: its words separated by NUL bytes.
static int
s_input (const s_args_t *a, hd_buf_t *input)
{
    for (int i = 0; i < a->argc; i++)
        if (hd_buf_append (input, a->argv[i], strlen (a->argv[i]) + (i + 1 < a->argc ? 1 : 0)) !=
            HD_OK)
            return hd_cli_fail ("out of memory");
    return HD_CLI_EXIT_OK;
}

static int
s_submit (hd_client_t *client, const hd_cli_common_t *common, const s_args_t *a,
          const hd_buf_t *input, s_target_t *targets, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        //  A draining or down node takes no task: the command would only wait for its timeout.
        if (!targets[i].known || strcmp (targets[i].state, "draining") == 0
            || strcmp (targets[i].state, "down") == 0)
            continue;
        hd_task_opts_t opts = common->task;
        opts.node = targets[i].name;
        opts.timeout_ms = a->timeout_ms;
        if (hd_client_submit (client, "exec", input->data, input->size, &opts, i, targets[i].id) !=
            HD_OK)
            return hd_cli_fail ("run: submitting to %s: %s", targets[i].name,
                                hd_client_last_error (client));
        targets[i].submitted = true;
    }
    if (hd_client_flush (client) != HD_OK)
        return hd_cli_fail ("run: %s", hd_client_last_error (client));
    return HD_CLI_EXIT_OK;
}

//  Collect the replies until each submitted task has one or the deadline passes; cancel the
//  tasks still out then. Counts the replies missing, not hd_client_in_flight: results that came
//  in one message wait in the library's queue, answered but not yet taken (counting in-flight
//  tasks stopped at the first of them and reported the others as timed out at once). An error
//  that ends the wait early is kept in *error, so no node is said to have timed out when none did.
static void
s_gather (hd_client_t *client, const s_args_t *a, s_target_t *targets, uint32_t count,
          char *error, size_t len)
{
    uint32_t missing = 0;
    for (uint32_t i = 0; i < count; i++)
        missing += targets[i].submitted;
    double deadline = hd_cli_now () + (a->timeout_ms + S_GRACE_MS) / 1000.0;
    while (missing > 0 && !hd_cli_interrupted) {
        int left = (int) ((deadline - hd_cli_now ()) * 1000.0);
        hd_reply_t *reply = NULL;
        //  At most 100 ms at a time, so that Ctrl-C is seen.
        hd_err_t rc = left > 0 ? hd_client_next (client, left < 100 ? left : 100, &reply)
                               : HD_ETIMEDOUT;
        if (rc == HD_ETIMEDOUT && left > 100)
            continue;
        if (rc != HD_OK) {
            if (rc != HD_ETIMEDOUT)
                snprintf (error, len, "%s", rc == HD_ENOTFOUND ? "the client lost track of it"
                                                              : hd_client_last_error (client));
            break;
        }
        if (reply->seq < count && targets[reply->seq].submitted && !targets[reply->seq].reply) {
            targets[reply->seq].reply = reply;
            missing--;
        }
        else
            hd_reply_destroy (&reply);
    }
    for (uint32_t i = 0; i < count; i++)
        if (targets[i].submitted && !targets[i].reply)
            hd_client_cancel (client, targets[i].id);
}

//  The "(...)" of a node's header line. true when the command succeeded there.
static bool
s_outcome (const s_target_t *t, const s_args_t *a, const char *error, char *out, size_t len)
{
    const hd_reply_t *r = t->reply;
    if (!t->known)
        snprintf (out, len, "refused: no such node");
    else if (!t->submitted && strcmp (t->state, "down") == 0)
        snprintf (out, len, "refused: the node is down");
    else if (!t->submitted)
        snprintf (out, len, "refused: the node is draining (heddle resume %s)", t->name);
    else if (!r && hd_cli_interrupted)
        snprintf (out, len, "cancelled: interrupted");
    else if (!r && *error)
        snprintf (out, len, "failed: no result: %s", error);
    else if (!r)
        snprintf (out, len, "failed: no result within %u ms", a->timeout_ms + S_GRACE_MS);
    else if (r->status == HD_ST_OK)
        snprintf (out, len, "exit 0");
    else if (r->status == HD_ST_UNKNOWN_FN || r->status == HD_ST_UNSATISFIABLE)
        snprintf (out, len,
                  "refused: exec is not enabled on this node (start heddle-worker "
                  "with --allow-exec)");
    else if (r->status == HD_ST_DENIED)
        snprintf (out, len, "refused: %s", *r->error ? r->error : hd_status_str (r->status));
    else if (r->status == HD_ST_FAILED && *r->error)
        snprintf (out, len, "failed: %s", r->error);
    else
        snprintf (out, len, "failed: %s%s%s", hd_status_str (r->status), *r->error ? ": " : "",
                  r->error);
    return r && r->status == HD_ST_OK;
}

//  Print every node's outcome and output. Returns how many did not succeed.
static uint32_t
s_print (const s_target_t *targets, uint32_t count, const s_args_t *a, const char *error)
{
    uint32_t bad = 0;
    for (uint32_t i = 0; i < count; i++) {
        char outcome[1200];
        if (!s_outcome (&targets[i], a, error, outcome, sizeof outcome))
            bad++;
        printf ("== %s (%s)\n", targets[i].name, outcome);
        const hd_reply_t *r = targets[i].reply;
        if (r && r->size) {
            fwrite (r->data, 1, r->size, stdout);
            if (((const char *) r->data)[r->size - 1] != '\n')
                putchar ('\n');
        }
    }
    fflush (stdout);
    return bad;
}

static int
s_run (hd_client_t *client, const hd_cli_common_t *common, const s_args_t *a)
{
    s_target_t *targets = calloc (S_MAX_TARGETS, sizeof *targets);
    hd_buf_t input;
    hd_buf_init (&input);
    uint32_t count = 0;
    int code = targets ? s_input (a, &input) : hd_cli_fail ("out of memory");
    if (code == HD_CLI_EXIT_OK)
        code = s_choose (client, a, targets, &count);
    if (code == HD_CLI_EXIT_OK)
        code = s_submit (client, common, a, &input, targets, count);
    if (code == HD_CLI_EXIT_OK) {
        char error[600] = "";
        s_gather (client, a, targets, count, error, sizeof error);
        uint32_t bad = s_print (targets, count, a, error);
        if (hd_cli_interrupted)
            code = hd_cli_interrupt_code ();
        else if (bad)
            code = hd_cli_fail ("run: the command did not succeed on %u of %u node%s", bad, count,
                                count == 1 ? "" : "s");
    }
    for (uint32_t i = 0; targets && i < count; i++)
        hd_reply_destroy (&targets[i].reply);
    free (targets);
    hd_buf_fini (&input);
    return code;
}

int
hd_cmd_run (hd_cli_common_t *common, int argc, char **argv)
{
    s_args_t a = { .timeout_ms = S_DEFAULT_TIMEOUT_MS };
    int code = s_parse (common, argc, argv, &a);
    if (code >= 0)
        return code;
    common->prefer_admin = true;
    hd_cli_common_finish (common);
    if (!common->broker)
        return hd_cli_usage (S_CMD, "which broker? (--broker HOST or $HEDDLE_BROKER: the "
                                    "embedded cluster does not run commands)");
    hd_cli_conn_t conn;
    if ((code = hd_cli_connect (common, 0, &conn)) != HD_CLI_EXIT_OK)
        return code;
    code = s_run (conn.client, common, &a);
    hd_cli_disconnect (&conn);
    return code;
}
