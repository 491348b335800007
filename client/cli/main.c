/*  heddle: the command-line tool. main reads the shared options that may come before the command
    word (`heddle --broker pi1 nodes`), then hands the rest of argv to the command. It knows the
    list of commands and nothing of what they do.  */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "hd_opts_tables.h"
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
                  "command word.\n\n");
    hd_cli_common_t defaults;
    hd_cli_common_init (&defaults);
    hd_opts_print_options (out, &hd_opts_client, &defaults);
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

// clang-format off
static const hd_opt_t s_version_opts[] = { { .name = "Options:", .kind = HD_OPTS_HEADING },
                                           HD_CLI_HELP_OPT, HD_OPTS_END };
static const hd_opt_t s_help_opts[] = { { .name = "Options:", .kind = HD_OPTS_HEADING },
                                        HD_CLI_HELP_OPT, HD_OPTS_END };
// clang-format on
static const hd_opts_prog_t s_version_prog = {
    .name = "heddle version", .usage = "heddle version",
    .summary = "Print the version of heddle and of its protocol.", .opts = s_version_opts };
static const hd_opts_prog_t s_help_prog = {
    .name = "heddle help", .usage = "heddle help [COMMAND]",
    .summary = "Print the help of COMMAND (as 'heddle COMMAND --help'), or heddle's.",
    .opts = s_help_opts };

static int
s_cmd_version (hd_cli_common_t *common, int argc, char **argv)
{
    int first, code = hd_cli_parse (common, &s_version_prog, NULL, NULL, HD_CLI_NO_CONNECT, argc,
                                    argv, &first);
    if (code >= 0)
        return code;
    if (first < argc)
        return hd_cli_usage ("version", "takes no arguments");
    printf ("heddle %s (protocol %d)\n", HD_CLI_VERSION, HD_PROTO_VERSION);
    return HD_CLI_EXIT_OK;
}

static int
s_cmd_help (hd_cli_common_t *common, int argc, char **argv)
{
    if (argc >= 2 && (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0)) {
        int first;
        return hd_cli_parse (common, &s_help_prog, NULL, NULL, HD_CLI_NO_CONNECT, argc, argv,
                             &first);
    }
    if (argc < 2) {
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

typedef struct {
    bool version;
} s_global_t;

// clang-format off
static const hd_opt_t s_global_opts[] = {
    { .name = "help", .letter = 'h', .kind = HD_OPTS_HELP, .help = "this help", .offset = -1 },
    { .name = "version", .letter = 'V', .kind = HD_OPTS_FLAG, .help = "print the version",
      .flags = HD_OPTS_NOCONF, .offset = offsetof (s_global_t, version) },
    HD_OPTS_END,
};
// clang-format on

static const hd_opts_prog_t s_global_prog = {
    .name = "heddle",
    .usage = "heddle [CONNECTION OPTIONS] COMMAND [ARGS]",
    .summary = "Run tasks on a heddle cluster: a broker and its workers.",
    .epilog = "With no --broker and no $HEDDLE_BROKER, commands start an embedded cluster (one "
              "worker per core) inside the heddle process. Each command has --help. Connection "
              "options may come before or after the command word.\n",
    .opts = s_global_opts,
};

//  Shared options before the command word. Returns -1 to go on, else an exit code.
static int
s_parse_global (hd_cli_common_t *common, int argc, char **argv, int *first)
{
    s_global_t global = { false };
    hd_opts_use_t uses[] = { { &s_global_prog, &global },
                             { &hd_opts_client, common },
                             { &hd_cli_task_opts, &common->task } };
    int rc = hd_opts_parse (argc, argv, uses, 3, HD_OPTS_IN_ORDER, first);
    if (rc == HD_OPTS_EXIT_HELP) {
        s_usage (stdout);
        return HD_CLI_EXIT_OK;
    }
    if (rc != HD_OPTS_OK)
        return HD_CLI_EXIT_USAGE;
    if (global.version)
        return s_cmd_version (common, 1, argv);  //  argv[1..] are not its arguments
    return -1;
}

//  The generator modes CMake runs at build time (cmake/gen-docs.sh): `--help-man VERSION DATE`
//  prints heddle(1), each command's section from its own table; `--help-words` prints the
//  words to complete, a line "CMD WORDS..." per command after the line of heddle itself.
static void
s_generate_man (hd_cli_common_t *common, const char *version, const char *date)
{
    hd_cli_common_t defaults;
    hd_cli_common_init (&defaults);
    hd_opts_print_man (stdout, &s_global_prog, NULL, 1, version, date);
    printf (".SH CONNECTION OPTIONS\nEvery command that talks to a broker takes them; they are "
            "also the keys of the [client] section of the config file.\n");
    hd_opts_print_man_section (stdout, &hd_opts_client, &defaults);
    printf (".SH TASK OPTIONS\nThe commands that submit tasks (call, map, submit, bench) take "
            "them.\n");
    hd_opts_print_man_section (stdout, &hd_cli_task_opts, &defaults.task);
    printf (".SH COMMANDS\n");
    hd_cli_doc_mode = HD_CLI_DOC_MAN;
    for (size_t i = 0; i < S_COMMANDS; i++) {
        char help[] = "--help";
        char *argv[] = { (char *) s_commands[i].name, help, NULL };
        if (s_commands[i].run != s_cmd_help)
            s_commands[i].run (common, 2, argv);
    }
    printf (".SH EXIT STATUS\n0 success; 1 a task or the command failed; 2 bad usage; 3 (call) "
            "the task timed out; 130 interrupted (Ctrl-C).\n"
            ".SH FILES\n/etc/heddle/heddle.conf ([client] section)\n"
            ".SH SEE ALSO\nheddle-broker(8), heddle-worker(8); docs/OPERATIONS.md in "
            "/usr/share/doc/heddle\n");
}

static void
s_generate_words (hd_cli_common_t *common)
{
    for (size_t i = 0; i < S_COMMANDS; i++)
        printf ("%s ", s_commands[i].name);
    hd_opts_print_words (stdout, &s_global_prog);
    hd_opts_print_words (stdout, &hd_opts_client);
    printf ("\n");
    hd_cli_doc_mode = HD_CLI_DOC_WORDS;
    for (size_t i = 0; i < S_COMMANDS; i++) {
        printf ("%s ", s_commands[i].name);
        char help[] = "--help";
        char *argv[] = { (char *) s_commands[i].name, help, NULL };
        if (s_commands[i].run == s_cmd_help)
            for (size_t j = 0; j < S_COMMANDS; j++)
                printf ("%s ", s_commands[j].name);
        else
            s_commands[i].run (common, 2, argv);
        printf ("\n");
    }
}

//  The shared options before the command word, then the command.
static int
s_run (hd_cli_common_t *common, int argc, char **argv)
{
    if (argc == 4 && strcmp (argv[1], "--help-man") == 0) {
        s_generate_man (common, argv[2], argv[3]);
        return HD_CLI_EXIT_OK;
    }
    if (argc == 2 && strcmp (argv[1], "--help-words") == 0) {
        s_generate_words (common);
        return HD_CLI_EXIT_OK;
    }
    int first = argc;
    int code = s_parse_global (common, argc, argv, &first);
    if (code >= 0)
        return code;
    if (first >= argc) {
        s_usage (stderr);
        return HD_CLI_EXIT_USAGE;
    }
    const s_command_t *command = s_find (argv[first]);
    if (!command)
        return hd_cli_usage (NULL, "unknown command '%s'", argv[first]);
    return command->run (common, argc - first, argv + first);
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
