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
    zsock_destroy (&mon);
    zsock_destroy (&router);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_monitor_unread_never_freezes_the_context),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
