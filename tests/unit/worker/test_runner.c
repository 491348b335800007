/*  test_runner: the execution slots: every queued task runs once and its result comes back with
    its id, attempt and output; the eventfd says when results wait; the capacity bound; cancel
    of a queued task (finished at once, never run) and of a running one; unknown functions.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <poll.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "hd_codec.h"
#include "hd_runner.h"
#include "hd_task.h"

static atomic_int s_gate;      //  "block" waits while this is 0
static atomic_int s_runs;      //  calls of any test function

static int
s_echo (heddle_task_t *task, const void *input, size_t size, void *arg)
{
    (void) arg;
    atomic_fetch_add (&s_runs, 1);
    return hd_task_output (task, input, size);
}

//  Runs until the gate opens or it is cancelled.
static int
s_block (heddle_task_t *task, const void *input, size_t size, void *arg)
{
    (void) input;
    (void) size;
    (void) arg;
    atomic_fetch_add (&s_runs, 1);
    while (!atomic_load (&s_gate)) {
        if (hd_task_cancelled (task))
            return -1;
        usleep (1000);
    }
    return 0;
}

typedef struct {
    hd_fnreg_t *fns;
    hd_runner_t *runner;
} s_ctx_t;

static int
setup (void **state)
{
    static s_ctx_t ctx;
    atomic_store (&s_gate, 0);
    atomic_store (&s_runs, 0);
    ctx.fns = hd_fnreg_new ();
    assert_non_null (ctx.fns);
    assert_int_equal (hd_fnreg_add (ctx.fns, "echo", s_echo, NULL), HD_OK);
    assert_int_equal (hd_fnreg_add (ctx.fns, "block", s_block, NULL), HD_OK);
    *state = &ctx;
    return 0;
}

static int
teardown (void **state)
{
    s_ctx_t *ctx = *state;
    atomic_store (&s_gate, 1);
    hd_runner_destroy (&ctx->runner);
    hd_fnreg_destroy (&ctx->fns);
    return 0;
}

static hd_task_t
s_task (const char *fn, uint8_t n)
{
    hd_task_t t = { .attempt = 1 };
    memset (t.id.b, n, sizeof t.id.b);
    snprintf (t.fn, sizeof t.fn, "%s", fn);
    return t;
}

static hd_err_t
s_start (hd_runner_t *runner, const char *fn, uint8_t n, const char *payload)
{
    hd_task_t t = s_task (fn, n);
    zmq_msg_t msg;
    zmq_msg_init_size (&msg, strlen (payload));
    memcpy (zmq_msg_data (&msg), payload, strlen (payload));
    hd_err_t rc = hd_runner_start (runner, &t, &msg);
    zmq_msg_close (&msg);  //  moved on HD_OK: closing the empty message is harmless
    return rc;
}

//  Wait (bounded) until the eventfd says results wait, then collect up to max.
static uint32_t
s_collect (hd_runner_t *runner, zmq_msg_t *env, zmq_msg_t *out, uint32_t max)
{
    struct pollfd p = { hd_runner_fd (runner), POLLIN, 0 };
    assert_true (poll (&p, 1, 5000) == 1);
    return hd_runner_collect (runner, env, out, max);
}

static void
test_runner_runs_each_task_once_in_a_batch (void **state)
{
    s_ctx_t *ctx = *state;
    ctx->runner = hd_runner_new (2, 64, ctx->fns, "node-a", 0);
    assert_non_null (ctx->runner);
    enum { N = 40 };
    for (uint8_t i = 0; i < N; i++) {
        char text[16];
        snprintf (text, sizeof text, "task-%u", i);
        assert_int_equal (s_start (ctx->runner, "echo", i, text), HD_OK);
    }
    zmq_msg_t env[N], out[N];
    for (int i = 0; i < N; i++) {
        zmq_msg_init (&env[i]);
        zmq_msg_init (&out[i]);
    }
    bool seen[N] = { false };
    uint32_t got = 0;
    while (got < N) {
        uint32_t n = s_collect (ctx->runner, env, out, N);
        for (uint32_t k = 0; k < n; k++) {
            hd_result_t r;
            assert_int_equal (hd_codec_decode_result (zmq_msg_data (&env[k]), zmq_msg_size (&env[k]),
                                                      &r),
                              HD_OK);
            assert_int_equal (r.status, HD_ST_OK);
            assert_int_equal (r.attempt, 1);
            assert_string_equal (r.node, "node-a");
            uint8_t i = r.id.b[0];
            assert_true (i < N && !seen[i]);
            seen[i] = true;
            char text[16];
            snprintf (text, sizeof text, "task-%u", i);
            assert_int_equal (zmq_msg_size (&out[k]), strlen (text));
            assert_memory_equal (zmq_msg_data (&out[k]), text, strlen (text));
        }
        got += n;
    }
    assert_int_equal (atomic_load (&s_runs), N);
    assert_int_equal (hd_runner_done (ctx->runner), N);
    assert_int_equal (hd_runner_collect (ctx->runner, env, out, N), 0);
    for (int i = 0; i < N; i++) {
        zmq_msg_close (&env[i]);
        zmq_msg_close (&out[i]);
    }
}

static void
test_runner_refuses_past_capacity_and_unknown_fn (void **state)
{
    s_ctx_t *ctx = *state;
    ctx->runner = hd_runner_new (1, 4, ctx->fns, "n", 0);
    assert_non_null (ctx->runner);
    assert_int_equal (hd_runner_capacity (ctx->runner), 4);
    for (uint8_t i = 0; i < 4; i++)
        assert_int_equal (s_start (ctx->runner, "block", i, "x"), HD_OK);
    assert_int_equal (s_start (ctx->runner, "block", 9, "x"), HD_EFULL);
    assert_int_equal (s_start (ctx->runner, "nosuch", 10, "x"), HD_ENOTFOUND);
    atomic_store (&s_gate, 1);
    zmq_msg_t env[4], out[4];
    for (int i = 0; i < 4; i++) {
        zmq_msg_init (&env[i]);
        zmq_msg_init (&out[i]);
    }
    uint32_t got = 0;
    while (got < 4)
        got += s_collect (ctx->runner, env + got, out + got, 4 - got);
    assert_int_equal (hd_runner_queued (ctx->runner), 0);
    assert_int_equal (hd_runner_running (ctx->runner), 0);
    //  Room again once the results are collected.
    assert_int_equal (s_start (ctx->runner, "echo", 11, "y"), HD_OK);
    for (int i = 0; i < 4; i++) {
        zmq_msg_close (&env[i]);
        zmq_msg_close (&out[i]);
    }
}

static void
test_runner_cancel_queued_and_running (void **state)
{
    s_ctx_t *ctx = *state;
    ctx->runner = hd_runner_new (1, 0, ctx->fns, "n", 0);
    assert_non_null (ctx->runner);
    assert_int_equal (s_start (ctx->runner, "block", 1, "a"), HD_OK);
    assert_int_equal (s_start (ctx->runner, "echo", 2, "b"), HD_OK);
    assert_int_equal (s_start (ctx->runner, "echo", 3, "c"), HD_OK);
    //  Wait until the slot runs task 1; 2 and 3 are queued behind it.
    for (int i = 0; i < 5000 && hd_runner_running (ctx->runner) == 0; i++)
        usleep (1000);
    assert_int_equal (hd_runner_running (ctx->runner), 1);
    assert_int_equal (hd_runner_queued (ctx->runner), 2);
    hd_id_t two = s_task ("echo", 2).id;
    assert_int_equal (hd_runner_cancel (ctx->runner, &two), HD_OK);
    assert_int_equal (hd_runner_queued (ctx->runner), 1);
    zmq_msg_t env, out;
    zmq_msg_init (&env);
    zmq_msg_init (&out);
    assert_int_equal (s_collect (ctx->runner, &env, &out, 1), 1);
    hd_result_t r;
    assert_int_equal (hd_codec_decode_result (zmq_msg_data (&env), zmq_msg_size (&env), &r), HD_OK);
    assert_int_equal (r.id.b[0], 2);
    assert_int_equal (r.status, HD_ST_CANCELLED);
    //  Now the running one: its function sees the flag and returns.
    hd_id_t one = s_task ("block", 1).id;
    assert_int_equal (hd_runner_cancel (ctx->runner, &one), HD_OK);
    uint32_t seen = 0;
    for (int k = 0; k < 2; k++) {
        assert_int_equal (s_collect (ctx->runner, &env, &out, 1), 1);
        assert_int_equal (hd_codec_decode_result (zmq_msg_data (&env), zmq_msg_size (&env), &r),
                          HD_OK);
        seen |= 1u << r.id.b[0];
        assert_int_equal (r.status, r.id.b[0] == 1 ? HD_ST_CANCELLED : HD_ST_OK);
    }
    assert_int_equal (seen, (1u << 1) | (1u << 3));
    //  Task 2 never ran: runs are block (1) and echo (3).
    assert_int_equal (atomic_load (&s_runs), 2);
    hd_id_t none = s_task ("echo", 77).id;
    assert_int_equal (hd_runner_cancel (ctx->runner, &none), HD_ENOTFOUND);
    zmq_msg_close (&env);
    zmq_msg_close (&out);
}

static void
test_runner_destroy_with_work_pending (void **state)
{
    s_ctx_t *ctx = *state;
    ctx->runner = hd_runner_new (2, 0, ctx->fns, "n", 0);
    assert_non_null (ctx->runner);
    for (uint8_t i = 0; i < 10; i++)
        assert_int_equal (s_start (ctx->runner, i < 2 ? "block" : "echo", i, "z"), HD_OK);
    //  Running tasks are asked to stop, queued ones and uncollected results are dropped.
    hd_runner_destroy (&ctx->runner);
    assert_null (ctx->runner);
}

//  After enough short runs on the slots, a task started while a slot is idle and nothing waits
//  runs inline: its result is there when start returns. With a task queued, it waits its turn.
static void
test_runner_short_function_runs_inline_when_idle (void **state)
{
    s_ctx_t *ctx = *state;
    ctx->runner = hd_runner_new (2, 0, ctx->fns, "n", 0);
    assert_non_null (ctx->runner);
    //  Under emulation (qemu, cross-test) an echo takes far longer than on hardware: the
    //  threshold is raised so that the rule, not the machine's speed, is tested.
    hd_runner_set_inline_us (ctx->runner, 1e6);
    zmq_msg_t env, out;
    zmq_msg_init (&env);
    zmq_msg_init (&out);
    for (uint8_t i = 0; i < 8; i++) {  //  learnt on the slots first
        assert_int_equal (s_start (ctx->runner, "echo", i, "warm"), HD_OK);
        assert_int_equal (s_collect (ctx->runner, &env, &out, 1), 1);
    }
    uint64_t before = hd_runner_inlined (ctx->runner);
    assert_int_equal (s_start (ctx->runner, "echo", 20, "now"), HD_OK);
    assert_true (hd_runner_has_results (ctx->runner));
    assert_int_equal (hd_runner_inlined (ctx->runner), before + 1);
    assert_int_equal (hd_runner_collect (ctx->runner, &env, &out, 1), 1);
    hd_result_t r;
    assert_int_equal (hd_codec_decode_result (zmq_msg_data (&env), zmq_msg_size (&env), &r), HD_OK);
    assert_int_equal (r.id.b[0], 20);
    assert_int_equal (r.status, HD_ST_OK);
    assert_int_equal (zmq_msg_size (&out), 3);
    assert_memory_equal (zmq_msg_data (&out), "now", 3);
    //  Both slots busy: no inline run, it queues behind them.
    assert_int_equal (s_start (ctx->runner, "block", 30, "a"), HD_OK);
    assert_int_equal (s_start (ctx->runner, "block", 31, "b"), HD_OK);
    for (int i = 0; i < 5000 && hd_runner_running (ctx->runner) < 2; i++)
        usleep (1000);
    assert_int_equal (s_start (ctx->runner, "echo", 32, "c"), HD_OK);
    assert_int_equal (hd_runner_inlined (ctx->runner), before + 1);
    assert_int_equal (hd_runner_queued (ctx->runner), 1);
    atomic_store (&s_gate, 1);
    for (int k = 0; k < 3; k++)
        assert_int_equal (s_collect (ctx->runner, &env, &out, 1), 1);
    //  Threshold 0: never inline.
    hd_runner_set_inline_us (ctx->runner, 0);
    assert_int_equal (s_start (ctx->runner, "echo", 40, "d"), HD_OK);
    assert_int_equal (s_collect (ctx->runner, &env, &out, 1), 1);
    assert_int_equal (hd_runner_inlined (ctx->runner), before + 1);
    zmq_msg_close (&env);
    zmq_msg_close (&out);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_runner_runs_each_task_once_in_a_batch, setup,
                                         teardown),
        cmocka_unit_test_setup_teardown (test_runner_refuses_past_capacity_and_unknown_fn, setup,
                                         teardown),
        cmocka_unit_test_setup_teardown (test_runner_cancel_queued_and_running, setup, teardown),
        cmocka_unit_test_setup_teardown (test_runner_destroy_with_work_pending, setup, teardown),
        cmocka_unit_test_setup_teardown (test_runner_short_function_runs_inline_when_idle, setup,
                                         teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
