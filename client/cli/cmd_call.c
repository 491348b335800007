/*  cmd_call: `heddle call FN [DATA | @FILE | -]`: run one task and copy its output to stdout,
    byte for byte. A failed task is reported on stderr with the node, status and reason, and
    sets the exit code (3 for a timeout, so scripts can retry just those).  */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "hd_proto.h"
#include "interrupt.h"

#define S_CMD "call"

// clang-format off
static const hd_opt_t s_opts[] = { { .name = "Options:", .kind = HD_OPTS_HEADING }, HD_CLI_HELP_OPT,
                                   HD_OPTS_END };
// clang-format on

static const hd_opts_prog_t s_prog = {
    .name = "heddle call",
    .usage = "heddle call [OPTIONS] FN [DATA | @FILE | -]",
    .summary = "Run one task of function FN and print its output as it is (a newline is added "
               "only when stdout is a terminal and the output does not end with one).\n\n"
               "Input of the task:\n"
               "  (none)   empty input (default)\n"
               "  DATA     these bytes ('@@x' passes the literal text '@x')\n"
               "  @FILE    the contents of FILE\n"
               "  -        standard input",
    .epilog = "Exit status: 0 the task succeeded; 1 it failed or heddle could not run it; 2 bad "
              "usage; 3 the task timed out; 130 interrupted (Ctrl-C: the task is cancelled).\n",
    .opts = s_opts,
};

//  Parse argv into common, *fn and *input. Returns -1 to go on, else an exit code.
static int
s_parse (hd_cli_common_t *common, int argc, char **argv, const char **fn, const char **input)
{
    int first;
    int code = hd_cli_parse (common, &s_prog, NULL, NULL, HD_CLI_TASK, argc, argv, &first);
    if (code >= 0)
        return code;
    if (first >= argc || !*argv[first])
        return hd_cli_usage (S_CMD, "which function? (heddle call FN [DATA | @FILE | -])");
    if (argc - first > 2)
        return hd_cli_usage (S_CMD, "too many arguments: quote DATA that has spaces");
    *fn = argv[first];
    *input = first + 1 < argc ? argv[first + 1] : NULL;
    return -1;
}

//  The task's input from the DATA argument. Returns -1 to go on, else an exit code.
static int
s_load_input (const char *arg, hd_buf_t *input)
{
    if (!arg)
        return -1;
    const char *path = NULL;
    if (strcmp (arg, "-") == 0)
        path = "-";
    else if (arg[0] == '@' && arg[1] != '@')
        path = arg + 1;
    else if (arg[0] == '@')
        arg++;  //  "@@x" is the literal "@x"
    if (!path)
        return hd_buf_append (input, arg, strlen (arg)) == HD_OK ? -1
                                                                 : hd_cli_fail ("out of memory");
    char reason[256];
    if (hd_cli_read_file (path, input, reason, sizeof reason) != HD_OK)
        return hd_cli_fail ("reading %s: %s", strcmp (path, "-") ? path : "standard input", reason);
    return -1;
}

static int
s_report_failure (const char *fn, const hd_reply_t *reply)
{
    fprintf (stderr, "heddle: %s failed%s%s: %s%s%s\n", fn, *reply->node ? " on " : "", reply->node,
             hd_client_status_str (reply->status), *reply->error ? ": " : "", reply->error);
    return reply->status == HD_ST_TIMEOUT ? HD_CLI_EXIT_TIMEOUT : HD_CLI_EXIT_FAIL;
}

static int
s_print_output (const hd_reply_t *reply)
{
    const char *data = reply->data;
    fwrite (data, 1, reply->size, stdout);
    if (reply->size > 0 && data[reply->size - 1] != '\n' && isatty (STDOUT_FILENO))
        fputc ('\n', stdout);
    if (fflush (stdout) != 0 || ferror (stdout))
        return hd_cli_fail ("writing the output: %s", strerror (errno));
    return HD_CLI_EXIT_OK;
}

static int
s_call (hd_client_t *client, const char *fn, const hd_buf_t *input, const hd_task_opts_t *opts)
{
    hd_reply_t *reply = NULL;
    hd_err_t rc = hd_client_call (client, fn, input->size ? input->data : (const void *) "",
                                  input->size, opts, &reply);
    if (rc != HD_OK && hd_cli_interrupted) {
        fprintf (stderr, "heddle: %s: interrupted: the task was cancelled\n", fn);
        return hd_cli_interrupt_code ();
    }
    if (rc == HD_ETIMEDOUT) {
        hd_cli_fail ("%s: no result in time: %s", fn, hd_client_last_error (client));
        return HD_CLI_EXIT_TIMEOUT;
    }
    if (rc != HD_OK)
        return hd_cli_fail ("%s: %s", fn, hd_client_last_error (client));
    int code = reply->status == 0 ? s_print_output (reply) : s_report_failure (fn, reply);
    hd_reply_destroy (&reply);
    return code;
}

int
hd_cmd_call (hd_cli_common_t *common, int argc, char **argv)
{
    const char *fn = NULL, *arg = NULL;
    int code = s_parse (common, argc, argv, &fn, &arg);
    if (code >= 0)
        return code;
    hd_cli_common_finish (common);
    hd_buf_t input;
    hd_buf_init (&input);
    code = s_load_input (arg, &input);
    hd_cli_conn_t conn;
    if (code < 0 && (code = hd_cli_connect (common, 0, &conn)) == HD_CLI_EXIT_OK) {
        code = s_call (conn.client, fn, &input, &common->task);
        hd_cli_disconnect (&conn);
    }
    hd_buf_fini (&input);
    return code;
}
