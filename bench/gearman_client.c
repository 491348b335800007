/*  hd-gearman-client: the Gearman reference of scripts/bench-compare. Submits N echo jobs of B
    bytes to a gearmand on loopback, keeping W in flight: libgearman's non-blocking client lets
    tasks be added between two gearman_client_run_tasks calls, which gives a sliding window.
    Round trips (add to complete) go to an hd_hist; the report has `heddle bench --json`'s keys.  */
#include <getopt.h>
#include <libgearman/gearman.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

#define S_PROG "hd-gearman-client"
#define S_WAIT_MS 100  //  gearman_client_wait blocks at most this long

typedef struct s_client s_client_t;

//  Each job's context: where it came from and when it left.
typedef struct {
    s_client_t *owner;
    double sent_at;
} s_job_t;

struct s_client {
    gearman_client_st *gc;
    const char *host;
    uint32_t port, limit_s;
    uint8_t *payload;
    s_job_t *jobs;  //  by seq
    uint64_t submitted;
    hd_bench_report_t report;
};

static gearman_return_t
s_on_complete (gearman_task_st *task)
{
    s_job_t *job = gearman_task_context (task);
    s_client_t *self = job->owner;
    hd_bench_report_t *r = &self->report;
    r->received++;
    hd_hist_record (r->hist, (uint64_t) ((hd_bench_now () - job->sent_at) * 1e6));
    hd_bench_tally (r, "gearmand", 8);
    if (gearman_task_data_size (task) != r->size ||
        (r->size && memcmp (gearman_task_data (task), self->payload, r->size) != 0))
        r->failed++;
    return GEARMAN_SUCCESS;
}

static gearman_return_t
s_on_fail (gearman_task_st *task)
{
    s_job_t *job = gearman_task_context (task);
    job->owner->report.received++;
    job->owner->report.failed++;
    return GEARMAN_SUCCESS;
}

static int
s_top_up (s_client_t *self)
{
    hd_bench_report_t *r = &self->report;
    while (self->submitted < r->tasks && self->submitted - r->received < r->window) {
        s_job_t *job = &self->jobs[self->submitted];
        gearman_return_t rc;
        job->owner = self;
        job->sent_at = hd_bench_now ();
        if (!gearman_client_add_task (self->gc, NULL, job, "echo", NULL, self->payload, r->size,
                                      &rc)) {
            fprintf (stderr, S_PROG ": add task: %s\n", gearman_client_error (self->gc));
            return -1;
        }
        self->submitted++;
    }
    return 0;
}

//  Let libgearman send and receive what it can, waiting up to S_WAIT_MS for activity.
static int
s_step (s_client_t *self)
{
    gearman_return_t rc = gearman_client_run_tasks (self->gc);
    if (rc == GEARMAN_IO_WAIT) {
        rc = gearman_client_wait (self->gc);
        if (rc == GEARMAN_TIMEOUT || rc == GEARMAN_IO_WAIT)
            rc = GEARMAN_SUCCESS;
    }
    if (gearman_failed (rc)) {
        fprintf (stderr, S_PROG ": %s\n", gearman_client_error (self->gc));
        return -1;
    }
    return 0;
}

static int
s_loop (s_client_t *self)
{
    hd_bench_report_t *r = &self->report;
    double started = hd_bench_now ();
    double deadline = started + self->limit_s;
    while (r->received < r->tasks) {
        if (s_top_up (self) != 0 || s_step (self) != 0)
            return 1;
        if (hd_bench_interrupted || hd_bench_now () > deadline) {
            fprintf (stderr, S_PROG ": stopped after %.0f s with %llu of %u tasks done\n",
                     hd_bench_now () - started, (unsigned long long) r->received, r->tasks);
            return 1;
        }
    }
    r->seconds = hd_bench_now () - started;
    return 0;
}

static int
s_connect (s_client_t *self)
{
    self->gc = gearman_client_create (NULL);
    if (!self->gc)
        return -1;
    if (gearman_failed (gearman_client_add_server (self->gc, self->host, (in_port_t) self->port))) {
        fprintf (stderr, S_PROG ": %s\n", gearman_client_error (self->gc));
        return -1;
    }
    gearman_client_add_options (self->gc, GEARMAN_CLIENT_NON_BLOCKING | GEARMAN_CLIENT_FREE_TASKS);
    gearman_client_set_timeout (self->gc, S_WAIT_MS);
    gearman_client_set_complete_fn (self->gc, s_on_complete);
    gearman_client_set_fail_fn (self->gc, s_on_fail);
    return 0;
}

static int
s_run (s_client_t *self)
{
    hd_bench_report_t *r = &self->report;
    self->payload = malloc (r->size ? r->size : 1);
    self->jobs = calloc (r->tasks, sizeof *self->jobs);
    r->hist = hd_hist_new ();
    if (!self->payload || !self->jobs || !r->hist) {
        fprintf (stderr, S_PROG ": out of memory\n");
        return 1;
    }
    for (uint32_t i = 0; i < r->size; i++)
        self->payload[i] = (uint8_t) ('a' + i % 26);
    if (s_connect (self) != 0)
        return 1;
    int code = s_loop (self);
    if (code == 0) {
        hd_bench_report_json (r, stdout);
        code = r->failed ? 1 : 0;
    }
    return code;
}

static void
s_help (void)
{
    printf ("Usage: " S_PROG " [OPTIONS]\n"
            "Submit echo jobs to a gearmand on loopback with a window of jobs in flight; print\n"
            "one JSON report in the keys of `heddle bench --json`.\n\n"
            "  -H, --host HOST         gearmand address, loopback only (default 127.0.0.1)\n"
            "  -p, --port PORT         gearmand port (default 4730)\n"
            "  -n, --tasks N           jobs in all (default 20000)\n"
            "  -w, --window N          jobs in flight at most (default 1000)\n"
            "  -s, --size BYTES        workload of each job (default 64)\n"
            "      --time-limit S      give up after S seconds (default %d)\n"
            "      --json              accepted for symmetry: the report is always JSON\n"
            "  -h, --help              this text\n",
            HD_BENCH_DEFAULT_LIMIT_S);
}

static int
s_option (s_client_t *self, int c, const char *arg)
{
    hd_bench_report_t *r = &self->report;
    switch (c) {
        case 'H': self->host = arg; return 0;
        case 'p': return hd_bench_parse_u32 (S_PROG, "--port", arg, 1, 65535, &self->port);
        case 'n':
            return hd_bench_parse_u32 (S_PROG, "--tasks", arg, 1, HD_BENCH_MAX_TASKS, &r->tasks);
        case 'w':
            return hd_bench_parse_u32 (S_PROG, "--window", arg, 1, HD_BENCH_MAX_WINDOW, &r->window);
        case 's': return hd_bench_parse_u32 (S_PROG, "--size", arg, 0, HD_BENCH_MAX_SIZE, &r->size);
        case 'L': return hd_bench_parse_u32 (S_PROG, "--time-limit", arg, 1, 86400, &self->limit_s);
        case 'j': return 0;
        default: return -1;
    }
}

//  Returns -1 to go on, else an exit status.
static int
s_parse (s_client_t *self, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, 'h' },
        { "host", required_argument, NULL, 'H' },
        { "port", required_argument, NULL, 'p' },
        { "tasks", required_argument, NULL, 'n' },
        { "window", required_argument, NULL, 'w' },
        { "size", required_argument, NULL, 's' },
        { "time-limit", required_argument, NULL, 'L' },
        { "json", no_argument, NULL, 'j' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    while ((c = getopt_long (argc, argv, "hH:p:n:w:s:", longopts, NULL)) != -1) {
        if (c == 'h') {
            s_help ();
            return 0;
        }
        if (s_option (self, c, optarg) != 0)
            return 2;
    }
    char endpoint[300];
    snprintf (endpoint, sizeof endpoint, "tcp://%s:%u", self->host, self->port);
    if (optind < argc || !hd_bench_is_local (endpoint)) {
        fprintf (stderr, S_PROG ": bad argument, or %s is not on loopback\n", endpoint);
        return 2;
    }
    return -1;
}

int
main (int argc, char **argv)
{
    s_client_t self = { .host = "127.0.0.1", .port = 4730, .limit_s = HD_BENCH_DEFAULT_LIMIT_S };
    self.report = (hd_bench_report_t){
        .fn = "echo", .broker = "gearmand", .tasks = 20000, .window = 1000, .size = 64
    };
    int code = s_parse (&self, argc, argv);
    if (code >= 0)
        return code;
    hd_bench_catch_signals ();
    code = s_run (&self);
    if (self.gc)
        gearman_client_free (self.gc);
    hd_hist_destroy (&self.report.hist);
    free (self.jobs);
    free (self.payload);
    return code;
}
