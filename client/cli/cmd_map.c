/*  cmd_map: `heddle map FN [INPUT]`: split the input into pieces (hd_split), run one task of FN
    per piece as one job, and write the results to stdout in input order (or as they complete).
    The first failures go to stderr with the task's index, the rest are counted by reason
    (failures.h); a summary with the per-node counts ends the run. Ctrl-C cancels the job: what
    came back is written and the summary tells done, failed and cancelled apart. The input is
    streamed into the job, so only the job's copy of it is held in memory.  */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "failures.h"
#include "hd_proto.h"
#include "hd_split.h"
#include "interrupt.h"
#include "progress.h"
#include "tally.h"

#define S_CMD "map"
#define S_DEFAULT_WINDOW 1000
#define S_MAX_WINDOW 1000000
#define S_READ_CHUNK 65536

enum {
    S_OPT_HELP = 'h',
    S_OPT_SPLIT = 's',
    S_OPT_UNORDERED = 'u',
    S_OPT_WINDOW = 'w',
    S_OPT_QUIET = 'q',
    S_OPT_ORDERED = HD_OPT_COMMAND_,
    S_OPT_FAIL_FAST,
    S_OPT_KEEP_GOING,
    S_OPT_RAW,
    S_OPT_SEP,
};

typedef struct {
    //  what to do
    const char *fn;
    const char *input;  //  NULL: standard input
    hd_split_spec_t split;
    hd_gather_t gather;
    uint32_t window;
    bool fail_fast, quiet, stopping;
    bool sep_given;  //  false: '\n' after each result that does not end with one
    char sep[64];
    size_t sep_len;
    //  while running
    hd_client_job_t *job;
    hd_cli_progress_t progress;
    hd_cli_tally_t tally;
    hd_cli_failures_t failures;
    uint64_t ok, failed;  //  results: succeeded, failed (cancelled ones are neither)
} s_map_t;

static void
s_help (void)
{
    printf ("Usage: heddle map [OPTIONS] FN [INPUT]\n"
            "Run one task of function FN per line (or other piece: see --split) of INPUT, a\n"
            "file or '-' for standard input (the default), and write the results to stdout.\n\n"
            "Options:\n"
            "  -s, --split SPEC        how to cut the input into tasks (default lines):\n"
            "                          lines (one line, without its newline), lines:N (N\n"
            "                          lines as in the input, newlines kept), bytes:N (N may\n"
            "                          end in K, M, G), whole (one task), null (NUL-separated)\n"
            "      --ordered           write results in input order (default)\n"
            "  -u, --unordered         write results as they complete\n"
            "  -w, --window N          tasks in flight at most (default %d)\n"
            "      --keep-going        run every task, then report the failures (default)\n"
            "      --fail-fast         stop at the first failed task\n"
            "      --raw               write results back to back, adding nothing\n"
            "      --sep STR           write STR after each result (escapes: \\n \\t \\0 \\\\);\n"
            "                          default: a newline unless the result ends with one\n"
            "  -q, --quiet             no progress bar and no summary on stderr\n"
            "  -h, --help              show this help and exit\n\n"
            "A progress bar is drawn on stderr when it is a terminal. Failed tasks write\n"
            "nothing to stdout; the first %d failures go to stderr with their index (0-based)\n"
            "and error, the others are counted by reason. Ctrl-C cancels the tasks still out,\n"
            "writes the results that came back and says how many tasks were done, failed and\n"
            "cancelled; a second Ctrl-C exits at once.\n",
            S_DEFAULT_WINDOW, HD_CLI_FAILURES_SHOWN);
    hd_cli_task_help (stdout);
    hd_cli_connect_help (stdout);
    printf ("\nExit status: 0 every task succeeded; 1 some task failed, or heddle could not run\n"
            "them; 2 bad usage; 130 interrupted (Ctrl-C).\n");
}

//  C-style escapes of --sep. 0, or -1 when the result does not fit.
static int
s_unescape (const char *text, char *out, size_t cap, size_t *len)
{
    size_t n = 0;
    for (const char *p = text; *p; p++) {
        char c = *p;
        if (c == '\\' && p[1]) {
            const char *from = "nt0r\\", *to = "\n\t\0\r\\";
            const char *hit = strchr (from, p[1]);
            if (hit) {
                c = to[hit - from];
                p++;
            }
        }
        if (n == cap)
            return -1;
        out[n++] = c;
    }
    *len = n;
    return 0;
}

static int
s_option (s_map_t *self, hd_cli_common_t *common, int c, const char *arg)
{
    char reason[256];
    switch (c) {
    case S_OPT_SPLIT:
        if (hd_split_parse (arg, &self->split, reason, sizeof reason) != HD_OK)
            return hd_cli_usage (S_CMD, "--split: %s", reason);
        return -1;
    case S_OPT_ORDERED:
    case S_OPT_UNORDERED:
        self->gather = c == S_OPT_ORDERED ? HD_GATHER_ORDERED : HD_GATHER_COMPLETED;
        return -1;
    case S_OPT_WINDOW:
        if (hd_cli_parse_u32 (arg, 1, S_MAX_WINDOW, &self->window) != 0)
            return hd_cli_usage (S_CMD, "--window wants 1 to %d, not '%s'", S_MAX_WINDOW, arg);
        return -1;
    case S_OPT_FAIL_FAST:
    case S_OPT_KEEP_GOING:
        self->fail_fast = c == S_OPT_FAIL_FAST;
        return -1;
    case S_OPT_QUIET:
        self->quiet = true;
        return -1;
    case S_OPT_RAW:
        self->sep_given = true;
        self->sep_len = 0;
        return -1;
    case S_OPT_SEP:
        self->sep_given = true;
        if (s_unescape (arg, self->sep, sizeof self->sep, &self->sep_len) != 0)
            return hd_cli_usage (S_CMD, "--sep: at most %zu bytes", sizeof self->sep);
        return -1;
    default:
        if (hd_cli_common_option (common, S_CMD, c, arg) != HD_CLI_OPT_TAKEN)
            return HD_CLI_EXIT_USAGE;
        return -1;
    }
}

//  Parse argv into self and common. Returns -1 to go on, else an exit code.
static int
s_parse (s_map_t *self, hd_cli_common_t *common, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, S_OPT_HELP },
        { "split", required_argument, NULL, S_OPT_SPLIT },
        { "ordered", no_argument, NULL, S_OPT_ORDERED },
        { "unordered", no_argument, NULL, S_OPT_UNORDERED },
        { "window", required_argument, NULL, S_OPT_WINDOW },
        { "fail-fast", no_argument, NULL, S_OPT_FAIL_FAST },
        { "keep-going", no_argument, NULL, S_OPT_KEEP_GOING },
        { "raw", no_argument, NULL, S_OPT_RAW },
        { "sep", required_argument, NULL, S_OPT_SEP },
        { "quiet", no_argument, NULL, S_OPT_QUIET },
        HD_CLI_TASK_OPTIONS,
        HD_CLI_CONNECT_OPTIONS,
        { NULL, 0, NULL, 0 },
    };
    hd_cli_getopt_reset ();
    int c, code = -1;
    while (code < 0 &&
           (c = getopt_long (argc, argv, ":hs:uw:q" HD_CLI_CONNECT_SHORT, longopts, NULL)) != -1) {
        if (c == S_OPT_HELP) {
            s_help ();
            return HD_CLI_EXIT_OK;
        }
        code = c == '?' || c == ':' ? hd_cli_bad_option (S_CMD, c, argv)
                                    : s_option (self, common, c, optarg);
    }
    if (code >= 0)
        return code;
    if (optind >= argc || !*argv[optind])
        return hd_cli_usage (S_CMD, "which function? (heddle map FN [INPUT])");
    if (argc - optind > 2)
        return hd_cli_usage (S_CMD, "one INPUT at most (use cat to join files)");
    self->fn = argv[optind];
    if (optind + 1 < argc && strcmp (argv[optind + 1], "-") != 0)
        self->input = argv[optind + 1];
    return -1;
}

// --- results ------------------------------------------------------------------------------

static void
s_write_result (s_map_t *self, const hd_reply_t *reply)
{
    const char *data = reply->data;
    fwrite (data, 1, reply->size, stdout);
    if (self->sep_given)
        fwrite (self->sep, 1, self->sep_len, stdout);
    else if (reply->size == 0 || data[reply->size - 1] != '\n')
        fputc ('\n', stdout);
}

static void
s_print_summary (s_map_t *self)
{
    if (self->quiet)
        return;
    hd_job_stats_t stats;
    hd_client_job_stats (self->job, &stats);
    hd_cli_progress_clear (&self->progress);
    hd_cli_failures_report (&self->failures, S_CMD, stderr);
    hd_cli_tally_sort (&self->tally);
    uint64_t cancelled = stats.tasks - self->ok - self->failed;
    double rate = stats.seconds > 0 ? (double) stats.done / stats.seconds : 0.0;
    if (cancelled == 0)
        fprintf (stderr, "map: %llu task%s (%llu failed) in %.2f s, %.0f tasks/s; per node: ",
                 (unsigned long long) stats.tasks, stats.tasks == 1 ? "" : "s",
                 (unsigned long long) self->failed, stats.seconds, rate);
    else
        fprintf (stderr,
                 "map: %s: %llu of %llu task%s done, %llu failed, %llu cancelled in %.2f s; per "
                 "node: ",
                 hd_cli_interrupted ? "interrupted" : "stopped at the first failure",
                 (unsigned long long) self->ok, (unsigned long long) stats.tasks,
                 stats.tasks == 1 ? "" : "s", (unsigned long long) self->failed,
                 (unsigned long long) cancelled, stats.seconds);
    hd_cli_tally_print (&self->tally, stderr);
    fputc ('\n', stderr);
}

//  --fail-fast: cancel the job; tasks in flight are cancelled at the broker, the rest never go.
static void
s_stop_now (s_map_t *self)
{
    if (!self->stopping) {
        hd_cli_progress_clear (&self->progress);
        fprintf (stderr, "heddle: map: stopping at the first failure (--fail-fast)\n");
        hd_client_job_cancel (self->job);
    }
    self->stopping = true;
}

static void
s_on_result (const hd_reply_t *reply, void *arg)
{
    s_map_t *self = arg;
    if ((self->stopping || hd_cli_interrupted) && reply->status == HD_ST_CANCELLED)
        return;  //  cancelled by --fail-fast or Ctrl-C: counted as cancelled, not as failed
    hd_cli_tally_add (&self->tally, reply->node);  //  out of memory only loses a count
    if (reply->status == 0) {
        self->ok++;
        s_write_result (self, reply);
        return;
    }
    self->failed++;
    if (hd_cli_failures_add (&self->failures, reply->status, reply->error)) {
        hd_cli_progress_clear (&self->progress);
        fprintf (stderr, "heddle: task %llu failed%s%s: %s%s%s\n", (unsigned long long) reply->seq,
                 *reply->node ? " on " : "", reply->node, hd_client_status_str (reply->status),
                 *reply->error ? ": " : "", reply->error);
    }
    if (self->fail_fast)
        s_stop_now (self);
}

static void
s_on_progress (const hd_job_stats_t *stats, void *arg)
{
    s_map_t *self = arg;
    hd_cli_progress_update (&self->progress, stats->done, stats->tasks, stats->seconds);
}

// --- running ------------------------------------------------------------------------------

static hd_err_t
s_add_task (const void *piece, size_t size, void *arg)
{
    return hd_client_job_add (arg, piece, size);
}

//  Stream the input through the splitter into the job. Exit code, or -1 to go on.
static int
s_load_tasks (s_map_t *self, FILE *in)
{
    hd_split_t *split = hd_split_new (&self->split, s_add_task, self->job);
    char *chunk = malloc (S_READ_CHUNK);
    hd_err_t rc = split && chunk ? HD_OK : HD_ENOMEM;
    while (rc == HD_OK && !feof (in) && !ferror (in) && !hd_cli_interrupted) {
        size_t n = fread (chunk, 1, S_READ_CHUNK, in);
        rc = hd_split_feed (split, chunk, n);
    }
    if (hd_cli_interrupted) {
        hd_split_destroy (&split);
        free (chunk);
        fprintf (stderr, "heddle: map: interrupted while reading the input: nothing was run\n");
        return hd_cli_interrupt_code ();
    }
    int read_errno = ferror (in) ? errno : 0;
    if (rc == HD_OK && !read_errno)
        rc = hd_split_end (split);
    hd_split_destroy (&split);
    free (chunk);
    if (read_errno)
        return hd_cli_fail ("reading %s: %s", self->input ? self->input : "standard input",
                            strerror (read_errno));
    if (rc != HD_OK)
        return hd_cli_fail ("map: adding tasks: %s", hd_strerror (rc));
    return -1;
}

static int
s_run_job (s_map_t *self, hd_client_t *client, FILE *in, const hd_task_opts_t *opts)
{
    self->job = hd_client_job_new (client, self->fn, opts);
    if (!self->job)
        return hd_cli_fail ("map: out of memory");
    int code = s_load_tasks (self, in);
    if (code < 0) {
        hd_err_t rc = hd_client_job_run (self->job, self->gather, s_on_result, s_on_progress, self);
        if (fflush (stdout) != 0 || ferror (stdout))
            code = hd_cli_fail ("writing the results: %s", strerror (errno));
        s_print_summary (self);
        if (rc != HD_OK)
            code = hd_cli_fail ("map %s: %s", self->fn, hd_client_last_error (client));
    }
    hd_client_job_destroy (&self->job);
    if (code < 0 && hd_cli_interrupted)
        return hd_cli_interrupt_code ();
    return code >= 0 ? code : self->failed ? HD_CLI_EXIT_FAIL : HD_CLI_EXIT_OK;
}

static FILE *
s_open_input (const s_map_t *self)
{
    if (self->input)
        return fopen (self->input, "rb");
    if (isatty (STDIN_FILENO) && !self->quiet)
        fprintf (stderr, "heddle map: reading the input from the terminal; end it with Ctrl-D\n");
    return stdin;
}

int
hd_cmd_map (hd_cli_common_t *common, int argc, char **argv)
{
    s_map_t self = { .gather = HD_GATHER_ORDERED, .window = S_DEFAULT_WINDOW };
    hd_split_parse (NULL, &self.split, NULL, 0);
    int code = s_parse (&self, common, argc, argv);
    if (code >= 0)
        return code;
    hd_cli_common_finish (common);
    FILE *in = s_open_input (&self);
    if (!in)
        return hd_cli_fail ("opening %s: %s", self.input, strerror (errno));
    hd_cli_progress_init (&self.progress, !self.quiet && isatty (STDERR_FILENO));
    hd_cli_tally_init (&self.tally);
    hd_cli_failures_init (&self.failures);
    hd_cli_conn_t conn;
    code = hd_cli_connect (common, self.window, &conn);
    if (code == HD_CLI_EXIT_OK) {
        code = s_run_job (&self, conn.client, in, &common->task);
        hd_cli_disconnect (&conn);
    }
    hd_cli_tally_fini (&self.tally);
    if (in != stdin)
        fclose (in);
    return code;
}
