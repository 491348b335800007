/*  heddle: the command-line tool. main reads the shared options that may come before the command
    word (`heddle --broker pi1 nodes`), then hands the rest of argv to the command. It knows the
    list of commands and nothing of what they do.  */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "hd_proto.h"
#include "interrupt.h"

typedef int (s_command_fn) (hd_cli_common_t *common, int argc, char **argv);

typedef struct {
    const char *name;
    s_command_fn *run;
    const char *summary;
} s_command_t;

static int s_cmd_help (hd_cli_common_t *common, int argc, char **argv);
static int s_cmd_version (hd_cli_common_t *common, int argc, char **argv);

static const s_command_t s_commands[] = {
    { "call", hd_cmd_call, "run one task and print its output" },
    { "map", hd_cmd_map, "run one task per line (or chunk) of an input, print the results" },
    { "submit", hd_cmd_submit, "map as a detached job: print its id and return" },
    { "jobs", hd_cmd_jobs, "list your detached jobs: state, done/failed/total, age, rate" },
    { "status", hd_cmd_status, "one job's progress (--wait: until it ends)" },
    { "results", hd_cmd_results, "write a job's results, as map does (again until released)" },
    { "cancel", hd_cmd_cancel, "cancel what still runs of a job (its results stay)" },
    { "release", hd_cmd_release, "forget a job and its stored results" },
    { "bench", hd_cmd_bench, "measure throughput and latency of many small tasks" },
    { "nodes", hd_cmd_nodes, "list the cluster's nodes and their load" },
    { "functions", hd_cmd_functions, "list the functions offered, by whom, tasks queued and running" },
    { "top", hd_cmd_top, "watch the nodes, the task rate and the cluster's events live" },
    { "drain", hd_cmd_drain, "stop giving a node new tasks, for maintenance (admin key)" },
    { "resume", hd_cmd_resume, "give a drained node tasks again (admin key)" },
    { "run", hd_cmd_run, "run a command on some or all nodes (workers with --allow-exec)" },
    { "keys", hd_cmd_keys, "make a cluster's keys (keys init DIR); keys fingerprint FILE" },
    { "config", hd_cmd_config, "check a config file (config check [FILE])" },
    { "version", s_cmd_version, "print the version" },
    { "help", s_cmd_help, "help on a command (heddle help COMMAND)" },
};
#define S_COMMANDS (sizeof s_commands / sizeof s_commands[0])

static void
s_usage (FILE *out)
{
    fprintf (out, "Usage: heddle [CONNECTION OPTIONS] COMMAND [ARGS]\n"
                  "heddle runs tasks on a heddle cluster: a broker and its workers.\n"
                  "With no --broker and no $HEDDLE_BROKER, commands start an embedded cluster\n"
                  "(one worker per core) inside the heddle process.\n\nCommands:\n");
    for (size_t i = 0; i < S_COMMANDS; i++)
        fprintf (out, "  %-9s  %s\n", s_commands[i].name, s_commands[i].summary);
    fprintf (out, "\nEach command has --help. Connection options may come before or after the\n"
                  "command word.\n");
    hd_cli_connect_help (out);
    fprintf (out, "\nExit status: 0 success; 1 a task or the command failed; 2 bad usage;\n"
                  "3 (call) the task timed out.\n");
}

static const s_command_t *
s_find (const char *name)
{
    for (size_t i = 0; i < S_COMMANDS; i++)
        if (strcmp (s_commands[i].name, name) == 0)
            return &s_commands[i];
    return NULL;
}

static bool
s_is_help (const char *arg)
{
    return strcmp (arg, "--help") == 0 || strcmp (arg, "-h") == 0;
}

static int
s_cmd_version (hd_cli_common_t *common, int argc, char **argv)
{
    (void) common;
    if (argc > 1 && s_is_help (argv[1])) {
        printf ("Usage: heddle version\nPrint the version of heddle and of its protocol.\n");
        return HD_CLI_EXIT_OK;
    }
    if (argc > 1)
        return hd_cli_usage ("version", "takes no arguments");
    printf ("heddle %s (protocol %d)\n", HD_CLI_VERSION, HD_PROTO_VERSION);
    return HD_CLI_EXIT_OK;
}

static int
s_cmd_help (hd_cli_common_t *common, int argc, char **argv)
{
    if (argc < 2 || s_is_help (argv[1])) {
        s_usage (stdout);
        return HD_CLI_EXIT_OK;
    }
    const s_command_t *command = s_find (argv[1]);
    if (!command)
        return hd_cli_usage (NULL, "unknown command '%s'", argv[1]);
    char help[] = "--help";
    char *help_argv[] = { argv[1], help, NULL };
    return command->run (common, 2, help_argv);
}

//  Shared options before the command word. Returns -1 to go on, else an exit code.
static int
s_parse_global (hd_cli_common_t *common, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        HD_CLI_CONNECT_OPTIONS,
        HD_CLI_TASK_OPTIONS,
        { NULL, 0, NULL, 0 },
    };
    hd_cli_getopt_reset ();
    int c;
    while ((c = getopt_long (argc, argv, "+:hV" HD_CLI_CONNECT_SHORT, longopts, NULL)) != -1) {
        if (c == 'h') {
            s_usage (stdout);
            return HD_CLI_EXIT_OK;
        }
        if (c == 'V')
            return s_cmd_version (common, 1, argv);  //  argv[1..] are not its arguments
        if (c == '?' || c == ':')
            return hd_cli_bad_option (NULL, c, argv);
        if (hd_cli_common_option (common, NULL, c, optarg) == HD_CLI_OPT_BAD)
            return HD_CLI_EXIT_USAGE;
    }
    return -1;
}

//  The shared options before the command word, then the command.
static int
s_run (hd_cli_common_t *common, int argc, char **argv)
{
    int code = s_parse_global (common, argc, argv);
    if (code >= 0)
        return code;
    if (optind >= argc) {
        s_usage (stderr);
        return HD_CLI_EXIT_USAGE;
    }
    const s_command_t *command = s_find (argv[optind]);
    if (!command)
        return hd_cli_usage (NULL, "unknown command '%s'", argv[optind]);
    return command->run (common, argc - optind, argv + optind);
}

int
main (int argc, char **argv)
{
    hd_cli_interrupt_catch ();
    hd_cli_common_t common;
    hd_cli_common_init (&common);
    //  `heddle [--config FILE] config check` must work when the file it checks is broken.
    bool checking = false;
    for (int i = 1; i + 1 < argc && !checking; i++)
        checking = strcmp (argv[i], "config") == 0 && strcmp (argv[i + 1], "check") == 0;
    int code = checking ? HD_CLI_EXIT_OK : hd_cli_common_load (&common, argc, argv);
    if (code == HD_CLI_EXIT_OK)
        code = s_run (&common, argc, argv);
    hd_cli_common_fini (&common);
    return code;
}
