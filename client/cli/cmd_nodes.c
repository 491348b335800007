/*  cmd_nodes: `heddle nodes`: ask the broker for its nodes and print them as a table sorted by
    name (or as JSON). Column widths follow the data so long node names stay aligned.  */
#include <stdlib.h>
#include <string.h>

#include "commands.h"

#define S_CMD "nodes"

enum { S_OPT_HELP = 'h', S_OPT_JSON = HD_OPT_COMMAND_ };

static void
s_help (void)
{
    printf ("Usage: heddle nodes [OPTIONS]\n"
            "List the nodes of the cluster: name, state, architecture, cores, slots (busy/total),\n"
            "capacity score, tasks done and failed.\n\n"
            "Options:\n"
            "      --json              print a JSON array instead of a table\n"
            "  -h, --help              show this help and exit\n");
    hd_cli_connect_help (stdout);
    printf ("\nExit status: 0 listed; 1 the broker could not be asked; 2 bad usage.\n");
}

//  Parse argv into common and *json. Returns -1 to go on, else an exit code.
static int
s_parse (hd_cli_common_t *common, int argc, char **argv, bool *json)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, S_OPT_HELP },
        { "json", no_argument, NULL, S_OPT_JSON },
        HD_CLI_CONNECT_OPTIONS,
        { NULL, 0, NULL, 0 },
    };
    hd_cli_getopt_reset ();
    int c;
    while ((c = getopt_long (argc, argv, ":h" HD_CLI_CONNECT_SHORT, longopts, NULL)) != -1) {
        if (c == S_OPT_HELP) {
            s_help ();
            return HD_CLI_EXIT_OK;
        }
        if (c == S_OPT_JSON)
            *json = true;
        else if (c == '?' || c == ':')
            return hd_cli_bad_option (S_CMD, c, argv);
        else if (hd_cli_common_option (common, S_CMD, c, optarg) != HD_CLI_OPT_TAKEN)
            return HD_CLI_EXIT_USAGE;
    }
    if (optind < argc)
        return hd_cli_usage (S_CMD, "unexpected argument '%s'", argv[optind]);
    return -1;
}

static int
s_by_name (const void *a, const void *b)
{
    return strcmp (((const hd_node_info_t *) a)->name, ((const hd_node_info_t *) b)->name);
}

static int
s_max (int a, int b)
{
    return a > b ? a : b;
}

static void
s_print_table (const hd_node_info_t *nodes, uint32_t count)
{
    int wname = 4, wstate = 5, warch = 4;
    for (uint32_t i = 0; i < count; i++) {
        wname = s_max (wname, (int) strnlen (nodes[i].name, sizeof nodes[i].name));
        wstate = s_max (wstate, (int) strnlen (nodes[i].state, sizeof nodes[i].state));
        warch = s_max (warch, (int) strnlen (nodes[i].arch, sizeof nodes[i].arch));
    }
    printf ("%-*s  %-*s  %-*s  %5s  %11s  %8s  %10s  %8s\n", wname, "NODE", wstate, "STATE", warch,
            "ARCH", "CORES", "SLOTS", "CAPACITY", "DONE", "FAILED");
    for (uint32_t i = 0; i < count; i++) {
        const hd_node_info_t *n = &nodes[i];
        char slots[32];
        snprintf (slots, sizeof slots, "%u/%u", n->busy, n->slots);
        printf ("%-*.*s  %-*.*s  %-*.*s  %5u  %11s  %8.1f  %10llu  %8llu\n", wname,
                (int) sizeof n->name, n->name, wstate, (int) sizeof n->state, n->state, warch,
                (int) sizeof n->arch, n->arch, n->cores, slots, n->capacity,
                (unsigned long long) n->done, (unsigned long long) n->failed);
    }
}

static void
s_print_json (const hd_node_info_t *nodes, uint32_t count)
{
    putchar ('[');
    for (uint32_t i = 0; i < count; i++) {
        const hd_node_info_t *n = &nodes[i];
        printf ("%s\n  {\"name\": ", i ? "," : "");
        hd_cli_json_string (stdout, n->name);
        printf (", \"state\": ");
        hd_cli_json_string (stdout, n->state);
        printf (", \"arch\": ");
        hd_cli_json_string (stdout, n->arch);
        printf (", \"cores\": %u, \"slots\": %u, \"busy\": %u, \"capacity\": %.3f, \"done\": %llu, "
                "\"failed\": %llu}",
                n->cores, n->slots, n->busy, n->capacity, (unsigned long long) n->done,
                (unsigned long long) n->failed);
    }
    printf ("%s]\n", count ? "\n" : "");
}

int
hd_cmd_nodes (hd_cli_common_t *common, int argc, char **argv)
{
    bool json = false;
    int code = s_parse (common, argc, argv, &json);
    if (code >= 0)
        return code;
    hd_cli_common_finish (common);
    hd_cli_conn_t conn;
    code = hd_cli_connect (common, 0, &conn);
    if (code != HD_CLI_EXIT_OK)
        return code;
    hd_node_info_t *nodes = NULL;
    uint32_t count = 0;
    hd_err_t rc = hd_client_nodes (conn.client, &nodes, &count);
    if (rc != HD_OK)
        code = hd_cli_fail ("listing nodes: %s", hd_client_last_error (conn.client));
    else {
        if (count > 1)
            qsort (nodes, count, sizeof nodes[0], s_by_name);
        if (json)
            s_print_json (nodes, count);
        else
            s_print_table (nodes, count);
    }
    free (nodes);
    hd_cli_disconnect (&conn);
    return code;
}
