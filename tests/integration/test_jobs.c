/*  Integration: detached jobs from the client side (issue 13 B), against a real heddle-broker
    with a journal and two heddle-workers on 127.0.0.1 with CURVE. The `heddle` tool is run as a
    child process (submit, jobs, status, results, cancel, release; map --resume), the C API
    (hd_detached_*, hd_client_jobs_*) in this process. The broker is killed with SIGKILL and
    restarted on the same journal between steps; the submitting process has always exited
    before the results are read. Every result is checked against values computed here.  */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hd_testcli.h"
#include "hd_testenv.h"

#define S_RUN_MS 60000       //  bound on any one run of the tool
#define S_SMALL 2000         //  tasks of the small jobs
#define S_BIG 100000         //  tasks of the big job
#define S_SLOW 300           //  slowecho tasks of the resume test
#define S_SLOW_MS "50"       //  each takes this long

static hd_testenv_t s_env;
static char s_plugin[512];

typedef struct {
    char path[400];
    char *expect;     //  the output map writes (one line per task)
    size_t expect_size;
} s_input_t;

static s_input_t s_small, s_big, s_slow;

// --- fixtures -----------------------------------------------------------------------------

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

//  `count` distinct lines; expect = their SHA-256 in hex, one per line (slowecho: each line
//  is "MS|slow-I" and expect is "slow-I").
static void
s_make_input (s_input_t *in, const char *name, int count, bool slowecho)
{
    size_t cap = (size_t) count * 64, size = 0, esize = 0;
    char *text = malloc (cap);
    in->expect = malloc ((size_t) count * 65 + 1);
    assert_true (text && in->expect);
    for (int i = 0; i < count; i++) {
        char line[64];
        int n = slowecho ? snprintf (line, sizeof line, "%s|slow-%d", S_SLOW_MS, i)
                         : snprintf (line, sizeof line, "%d:%x", i, (unsigned) i * 2654435761u);
        memcpy (text + size, line, (size_t) n);
        text[size + (size_t) n] = '\n';
        size += (size_t) n + 1;
        if (slowecho)
            esize += (size_t) sprintf (in->expect + esize, "slow-%d\n", i);
        else {
            unsigned char digest[crypto_hash_sha256_BYTES];
            crypto_hash_sha256 (digest, (unsigned char *) line, (size_t) n);
            sodium_bin2hex (in->expect + esize, 65, digest, sizeof digest);
            in->expect[esize + 64] = '\n';
            esize += 65;
        }
    }
    in->expect[esize] = 0;
    in->expect_size = esize;
    snprintf (in->path, sizeof in->path, "%s/%s", s_env.dir, name);
    hd_testcli_write_file (in->path, text, size);
    free (text);
}

static int
s_setup (void **state)
{
    (void) state;
    assert_true (sodium_init () >= 0);
    hd_testenv_init (&s_env);
    hd_testenv_start_broker (&s_env, NULL);
    hd_testenv_bin ("hd_fault_plugin.so", s_plugin, sizeof s_plugin);
    const char *extra[] = { "--plugin", s_plugin, NULL };
    hd_testenv_start_worker (&s_env, "w1", 2, extra);
    hd_testenv_start_worker (&s_env, "w2", 2, extra);
    hd_client_t *client = hd_testenv_client (&s_env, 2);
    hd_client_destroy (&client);
    s_make_input (&s_small, "small.txt", S_SMALL, false);
    s_make_input (&s_big, "big.txt", S_BIG, false);
    s_make_input (&s_slow, "slow.txt", S_SLOW, true);
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    free (s_small.expect);
    free (s_big.expect);
    free (s_slow.expect);
    hd_testenv_stop (&s_env);
    return 0;
}

//  Run heddle against the env's broker: args, then --broker and --keys.
static void
s_heddle (hd_testcli_t *run, const char *const *args)
{
    const char *argv[32];
    size_t n = 0;
    for (; args[n]; n++) {
        assert_true (n < 27);
        argv[n] = args[n];
    }
    argv[n++] = "--broker";
    argv[n++] = s_env.clients_ep;
    argv[n++] = "--keys";
    argv[n++] = s_env.keys;
    argv[n] = NULL;
    hd_testcli_run (run, argv, NULL, 0, S_RUN_MS);
}

static void
s_expect_code (const hd_testcli_t *run, int code)
{
    if (run->code != code)
        fail_msg ("heddle exited %d (want %d)%s; stderr:\n%s", run->code, code,
                  run->timed_out ? " after the time limit" : "", run->err);
}

static void
s_expect_output (const hd_testcli_t *run, const s_input_t *in)
{
    s_expect_code (run, 0);
    if (run->out_size != in->expect_size || memcmp (run->out, in->expect, in->expect_size) != 0)
        fail_msg ("output differs from the expected one (%zu bytes, want %zu); stderr:\n%s",
                  run->out_size, in->expect_size, run->err);
}

//  `heddle submit FN INPUT`: the job id it printed (alone on its line).
static void
s_submit (const char *fn, const s_input_t *in, char job[HD_JOB_ID_SIZE])
{
    hd_testcli_t run;
    const char *args[] = { "submit", fn, in->path, NULL };
    s_heddle (&run, args);
    s_expect_code (&run, 0);
    assert_int_equal (run.out_size, HD_JOB_ID_SIZE);  //  the id and its newline
    assert_int_equal (run.out[HD_JOB_ID_SIZE - 1], '\n');
    memcpy (job, run.out, HD_JOB_ID_SIZE - 1);
    job[HD_JOB_ID_SIZE - 1] = 0;
    assert_memory_equal (job, "j-", 2);
    hd_testcli_fini (&run);
}

static void
s_kill_restart_broker (void)
{
    hd_testenv_kill (&s_env, s_env.broker, SIGKILL);
    hd_testenv_restart_broker (&s_env, NULL);
}

//  A job's info through the C API on a fresh client (the broker may have been restarted).
static hd_job_info_t
s_info (const char *job)
{
    hd_client_t *client = hd_testenv_client (&s_env, 0);
    hd_job_info_t info;
    hd_err_t rc = hd_client_jobs_info (client, job, &info);
    if (rc != HD_OK)
        fail_msg ("job %s: %s", job, hd_client_last_error (client));
    hd_client_destroy (&client);
    return info;
}

//  Wait (bounded) until the job has at least `stored` results stored.
static void
s_wait_stored (const char *job, uint32_t stored)
{
    hd_client_t *client = hd_testenv_client (&s_env, 0);
    hd_job_info_t info = { .stored = 0 };
    for (int i = 0; i < 600 && info.stored < stored; i++) {
        hd_err_t rc = hd_client_jobs_info (client, job, &info);
        if (rc != HD_OK)
            fail_msg ("job %s: %s", job, hd_client_last_error (client));
        hd_client_process (client, 100, NULL);
    }
    hd_client_destroy (&client);
    if (info.stored < stored)
        fail_msg ("job %s: %u results stored after 60 s, want %u", job, info.stored, stored);
}

//  How many results of `fn` the broker has counted since it started: one per task run to its
//  end (a lost worker's late answer to a lease that was requeued is fenced, not counted). Read
//  once the broker has no task of `fn` queued or running (waits up to 60 s), so that a task of
//  another job still in flight cannot add to a count taken between two reads.
static uint64_t
s_fn_done (const char *fn)
{
    hd_client_t *client = hd_testenv_client (&s_env, 0);
    uint64_t done = 0;
    uint32_t busy = 1;
    for (int i = 0; i < 600 && busy; i++) {
        hd_function_info_t *fns;
        uint32_t count;
        assert_int_equal (hd_client_functions (client, &fns, &count), HD_OK);
        busy = 0;
        for (uint32_t k = 0; k < count; k++)
            if (strcmp (fns[k].name, fn) == 0) {
                busy = fns[k].queued + fns[k].running;
                done = fns[k].done;
            }
        free (fns);
        if (busy)
            hd_client_process (client, 100, NULL);
    }
    hd_client_destroy (&client);
    if (busy)
        fail_msg ("%u tasks of %s still queued or running after 60 s", busy, fn);
    return done;
}

// --- the CLI across broker kills and the submitter's exit ---------------------------------

static void
test_jobs_cli_submit_survives_broker_kill_and_results_twice (void **state)
{
    (void) state;
    char job[HD_JOB_ID_SIZE];
    s_submit ("sha256", &s_small, job);  //  the submitting process has exited
    s_kill_restart_broker ();
    hd_testcli_t run;
    const char *jobs[] = { "jobs", NULL };
    s_heddle (&run, jobs);
    s_expect_code (&run, 0);
    assert_non_null (strstr (run.out, job));
    hd_testcli_fini (&run);
    const char *status[] = { "status", "--wait", job, NULL };
    s_heddle (&run, status);
    s_expect_code (&run, 0);
    assert_non_null (strstr (run.out, ": done"));
    hd_testcli_fini (&run);
    const char *results[] = { "results", job, NULL };
    s_heddle (&run, results);
    s_expect_output (&run, &s_small);
    hd_testcli_fini (&run);
    s_kill_restart_broker ();
    s_heddle (&run, results);  //  again, after another crash: the same bytes
    s_expect_output (&run, &s_small);
    hd_testcli_fini (&run);
    const char *release[] = { "release", job, NULL };
    s_heddle (&run, release);
    s_expect_code (&run, 0);
    hd_testcli_fini (&run);
    s_heddle (&run, results);  //  released: gone, with the next step said
    s_expect_code (&run, 1);
    assert_non_null (strstr (run.err, "heddle jobs"));
    hd_testcli_fini (&run);
}

static void
test_jobs_cli_cancel_survives_broker_kill (void **state)
{
    (void) state;
    char job[HD_JOB_ID_SIZE];
    s_submit ("slowecho", &s_slow, job);
    s_wait_stored (job, 10);
    hd_testcli_t run;
    const char *cancel[] = { "cancel", job, NULL };
    s_heddle (&run, cancel);
    s_expect_code (&run, 0);
    assert_non_null (strstr (run.out, "cancelled"));
    hd_testcli_fini (&run);
    s_kill_restart_broker ();
    hd_job_info_t info = s_info (job);
    assert_string_equal (info.state, "cancelled");
    const char *results[] = { "results", job, NULL };
    s_heddle (&run, results);  //  not done: refused, saying what to do
    s_expect_code (&run, 1);
    assert_non_null (strstr (run.err, "--partial"));
    hd_testcli_fini (&run);
    const char *partial[] = { "results", "--partial", job, NULL };
    s_heddle (&run, partial);
    s_expect_code (&run, 0);
    //  Each line written is the right one, in input order; cancelled tasks wrote nothing.
    size_t lines = hd_testcli_count (run.out, "\n");
    assert_true (lines >= 10 && lines < S_SLOW);
    int last = -1;
    for (char *p = run.out; *p; p = strchr (p, '\n') + 1) {
        int i;
        assert_int_equal (sscanf (p, "slow-%d\n", &i), 1);
        assert_true (i > last && i < S_SLOW);
        last = i;
    }
    hd_testcli_fini (&run);
    const char *release[] = { "release", job, NULL };
    s_heddle (&run, release);
    s_expect_code (&run, 0);
    hd_testcli_fini (&run);
}

static void
test_jobs_cli_unknown_job_is_refused_with_next_step (void **state)
{
    (void) state;
    hd_testcli_t run;
    const char *status[] = { "status", "j-0123456789abcdef", NULL };
    s_heddle (&run, status);
    s_expect_code (&run, 1);
    assert_non_null (strstr (run.err, "no job j-0123456789abcdef"));
    hd_testcli_fini (&run);
    const char *bad[] = { "results", "not-a-job", NULL };
    s_heddle (&run, bad);
    s_expect_code (&run, 1);
    assert_non_null (strstr (run.err, "not a job id"));
    hd_testcli_fini (&run);
    //  A task over the broker's payload limit is refused for good: its refusal is stored as its
    //  result (one outcome per task), so the job ends, and `results` shows the failure.
    char big[400];
    snprintf (big, sizeof big, "%s/toolarge.bin", s_env.dir);
    size_t size = (1u << 20) + 4096;
    char *bytes = calloc (1, size);
    assert_non_null (bytes);
    hd_testcli_write_file (big, bytes, size);
    free (bytes);
    const char *large[] = { "submit", "--split", "whole", "echo", big, NULL };
    s_heddle (&run, large);
    s_expect_code (&run, 0);
    char job[HD_JOB_ID_SIZE + 1] = "";
    snprintf (job, sizeof job, "%s", run.out);
    job[strcspn (job, "\n")] = 0;
    assert_int_equal (strlen (job), HD_JOB_ID_SIZE - 1);
    hd_testcli_fini (&run);
    const char *results[] = { "results", "--wait", job, NULL };
    s_heddle (&run, results);
    if (run.code == 0 || !strstr (run.err, "over the broker's limit"))
        fail_msg ("results of a job whose task was too large: exit %d, stderr:\n%s", run.code,
                  run.err);
    hd_testcli_fini (&run);
    const char *rel[] = { "release", job, NULL };
    s_heddle (&run, rel);
    s_expect_code (&run, 0);
    hd_testcli_fini (&run);
    const char *ttl[] = { "submit", "--ttl", "91d", "sha256", s_small.path, NULL };
    s_heddle (&run, ttl);  //  over the broker's 90 days: bad usage, nothing submitted
    s_expect_code (&run, 2);
    assert_non_null (strstr (run.err, "--ttl"));
    hd_testcli_fini (&run);
    const char *local[] = { "map", "--resume", "j-0123456789abcdef", "sha256", s_small.path,
                            NULL };
    hd_testcli_run (&run, local, NULL, 0, S_RUN_MS);  //  no broker: the embedded cluster
    s_expect_code (&run, 2);
    assert_non_null (strstr (run.err, "needs a broker"));
    hd_testcli_fini (&run);
}

// --- the big job ----------------------------------------------------------------------------

//  heddle submit|map ... --broker --keys, started in the background (stdout to *out_fd when
//  not NULL).
static pid_t
s_spawn_heddle (const char *const *args, int *out_fd)
{
    static char bin[512];
    const char *argv[32] = { hd_testenv_bin ("heddle", bin, sizeof bin) };
    size_t n = 1;
    for (size_t i = 0; args[i]; i++) {
        assert_true (n < 27);
        argv[n++] = args[i];
    }
    argv[n++] = "--broker";
    argv[n++] = s_env.clients_ep;
    argv[n++] = "--keys";
    argv[n++] = s_env.keys;
    argv[n] = NULL;
    return hd_testenv_spawn (&s_env, argv, out_fd);
}

//  The id of this key's running job of `total` tasks, once it is open (bounded wait).
static void
s_find_job (uint32_t total, char job[HD_JOB_ID_SIZE])
{
    job[0] = 0;
    hd_client_t *client = hd_testenv_client (&s_env, 0);
    for (int i = 0; i < 400 && !job[0]; i++) {
        hd_job_info_t *jobs;
        uint32_t count;
        assert_int_equal (hd_client_jobs_list (client, &jobs, &count), HD_OK);
        for (uint32_t k = 0; k < count && !job[0]; k++)
            if (strcmp (jobs[k].state, "running") == 0 && jobs[k].total == total)
                snprintf (job, HD_JOB_ID_SIZE, "%s", jobs[k].job);
        free (jobs);
        hd_client_process (client, 50, NULL);
    }
    hd_client_destroy (&client);
    if (!job[0])
        fail_msg ("no running job of %u tasks appeared within 20 s", total);
}

//  The broker is killed while `heddle submit` is still sending and the job runs, and once more
//  later; the submitter rides out the first kill and prints the id; the results are read twice
//  and are byte for byte those of a plain `heddle map` (and of libsodium).
static void
test_jobs_100k_detached_two_broker_kills_results_twice_equal_map (void **state)
{
    (void) state;
    double t0 = s_now ();
    int out;
    const char *submit[] = { "submit", "sha256", s_big.path, NULL };
    pid_t submitter = s_spawn_heddle (submit, &out);
    char job[HD_JOB_ID_SIZE];
    s_find_job (S_BIG, job);
    s_wait_stored (job, S_BIG / 10);
    hd_job_info_t at_kill = s_info (job);
    s_kill_restart_broker ();
    if (!hd_testenv_wait_text (out, job, S_RUN_MS))
        fail_msg ("heddle submit did not print %s", job);
    close (out);
    int status = hd_testenv_kill (&s_env, submitter, 0);  //  it has printed: it exits now
    assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    double t_submit = s_now () - t0;
    s_wait_stored (job, S_BIG / 2);
    s_kill_restart_broker ();
    hd_testcli_t first, second, plain;
    const char *results[] = { "results", "--wait", job, NULL };
    s_heddle (&first, results);
    double t_done = s_now () - t0;
    s_expect_output (&first, &s_big);
    s_heddle (&second, results);
    s_expect_output (&second, &s_big);
    const char *map[] = { "map", "sha256", s_big.path, NULL };  //  embedded: no job at all
    hd_testcli_run (&plain, map, NULL, 0, S_RUN_MS);
    s_expect_output (&plain, &s_big);
    print_message ("100k job: first kill at %u stored, submitted in %.2f s, every result read "
                   "in %.2f s (2 broker kills); read again in %.2f s; plain embedded map "
                   "%.2f s\n", at_kill.stored, t_submit, t_done, second.seconds, plain.seconds);
    hd_testcli_fini (&first);
    hd_testcli_fini (&second);
    hd_testcli_fini (&plain);
    hd_testcli_t run;
    const char *release[] = { "release", job, NULL };
    s_heddle (&run, release);
    s_expect_code (&run, 0);
    hd_testcli_fini (&run);
}

// --- map killed, then --resume ------------------------------------------------------------

static void
test_jobs_map_killed_then_resumed_runs_only_the_rest (void **state)
{
    (void) state;
    uint64_t done_before = s_fn_done ("slowecho");
    const char *args[] = { "map", "-w", "8", "slowecho", s_slow.path, NULL };
    pid_t map = s_spawn_heddle (args, NULL);
    char job[HD_JOB_ID_SIZE];
    s_find_job (S_SLOW, job);
    s_wait_stored (job, S_SLOW / 3);
    hd_testenv_kill (&s_env, map, SIGKILL);
    hd_job_info_t at_kill = s_info (job);
    assert_true (at_kill.stored < S_SLOW);  //  the window kept most tasks unsubmitted
    hd_testcli_t run;
    const char *resume[] = { "map", "--resume", job, "slowecho", s_slow.path, NULL };
    s_heddle (&run, resume);
    s_expect_output (&run, &s_slow);  //  every result once, in input order
    if (!strstr (run.err, "stored before this run"))
        fail_msg ("the resumed map read nothing stored; stderr:\n%s", run.err);
    hd_testcli_fini (&run);
    //  Each task ran once: the killed map's and the resumed one's together (both counts are
    //  read with no slowecho task queued or running, so no other job's execution is in it).
    assert_int_equal (s_fn_done ("slowecho") - done_before, S_SLOW);
    //  The resumed map released the job once it had written everything.
    hd_client_t *c = hd_testenv_client (&s_env, 0);
    hd_job_info_t info;
    assert_int_equal (hd_client_jobs_info (c, job, &info), HD_ENOTFOUND);
    hd_client_destroy (&c);
}

// --- the C API ----------------------------------------------------------------------------

static void
s_config (hd_client_config_t *config)
{
    *config = (hd_client_config_t) { .endpoint = s_env.clients_ep, .keys_dir = s_env.keys };
}

static void
test_jobs_c_api_submit_exit_attach_ordered_and_completed (void **state)
{
    (void) state;
    hd_client_config_t config;
    s_config (&config);
    config.window = 50;  //  the submit loop meets HD_EFULL (40 times)
    hd_detached_config_t jc = { .fn = "echo", .name = "c api", .total = S_SMALL };
    hd_detached_t *job;
    char err[512] = "", id[HD_JOB_ID_SIZE];
    assert_int_equal (hd_detached_open (&config, &jc, &job, err, sizeof err), HD_OK);
    snprintf (id, sizeof id, "%s", hd_detached_id (job));
    for (uint32_t i = 0; i < S_SMALL; i++) {
        char text[32];
        int n = snprintf (text, sizeof text, "echo-%u", i);
        hd_err_t rc;
        while ((rc = hd_detached_submit (job, i, text, (size_t) n)) == HD_EFULL)
            hd_client_process (hd_detached_client (job), 100, NULL);
        assert_int_equal (rc, HD_OK);
    }
    assert_int_equal (hd_detached_wait_accepted (job, 30000), HD_OK);
    hd_detached_destroy (&job);  //  the submitter goes away
    s_kill_restart_broker ();
    for (int pass = 0; pass < 2; pass++) {
        hd_detached_config_t attach = { .job = id, .read_only = true };
        assert_int_equal (hd_detached_open (&config, &attach, &job, err, sizeof err), HD_OK);
        hd_gather_t gather = pass ? HD_GATHER_COMPLETED : HD_GATHER_ORDERED;
        uint8_t *seen = calloc (S_SMALL, 1);
        hd_reply_t *r;
        uint64_t n = 0;
        hd_err_t rc;
        while ((rc = hd_detached_next (job, gather, 30000, &r)) == HD_OK) {
            char want[32];
            snprintf (want, sizeof want, "echo-%llu", (unsigned long long) r->seq);
            assert_true (r->seq < S_SMALL && !seen[r->seq]);
            if (gather == HD_GATHER_ORDERED)
                assert_int_equal (r->seq, n);
            seen[r->seq] = 1;
            assert_int_equal (r->status, 0);
            assert_string_equal ((char *) r->data, want);
            hd_reply_destroy (&r);
            n++;
        }
        assert_int_equal (rc, HD_ENOTFOUND);
        assert_int_equal (n, S_SMALL);
        free (seen);
        hd_detached_destroy (&job);
    }
    hd_client_t *client = hd_testenv_client (&s_env, 0);
    hd_job_info_t info;
    assert_int_equal (hd_client_jobs_release (client, id, &info), HD_OK);
    assert_int_equal (hd_client_jobs_info (client, id, &info), HD_ENOTFOUND);
    hd_client_destroy (&client);
}

//  The broker takes at most 64 job opens, cancels and releases a second and answers the rest
//  BUSY with a retry hint: the library asks again after it, so none of these fails.
static void
test_jobs_c_api_open_and_release_past_the_rate_bound (void **state)
{
    (void) state;
    hd_client_config_t config;
    s_config (&config);
    for (int i = 0; i < 60; i++) {
        hd_detached_config_t jc = { .fn = "echo", .name = "burst", .total = 1 };
        hd_detached_t *job;
        char err[512] = "";
        if (hd_detached_open (&config, &jc, &job, err, sizeof err) != HD_OK)
            fail_msg ("open %d: %s", i, err);
        if (hd_detached_cancel (job) != HD_OK || hd_detached_release (job) != HD_OK)
            fail_msg ("cancel/release %d: %s", i, hd_client_last_error (hd_detached_client (job)));
        hd_detached_destroy (&job);
    }
}

//  Last: the broker restarted with --results-max-bytes 0 keeps no jobs. map still works (on a
//  plain session, not resumable); submit says why it cannot.
static void
test_jobs_broker_without_jobs_map_runs_attached_submit_refused (void **state)
{
    (void) state;
    hd_testenv_kill (&s_env, s_env.broker, SIGTERM);
    const char *extra[] = { "--results-max-bytes", "0", NULL };
    hd_testenv_restart_broker (&s_env, extra);
    hd_client_t *client = hd_testenv_client (&s_env, 2);  //  the workers are back
    hd_client_destroy (&client);
    hd_testcli_t run;
    const char *map[] = { "map", "-v", "sha256", s_small.path, NULL };
    s_heddle (&run, map);
    s_expect_output (&run, &s_small);
    assert_non_null (strstr (run.err, "not as a job: this broker keeps no detached jobs"));
    hd_testcli_fini (&run);
    const char *submit[] = { "submit", "sha256", s_small.path, NULL };
    s_heddle (&run, submit);
    s_expect_code (&run, 1);
    assert_int_equal (run.out_size, 0);
    assert_non_null (strstr (run.err, "no detached jobs"));
    hd_testcli_fini (&run);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_jobs_cli_submit_survives_broker_kill_and_results_twice),
        //  before any other slowecho job: it counts the broker's slowecho executions
        cmocka_unit_test (test_jobs_map_killed_then_resumed_runs_only_the_rest),
        cmocka_unit_test (test_jobs_cli_cancel_survives_broker_kill),
        cmocka_unit_test (test_jobs_cli_unknown_job_is_refused_with_next_step),
        cmocka_unit_test (test_jobs_c_api_submit_exit_attach_ordered_and_completed),
        cmocka_unit_test (test_jobs_100k_detached_two_broker_kills_results_twice_equal_map),
        cmocka_unit_test (test_jobs_c_api_open_and_release_past_the_rate_bound),
        cmocka_unit_test (test_jobs_broker_without_jobs_map_runs_attached_submit_refused),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
