/*  Integration, in one process over 127.0.0.1: the CURVE sockets made by hd_transport fail
    closed. With no ZAP handler answering, a peer with valid keys is not admitted; with the
    handler, an allowed key is admitted and a key of another role is refused.  */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <czmq.h>

#include "hd_auth.h"
#include "hd_transport.h"

typedef struct {
    zcert_t *server, *client;
} s_keys_t;

static int
s_setup (void **state)
{
    s_keys_t *k = calloc (1, sizeof *k);
    k->server = zcert_new ();
    k->client = zcert_new ();
    *state = k;
    return 0;
}

static int
s_teardown (void **state)
{
    s_keys_t *k = *state;
    zcert_destroy (&k->server);
    zcert_destroy (&k->client);
    free (k);
    return 0;
}

//  Bind a CURVE ROUTER, connect a CURVE DEALER, send one frame: true when the ROUTER gets it
//  within 1.5 s.
static bool
s_admitted (s_keys_t *k, const char *domain)
{
    hd_sockopts_t so = { .cert = k->server, .zap_domain = domain };
    zsock_t *router, *dealer;
    char err[256];
    assert_int_equal (hd_transport_bind (&router, ZMQ_ROUTER, "tcp://127.0.0.1:*", &so, err,
                                         sizeof err), HD_OK);
    hd_sockopts_t co = { .cert = k->client };
    memcpy (co.server_key, zcert_public_txt (k->server), HD_KEY_TEXT);
    assert_int_equal (hd_transport_connect (&dealer, ZMQ_DEALER, zsock_endpoint (router), &co,
                                            err, sizeof err), HD_OK);
    zstr_send (dealer, "hello");
    zsock_set_rcvtimeo (router, 1500);
    zmsg_t *msg = zmsg_recv (router);
    bool got = msg != NULL;
    zmsg_destroy (&msg);
    zsock_destroy (&dealer);
    zsock_destroy (&router);
    return got;
}

static void
test_transport_curve_without_zap_handler_admits_nobody (void **state)
{
    assert_false (s_admitted (*state, HD_DOMAIN_CLIENTS));
}

//  The handler runs on its own thread here (in the broker it is polled by the reactor).
static void
s_zap_actor (zsock_t *pipe, void *arg)
{
    hd_auth_t *auth = arg;
    zsock_signal (pipe, 0);
    zpoller_t *poller = zpoller_new (pipe, NULL);
    zpoller_add (poller, hd_auth_socket (auth));
    while (true) {
        void *which = zpoller_wait (poller, -1);
        if (which == pipe || !which)
            break;
        hd_auth_handle (auth);
    }
    zpoller_destroy (&poller);
}

static void
test_transport_zap_admits_allowed_key_and_refuses_other_role (void **state)
{
    s_keys_t *k = *state;
    hd_auth_t *auth = NULL;
    assert_int_equal (hd_auth_new (&auth), HD_OK);
    assert_int_equal (hd_auth_allow (auth, HD_DOMAIN_CLIENTS, zcert_public_txt (k->client),
                                     "client"), HD_OK);
    zactor_t *actor = zactor_new (s_zap_actor, auth);
    assert_true (s_admitted (k, HD_DOMAIN_CLIENTS));
    assert_false (s_admitted (k, HD_DOMAIN_WORKERS));  //  a client key is not a worker key
    zactor_destroy (&actor);
    assert_int_equal (hd_auth_refused (auth) > 0, 1);
    hd_auth_destroy (&auth);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_transport_curve_without_zap_handler_admits_nobody,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (
            test_transport_zap_admits_allowed_key_and_refuses_other_role, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
