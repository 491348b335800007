/*  heddle config check [FILE]: read a configuration file and report every syntax error, unknown
    section, unknown key and bad value as "FILE:LINE: message" (exit 1), or "FILE: ok" (exit 0).
    It checks the file only; it neither applies it nor talks to a broker.  */
#include <errno.h>
#include <string.h>

#include "commands.h"
#include "hd_config.h"
#include "hd_opts_tables.h"

// clang-format off
static const hd_opt_t s_opts[] = { { .name = "Options:", .kind = HD_OPTS_HEADING }, HD_CLI_HELP_OPT,
                                   HD_OPTS_END };
// clang-format on

static const hd_opts_prog_t s_prog = {
    .name = "heddle config",
    .usage = "heddle config check [FILE]",
    .summary = "Check a heddle config file: print each unknown key and bad value as "
               "FILE:LINE: message and exit 1, or print 'FILE: ok' and exit 0. FILE defaults to "
               "--config FILE, else $HEDDLE_CONFIG, else /etc/heddle/heddle.conf. Sections: "
               "[broker], [worker], [client]; keys are the long options of heddle-broker, "
               "heddle-worker and heddle (docs/OPERATIONS.md).",
    .words = "check",
    .opts = s_opts,
};

static int
s_help (hd_cli_common_t *common, FILE *out)
{
    if (out == stderr) {
        hd_cli_help (stderr, &s_prog, NULL, HD_CLI_NO_CONNECT);
        return HD_CLI_EXIT_USAGE;
    }
    char name[] = "config", help[] = "--help";
    char *argv[] = { name, help, NULL };
    int first;
    return hd_cli_parse (common, &s_prog, NULL, NULL, HD_CLI_NO_CONNECT, 2, argv, &first);
}

static void
s_print_problem (const char *name, int line, const char *message, void *arg)
{
    (void) arg;
    printf ("%s:%d: %s\n", name, line, message);
}

static int
s_check (const char *path)
{
    hd_config_t *file = NULL;
    hd_err_t rc = hd_config_load (&file, path);
    if (rc != HD_OK)
        return hd_cli_fail ("%s: %s", path, rc == HD_EIO ? strerror (errno) : hd_strerror (rc));
    size_t problems = hd_opts_check (file, hd_opts_sections, HD_OPTS_NSECTIONS, s_print_problem, NULL);
    if (problems == 0)
        printf ("%s: ok\n", path);
    hd_config_destroy (&file);
    return problems ? HD_CLI_EXIT_FAIL : HD_CLI_EXIT_OK;
}

int
hd_cmd_config (hd_cli_common_t *common, int argc, char **argv)
{
    if (argc < 2 || strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0)
        return s_help (common, argc < 2 ? stderr : stdout);
    if (strcmp (argv[1], "check") != 0)
        return hd_cli_usage ("config", "unknown subcommand '%s' (only 'check')", argv[1]);
    if (argc > 3)
        return hd_cli_usage ("config", "check takes one FILE at most");
    bool named = false;
    if (argc == 3 && (strcmp (argv[2], "--help") == 0 || strcmp (argv[2], "-h") == 0))
        return s_help (common, stdout);
    //  FILE, else `heddle --config FILE config check` (parsed before the command word: it
    //  checked /etc/heddle/heddle.conf instead), else $HEDDLE_CONFIG or the default.
    if (argc == 3)
        return s_check (argv[2]);
    if (common->config_path)
        return s_check (common->config_path);
    return s_check (hd_config_path (argc, argv, &named));
}
