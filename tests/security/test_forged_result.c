/*  Security: a forged RESULT. An enrolled worker key (the thief) connects with the routing id a
    victim worker used to have (its node name) and answers the victim's lease with its own bytes,
    then joins under its own name and answers the lease again. The client must receive the
    victim's real result, never the forged bytes; the thief's answers are fenced.  */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "hd_proto.h"
#include "sec_util.h"

static void
s_forge (hd_hostile_worker_t *thief, const uint8_t id[16])
{
    hd_result_t r = { .attempt = 1, .status = HD_ST_OK, .elapsed_ms = 1 };
    memcpy (r.id.b, id, 16);
    snprintf (r.node, sizeof r.node, "victim");
    for (uint32_t attempt = 1; attempt <= 3; attempt++) {
        r.attempt = attempt;
        assert_int_equal (hd_hostile_worker_done (thief, &r, "FORGED", 6), 0);
    }
}

static void
test_forged_result_never_reaches_the_client (void **state)
{
    (void) state;
    hd_testenv_init (&sec_env);
    zcert_t *cert = sec_cert ();
    hd_hostile_enroll (&sec_env, cert);
    hd_testenv_start_broker (&sec_env, NULL);
    hd_testenv_start_worker (&sec_env, "victim", 1, NULL);
    hd_client_t *c = sec_client = hd_testenv_client (&sec_env, 1);
    uint8_t id[16];
    assert_int_equal (hd_client_submit (c, "sleep", "1500", 4, NULL, 0, id), HD_OK);
    assert_int_equal (hd_client_flush (c), HD_OK);
    assert_true (sec_wait_busy (c, "victim", 1, 5000));
    //  The routing id the victim had before workers chose random ones: its name.
    hd_hostile_worker_t *thief = sec_peer (cert, "victim");
    s_forge (thief, id);
    //  And as a worker of its own, under its own name: a lease it does not hold.
    hd_hostile_worker_t *thief2 = sec_peer (cert, "thief");
    assert_int_equal (hd_hostile_worker_hello (thief2, "thief", "sleep", 1, 0), 0);
    assert_true (hd_hostile_worker_expect (thief2, HD_CMD_WELCOME, 5000, NULL, NULL));
    s_forge (thief2, id);
    hd_reply_t *r = NULL;
    assert_int_equal (hd_client_next (c, 10000, &r), HD_OK);
    assert_int_equal (r->status, HD_ST_OK);
    assert_string_equal (r->node, "victim");
    assert_int_equal (r->size, 4);
    assert_memory_equal (r->data, "1500", 4);
    hd_reply_destroy (&r);
    sec_check_broker (&sec_env, "forged result");
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown (test_forged_result_never_reaches_the_client, sec_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
