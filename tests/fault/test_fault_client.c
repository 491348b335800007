/*  Fault injection on clients: a client process submits a job, is SIGKILLed while its tasks
    run, and a new process resumes the same session: every result reaches exactly one of the
    two processes, none twice, none lost, none wrong. Real broker and workers, CURVE, loopback.
    The child is forked before this process touches ZeroMQ (a context must not cross fork).  */
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

#define S_TASKS 200
#define S_SESSION "fault-client-session"

static hd_testenv_t s_env;

static void
s_input (uint64_t i, char *buf, size_t len)
{
    snprintf (buf, len, "100|answer %llu", (unsigned long long) i);
}

static void
s_child_reply (hd_client_t *c, hd_reply_t *r, void *arg)
{
    (void) c;
    FILE *out = arg;
    fprintf (out, "R %llu %u %.*s\n", (unsigned long long) r->seq, r->status, (int) r->size,
             (char *) r->data);
    fflush (out);
    hd_reply_destroy (&r);
}

//  The doomed client: submit everything, report ids and whatever results arrive, then die.
static void
s_child (int fd)
{
    FILE *out = fdopen (fd, "w");
    hd_client_config_t cfg = { .endpoint = s_env.clients_ep, .keys_dir = s_env.keys,
                               .session = S_SESSION };
    hd_client_t *c = NULL;
    if (hd_client_connect (&cfg, &c) != HD_OK || hd_client_wait_nodes (c, 2, 10000) != HD_OK)
        _exit (3);
    hd_client_set_handler (c, s_child_reply, out);
    char in[64], hex[33];
    for (uint64_t i = 0; i < S_TASKS; i++) {
        uint8_t id[16];
        s_input (i, in, sizeof in);
        if (hd_client_submit (c, "slowecho", in, strlen (in), NULL, i, id) != HD_OK)
            _exit (4);
        for (int k = 0; k < 16; k++)
            snprintf (hex + 2 * k, 3, "%02x", id[k]);
        fprintf (out, "I %llu %s\n", (unsigned long long) i, hex);
    }
    fflush (out);
    hd_client_flush (c);
    //  The promise covers accepted tasks: wait until the broker has accepted all of them (and
    //  a few results arrived), then die without a word.
    for (int k = 0; k < 100 && hd_client_unaccepted (c); k++)
        hd_client_process (c, 50, NULL);
    if (hd_client_unaccepted (c))
        _exit (5);
    hd_client_process (c, 200, NULL);
    raise (SIGKILL);
}

typedef struct {
    int results[S_TASKS];
    uint8_t ids[S_TASKS][16];
    int wrong, unexpected;
} s_ledger_t;

static void
s_read_child (int fd, s_ledger_t *l)
{
    FILE *in = fdopen (fd, "r");
    char line[256], word[64];
    unsigned long long seq;
    unsigned status;
    while (fgets (line, sizeof line, in)) {
        if (sscanf (line, "I %llu %32s", &seq, word) == 2 && seq < S_TASKS)
            for (int k = 0; k < 16; k++)
                sscanf (word + 2 * k, "%2hhx", &l->ids[seq][k]);
        else if (sscanf (line, "R %llu %u", &seq, &status) == 2 && seq < S_TASKS) {
            l->results[seq]++;
            l->wrong += status != 0;
        }
    }
    fclose (in);
}

static void
test_fault_client_killed_then_resumed_gets_every_result_once (void **state)
{
    (void) state;
    int pipefd[2];
    assert_int_equal (pipe (pipefd), 0);
    pid_t child = fork ();
    if (child == 0) {
        close (pipefd[0]);
        s_child (pipefd[1]);
    }
    close (pipefd[1]);
    s_ledger_t l = { 0 };
    s_read_child (pipefd[0], &l);
    int status;
    waitpid (child, &status, 0);
    if (WIFEXITED (status))
        fail_msg ("the doomed client exited %d before its kill (5: tasks never accepted)",
                  WEXITSTATUS (status));
    assert_true (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL);
    int before = 0;
    for (int i = 0; i < S_TASKS; i++)
        before += l.results[i];
    hd_client_config_t cfg = { .endpoint = s_env.clients_ep, .keys_dir = s_env.keys,
                               .session = S_SESSION };
    hd_client_t *c = NULL;
    assert_int_equal (hd_client_connect (&cfg, &c), HD_OK);
    for (uint64_t i = 0; i < S_TASKS; i++)
        if (!l.results[i])
            assert_int_equal (hd_client_adopt (c, l.ids[i], i), HD_OK);
    hd_reply_t *r;
    char want[64];
    while (hd_client_next (c, 15000, &r) == HD_OK) {
        if (r->seq >= S_TASKS)
            l.unexpected++;
        else {
            l.results[r->seq]++;
            s_input (r->seq, want, sizeof want);
            if (r->status != 0 || strcmp ((char *) r->data, strchr (want, 0x7c) + 1) != 0)
                l.wrong++;
        }
        hd_reply_destroy (&r);
    }
    int lost = 0, twice = 0;
    for (int i = 0; i < S_TASKS; i++) {
        lost += l.results[i] == 0;
        twice += l.results[i] > 1;
    }
    print_message ("ledger: submitted %d, received before the kill %d, lost %d, duplicated %d, "
                   "wrong %d, unexpected %d\n", S_TASKS, before, lost, twice, l.wrong,
                   l.unexpected);
    assert_int_equal (lost, 0);
    assert_int_equal (twice, 0);
    assert_int_equal (l.wrong, 0);
    assert_int_equal (l.unexpected, 0);
    hd_client_destroy (&c);
}

static int
s_setup (void **state)
{
    (void) state;
    char plugin[512];
    snprintf (plugin, sizeof plugin, "%s/hd_fault_plugin.so", HD_BIN_DIR);
    hd_testenv_init (&s_env);
    hd_testenv_start_broker (&s_env, NULL);
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
