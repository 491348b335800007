//  hd_transport_monitor: a monitor nobody reads must never stop the context's I/O thread
//  (libzmq sends monitor events with a blocking send from that thread).
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <czmq.h>

#include "hd_transport.h"

#define S_CYCLES 1300  //  2 events each: past the 2,000 a default pipe holds

static void
test_monitor_unread_never_freezes_the_context (void **state)
{
    (void) state;
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    assert_non_null (router);
    int port = zsock_bind (router, "tcp://127.0.0.1:![61000-]");
    assert_true (port > 0);
    zsock_t *mon = NULL;
    assert_int_equal (hd_transport_monitor (router, &mon), HD_OK);  //  never read below
    char ep[64];
    snprintf (ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    zsock_set_rcvtimeo (router, 5000);
    for (int i = 0; i < S_CYCLES; i++) {
        zsock_t *d = zsock_new (ZMQ_DEALER);
        zsock_set_linger (d, 0);
        zsock_connect (d, "%s", ep);
        zstr_send (d, "x");  //  a message, so the connection completes its handshake
        zmsg_t *m = zmsg_recv (router);
        assert_non_null (m);  //  a frozen I/O thread delivers nothing
        zmsg_destroy (&m);
        zsock_destroy (&d);
    }
    //  The context still moves messages.
    zsock_t *d = zsock_new (ZMQ_DEALER);
    zsock_connect (d, "%s", ep);
    zstr_send (d, "alive");
    zmsg_t *m = zmsg_recv (router);
    assert_non_null (m);
    zmsg_destroy (&m);
    zsock_destroy (&d);
    hd_transport_monitor_stop (router, &mon);  //  not the reader alone: see the next test
    zsock_destroy (&router);
}

//  A socket whose handshakes keep failing keeps emitting events (connected, failed,
//  disconnected, every reconnect) while its monitor's reader is gone: hd_transport_monitor_stop
//  must stop the monitor first, or libzmq's blocking event send stops the I/O thread (the
//  test_cluster hang of session 3: a client refused at connect was destroyed reader first).
static void
test_monitor_stopped_before_its_reader_goes (void **state)
{
    (void) state;
    zcert_t *server_cert = zcert_new (), *client_cert = zcert_new (), *wrong = zcert_new ();
    zsock_t *server = zsock_new (ZMQ_ROUTER);
    zcert_apply (server_cert, server);
    zsock_set_curve_server (server, 1);
    int port = zsock_bind (server, "tcp://127.0.0.1:![61000-]");
    assert_true (port > 0);
    zsock_t *client = zsock_new (ZMQ_DEALER);
    zsock_set_linger (client, 0);
    zsock_set_reconnect_ivl (client, 10);
    zcert_apply (client_cert, client);
    zsock_set_curve_serverkey (client, zcert_public_txt (wrong));  //  every handshake fails
    zsock_t *mon = NULL;
    assert_int_equal (hd_transport_monitor (client, &mon), HD_OK);
    assert_int_equal (zsock_connect (client, "tcp://127.0.0.1:%d", port), 0);
    zsock_set_rcvtimeo (mon, 5000);
    zmsg_t *first = zmsg_recv (mon);  //  the monitor is live
    assert_non_null (first);
    zmsg_destroy (&first);
    hd_transport_monitor_stop (client, &mon);
    assert_null (mon);
    zclock_sleep (300);  //  about 30 more failed handshakes, each with its events
    //  The context still moves messages.
    zsock_t *a = zsock_new (ZMQ_PAIR), *b = zsock_new (ZMQ_PAIR);
    int p2 = zsock_bind (a, "tcp://127.0.0.1:![61000-]");
    assert_true (p2 > 0);
    assert_int_equal (zsock_connect (b, "tcp://127.0.0.1:%d", p2), 0);
    zsock_set_rcvtimeo (a, 5000);
    zstr_send (b, "alive");
    char *text = zstr_recv (a);
    assert_non_null (text);  //  a frozen I/O thread delivers nothing
    zstr_free (&text);
    zsock_destroy (&a);
    zsock_destroy (&b);
    zsock_destroy (&client);
    zsock_destroy (&server);
    zcert_destroy (&server_cert);
    zcert_destroy (&client_cert);
    zcert_destroy (&wrong);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_monitor_unread_never_freezes_the_context),
        cmocka_unit_test (test_monitor_stopped_before_its_reader_goes),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
