/*  cmd_bench: `heddle bench`: push N small tasks through the asynchronous API with up to W in
    flight, record each task's round trip (submit to result, as the client sees it) in an
    hd_hist, and report throughput and latency percentiles. --latency keeps one task in flight,
    so each round trip is measured without queueing behind others. Results of `echo` are checked
    against the payload sent.  */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "failures.h"
#include "hd_hist.h"
#include "hd_proto.h"
#include "interrupt.h"
#include "progress.h"
#include "tally.h"

#define S_CMD "bench"
#define S_DEFAULT_TASKS 20000
#define S_DEFAULT_LATENCY_TASKS 2000
#define S_DEFAULT_WINDOW 1000
#define S_DEFAULT_SIZE 64
#define S_MAX_TASKS 10000000
#define S_MAX_WINDOW 1000000
#define S_MAX_SIZE (64u << 20)
#define S_STALL_SECONDS 30.0  //  no result for this long (beyond a task deadline): give up

typedef struct {
    //  what to do
    uint32_t tasks, window, size;
    bool tasks_given, latency, json, quiet;
    const char *fn;
    const char *target;  //  broker endpoint, or NULL: embedded cluster
    uint32_t workers;
    //  while running
    hd_client_t *client;
    const hd_task_opts_t *opts;
    uint8_t *payload;
    double *sent_at;  //  submit time of each task, by seq
    uint64_t submitted, received, failed, cancelled;
    double started, seconds;
    hd_cli_failures_t failures;
    hd_hist_t *hist;
    hd_cli_tally_t tally;
    hd_cli_progress_t progress;
} s_bench_t;

#define S_XSTR(x) #x
#define S_STR(x) S_XSTR (x)
#define S_OFF(field) offsetof (s_bench_t, field)

static int
s_tasks_given (void *target, const hd_opt_t *opt, const char *arg, char *err, size_t errlen)
{
    (void) opt, (void) arg, (void) err, (void) errlen;
    ((s_bench_t *) target)->tasks_given = true;
    return 0;
}

// clang-format off
static const hd_opt_t s_opts[] = {
    { .name = "Options:", .kind = HD_OPTS_HEADING },
    { .name = "tasks", .letter = 'n', .kind = HD_OPTS_UINT, .meta = "N", .min = 1,
      .max = S_MAX_TASKS, .help = "tasks to run",
      .def = S_STR (S_DEFAULT_TASKS) "; " S_STR (S_DEFAULT_LATENCY_TASKS) " with --latency",
      .offset = S_OFF (tasks), .set = s_tasks_given },
    { .name = "window", .letter = 'w', .kind = HD_OPTS_UINT, .meta = "N", .min = 1,
      .max = S_MAX_WINDOW, .help = "tasks in flight at most", .offset = S_OFF (window) },
    { .name = "size", .letter = 's', .kind = HD_OPTS_UINT, .meta = "BYTES", .unit = HD_OPTS_BYTES,
      .min = 0, .max = S_MAX_SIZE, .help = "payload of each task", .offset = S_OFF (size) },
    { .name = "fn", .kind = HD_OPTS_STRING, .meta = "NAME", .help = "function to run",
      .offset = S_OFF (fn) },
    { .name = "latency", .kind = HD_OPTS_FLAG,
      .help = "one task in flight at a time (same as --window 1), to measure the round trip "
              "alone", .offset = S_OFF (latency) },
    { .name = "json", .kind = HD_OPTS_FLAG, .help = "print the report as one JSON object",
      .offset = S_OFF (json) },
    { .name = "quiet", .letter = 'q', .kind = HD_OPTS_FLAG, .help = "no progress bar on stderr",
      .offset = S_OFF (quiet) },
    HD_CLI_HELP_OPT,
    HD_OPTS_END,
};
// clang-format on

static const hd_opts_prog_t s_prog = {
    .name = "heddle bench",
    .usage = "heddle bench [OPTIONS]",
    .summary = "Run many tasks through the cluster and report throughput (tasks/s) and "
               "round-trip latency percentiles (submit to result, in ms). Any failed task makes "
               "the exit status 1, and the report then says that its figures are no "
               "measurement. Results of the 'echo' function are checked against what was sent. "
               "Ctrl-C cancels the tasks still out and reports what was done so far.",
    .epilog = "Exit status: 0 every task succeeded; 1 some task failed, or the run could not "
              "finish; 2 bad usage; 130 interrupted (Ctrl-C).\n",
    .opts = s_opts,
};

//  Parse argv into self and common. Returns -1 to go on, else an exit code.
static int
s_parse (s_bench_t *self, hd_cli_common_t *common, int argc, char **argv)
{
    const s_bench_t defaults = { .tasks = S_DEFAULT_TASKS, .window = S_DEFAULT_WINDOW,
                                 .size = S_DEFAULT_SIZE, .fn = "echo" };
    int first;
    int code = hd_cli_parse (common, &s_prog, self, &defaults, HD_CLI_TASK, argc, argv, &first);
    if (code >= 0)
        return code;
    if (first < argc)
        return hd_cli_usage (S_CMD, "unexpected argument '%s'", argv[first]);
    if (self->latency) {
        self->window = 1;
        self->tasks = self->tasks_given ? self->tasks : S_DEFAULT_LATENCY_TASKS;
    }
    return -1;
}

// --- running ------------------------------------------------------------------------------

static void
s_report_failure (s_bench_t *self, const hd_reply_t *reply, uint32_t status, const char *why)
{
    self->failed++;
    if (!hd_cli_failures_add (&self->failures, status, why))
        return;
    hd_cli_progress_clear (&self->progress);
    fprintf (stderr, "heddle: task %llu failed%s%s: %s%s%s\n", (unsigned long long) reply->seq,
             *reply->node ? " on " : "", reply->node, hd_client_status_str (status),
             *why ? ": " : "", why);
}

static void
s_account (s_bench_t *self, const hd_reply_t *reply, double now)
{
    if (reply->seq >= self->submitted)
        return;  //  not one of ours: cannot happen with one client per run
    self->received++;
    if (hd_cli_interrupted && reply->status == HD_ST_CANCELLED) {
        self->cancelled++;  //  by Ctrl-C: no round trip to measure
        return;
    }
    hd_hist_record (self->hist, (uint64_t) ((now - self->sent_at[reply->seq]) * 1e6));
    hd_cli_tally_add (&self->tally, reply->node);
    if (reply->status != 0)
        s_report_failure (self, reply, reply->status, reply->error);
    else if (strcmp (self->fn, "echo") == 0 &&
             (reply->size != self->size || memcmp (reply->data, self->payload, self->size)))
        s_report_failure (self, reply, HD_ST_FAILED, "echo returned other bytes than were sent");
}

//  Fill the window, then send what was queued.
static hd_err_t
s_submit_some (s_bench_t *self)
{
    while (self->submitted < self->tasks && self->submitted - self->received < self->window) {
        uint64_t seq = self->submitted;
        self->sent_at[seq] = hd_cli_now ();
        hd_err_t rc = hd_client_submit (self->client, self->fn, self->payload, self->size,
                                        self->opts, seq, NULL);
        if (rc == HD_EFULL)
            break;
        if (rc != HD_OK)
            return rc;
        self->submitted++;
    }
    return hd_client_flush (self->client);
}

//  Wait for one result (up to `wait_ms`), then take every result already there.
static hd_err_t
s_receive_some (s_bench_t *self, int wait_ms)
{
    hd_reply_t *reply = NULL;
    hd_err_t rc;
    while ((rc = hd_client_next (self->client, wait_ms, &reply)) == HD_OK) {
        s_account (self, reply, hd_cli_now ());
        hd_reply_destroy (&reply);
        wait_ms = 0;
    }
    return rc == HD_ETIMEDOUT || rc == HD_ENOTFOUND ? HD_OK : rc;
}

//  Ctrl-C: cancel what is in flight and take the answers for up to HD_CLIENT_CANCEL_WAIT_MS.
static void
s_interrupt (s_bench_t *self)
{
    self->seconds = hd_cli_now () - self->started;
    hd_cli_progress_clear (&self->progress);
    hd_client_cancel_all (self->client);
    double give_up = hd_cli_now () + HD_CLIENT_CANCEL_WAIT_MS / 1000.0;
    while (hd_client_in_flight (self->client) && hd_cli_now () < give_up)
        if (s_receive_some (self, 50) != HD_OK)
            break;
}

static int
s_loop (s_bench_t *self)
{
    double stall = S_STALL_SECONDS + (self->opts->timeout_ms / 1000.0);
    double last_result = hd_cli_now ();
    self->started = last_result;
    while (self->received < self->tasks) {
        if (hd_cli_interrupted) {
            s_interrupt (self);
            return -1;
        }
        hd_err_t rc = s_submit_some (self);
        uint64_t before = self->received;
        if (rc == HD_OK)
            rc = s_receive_some (self, 100);
        if (rc != HD_OK)
            return hd_cli_fail ("bench: %s", hd_client_last_error (self->client));
        double now = hd_cli_now ();
        if (self->received > before)
            last_result = now;
        else if (now - last_result > stall)
            return hd_cli_fail ("bench: no result for %.0f s (%llu of %u tasks done)", stall,
                                (unsigned long long) self->received, self->tasks);
        hd_cli_progress_update (&self->progress, self->received, self->tasks, now - self->started);
    }
    self->seconds = hd_cli_now () - self->started;
    hd_cli_progress_clear (&self->progress);
    return -1;
}

// --- reporting ----------------------------------------------------------------------------

static double
s_ms (const s_bench_t *self, double p)
{
    return (double) hd_hist_percentile (self->hist, p) / 1000.0;
}

static double
s_rate (const s_bench_t *self)
{
    return self->seconds > 0 ? (double) self->received / self->seconds : 0.0;
}

//  A run with failed or cancelled tasks measured something else than the cluster's speed.
static bool
s_valid (const s_bench_t *self)
{
    return !self->failed && !hd_cli_interrupted && self->received == self->tasks;
}

static void
s_print_text (s_bench_t *self)
{
    if (!s_valid (self))
        printf ("bench: NOT A MEASUREMENT: %s%llu of %u tasks done, %llu failed, %llu cancelled "
                "or not run; the figures below cover the tasks that came back\n",
                hd_cli_interrupted ? "interrupted: " : "",
                (unsigned long long) (self->received - self->failed - self->cancelled),
                self->tasks, (unsigned long long) self->failed,
                (unsigned long long) (self->tasks - (self->received - self->cancelled)));
    if (self->target)
        printf ("bench: %s x %u tasks, %u B each, window %u, broker %s\n", self->fn, self->tasks,
                self->size, self->window, self->target);
    else
        printf ("bench: %s x %u tasks, %u B each, window %u, embedded cluster (%u workers)\n",
                self->fn, self->tasks, self->size, self->window, self->workers);
    if (s_valid (self))
        printf ("throughput: %.0f tasks/s (%llu tasks in %.3f s)\n", s_rate (self),
                (unsigned long long) self->received, self->seconds);
    else
        printf ("throughput: not measured (%llu results in %.3f s, %llu of them failed)\n",
                (unsigned long long) (self->received - self->cancelled), self->seconds,
                (unsigned long long) self->failed);
    printf ("latency ms: p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  (min %.3f, mean "
            "%.3f)\n",
            s_ms (self, 50), s_ms (self, 90), s_ms (self, 99), s_ms (self, 99.9), s_ms (self, 100),
            s_ms (self, 0), hd_hist_mean (self->hist) / 1000.0);
    printf ("failed: %llu\nper node: ", (unsigned long long) self->failed);
    hd_cli_tally_print (&self->tally, stdout);
    putchar ('\n');
}

static void
s_print_json (s_bench_t *self)
{
    printf ("{\"fn\": ");
    hd_cli_json_string (stdout, self->fn);
    printf (", \"tasks\": %u, \"size\": %u, \"window\": %u, \"broker\": ", self->tasks, self->size,
            self->window);
    hd_cli_json_string (stdout, self->target ? self->target : "embedded");
    //  "valid": false when tasks failed or were cancelled: tasks_per_s is then no throughput.
    printf (", \"workers\": %u, \"seconds\": %.6f, \"tasks_per_s\": %.1f, \"failed\": %llu, "
            "\"cancelled\": %llu, \"valid\": %s, ",
            self->target ? 0 : self->workers, self->seconds, s_rate (self),
            (unsigned long long) self->failed,
            (unsigned long long) (self->tasks - (self->received - self->cancelled)),
            s_valid (self) ? "true" : "false");
    printf ("\"latency_ms\": {\"min\": %.3f, \"p50\": %.3f, \"p90\": %.3f, \"p99\": %.3f, "
            "\"p99_9\": %.3f, \"max\": %.3f, \"mean\": %.3f}, \"per_node\": ",
            s_ms (self, 0), s_ms (self, 50), s_ms (self, 90), s_ms (self, 99), s_ms (self, 99.9),
            s_ms (self, 100), hd_hist_mean (self->hist) / 1000.0);
    hd_cli_tally_print_json (&self->tally, stdout);
    printf ("}\n");
}

static int
s_run (s_bench_t *self)
{
    self->hist = hd_hist_new ();
    self->payload = malloc (self->size ? self->size : 1);
    self->sent_at = calloc (self->tasks, sizeof (double));
    int code = self->hist && self->payload && self->sent_at ? -1 : hd_cli_fail ("out of memory");
    for (uint32_t i = 0; code < 0 && i < self->size; i++)
        self->payload[i] = (uint8_t) ('a' + i % 26);
    if (code < 0)
        code = s_loop (self);
    if (code < 0) {
        hd_cli_tally_sort (&self->tally);
        hd_cli_failures_report (&self->failures, S_CMD, stderr);
        if (self->json)
            s_print_json (self);
        else
            s_print_text (self);
        code = hd_cli_interrupted ? hd_cli_interrupt_code ()
               : self->failed     ? HD_CLI_EXIT_FAIL
                                  : HD_CLI_EXIT_OK;
    }
    free (self->sent_at);
    free (self->payload);
    hd_hist_destroy (&self->hist);
    return code;
}

int
hd_cmd_bench (hd_cli_common_t *common, int argc, char **argv)
{
    s_bench_t self = {
        .tasks = S_DEFAULT_TASKS, .window = S_DEFAULT_WINDOW, .size = S_DEFAULT_SIZE, .fn = "echo"
    };
    int code = s_parse (&self, common, argc, argv);
    if (code >= 0)
        return code;
    hd_cli_common_finish (common);
    self.target = common->broker;
    self.workers = common->workers;
    self.opts = &common->task;
    hd_cli_progress_init (&self.progress, !self.quiet && !self.json && isatty (STDERR_FILENO));
    hd_cli_tally_init (&self.tally);
    hd_cli_failures_init (&self.failures);
    hd_cli_conn_t conn;
    code = hd_cli_connect (common, self.window, &conn);
    if (code == HD_CLI_EXIT_OK) {
        self.client = conn.client;
        code = s_run (&self);
        hd_cli_disconnect (&conn);
    }
    hd_cli_tally_fini (&self.tally);
    return code;
}
