/*  cmd_functions: `heddle functions`: the functions the cluster offers, like `gearadmin
    --status` for Gearman: for each, how many nodes offer it (and which), its tasks queued and
    running now, the results since the broker started and their mean run time. Sorted by name;
    a table or JSON.  */
#include <stdlib.h>
#include <string.h>

#include "commands.h"

#define S_CMD "functions"

// clang-format off
static const hd_opt_t s_opts[] = {
    { .name = "Options:", .kind = HD_OPTS_HEADING },
    { .name = "json", .kind = HD_OPTS_FLAG, .help = "print a JSON array instead of a table",
      .offset = 0 },  //  target: the bool
    HD_CLI_HELP_OPT,
    HD_OPTS_END,
};
// clang-format on

static const hd_opts_prog_t s_prog = {
    .name = "heddle functions",
    .usage = "heddle functions [OPTIONS]",
    .summary = "List the functions the cluster offers: for each, the nodes that offer it now, "
               "its tasks queued (waiting for a worker or a free slot) and running, the results "
               "since the broker started and their mean run time on the workers. A function no "
               "node offers now is listed while it has tasks, or when some node offered it "
               "before.",
    .epilog = "Exit status: 0 listed; 1 the broker could not be asked; 2 bad usage.\n",
    .opts = s_opts,
};

static int
s_parse (hd_cli_common_t *common, int argc, char **argv, bool *json)
{
    int first;
    int code = hd_cli_parse (common, &s_prog, json, NULL, 0, argc, argv, &first);
    if (code >= 0)
        return code;
    if (first < argc)
        return hd_cli_usage (S_CMD, "unexpected argument '%s'", argv[first]);
    return -1;
}

static int
s_by_name (const void *a, const void *b)
{
    return strcmp (((const hd_function_info_t *) a)->name, ((const hd_function_info_t *) b)->name);
}

static void
s_table (const hd_function_info_t *fns, uint32_t count)
{
    printf ("%-20s %5s %8s %8s %10s %9s  %s\n", "FUNCTION", "NODES", "QUEUED", "RUNNING", "DONE",
            "MEAN MS", "OFFERED BY");
    for (uint32_t i = 0; i < count; i++) {
        const hd_function_info_t *f = &fns[i];
        char mean[32] = "-";
        if (f->done)
            snprintf (mean, sizeof mean, "%.1f", f->mean_ms);
        printf ("%-20s %5u %8u %8u %10llu %9s  %s%s\n", f->name, f->nodes, f->queued, f->running,
                (unsigned long long) f->done, mean, f->nodes ? f->names : "-",
                f->nodes > 16 ? ",..." : "");
    }
    if (!count)
        printf ("(no function: no worker has joined yet)\n");
}

static void
s_json (const hd_function_info_t *fns, uint32_t count)
{
    printf ("[");
    for (uint32_t i = 0; i < count; i++) {
        const hd_function_info_t *f = &fns[i];
        printf ("%s\n  {\"name\": ", i ? "," : "");
        hd_cli_json_string (stdout, f->name);
        printf (", \"nodes\": %u, \"offered_by\": [", f->nodes);
        char names[sizeof f->names];
        snprintf (names, sizeof names, "%s", f->names);
        char *save = NULL;
        int k = 0;
        for (char *n = strtok_r (names, ",", &save); n; n = strtok_r (NULL, ",", &save)) {
            printf ("%s", k++ ? ", " : "");
            hd_cli_json_string (stdout, n);
        }
        printf ("], \"queued\": %u, \"running\": %u, \"done\": %llu, \"mean_ms\": %.3f}",
                f->queued, f->running, (unsigned long long) f->done, f->mean_ms);
    }
    printf ("%s]\n", count ? "\n" : "");
}

int
hd_cmd_functions (hd_cli_common_t *common, int argc, char **argv)
{
    bool json = false;
    int code = s_parse (common, argc, argv, &json);
    if (code >= 0)
        return code;
    hd_cli_common_finish (common);
    hd_cli_conn_t conn;
    if ((code = hd_cli_connect (common, 0, &conn)) != HD_CLI_EXIT_OK)
        return code;
    hd_function_info_t *fns = NULL;
    uint32_t count = 0;
    if (hd_client_functions (conn.client, &fns, &count) != HD_OK)
        code = hd_cli_fail ("listing functions: %s", hd_client_last_error (conn.client));
    else {
        qsort (fns, count, sizeof *fns, s_by_name);
        if (json)
            s_json (fns, count);
        else
            s_table (fns, count);
    }
    free (fns);
    hd_cli_disconnect (&conn);
    return code;
}
