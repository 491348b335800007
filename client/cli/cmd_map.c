/*  cmd_map: `heddle map FN [INPUT]`: split the input into pieces (hd_split), run one task of FN
    per piece as one job, and write the results to stdout in input order (or as they complete).
    The first failures go to stderr with the task's index, the rest are counted by reason
    (failures.h); a summary with the per-node counts ends the run. Ctrl-C cancels the job: what
    came back is written and the summary tells done, failed and cancelled apart. The input is
    streamed into the job, so only the job's copy of it is held in memory.  */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "failures.h"
#include "hd_proto.h"
#include "hd_split.h"
#include "interrupt.h"
#include "jobrun.h"
#include "progress.h"
#include "tally.h"

#define S_CMD "map"
#define S_DEFAULT_WINDOW 1000
#define S_MAX_WINDOW 1000000
#define S_READ_CHUNK 65536
#define S_MAP_TTL_S 86400u         //  an attached map's job lives a day unless --ttl
#define S_MAX_TTL_S (90u * 86400)  //  the broker's bound

enum { S_ID_SPLIT = 1, S_ID_ORDERED, S_ID_UNORDERED, S_ID_FAIL_FAST, S_ID_KEEP_GOING, S_ID_RAW,
       S_ID_SEP, S_ID_TTL };

typedef struct {
    //  what to do
    const char *fn;
    const char *input;  //  NULL: standard input
    hd_split_spec_t split;
    hd_gather_t gather;
    uint32_t window;
    bool fail_fast, quiet, stopping;
    hd_cli_sep_t sep;
    const char *split_text;  //  --split as given (for the resume hint)
    bool detach;             //  --detach, or `heddle submit`: print the job id and return
    bool submit;             //  run as `heddle submit`
    const char *resume;      //  --resume JOB
    const char *name;        //  --name
    uint32_t ttl_s;          //  --ttl (0: default)
    //  while running
    hd_client_job_t *job;    //  attached, on a plain session (embedded cluster, or no jobs)
    hd_cli_jobrun_t *run;    //  as a detached job
    hd_cli_progress_t progress;
    hd_cli_tally_t tally;
    hd_cli_failures_t failures;
    uint64_t ok, failed;  //  results: succeeded, failed (cancelled ones are neither)
} s_map_t;

#define S_XSTR(x) #x
#define S_STR(x) S_XSTR (x)
#define S_OFF(field) offsetof (s_map_t, field)

//  The options that are more than a store.
static int
s_set (void *target, const hd_opt_t *opt, const char *arg, char *err, size_t errlen)
{
    s_map_t *self = target;
    switch (opt->id) {
    case S_ID_SPLIT:
        if (hd_split_parse (arg, &self->split, err, errlen) != HD_OK)
            return -1;
        self->split_text = arg;
        return 0;
    case S_ID_TTL:
        if (hd_cli_parse_duration (arg, S_MAX_TTL_S, &self->ttl_s) == 0)
            return 0;
        snprintf (err, errlen, "wants N[s|m|h|d], 1s to 90d, not '%s'", arg);
        return -1;
    case S_ID_ORDERED:
    case S_ID_UNORDERED:
        self->gather = opt->id == S_ID_ORDERED ? HD_GATHER_ORDERED : HD_GATHER_COMPLETED;
        return 0;
    case S_ID_FAIL_FAST:
    case S_ID_KEEP_GOING:
        self->fail_fast = opt->id == S_ID_FAIL_FAST;
        return 0;
    case S_ID_RAW: return hd_cli_sep_option (&self->sep, NULL, err, errlen);
    case S_ID_SEP: return hd_cli_sep_option (&self->sep, arg, err, errlen);
    default: return -1;
    }
}

//  map's options; submit takes the same, and shows those that matter to it (the others are
//  hidden there: `flags`).
// clang-format off
#define S_MAP_OPTS(hide)                                                                       \
    { .name = "Options:", .kind = HD_OPTS_HEADING },                                           \
    { .name = "split", .letter = 's', .kind = HD_OPTS_STRING, .meta = "SPEC", .id = S_ID_SPLIT,  \
      .help = "how to cut the input into tasks: lines (one line, without its newline), "       \
              "lines:N (N lines as in the input, newlines kept), bytes:N (N may end in K, M, "  \
              "G), whole (one task), null (NUL-separated)", .def = "lines", .offset = -1,      \
      .set = s_set },                                                                          \
    { .name = "ordered", .kind = HD_OPTS_FLAG, .help = "write results in input order (default)",\
      .id = S_ID_ORDERED, .offset = -1, .set = s_set, .flags = hide },                          \
    { .name = "unordered", .letter = 'u', .kind = HD_OPTS_FLAG, .id = S_ID_UNORDERED,           \
      .help = "write results as they complete", .offset = -1, .set = s_set, .flags = hide },   \
    { .name = "window", .letter = 'w', .kind = HD_OPTS_UINT, .meta = "N", .min = 1,             \
      .max = S_MAX_WINDOW, .help = "tasks in flight at most", .offset = S_OFF (window) },      \
    { .name = "keep-going", .kind = HD_OPTS_FLAG, .id = S_ID_KEEP_GOING,                       \
      .help = "run every task, then report the failures (default)", .offset = -1, .set = s_set, \
      .flags = hide },                                                                         \
    { .name = "fail-fast", .kind = HD_OPTS_FLAG, .id = S_ID_FAIL_FAST,                          \
      .help = "stop at the first failed task", .offset = -1, .set = s_set, .flags = hide },    \
    { .name = "raw", .kind = HD_OPTS_FLAG, .id = S_ID_RAW,                                      \
      .help = "write results back to back, adding nothing", .offset = -1, .set = s_set,        \
      .flags = hide },                                                                         \
    { .name = "sep", .kind = HD_OPTS_STRING, .meta = "STR", .id = S_ID_SEP,                     \
      .help = "write STR after each result (escapes: \\n \\t \\0 \\\\); default: a newline "  \
              "unless the result ends with one", .offset = -1, .set = s_set, .flags = hide },  \
    { .name = "quiet", .letter = 'q', .kind = HD_OPTS_FLAG,                                     \
      .help = "no progress bar and no summary on stderr", .offset = S_OFF (quiet) },           \
    { .name = "detach", .kind = HD_OPTS_FLAG, .offset = S_OFF (detach), .flags = hide,          \
      .help = "submit as a detached job, print its id and return (= heddle submit; then "      \
              "heddle results JOB)" },                                                         \
    { .name = "resume", .kind = HD_OPTS_STRING, .meta = "JOB", .offset = S_OFF (resume),        \
      .flags = hide,                                                                           \
      .help = "go on with a map that was killed: read the results its job has stored and run " \
              "only the other tasks (same FN, INPUT and --split)" },                           \
    { .name = "ttl", .kind = HD_OPTS_STRING, .meta = "DURATION", .id = S_ID_TTL, .offset = -1,  \
      .set = s_set, .help = "how long the broker keeps the job (and its results) if nobody "   \
      "releases it: N[s|m|h|d], at most 90d", .def = "map: 1d; submit, --detach: the broker's, " \
      "7d" },                                                                                  \
    { .name = "name", .kind = HD_OPTS_STRING, .meta = "NAME", .offset = S_OFF (name),           \
      .help = "the job's name in 'heddle jobs'", .def = "FN INPUT" },                          \
    HD_CLI_HELP_OPT,                                                                           \
    HD_OPTS_END

static const hd_opt_t s_map_opts[] = { S_MAP_OPTS (0) };
static const hd_opt_t s_submit_opts[] = { S_MAP_OPTS (HD_OPTS_HIDDEN) };
// clang-format on

static const hd_opts_prog_t s_map_prog = {
    .name = "heddle map",
    .usage = "heddle map [OPTIONS] FN [INPUT]",
    .summary = "Run one task of function FN per line (or other piece: see --split) of INPUT, a "
               "file or '-' for standard input (the default), and write the results to stdout.",
    .epilog = "With a broker, map runs as a job the broker keeps (its results survive a broker "
              "restart): if map is killed, 'heddle map --resume JOB ...' finishes it; its id is "
              "printed on stderr when that is a terminal (or with -v). The job is released once "
              "every result is written. A progress bar is drawn on stderr when it is a "
              "terminal. Failed tasks write nothing to stdout; the first "
              S_STR (HD_CLI_FAILURES_SHOWN) " failures go to stderr with their index (0-based) "
              "and error, the others are counted by reason. Ctrl-C cancels the tasks still out, "
              "writes the results that came back and says how many tasks were done, failed and "
              "cancelled; a second Ctrl-C exits at once.\n\n"
              "Exit status: 0 every task succeeded; 1 some task failed, or heddle could not run "
              "them; 2 bad usage; 130 interrupted (Ctrl-C).\n",
    .opts = s_map_opts,
};

static const hd_opts_prog_t s_submit_prog = {
    .name = "heddle submit",
    .usage = "heddle submit [OPTIONS] FN [INPUT]",
    .summary = "Submit one task of function FN per line (or other piece: see --split) of INPUT "
               "as a detached job, print the job's id on stdout and return once the broker "
               "holds every task (durably). The job runs on without this process; the broker "
               "keeps its results until 'heddle release JOB' or its TTL. Same as 'heddle map "
               "--detach' (which takes map's other options).\n"
               "Then: heddle jobs, heddle status JOB, heddle results JOB, heddle release JOB.",
    .epilog = "Needs a broker (--broker): the embedded cluster keeps no jobs.\n"
              "Exit status: 0 submitted; 1 heddle could not submit the job; 2 bad usage.\n",
    .opts = s_submit_opts,
};

static const char *
s_cmd (const s_map_t *self)
{
    return self->submit ? "submit" : S_CMD;
}

//  Parse argv into self and common. Returns -1 to go on, else an exit code.
static int
s_parse (s_map_t *self, hd_cli_common_t *common, int argc, char **argv)
{
    const s_map_t defaults = { .window = S_DEFAULT_WINDOW };
    int optind_;
    int code = hd_cli_parse (common, self->submit ? &s_submit_prog : &s_map_prog, self, &defaults,
                             HD_CLI_TASK, argc, argv, &optind_);
    if (code >= 0)
        return code;
    if (optind_ >= argc || !*argv[optind_])
        return hd_cli_usage (s_cmd (self), "which function? (heddle %s FN [INPUT])",
                             s_cmd (self));
    if (argc - optind_ > 2)
        return hd_cli_usage (s_cmd (self), "one INPUT at most (use cat to join files)");
    if (self->detach && self->resume)
        return hd_cli_usage (s_cmd (self), "--detach starts a new job; --resume goes on with "
                             "one: give one of them");
    if (self->name && strlen (self->name) > 64)
        return hd_cli_usage (s_cmd (self), "--name: at most 64 bytes");
    self->fn = argv[optind_];
    if (optind_ + 1 < argc && strcmp (argv[optind_ + 1], "-") != 0)
        self->input = argv[optind_ + 1];
    return -1;
}

// --- results ------------------------------------------------------------------------------

static void
s_write_result (s_map_t *self, const hd_reply_t *reply)
{
    hd_cli_write_result (stdout, reply, &self->sep);
}

static void
s_print_summary (s_map_t *self, const hd_job_stats_t *s)
{
    if (self->quiet)
        return;
    hd_job_stats_t stats = *s;
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
    if (self->run && self->run->skipped)
        fprintf (stderr, "; %llu result%s stored before this run", (unsigned long long)
                 self->run->skipped, self->run->skipped == 1 ? " was" : "s were");
    fputc ('\n', stderr);
}

//  --fail-fast: cancel the job; tasks in flight are cancelled at the broker, the rest never go.
static void
s_stop_now (s_map_t *self)
{
    if (!self->stopping) {
        hd_cli_progress_clear (&self->progress);
        fprintf (stderr, "heddle: map: stopping at the first failure (--fail-fast)\n");
        if (self->job)
            hd_client_job_cancel (self->job);
        else
            hd_cli_jobrun_cancel (self->run);
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

//  Stream the input through the splitter into the job (add: hd_split's callback). Exit code,
//  or -1 to go on.
static int
s_load_tasks (s_map_t *self, FILE *in, hd_err_t (*add) (const void *, size_t, void *),
              void *arg)
{
    hd_split_t *split = hd_split_new (&self->split, add, arg);
    char *chunk = malloc (S_READ_CHUNK);
    hd_err_t rc = split && chunk ? HD_OK : HD_ENOMEM;
    while (rc == HD_OK && !feof (in) && !ferror (in) && !hd_cli_interrupted) {
        size_t n = fread (chunk, 1, S_READ_CHUNK, in);
        rc = hd_split_feed (split, chunk, n);
    }
    if (hd_cli_interrupted) {
        hd_split_destroy (&split);
        free (chunk);
        fprintf (stderr, "heddle: %s: interrupted while reading the input: nothing was run\n",
                 s_cmd (self));
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

//  After a run: stdout flushed, the summary, the exit code.
static int
s_finish (s_map_t *self, hd_err_t rc, const hd_job_stats_t *stats, hd_client_t *client)
{
    int code = -1;
    if (fflush (stdout) != 0 || ferror (stdout))
        code = hd_cli_fail ("writing the results: %s", strerror (errno));
    s_print_summary (self, stats);
    if (rc != HD_OK)
        code = hd_cli_fail ("map %s: %s", self->fn, hd_client_last_error (client));
    if (code < 0 && hd_cli_interrupted)
        return hd_cli_interrupt_code ();
    return code >= 0 ? code : self->failed ? HD_CLI_EXIT_FAIL : HD_CLI_EXIT_OK;
}

//  The tasks loaded into self->job, run on the client's plain session.
static int
s_run_plain (s_map_t *self, hd_client_t *client)
{
    hd_err_t rc = hd_client_job_run (self->job, self->gather, s_on_result, s_on_progress, self);
    hd_job_stats_t stats;
    hd_client_job_stats (self->job, &stats);
    int code = s_finish (self, rc, &stats, client);
    hd_client_job_destroy (&self->job);
    return code;
}

static int
s_run_job (s_map_t *self, hd_client_t *client, FILE *in, const hd_task_opts_t *opts)
{
    self->job = hd_client_job_new (client, self->fn, opts);
    if (!self->job)
        return hd_cli_fail ("map: out of memory");
    int code = s_load_tasks (self, in, s_add_task, self->job);
    if (code >= 0) {
        hd_client_job_destroy (&self->job);
        return code;
    }
    return s_run_plain (self, client);
}

// --- as a detached job ----------------------------------------------------------------------

//  The broker keeps no jobs (no journal, no results budget, an older broker): a plain map.
static int
s_run_fallback (s_map_t *self, hd_cli_common_t *common, const hd_cli_inputs_t *inputs)
{
    hd_cli_conn_t conn;
    int code = hd_cli_connect (common, self->window, &conn);
    if (code != HD_CLI_EXIT_OK)
        return code;
    self->job = hd_client_job_new (conn.client, self->fn, &common->task);
    hd_err_t rc = self->job ? HD_OK : HD_ENOMEM;
    for (uint64_t i = 0; rc == HD_OK && i < inputs->count; i++)
        rc = hd_client_job_add (self->job, inputs->data.data + inputs->offsets[i],
                                inputs->offsets[i + 1] - inputs->offsets[i]);
    code = rc == HD_OK ? s_run_plain (self, conn.client) : hd_cli_fail ("map: out of memory");
    hd_client_job_destroy (&self->job);
    hd_cli_disconnect (&conn);
    return code;
}

static void
s_job_config (const s_map_t *self, const hd_cli_common_t *common, uint64_t total, char *name,
              size_t len, hd_detached_config_t *out)
{
    const char *input = self->input ? strrchr (self->input, '/') : NULL;
    input = input ? input + 1 : self->input ? self->input : "-";
    snprintf (name, len, "%s %s", self->fn, input);
    *out = (hd_detached_config_t) {
        .job = self->resume, .fn = self->fn, .name = self->name ? self->name : name,
        .total = (uint32_t) total, .opts = &common->task,
        .ttl_s = self->ttl_s ? self->ttl_s : self->detach ? 0 : S_MAP_TTL_S };
}

//  `heddle submit`: the id on stdout once every task is accepted.
static int
s_submitted (s_map_t *self, hd_detached_t *job, hd_err_t rc)
{
    const char *id = hd_detached_id (job);
    if (rc == HD_OK && self->run->stats.failed) {  //  such a job would never be done
        hd_detached_release (job);
        return hd_cli_fail ("%s: the broker refused %llu task%s (above): job %s released "
                            "(its other tasks are cancelled)", s_cmd (self),
                            (unsigned long long) self->run->stats.failed,
                            self->run->stats.failed == 1 ? "" : "s", id);
    }
    if (rc == HD_OK) {
        printf ("%s\n", id);
        if (fflush (stdout) != 0)
            return hd_cli_fail ("writing the job id: %s", strerror (errno));
        if (!self->quiet && isatty (STDERR_FILENO))
            fprintf (stderr, "heddle: job %s submitted (%llu tasks): heddle status %s; heddle "
                     "results %s\n", id, (unsigned long long) self->run->inputs->count, id, id);
        return HD_CLI_EXIT_OK;
    }
    const char *why = hd_client_last_error (hd_detached_client (job));
    hd_detached_release (job);  //  half submitted: of no use to anyone
    if (hd_cli_interrupted)
        fprintf (stderr, "heddle: %s: interrupted: job %s released\n", s_cmd (self), id);
    else
        hd_cli_fail ("%s: %s (job %s released)", s_cmd (self), why, id);
    return hd_cli_interrupted ? hd_cli_interrupt_code () : HD_CLI_EXIT_FAIL;
}

//  An attached map run as a job: released once every result is written (or it was cancelled);
//  kept when the run broke off, so that --resume can finish it.
static int
s_mapped (s_map_t *self, hd_detached_t *job, hd_err_t rc)
{
    const char *id = hd_detached_id (job);
    int code = s_finish (self, rc, &self->run->stats, hd_detached_client (job));
    if (rc != HD_OK && !hd_cli_interrupted) {
        fprintf (stderr, "heddle: job %s is kept: finish it with heddle map --resume %s%s%s %s "
                 "%s\n", id, id, self->split_text ? " --split " : "",
                 self->split_text ? self->split_text : "", self->fn,
                 self->input ? self->input : "-");
        return code;
    }
    if (hd_detached_release (job) != HD_OK)
        fprintf (stderr, "heddle: map: could not release job %s (%s): heddle release %s\n", id,
                 hd_client_last_error (hd_detached_client (job)), id);
    return code;
}

static int
s_run_inputs (s_map_t *self, hd_cli_common_t *common, const hd_cli_inputs_t *inputs)
{
    hd_client_config_t config;
    hd_cli_client_config (common, &config);
    config.window = self->window;
    hd_detached_config_t jc;
    char name[128], err[512] = "";
    s_job_config (self, common, inputs->count, name, sizeof name, &jc);
    hd_detached_t *job;
    hd_err_t rc = hd_detached_open (&config, &jc, &job, err, sizeof err);
    bool refused = rc == HD_ENOTSUP || rc == HD_EFULL || rc == HD_ETOOBIG;
    if (refused && !self->detach && !self->resume) {  //  a map all the same, not resumable
        if (common->verbose || (rc != HD_ENOTSUP && !self->quiet))
            fprintf (stderr, "heddle: map: running attached, not as a job: %s\n", err);
        return s_run_fallback (self, common, inputs);
    }
    if (rc != HD_OK)
        return hd_cli_fail ("%s: %s", s_cmd (self), err[0] ? err : hd_strerror (rc));
    hd_client_set_notice_handler (hd_detached_client (job), hd_cli_on_notice, NULL);
    if (!self->detach && !self->quiet && (common->verbose || isatty (STDERR_FILENO)))
        fprintf (stderr, "heddle: job %s (resume with: heddle map --resume %s%s%s %s %s)\n",
                 hd_detached_id (job), hd_detached_id (job), self->split_text ? " --split " : "",
                 self->split_text ? self->split_text : "", self->fn,
                 self->input ? self->input : "-");
    hd_cli_jobrun_t run = { .job = job, .inputs = inputs, .gather = self->gather,
                            .window = self->window, .submit_only = self->detach,
                            .on_result = s_on_result, .on_progress = s_on_progress, .arg = self };
    self->run = &run;
    rc = hd_cli_jobrun (&run);
    int code = self->detach ? s_submitted (self, job, rc) : s_mapped (self, job, rc);
    self->run = NULL;
    hd_detached_destroy (&job);
    return code;
}

static int
s_run_detached (s_map_t *self, hd_cli_common_t *common, FILE *in)
{
    hd_cli_inputs_t inputs;
    hd_cli_inputs_init (&inputs);
    int code = s_load_tasks (self, in, hd_cli_inputs_add, &inputs);
    if (code < 0 && inputs.count > UINT32_MAX)
        code = hd_cli_fail ("%s: %llu tasks: a job has at most %u", s_cmd (self),
                            (unsigned long long) inputs.count, UINT32_MAX);
    else if (code < 0 && !inputs.count && (self->detach || self->resume))
        code = hd_cli_fail ("%s: the input is empty: no task to run", s_cmd (self));
    else if (code < 0 && !inputs.count)
        code = s_run_fallback (self, common, &inputs);  //  nothing to run: no job needed
    else if (code < 0)
        code = s_run_inputs (self, common, &inputs);
    hd_cli_inputs_fini (&inputs);
    return code;
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

static int
s_map (hd_cli_common_t *common, int argc, char **argv, bool submit)
{
    s_map_t self = { .gather = HD_GATHER_ORDERED, .window = S_DEFAULT_WINDOW, .submit = submit,
                     .detach = submit };
    hd_split_parse (NULL, &self.split, NULL, 0);
    int code = s_parse (&self, common, argc, argv);
    if (code >= 0)
        return code;
    hd_cli_common_finish (common);
    if ((self.detach || self.resume) && !common->broker)
        return hd_cli_usage (s_cmd (&self), "%s needs a broker (--broker or $HEDDLE_BROKER): "
                             "the embedded cluster keeps no jobs",
                             submit ? "submit" : self.detach ? "--detach" : "--resume");
    FILE *in = s_open_input (&self);
    if (!in)
        return hd_cli_fail ("opening %s: %s", self.input, strerror (errno));
    hd_cli_progress_init (&self.progress, !self.quiet && isatty (STDERR_FILENO));
    hd_cli_tally_init (&self.tally);
    hd_cli_failures_init (&self.failures);
    hd_cli_conn_t conn;
    if (common->broker)
        code = s_run_detached (&self, common, in);
    else if ((code = hd_cli_connect (common, self.window, &conn)) == HD_CLI_EXIT_OK) {
        code = s_run_job (&self, conn.client, in, &common->task);
        hd_cli_disconnect (&conn);
    }
    hd_cli_tally_fini (&self.tally);
    if (in != stdin)
        fclose (in);
    return code;
}

int
hd_cmd_map (hd_cli_common_t *common, int argc, char **argv)
{
    return s_map (common, argc, argv, false);
}

int
hd_cmd_submit (hd_cli_common_t *common, int argc, char **argv)
{
    return s_map (common, argc, argv, true);
}
