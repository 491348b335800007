/*  cmd_results: `heddle results JOB`: write a detached job's results to stdout (or -o FILE) in
    the format of `heddle map`: in input order (or as stored, --unordered), failed tasks on
    stderr with their index. It reads the broker's result store from its start on a session of
    its own, so it can be run again, and at the same time as anything else, until the job is
    released. A job still running is refused unless --wait (wait for the end) or --partial
    (write what is stored now, gaps skipped).  */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "failures.h"
#include "hd_proto.h"
#include "interrupt.h"
#include "jobrun.h"
#include "progress.h"

#define S_CMD "results"

enum { S_ID_ORDERED = 1, S_ID_UNORDERED, S_ID_RAW, S_ID_SEP };

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

#define S_XSTR(x) #x
#define S_STR(x) S_XSTR (x)
#define S_OFF(field) offsetof (s_results_t, field)

//  The options that are more than a store.
static int
s_set (void *target, const hd_opt_t *opt, const char *arg, char *err, size_t errlen)
{
    s_results_t *self = target;
    switch (opt->id) {
    case S_ID_ORDERED:
    case S_ID_UNORDERED:
        self->gather = opt->id == S_ID_ORDERED ? HD_GATHER_ORDERED : HD_GATHER_COMPLETED;
        return 0;
    case S_ID_RAW: return hd_cli_sep_option (&self->sep, NULL, err, errlen);
    case S_ID_SEP: return hd_cli_sep_option (&self->sep, arg, err, errlen);
    default: return -1;
    }
}

// clang-format off
static const hd_opt_t s_opts[] = {
    { .name = "Options:", .kind = HD_OPTS_HEADING },
    { .name = "wait", .kind = HD_OPTS_FLAG, .offset = S_OFF (wait),
      .help = "wait for a running job to finish, then write all" },
    { .name = "partial", .kind = HD_OPTS_FLAG, .offset = S_OFF (partial),
      .help = "write what is stored now (a running or cancelled job), skipping the tasks "
              "without a result" },
    { .name = "ordered", .kind = HD_OPTS_FLAG, .id = S_ID_ORDERED, .offset = -1, .set = s_set,
      .help = "write results in input order (default)" },
    { .name = "unordered", .letter = 'u', .kind = HD_OPTS_FLAG, .id = S_ID_UNORDERED,
      .offset = -1, .set = s_set, .help = "write results in the order the broker stored them" },
    { .name = "output", .letter = 'o', .kind = HD_OPTS_STRING, .meta = "FILE",
      .offset = S_OFF (output), .help = "write to FILE instead of stdout" },
    { .name = "raw", .kind = HD_OPTS_FLAG, .id = S_ID_RAW, .offset = -1, .set = s_set,
      .help = "write results back to back, adding nothing" },
    { .name = "sep", .kind = HD_OPTS_STRING, .meta = "STR", .id = S_ID_SEP, .offset = -1,
      .set = s_set, .help = "write STR after each result (escapes: \\n \\t \\0 \\\\)" },
    { .name = "quiet", .letter = 'q', .kind = HD_OPTS_FLAG, .offset = S_OFF (quiet),
      .help = "no progress bar and no summary on stderr" },
    HD_CLI_HELP_OPT,
    HD_OPTS_END,
};
// clang-format on

static const hd_opts_prog_t s_prog = {
    .name = "heddle results",
    .usage = "heddle results [OPTIONS] JOB",
    .summary = "Write the results of detached job JOB (see 'heddle submit') as 'heddle map' "
               "does: in input order, each followed by a newline unless it ends with one. Failed "
               "tasks write nothing to stdout; the first " S_STR (HD_CLI_FAILURES_SHOWN) " go to "
               "stderr with their index (0-based); tasks cancelled by 'heddle cancel' are only "
               "counted. Can be run again until 'heddle release JOB'.",
    .epilog = "Needs a broker (--broker): the embedded cluster keeps no jobs.\n"
              "Exit status: 0 every task succeeded; 1 some task failed, the job is not done "
              "(without --wait or --partial), no such job, or the broker could not be asked; 2 "
              "bad usage; 130 interrupted.\n",
    .opts = s_opts,
};

static int
s_parse (s_results_t *self, hd_cli_common_t *common, int argc, char **argv)
{
    int first;
    int code = hd_cli_parse (common, &s_prog, self, NULL, 0, argc, argv, &first);
    if (code >= 0)
        return code;
    if (first >= argc || !*argv[first])
        return hd_cli_usage (S_CMD, "which job? (heddle results JOB; 'heddle jobs' lists yours)");
    if (argc - first > 1)
        return hd_cli_usage (S_CMD, "one job at a time, not '%s'", argv[first + 1]);
    self->job = argv[first];
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
