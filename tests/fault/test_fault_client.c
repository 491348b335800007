/*  Fault injection on clients: in each of S_ROUNDS rounds a client process submits a job of
    S_TASKS short tasks, is SIGKILLed at a random point while its results stream in, and a new
    process resumes the same session (hd_client_open, hd_client_adopt of every id it still
    waits for, hd_client_start) and submits what the first never did: every result reaches
    exactly one of the two processes, none twice, none lost, none wrong. Real broker and
    workers, CURVE, loopback. Both clients are forked processes; this one never touches
    ZeroMQ (a context must not cross fork).  */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hd_testenv.h"

#define S_ROUNDS 10
#define S_WINDOW 4000

static hd_testenv_t s_env;
static uint64_t s_tasks;

typedef struct {
    uint8_t (*ids)[16];       //  id of each task the doomed client submitted
    uint8_t *submitted;       //  1: the doomed client submitted it
    uint32_t *results;        //  results seen, both processes together
    uint64_t wrong, unexpected, before;
} s_ledger_t;

static void
s_input (uint64_t i, char *buf, size_t len)
{
    snprintf (buf, len, "0|answer %llu", (unsigned long long) i);
}

static void
s_print_reply (FILE *out, const hd_reply_t *r)
{
    char want[64];
    s_input (r->seq, want, sizeof want);
    bool right = r->status == 0 && strcmp ((char *) r->data, strchr (want, '|') + 1) == 0;
    fprintf (out, "R %llu %d\n", (unsigned long long) r->seq, right);
}

static void
s_child_reply (hd_client_t *c, hd_reply_t *r, void *arg)
{
    (void) c;
    s_print_reply (arg, r);
    hd_reply_destroy (&r);
}

static hd_client_config_t
s_config (int round, char *session, size_t len)
{
    snprintf (session, len, "fault-client-%d", round);
    hd_client_config_t cfg = { .endpoint = s_env.clients_ep, .keys_dir = s_env.keys,
                               .session = session, .window = S_WINDOW, .timeout_ms = 10000 };
    return cfg;
}

//  Submit tasks from *next on while the window has room; 0 or a failure code.
static int
s_submit_some (hd_client_t *c, FILE *out, uint64_t *next, uint64_t end)
{
    char in[64];
    uint8_t id[16];
    for (; *next < end; (*next)++) {
        s_input (*next, in, sizeof in);
        hd_err_t rc = hd_client_submit (c, "slowecho", in, strlen (in), NULL, *next, id);
        if (rc == HD_EFULL)
            break;
        if (rc != HD_OK)
            return 4;
        if (out) {
            fprintf (out, "I %llu ", (unsigned long long) *next);
            for (int k = 0; k < 16; k++)
                fprintf (out, "%02x", id[k]);
            fputc ('\n', out);
        }
    }
    return hd_client_flush (c) == HD_OK ? 0 : 4;
}

//  The doomed client: submit, report ids and results, and once `kill_after` results arrived
//  (and the broker accepted everything submitted: the promise covers accepted tasks), die.
static void
s_doomed (int fd, int round, uint64_t kill_after)
{
    FILE *out = fdopen (fd, "w");
    setvbuf (out, NULL, _IOFBF, 1 << 16);
    char session[64];
    hd_client_config_t cfg = s_config (round, session, sizeof session);
    hd_client_t *c = NULL;
    if (hd_client_connect (&cfg, &c) != HD_OK || hd_client_wait_nodes (c, 2, 10000) != HD_OK)
        _exit (3);
    hd_client_set_handler (c, s_child_reply, out);
    uint64_t next = 0, got = 0;
    while (got < kill_after) {
        int rc = s_submit_some (c, out, &next, s_tasks);
        uint32_t n = 0;
        if (rc || hd_client_process (c, 100, &n) != HD_OK)
            _exit (rc ? rc : 6);
        got += n;
    }
    for (int k = 0; k < 200 && hd_client_unaccepted (c); k++)
        hd_client_process (c, 50, NULL);
    if (hd_client_unaccepted (c))
        _exit (5);
    fflush (out);
    raise (SIGKILL);
}

//  The new process: adopt what the old one submitted and never saw answered, submit the rest.
static void
s_resumer (int fd, int round, const s_ledger_t *l)
{
    FILE *out = fdopen (fd, "w");
    setvbuf (out, NULL, _IOFBF, 1 << 16);
    char session[64];
    hd_client_config_t cfg = s_config (round, session, sizeof session);
    hd_client_t *c = NULL;
    if (hd_client_open (&cfg, &c, NULL, 0) != HD_OK)
        _exit (3);
    uint64_t next = 0;
    for (uint64_t i = 0; i < s_tasks; i++) {
        if (!l->submitted[i])
            continue;
        next = i + 1;
        if (!l->results[i] && hd_client_adopt (c, l->ids[i], i) != HD_OK)
            _exit (7);
    }
    if (hd_client_start (c) != HD_OK)
        _exit (3);
    hd_reply_t *r;
    for (;;) {
        if (s_submit_some (c, NULL, &next, s_tasks))
            _exit (4);
        hd_err_t rc = hd_client_next (c, 10000, &r);
        if (rc == HD_ENOTFOUND && next == s_tasks)
            break;
        if (rc == HD_ETIMEDOUT) {  //  results lost: the parent counts them
            fflush (out);
            _exit (9);
        }
        if (rc != HD_OK)
            _exit (8);
        s_print_reply (out, r);
        hd_reply_destroy (&r);
    }
    fflush (out);
    hd_client_destroy (&c);
    _exit (0);
}

static void
s_read (int fd, s_ledger_t *l, bool doomed)
{
    FILE *in = fdopen (fd, "r");
    char line[256], word[64];
    unsigned long long seq;
    int right;
    while (fgets (line, sizeof line, in)) {
        if (sscanf (line, "I %llu %32s", &seq, word) == 2 && seq < s_tasks) {
            for (int k = 0; k < 16; k++)
                sscanf (word + 2 * k, "%2hhx", &l->ids[seq][k]);
            l->submitted[seq] = 1;
        }
        else if (sscanf (line, "R %llu %d", &seq, &right) == 2 && seq < s_tasks) {
            l->results[seq]++;
            l->wrong += !right;
            l->before += doomed;
        }
        else
            l->unexpected++;
    }
    fclose (in);
}

//  Run one child (doomed or resumer) and read its report; its exit status.
static int
s_run_child (int round, uint64_t kill_after, s_ledger_t *l)
{
    int pipefd[2];
    assert_int_equal (pipe (pipefd), 0);
    pid_t child = fork ();
    assert_true (child >= 0);
    if (child == 0) {
        close (pipefd[0]);
        if (kill_after)
            s_doomed (pipefd[1], round, kill_after);
        s_resumer (pipefd[1], round, l);
    }
    close (pipefd[1]);
    s_read (pipefd[0], l, kill_after != 0);
    int status;
    waitpid (child, &status, 0);
    return status;
}

static void
s_round (int round, uint64_t *lost_total, uint64_t *twice_total)
{
    s_ledger_t l = { 0 };
    l.ids = calloc (s_tasks, 16);
    l.submitted = calloc (s_tasks, 1);
    l.results = calloc (s_tasks, sizeof *l.results);
    assert_true (l.ids && l.submitted && l.results);
    uint64_t kill_after = s_tasks / 10 + (uint64_t) rand () % (s_tasks * 8 / 10);
    int status = s_run_child (round, kill_after, &l);
    if (WIFEXITED (status))
        fail_msg ("round %d: the doomed client exited %d before its kill (5: tasks never "
                  "accepted)", round, WEXITSTATUS (status));
    assert_true (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL);
    status = s_run_child (round, 0, &l);
    if (!WIFEXITED (status) || (WEXITSTATUS (status) != 0 && WEXITSTATUS (status) != 9))
        fail_msg ("round %d: the resuming client failed (status %d)", round, status);
    uint64_t lost = 0, twice = 0, submitted = 0;
    for (uint64_t i = 0; i < s_tasks; i++) {
        lost += l.results[i] == 0;
        twice += l.results[i] > 1;
        submitted += l.submitted[i];
    }
    print_message ("round %d: %llu tasks, %llu submitted before the kill, %llu results before "
                   "it, lost %llu, twice %llu, wrong %llu, unexpected %llu\n", round,
                   (unsigned long long) s_tasks, (unsigned long long) submitted,
                   (unsigned long long) l.before, (unsigned long long) lost,
                   (unsigned long long) twice, (unsigned long long) l.wrong,
                   (unsigned long long) l.unexpected);
    assert_int_equal (l.wrong, 0);
    assert_int_equal (l.unexpected, 0);
    *lost_total += lost;
    *twice_total += twice;
    free (l.ids);
    free (l.submitted);
    free (l.results);
}

static void
test_fault_client_killed_then_resumed_gets_every_result_once (void **state)
{
    (void) state;
    srand ((unsigned) time (NULL));
    uint64_t lost = 0, twice = 0;
    for (int round = 0; round < S_ROUNDS; round++)
        s_round (round, &lost, &twice);
    print_message ("%d rounds: lost %llu, delivered twice %llu\n", S_ROUNDS,
                   (unsigned long long) lost, (unsigned long long) twice);
    assert_int_equal (lost, 0);
    assert_int_equal (twice, 0);
}

static int
s_setup (void **state)
{
    (void) state;
    s_tasks = hd_testenv_scale (100000);
    char plugin[512];
    snprintf (plugin, sizeof plugin, "%s/hd_fault_plugin.so", HD_BIN_DIR);
    hd_testenv_init (&s_env);
    const char *bargs[] = { "--journal", "batch", NULL };
    hd_testenv_start_broker (&s_env, bargs);
    const char *extra[] = { "--plugin", plugin, NULL };
    hd_testenv_start_worker (&s_env, "w1", 2, extra);
    hd_testenv_start_worker (&s_env, "w2", 2, extra);
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    hd_testenv_stop (&s_env);
    return 0;
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_fault_client_killed_then_resumed_gets_every_result_once),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
