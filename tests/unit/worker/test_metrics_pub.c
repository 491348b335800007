/*  test_metrics_pub: the worker's capacity publisher against a plain SUB socket bound on
    127.0.0.1 (no CURVE: the options are hd_transport's, tested elsewhere). The test passes the
    clock, so periods are checked without waiting for them.  */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hd_codec_metrics.h"
#include "hd_metrics_pub.h"
#include "hd_task.h"

#define S_INTERVAL_MS 100

typedef struct {
    zsock_t *sub;
    uint32_t port;
    hd_metrics_pub_t *pub;
    hd_sockopts_t opts;
} fixture_t;

static int
s_setup (void **state)
{
    fixture_t *fix = calloc (1, sizeof *fix);
    assert_non_null (fix);
    fix->opts.insecure = true;
    char err[256] = "";
    assert_int_equal (
        hd_transport_bind (&fix->sub, ZMQ_SUB, "tcp://127.0.0.1:*", &fix->opts, err, sizeof err),
        HD_OK);
    zsock_set_subscribe (fix->sub, "");
    const char *colon = strrchr (zsock_endpoint (fix->sub), ':');
    fix->port = (uint32_t) atoi (colon + 1);
    fix->pub = hd_metrics_pub_new ("w1", ".", S_INTERVAL_MS, 2.5);
    assert_non_null (fix->pub);
    *state = fix;
    return 0;
}

static int
s_teardown (void **state)
{
    fixture_t *fix = *state;
    hd_metrics_pub_destroy (&fix->pub);
    zsock_destroy (&fix->sub);
    free (fix);
    return 0;
}

static hd_err_t
s_connect (fixture_t *fix, const char *broker, uint32_t port)
{
    char err[256] = "";
    return hd_metrics_pub_connect (fix->pub, broker, port, &fix->opts, err, sizeof err);
}

//  Publish (advancing the test's clock a period at a time) until the SUB, whose connection is
//  asynchronous, receives a snapshot; decode it into *out. At most 5 s.
static void
s_receive (fixture_t *fix, hd_metrics_t *out)
{
    hd_metrics_counts_t counts = { .slots = 4, .busy = 1, .done = 7, .failed = 2 };
    int64_t now = hd_now_ms ();
    for (int i = 0; i < 100; i++, now += S_INTERVAL_MS) {
        assert_int_equal (hd_metrics_pub_tick (fix->pub, now, &counts), HD_OK);
        zpoller_t *poller = zpoller_new (fix->sub, NULL);
        bool ready = zpoller_wait (poller, 50) != NULL;
        zpoller_destroy (&poller);
        if (!ready)
            continue;
        zmsg_t *msg = zmsg_recv (fix->sub);
        assert_int_equal (zmsg_size (msg), 2);
        zframe_t *header = zmsg_first (msg), *env = zmsg_next (msg);
        assert_true (hd_codec_metrics_is_header (zframe_data (header), zframe_size (header)));
        assert_int_equal (hd_codec_decode_metrics (zframe_data (env), zframe_size (env), out),
                          HD_OK);
        zmsg_destroy (&msg);
        return;
    }
    fail_msg ("no snapshot arrived");
}

static void
test_metrics_pub_sends_the_worker_counters (void **state)
{
    fixture_t *fix = *state;
    assert_int_equal (s_connect (fix, "tcp://127.0.0.1:7701", fix->port), HD_OK);
    hd_metrics_t m;
    s_receive (fix, &m);
    assert_string_equal (m.name, "w1");
    assert_int_equal (m.present & HD_M_WORKER_ALL, HD_M_WORKER_ALL);
    assert_int_equal (m.slots, 4);
    assert_int_equal (m.busy, 1);
    assert_int_equal (m.done, 7);
    assert_int_equal (m.failed, 2);
    assert_int_equal (m.interval_ms, S_INTERVAL_MS);
    assert_true (m.score == 2.5);
    assert_true (m.sys.present & HD_M_CORES);
}

static void
test_metrics_pub_numbers_snapshots_in_sequence (void **state)
{
    fixture_t *fix = *state;
    assert_int_equal (s_connect (fix, "tcp://127.0.0.1:7701", fix->port), HD_OK);
    hd_metrics_t first, second;
    s_receive (fix, &first);  //  maybe not seq 1: PUB drops what it sends before SUB joins
    s_receive (fix, &second);
    assert_int_equal (second.seq, first.seq + 1);
}

static void
test_metrics_pub_waits_a_period_between_snapshots (void **state)
{
    fixture_t *fix = *state;
    assert_int_equal (s_connect (fix, "tcp://127.0.0.1:7701", fix->port), HD_OK);
    hd_metrics_counts_t counts = { .slots = 1 };
    int64_t now = hd_now_ms () + S_INTERVAL_MS;  //  past the first snapshot's delay
    assert_int_equal (hd_metrics_pub_due_in (fix->pub, now), 0);
    assert_int_equal (hd_metrics_pub_tick (fix->pub, now, &counts), HD_OK);
    assert_int_equal (hd_metrics_pub_sent (fix->pub), 1);
    int64_t due = hd_metrics_pub_due_in (fix->pub, now + 10);
    assert_true (due > 0 && due <= S_INTERVAL_MS);
    assert_int_equal (hd_metrics_pub_tick (fix->pub, now + 10, &counts), HD_OK);
    assert_int_equal (hd_metrics_pub_sent (fix->pub), 1);
    assert_int_equal (hd_metrics_pub_tick (fix->pub, now + S_INTERVAL_MS, &counts), HD_OK);
    assert_int_equal (hd_metrics_pub_sent (fix->pub), 2);
}

static void
test_metrics_pub_without_a_port_stays_closed (void **state)
{
    fixture_t *fix = *state;
    assert_int_equal (s_connect (fix, "tcp://127.0.0.1:7701", 0), HD_OK);
    assert_false (hd_metrics_pub_is_connected (fix->pub));
    assert_int_equal (hd_metrics_pub_due_in (fix->pub, hd_now_ms ()), -1);
    hd_metrics_counts_t counts = { .slots = 1 };
    assert_int_equal (hd_metrics_pub_tick (fix->pub, hd_now_ms () + 1000, &counts), HD_OK);
    assert_int_equal (hd_metrics_pub_sent (fix->pub), 0);
}

static void
test_metrics_pub_with_an_inproc_broker_stays_closed (void **state)
{
    fixture_t *fix = *state;
    assert_int_equal (s_connect (fix, "inproc://heddle-workers-1", fix->port), HD_OK);
    assert_false (hd_metrics_pub_is_connected (fix->pub));
}

static void
test_metrics_pub_refuses_an_endpoint_without_host (void **state)
{
    fixture_t *fix = *state;
    assert_int_equal (s_connect (fix, "tcp://:7701", fix->port), HD_EINVAL);
    assert_false (hd_metrics_pub_is_connected (fix->pub));
}

static void
test_metrics_pub_disconnect_closes_the_socket (void **state)
{
    fixture_t *fix = *state;
    assert_int_equal (s_connect (fix, "tcp://127.0.0.1:7701", fix->port), HD_OK);
    assert_true (hd_metrics_pub_is_connected (fix->pub));
    hd_metrics_pub_disconnect (fix->pub);
    assert_false (hd_metrics_pub_is_connected (fix->pub));
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_metrics_pub_sends_the_worker_counters, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_metrics_pub_numbers_snapshots_in_sequence, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_metrics_pub_waits_a_period_between_snapshots, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_metrics_pub_without_a_port_stays_closed, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_metrics_pub_with_an_inproc_broker_stays_closed,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_metrics_pub_refuses_an_endpoint_without_host, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_metrics_pub_disconnect_closes_the_socket, s_setup,
                                         s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
