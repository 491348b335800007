/*  cmd_results: `heddle results JOB`: write a detached job's results to stdout (or -o FILE) in
    the format of `heddle map`: in input order (or as stored, --unordered), failed tasks on
    stderr with their index. It reads the broker's result store from its start on a session of
    its own, so it can be run again, and at the same time as anything else, until the job is
    released. A job still running is refused unless --wait (wait for the end) or --partial
    (write what is stored now, gaps skipped).  */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "failures.h"
#include "hd_proto.h"
#include "interrupt.h"
#include "jobrun.h"
#include "progress.h"

#define S_CMD "results"

enum {
    S_OPT_HELP = 'h',
    S_OPT_UNORDERED = 'u',
    S_OPT_OUTPUT = 'o',
    S_OPT_QUIET = 'q',
    S_OPT_ORDERED = HD_OPT_COMMAND_,
    S_OPT_WAIT,
    S_OPT_PARTIAL,
    S_OPT_RAW,
    S_OPT_SEP,
};

typedef struct {
    const char *job, *output;
    hd_gather_t gather;
    bool wait, partial, quiet;
    hd_cli_sep_t sep;
    FILE *out;
    hd_cli_failures_t failures;
    hd_cli_progress_t progress;
    uint64_t ok, failed, cancelled;
} s_results_t;

static void
s_help (void)
{
    printf ("Usage: heddle results [OPTIONS] JOB\n"
            "Write the results of detached job JOB (see 'heddle submit') as 'heddle map' does:\n"
            "in input order, each followed by a newline unless it ends with one. Failed tasks\n"
            "write nothing to stdout; the first %d go to stderr with their index (0-based);\n"
            "tasks cancelled by 'heddle cancel' are only counted.\n"
            "Can be run again until 'heddle release JOB'.\n\n"
            "Options:\n"
            "      --wait              wait for a running job to finish, then write all\n"
            "      --partial           write what is stored now (a running or cancelled job),\n"
            "                          skipping the tasks without a result\n"
            "      --ordered           write results in input order (default)\n"
            "  -u, --unordered         write results in the order the broker stored them\n"
            "  -o, --output FILE       write to FILE instead of stdout\n"
            "      --raw               write results back to back, adding nothing\n"
            "      --sep STR           write STR after each result (escapes: \\n \\t \\0 \\\\)\n"
            "  -q, --quiet             no progress bar and no summary on stderr\n"
            "  -h, --help              show this help and exit\n",
            HD_CLI_FAILURES_SHOWN);
    hd_cli_connect_help (stdout);
    printf ("\nNeeds a broker (--broker): the embedded cluster keeps no jobs.\n"
            "Exit status: 0 every task succeeded; 1 some task failed, the job is not done\n"
            "(without --wait or --partial), no such job, or the broker could not be asked;\n"
            "2 bad usage; 130 interrupted.\n");
}

static int
s_option (s_results_t *self, hd_cli_common_t *common, int c, const char *arg)
{
    switch (c) {
    case S_OPT_UNORDERED:
    case S_OPT_ORDERED:
        self->gather = c == S_OPT_ORDERED ? HD_GATHER_ORDERED : HD_GATHER_COMPLETED;
        return -1;
    case S_OPT_OUTPUT: self->output = arg; return -1;
    case S_OPT_QUIET: self->quiet = true; return -1;
    case S_OPT_WAIT: self->wait = true; return -1;
    case S_OPT_PARTIAL: self->partial = true; return -1;
    case S_OPT_RAW:
        self->sep.given = true;
        self->sep.len = 0;
        return -1;
    case S_OPT_SEP:
        if (hd_cli_sep_parse (&self->sep, arg) != 0)
            return hd_cli_usage (S_CMD, "--sep: at most %zu bytes", sizeof self->sep.text);
        return -1;
    default:
        if (hd_cli_common_option (common, S_CMD, c, arg) != HD_CLI_OPT_TAKEN)
            return HD_CLI_EXIT_USAGE;
        return -1;
    }
}

static int
s_parse (s_results_t *self, hd_cli_common_t *common, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, S_OPT_HELP },
        { "unordered", no_argument, NULL, S_OPT_UNORDERED },
        { "ordered", no_argument, NULL, S_OPT_ORDERED },
        { "output", required_argument, NULL, S_OPT_OUTPUT },
        { "quiet", no_argument, NULL, S_OPT_QUIET },
        { "wait", no_argument, NULL, S_OPT_WAIT },
        { "partial", no_argument, NULL, S_OPT_PARTIAL },
        { "raw", no_argument, NULL, S_OPT_RAW },
        { "sep", required_argument, NULL, S_OPT_SEP },
        HD_CLI_CONNECT_OPTIONS,
        { NULL, 0, NULL, 0 },
    };
    hd_cli_getopt_reset ();
    int c, code = -1;
    while (code < 0
           && (c = getopt_long (argc, argv, ":huo:q" HD_CLI_CONNECT_SHORT, longopts, NULL)) != -1) {
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
        return hd_cli_usage (S_CMD, "which job? (heddle results JOB; 'heddle jobs' lists yours)");
    if (argc - optind > 1)
        return hd_cli_usage (S_CMD, "one job at a time, not '%s'", argv[optind + 1]);
    self->job = argv[optind];
    hd_cli_common_finish (common);
    if (!common->broker)
        return hd_cli_usage (S_CMD, "which broker? (--broker HOST or $HEDDLE_BROKER: the "
                             "embedded cluster keeps no jobs)");
    return -1;
}

static void
s_on_reply (s_results_t *self, const hd_reply_t *reply)
{
    if (reply->status == 0) {
        self->ok++;
        hd_cli_write_result (self->out, reply, &self->sep);
        return;
    }
    if (reply->status == HD_ST_CANCELLED) {  //  `heddle cancel`: counted apart, not a failure
        self->cancelled++;
        return;
    }
    self->failed++;
    if (hd_cli_failures_add (&self->failures, reply->status, reply->error)) {
        hd_cli_progress_clear (&self->progress);
        fprintf (stderr, "heddle: task %llu failed%s%s: %s%s%s\n", (unsigned long long) reply->seq,
                 *reply->node ? " on " : "", reply->node, hd_client_status_str (reply->status),
                 *reply->error ? ": " : "", reply->error);
    }
}

//  Whether the job may be written now; else the exit code after saying why.
static int
s_check_state (const s_results_t *self, const hd_job_info_t *info)
{
    if (strcmp (info->state, "done") == 0 || self->partial
        || (self->wait && strcmp (info->state, "running") == 0))
        return -1;
    if (strcmp (info->state, "running") == 0)
        return hd_cli_fail ("job %s is not done (%u of %u results stored): 'heddle results "
                            "--wait %s' waits for the end, --partial writes what is there",
                            self->job, info->stored, info->total, self->job);
    return hd_cli_fail ("job %s is %s (%u of %u results stored): --partial writes those",
                        self->job, info->state, info->stored, info->total);
}

static hd_err_t
s_write_all (s_results_t *self, hd_detached_t *job)
{
    hd_err_t rc = HD_OK;
    if (self->partial) {
        rc = hd_detached_sync (job);
        hd_detached_drain (job);
    }
    hd_job_info_t info;
    double start = hd_cli_now ();
    while (rc == HD_OK) {
        hd_reply_t *reply;
        rc = hd_detached_next (job, self->gather, 100, &reply);
        if (rc == HD_OK) {
            s_on_reply (self, reply);
            hd_reply_destroy (&reply);
        }
        else if (rc == HD_ETIMEDOUT)
            rc = HD_OK;
        hd_detached_info (job, &info);
        hd_cli_progress_update (&self->progress, hd_detached_returned (job), info.total,
                                hd_cli_now () - start);
    }
    hd_cli_progress_clear (&self->progress);
    return rc == HD_ENOTFOUND ? HD_OK : rc;
}

static int
s_results (s_results_t *self, hd_detached_t *job)
{
    hd_job_info_t info;
    hd_detached_info (job, &info);
    int code = s_check_state (self, &info);
    if (code >= 0)
        return code;
    hd_err_t rc = s_write_all (self, job);
    if (fflush (self->out) != 0 || ferror (self->out))
        return hd_cli_fail ("writing the results: %s", strerror (errno));
    if (rc != HD_OK && hd_cli_interrupted)
        return hd_cli_interrupt_code ();
    if (rc != HD_OK)
        return hd_cli_fail ("results %s: %s", self->job,
                            hd_client_last_error (hd_detached_client (job)));
    hd_detached_info (job, &info);
    if (!self->quiet) {
        hd_cli_failures_report (&self->failures, S_CMD, stderr);
        fprintf (stderr, "results: job %s: %llu of %u results written, %llu failed, %llu "
                 "cancelled (%s)\n", self->job, (unsigned long long) self->ok, info.total,
                 (unsigned long long) self->failed, (unsigned long long) self->cancelled,
                 info.state);
    }
    return self->failed ? HD_CLI_EXIT_FAIL : HD_CLI_EXIT_OK;
}

int
hd_cmd_results (hd_cli_common_t *common, int argc, char **argv)
{
    s_results_t self = { .gather = HD_GATHER_ORDERED, .out = stdout };
    int code = s_parse (&self, common, argc, argv);
    if (code >= 0)
        return code;
    hd_client_config_t config;
    hd_cli_client_config (common, &config);
    hd_detached_config_t jc = { .job = self.job, .read_only = true };
    hd_detached_t *job;
    char err[512] = "";
    hd_err_t rc = hd_detached_open (&config, &jc, &job, err, sizeof err);
    if (rc == HD_ENOTFOUND)
        return hd_cli_fail ("%s: 'heddle jobs' lists yours", err);
    if (rc != HD_OK)
        return hd_cli_fail ("results %s: %s", self.job, err[0] ? err : hd_strerror (rc));
    if (self.output && !(self.out = fopen (self.output, "wb"))) {
        hd_detached_destroy (&job);
        return hd_cli_fail ("opening %s: %s", self.output, strerror (errno));
    }
    hd_cli_failures_init (&self.failures);
    hd_cli_progress_init (&self.progress, !self.quiet && isatty (STDERR_FILENO));
    code = s_results (&self, job);
    if (self.out != stdout && fclose (self.out) != 0 && code == HD_CLI_EXIT_OK)
        code = hd_cli_fail ("writing %s: %s", self.output, strerror (errno));
    hd_detached_destroy (&job);
    return code;
}
