/*  Security: metrics under another node's name. An enrolled worker key publishes METRICS for a
    victim node's name, 50 a second, saying it is at 99 C (so hot: no new task) with no CPU to
    spare. Metrics count for a node only when sent with that node's key: the victim is never
    shown hot, its own metrics still count, and it keeps getting work.  */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "hd_proto.h"
#include "sec_util.h"

static void
s_spoof (zsock_t *pub, uint64_t *seq, int count)
{
    hd_metrics_t m = { .present = HD_M_SLOTS | HD_M_BUSY, .slots = 1, .busy = 1 };
    snprintf (m.name, sizeof m.name, "victim");
    m.sys.present = HD_M_TEMP | HD_M_CPU;
    m.sys.temp_c = 99.0;
    m.sys.cpu_util = 1.0;
    for (int i = 0; i < count; i++) {
        m.seq = ++*seq;
        assert_int_equal (hd_hostile_metrics_send (pub, &m), 0);
        sec_nap (20);
    }
}

static void
test_metrics_spoof_does_not_count (void **state)
{
    (void) state;
    hd_testenv_init (&sec_env);
    zcert_t *cert = sec_cert ();
    hd_hostile_enroll (&sec_env, cert);
    hd_testenv_start_broker (&sec_env, NULL);
    hd_testenv_start_worker (&sec_env, "victim", 2, NULL);
    hd_client_t *c = sec_client = hd_testenv_client (&sec_env, 1);
    //  The victim's own metrics count (CURVE SUB messages carry the sender's key).
    hd_node_info_t info;
    bool own = false;
    for (int i = 0; i < 100 && !own; i++) {
        own = sec_count_nodes (c, "victim", NULL, &info) == 1
              && (info.present & HD_NODE_HAS_CPU);
        if (!own)
            sec_nap (50);
    }
    assert_true (own);
    zsock_t *pub = sec_pub (cert);
    uint64_t seq = 0;
    s_spoof (pub, &seq, 25);
    for (int sample = 0; sample < 10; sample++) {
        s_spoof (pub, &seq, 5);
        assert_int_equal (sec_count_nodes (c, "victim", NULL, &info), 1);
        if (!strcmp (info.state, "hot") || ((info.present & HD_NODE_HAS_TEMP) && info.temp > 90))
            fail_msg ("sample %d: the victim shows the spoofed figures (state %s, %.0f C)",
                      sample, info.state, info.temp);
    }
    for (int i = 0; i < 5; i++) {
        hd_reply_t *r = NULL;
        s_spoof (pub, &seq, 3);
        sec_call_ok (c, "echo", "work", 5000, &r);
        assert_string_equal (r->node, "victim");
        hd_reply_destroy (&r);
    }
    sec_check_broker (&sec_env, "metrics spoof");
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown (test_metrics_spoof_does_not_count, sec_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
