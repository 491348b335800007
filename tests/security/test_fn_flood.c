/*  Security: function-name flood. One enrolled worker key says HELLO again and again, each time
    with 128 new function names (8 x 128 filled the broker's 1024-name table for good before):
    a real worker joining afterwards must still have its functions served, and the broker's
    table holds no more than the live workers offer.  */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "hd_proto.h"
#include "sec_util.h"

static void
test_fn_flood_leaves_real_functions_working (void **state)
{
    (void) state;
    hd_testenv_init (&sec_env);
    zcert_t *cert = sec_cert ();
    hd_hostile_enroll (&sec_env, cert);
    hd_testenv_start_broker (&sec_env, NULL);
    hd_client_t *c = sec_client = hd_testenv_client (&sec_env, 0);
    hd_hostile_worker_t *w = sec_peer (cert, NULL);
    hd_hello_t *h = calloc (1, sizeof *h);
    assert_non_null (h);
    snprintf (h->name, sizeof h->name, "flood");
    h->slots = 1;
    h->nfns = HD_MAX_FNS;
    for (int round = 0; round < 12; round++) {
        for (int i = 0; i < HD_MAX_FNS; i++)
            snprintf (h->fns[i], sizeof h->fns[i], "junk-%d-%d", round, i);
        assert_int_equal (hd_hostile_worker_hello_msg (w, h), 0);
        //  Each HELLO is answered (WELCOME or an ERROR) before the next one.
        int cmd;
        do
            cmd = hd_hostile_worker_recv (w, 5000, NULL, NULL);
        while (cmd == HD_CMD_BEAT);
        assert_true (cmd == HD_CMD_WELCOME || cmd == HD_CMD_ERROR);
    }
    free (h);
    hd_testenv_start_worker (&sec_env, "real", 2, NULL);
    assert_int_equal (hd_client_wait_nodes (c, 2, 15000), HD_OK);
    hd_reply_t *r = NULL;
    sec_call_ok (c, "echo", "real function", 10000, &r);
    assert_string_equal (r->node, "real");
    hd_reply_destroy (&r);
    sec_call_ok (c, "sha256", "abc", 10000, &r);
    hd_reply_destroy (&r);
    sec_check_broker (&sec_env, "function flood");
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown (test_fn_flood_leaves_real_functions_working, sec_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
