/*  Security: a client key that connects with an admin's routing id (session id) gets none of
    the admin's rights. The admin speaks first, so the broker's last-session cache holds the
    admin's session; the attacker then takes that routing id over (ROUTER handover) and asks
    for drain and approve. Asserted: both are refused DENIED, the node is not draining, and the
    pending worker key is still pending (not approved).  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "hd_hostile.h"
#include "hd_keys.h"

#define S_RID "ops-console"

//  The admin's reply text for "pending" (REJECTED code 0), through a fresh admin session.
static void
s_pending (hd_testenv_t *env, char *out, size_t len)
{
    hd_hostile_t *admin = hd_hostile_connect (env, "admin", "admin-check", 0);
    hd_hostile_admin (admin, "pending", "*");
    hd_hostile_seen_t seen;
    hd_hostile_watch (admin, 5000, NULL, true, NULL, &seen);
    assert_int_equal (seen.rejected, 1);
    assert_int_equal (seen.reject_code, HD_ST_OK);
    snprintf (out, len, "%s", seen.reject_reason);
    hd_hostile_destroy (&admin);
}

//  A worker key nobody approved tries to join: the broker lists it as pending.
static void
s_make_pending_key (hd_testenv_t *env, char key[41])
{
    zcert_t *cert = zcert_new ();
    char path[512], server[HD_KEY_TEXT], err[256];
    assert_int_equal (
        hd_keys_load_public (hd_keys_path (path, sizeof path, env->keys, "broker.cert"), server,
                             err, sizeof err),
        HD_OK);
    snprintf (key, 41, "%s", zcert_public_txt (cert));
    zsock_t *w = zsock_new (ZMQ_DEALER);
    zsock_set_linger (w, 0);
    zcert_apply (cert, zsock_resolve (w));
    zsock_set_curve_serverkey (w, server);
    assert_int_equal (zsock_connect (w, "%s", env->workers_ep), 0);
    char text[1024] = "";
    for (int i = 0; i < 100 && !strstr (text, key); i++) {
        zclock_sleep (100);
        s_pending (env, text, sizeof text);
    }
    assert_non_null (strstr (text, key));
    zsock_destroy (&w);
    zcert_destroy (&cert);
}

static void
test_client_key_with_admin_rid_is_denied (void **state)
{
    hd_testenv_t *env = *state;
    hd_testenv_init (env);
    hd_testenv_start_broker (env, NULL);
    hd_testenv_start_worker (env, "w1", 1, NULL);
    hd_client_t *client = hd_testenv_client (env, 1);
    char pending_key[41];
    s_make_pending_key (env, pending_key);

    hd_hostile_t *admin = hd_hostile_connect (env, "admin", S_RID, 0);
    hd_hostile_admin (admin, "pending", "*");
    hd_hostile_seen_t seen;
    hd_hostile_watch (admin, 5000, NULL, true, NULL, &seen);
    assert_int_equal (seen.reject_code, HD_ST_OK);  //  the admin's own right works

    hd_hostile_t *attacker = hd_hostile_connect (env, "client", S_RID, 0);
    hd_hostile_admin (attacker, "drain", "w1");
    hd_hostile_watch (attacker, 3000, NULL, true, NULL, &seen);
    assert_int_equal (seen.rejected, 1);
    assert_int_equal (seen.reject_code, HD_ST_DENIED);
    char prefix[17];
    memcpy (prefix, pending_key, 16);
    prefix[16] = 0;
    hd_hostile_admin (attacker, "approve", prefix);
    hd_hostile_watch (attacker, 3000, NULL, true, NULL, &seen);
    assert_int_equal (seen.rejected, 1);
    assert_int_equal (seen.reject_code, HD_ST_DENIED);

    hd_node_info_t *nodes = NULL;
    uint32_t n = 0;
    assert_int_equal (hd_client_nodes (client, &nodes, &n), HD_OK);
    assert_int_equal (n, 1);
    assert_string_not_equal (nodes[0].state, "draining");
    free (nodes);
    char text[1024];
    s_pending (env, text, sizeof text);
    assert_non_null (strstr (text, pending_key));  //  still pending, not approved

    hd_hostile_destroy (&attacker);
    hd_hostile_destroy (&admin);
    hd_client_destroy (&client);
}

//  The env lives in the test's state, so that teardown stops its processes even when an
//  assertion failed half-way.
static int
s_setup (void **state)
{
    *state = calloc (1, sizeof (hd_testenv_t));
    return *state ? 0 : -1;
}

static int
s_teardown (void **state)
{
    hd_testenv_t *env = *state;
    if (env->dir[0])
        hd_testenv_stop (env);
    free (env);
    return 0;
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_client_key_with_admin_rid_is_denied, s_setup,
                                         s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
