/*  cmd_jobs: the detached jobs of the caller's key: `heddle jobs` (a table), `heddle status JOB`
    (its figures; --wait follows it to the end with a progress bar on a terminal), `heddle cancel
    JOB` and `heddle release JOB`. `heddle submit` is in cmd_map.c, `heddle results` in
    cmd_results.c. Each asks the broker on a plain session of the key (any session of the owner
    key may), so it never disturbs a process still attached to the job.  */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "interrupt.h"
#include "jobrun.h"
#include "progress.h"

#define S_POLL_MS 500  //  status --wait: how often the broker is asked

#define S_NEEDS_BROKER                                                                         \
    "Needs a broker (--broker): the embedded cluster keeps no jobs. Only the key that "         \
    "submitted a job sees it.\n"
#define S_EXIT                                                                                 \
    S_NEEDS_BROKER "Exit status: 0 done; 1 no such job or the broker could not be asked; 2 "    \
                   "bad usage.\n"

// clang-format off
static const hd_opt_t s_opts[] = { { .name = "Options:", .kind = HD_OPTS_HEADING }, HD_CLI_HELP_OPT,
                                   HD_OPTS_END };
static const hd_opt_t s_status_opts[] = {
    { .name = "Options:", .kind = HD_OPTS_HEADING },
    { .name = "wait", .kind = HD_OPTS_FLAG, .help = "wait until the job is done or cancelled",
      .offset = 0 },  //  target: the bool
    HD_CLI_HELP_OPT,
    HD_OPTS_END,
};
// clang-format on

static const hd_opts_prog_t s_progs[] = {
    { .name = "heddle jobs", .usage = "heddle jobs [OPTIONS]",
      .summary = "List the detached jobs of your key (newest first, at most 256): id, name, "
                 "state (running, done, cancelled), results done (stored) / failed / tasks, age, "
                 "results per second over the last minute, and when the broker forgets it.",
      .epilog = S_EXIT, .opts = s_opts },
    { .name = "heddle status", .usage = "heddle status [OPTIONS] JOB",
      .summary = "Show one job's progress: its state, tasks done, failed, queued and running, "
                 "the size of its stored results, its rate and when it expires. With --wait, "
                 "follow it (a progress bar on a terminal) until it is no longer running.",
      .epilog = S_NEEDS_BROKER "Exit status: 0 shown (--wait: the job is done and no task "
                "failed); 1 no such job, the broker could not be asked, or (--wait) tasks failed "
                "or the job was cancelled; 2 bad usage.\n",
      .opts = s_status_opts },
    { .name = "heddle cancel", .usage = "heddle cancel [OPTIONS] JOB",
      .summary = "Cancel what still runs of JOB: queued tasks end CANCELLED, running ones are "
                 "stopped. The results already stored stay ('heddle results --partial JOB') "
                 "until 'heddle release JOB' or the job's TTL.",
      .epilog = S_EXIT, .opts = s_opts },
    { .name = "heddle release", .usage = "heddle release [OPTIONS] JOB",
      .summary = "Forget JOB at the broker: what still runs is cancelled and its stored results "
                 "are deleted (their disk space is free again). Cannot be undone.",
      .epilog = S_EXIT, .opts = s_opts },
};

static const hd_opts_prog_t *
s_prog_of (const char *cmd)
{
    for (size_t i = 0; i < sizeof s_progs / sizeof s_progs[0]; i++)
        if (strcmp (s_progs[i].name + strlen ("heddle "), cmd) == 0)
            return &s_progs[i];
    return &s_progs[0];
}

//  Parse argv. *job gets the JOB argument when the command takes one. -1 to go on, else an
//  exit code.
static int
s_parse (hd_cli_common_t *common, const char *cmd, int argc, char **argv, const char **job,
         bool *wait)
{
    bool unused = false;
    int first;
    int code = hd_cli_parse (common, s_prog_of (cmd), wait ? wait : &unused, NULL, 0, argc, argv,
                             &first);
    if (code >= 0)
        return code;
    int want = job ? 1 : 0;
    if (want && (first >= argc || !*argv[first]))
        return hd_cli_usage (cmd, "which job? (heddle %s JOB; 'heddle jobs' lists yours)", cmd);
    if (argc - first > want)
        return hd_cli_usage (cmd, "unexpected argument '%s'", argv[first + want]);
    if (job)
        *job = argv[first];
    hd_cli_common_finish (common);
    if (!common->broker)
        return hd_cli_usage (cmd, "which broker? (--broker HOST or $HEDDLE_BROKER: the "
                             "embedded cluster keeps no jobs)");
    return -1;
}

static double
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

//  The reason of a failed request, with the next step when the job is not there.
static int
s_request_failed (hd_client_t *client, hd_err_t rc, const char *job)
{
    if (rc == HD_ENOTFOUND)
        return hd_cli_fail ("no job %s for this key (released, expired, or submitted with "
                            "another key): 'heddle jobs' lists yours", job);
    if (rc == HD_ENOTSUP)
        return hd_cli_fail ("%s: this broker keeps no detached jobs", hd_client_last_error (client));
    return hd_cli_fail ("%s", hd_client_last_error (client));
}

// --- jobs ---------------------------------------------------------------------------------

static void
s_print_table (const hd_job_info_t *jobs, uint32_t count)
{
    double now = s_now_ms ();
    printf ("%-18s  %-20s  %-9s  %-19s  %-8s  %-8s  %s\n", "JOB", "NAME", "STATE",
            "DONE/FAILED/TOTAL", "AGE", "RATE", "EXPIRES");
    for (uint32_t i = 0; i < count; i++) {
        const hd_job_info_t *j = &jobs[i];
        char counts[48], age[32], expires[32], rate[32];
        snprintf (counts, sizeof counts, "%u/%u/%u", j->stored, j->failed, j->total);
        hd_cli_duration (age, sizeof age, (now - (double) j->created_ms) / 1e3);
        hd_cli_duration (expires, sizeof expires, ((double) j->expires_ms - now) / 1e3);
        snprintf (rate, sizeof rate, "%.0f/s", j->rate);
        printf ("%-18s  %-20.20s  %-9s  %-19s  %-8s  %-8s  %s\n", j->job, j->name, j->state,
                counts, age, rate, expires);
    }
}

int
hd_cmd_jobs (hd_cli_common_t *common, int argc, char **argv)
{
    int code = s_parse (common, "jobs", argc, argv, NULL, NULL);
    if (code >= 0)
        return code;
    hd_cli_conn_t conn;
    if ((code = hd_cli_connect (common, 0, &conn)) != HD_CLI_EXIT_OK)
        return code;
    hd_job_info_t *jobs;
    uint32_t count;
    hd_err_t rc = hd_client_jobs_list (conn.client, &jobs, &count);
    if (rc != HD_OK)
        code = s_request_failed (conn.client, rc, "");
    else if (!count)
        printf ("no jobs for this key\n");
    else
        s_print_table (jobs, count);
    if (rc == HD_OK)
        free (jobs);
    hd_cli_disconnect (&conn);
    return code;
}

// --- status -------------------------------------------------------------------------------

static void
s_print_status (const hd_job_info_t *j)
{
    double now = s_now_ms ();
    char age[32], expires[32];
    hd_cli_duration (age, sizeof age, (now - (double) j->created_ms) / 1e3);
    hd_cli_duration (expires, sizeof expires, ((double) j->expires_ms - now) / 1e3);
    printf ("job %s (%s): %s\n", j->job, j->name[0] ? j->name : "no name", j->state);
    printf ("  tasks     %u: %u done (%u ok, %u failed, %u cancelled), %u queued, %u running\n",
            j->total, j->stored, j->ok, j->failed, j->cancelled, j->queued, j->running);
    printf ("  results   %llu bytes stored; %.1f results/s over the last minute\n",
            (unsigned long long) j->bytes, j->rate);
    printf ("  age       %s; expires in %s (then the broker forgets it)\n", age, expires);
}

//  Poll until the job is no longer running (or Ctrl-C).
static hd_err_t
s_wait_end (hd_client_t *client, const char *job, hd_job_info_t *info)
{
    hd_cli_progress_t bar;
    hd_cli_progress_init (&bar, isatty (STDERR_FILENO));
    double start = hd_cli_now ();
    hd_err_t rc = HD_OK;
    while (rc == HD_OK && strcmp (info->state, "running") == 0 && !hd_cli_interrupted) {
        hd_cli_progress_update (&bar, info->stored, info->total, hd_cli_now () - start);
        hd_client_process (client, S_POLL_MS, NULL);  //  a wait on the socket, not a sleep
        rc = hd_client_jobs_info (client, job, info);
    }
    hd_cli_progress_clear (&bar);
    return rc;
}

int
hd_cmd_status (hd_cli_common_t *common, int argc, char **argv)
{
    const char *job = NULL;
    bool wait = false;
    int code = s_parse (common, "status", argc, argv, &job, &wait);
    if (code >= 0)
        return code;
    hd_cli_conn_t conn;
    if ((code = hd_cli_connect (common, 0, &conn)) != HD_CLI_EXIT_OK)
        return code;
    hd_job_info_t info;
    hd_err_t rc = hd_client_jobs_info (conn.client, job, &info);
    if (rc == HD_OK && wait)
        rc = s_wait_end (conn.client, job, &info);
    if (rc == HD_OK && hd_cli_interrupted)
        code = hd_cli_interrupt_code ();
    else if (rc == HD_OK) {
        s_print_status (&info);
        if (wait && (strcmp (info.state, "done") != 0 || info.failed))
            code = HD_CLI_EXIT_FAIL;
    }
    else
        code = s_request_failed (conn.client, rc, job);
    hd_cli_disconnect (&conn);
    return code;
}

// --- cancel, release ----------------------------------------------------------------------

static int
s_act (hd_cli_common_t *common, const char *cmd, int argc, char **argv)
{
    const char *job = NULL;
    int code = s_parse (common, cmd, argc, argv, &job, NULL);
    if (code >= 0)
        return code;
    hd_cli_conn_t conn;
    if ((code = hd_cli_connect (common, 0, &conn)) != HD_CLI_EXIT_OK)
        return code;
    hd_job_info_t info;
    bool cancel = strcmp (cmd, "cancel") == 0;
    hd_err_t rc = cancel ? hd_client_jobs_cancel (conn.client, job, &info)
                         : hd_client_jobs_release (conn.client, job, &info);
    if (rc != HD_OK)
        code = s_request_failed (conn.client, rc, job);
    else if (cancel)
        printf ("job %s: %s (%u of %u results stored; 'heddle results --partial %s' writes "
                "them)\n", job, info.state, info.stored, info.total, job);
    else
        printf ("job %s: released (its results are deleted)\n", job);
    hd_cli_disconnect (&conn);
    return code;
}

int
hd_cmd_cancel (hd_cli_common_t *common, int argc, char **argv)
{
    return s_act (common, "cancel", argc, argv);
}

int
hd_cmd_release (hd_cli_common_t *common, int argc, char **argv)
{
    return s_act (common, "release", argc, argv);
}
