/*  Security: absurd HELLO values. An enrolled worker key declares 2^32-1 slots and queue (and
    then more slots than the broker's bound) for a function only it offers, and a task of that
    function is submitted: the broker refuses the HELLO (ERROR REFUSED), registers no node half
    way, stays alive and keeps serving a legitimate client through a real worker.  */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "hd_proto.h"
#include "sec_util.h"

static void
s_expect_refused (hd_hostile_worker_t *w, const char *what)
{
    hd_error_t e = { 0 };
    int cmd;
    do
        cmd = hd_hostile_worker_recv (w, 5000, NULL, &e);
    while (cmd == HD_CMD_BEAT);
    if (cmd != HD_CMD_ERROR || e.code != HD_ST_REFUSED)
        fail_msg ("%s: expected ERROR REFUSED, got command %d code %u", what, cmd, e.code);
    printf ("[ REFUSED  ] %s: %s\n", what, e.reason);
}

static void
test_hello_bounds_refused_and_broker_serves (void **state)
{
    (void) state;
    hd_testenv_init (&sec_env);
    zcert_t *cert = sec_cert ();
    hd_hostile_enroll (&sec_env, cert);
    //  No wait for a worker to come (--worker-wait): nobody offering it is UNKNOWN_FN at once.
    const char *args[] = { "--worker-wait", "0", NULL };
    hd_testenv_start_broker (&sec_env, args);
    hd_testenv_start_worker (&sec_env, "real", 2, NULL);
    hd_client_t *c = sec_client = hd_testenv_client (&sec_env, 1);
    hd_hostile_worker_t *w = sec_peer (cert, NULL);
    assert_int_equal (hd_hostile_worker_hello (w, "huge", "hugefn", UINT32_MAX, UINT32_MAX), 0);
    s_expect_refused (w, "slots and queue 2^32-1");
    //  A task for the function only the refused worker offered: nobody offers it.
    assert_int_equal (hd_client_submit (c, "hugefn", "x", 1, NULL, 0, NULL), HD_OK);
    assert_int_equal (hd_client_flush (c), HD_OK);
    hd_reply_t *r = NULL;
    assert_int_equal (hd_client_next (c, 10000, &r), HD_OK);
    assert_int_equal (r->status, HD_ST_UNKNOWN_FN);
    hd_reply_destroy (&r);
    assert_int_equal (sec_count_nodes (c, "huge", NULL, NULL), 0);
    //  Over the default bound (1024 slots), and a queue over its bound.
    assert_int_equal (hd_hostile_worker_hello (w, "huge", "hugefn", 1025, 0), 0);
    s_expect_refused (w, "slots 1025");
    assert_int_equal (hd_hostile_worker_hello (w, "huge", "hugefn", 1, 65537), 0);
    s_expect_refused (w, "queue 65537");
    assert_int_equal (sec_count_nodes (c, "huge", NULL, NULL), 0);
    //  Values within the bounds are welcome.
    assert_int_equal (hd_hostile_worker_hello (w, "huge", "hugefn", 1024, 65536), 0);
    assert_true (hd_hostile_worker_expect (w, HD_CMD_WELCOME, 5000, NULL, NULL));
    assert_int_equal (sec_count_nodes (c, "huge", NULL, NULL), 1);
    sec_call_ok (c, "echo", "still serving", 10000, &r);
    assert_string_equal (r->node, "real");
    assert_memory_equal (r->data, "still serving", 13);
    hd_reply_destroy (&r);
    sec_check_broker (&sec_env, "hello bounds");
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown (test_hello_bounds_refused_and_broker_serves, sec_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
