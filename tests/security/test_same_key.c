/*  Security: the same key and name twice (a cloned SD card, or a restart the broker has not
    noticed yet). The newer connection replaces the older one: the older worker is told so and
    stops with an error, exactly one node of that name stays and serves; a hostile peer with the
    same key and name replaces it the same way (and is itself replaced by the next).  */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "hd_keys.h"
#include "hd_proto.h"
#include "sec_util.h"

static void
test_same_key_replaces_older (void **state)
{
    (void) state;
    hd_testenv_init (&sec_env);
    hd_testenv_start_broker (&sec_env, NULL);
    pid_t first = hd_testenv_start_worker (&sec_env, "twin", 1, NULL);
    hd_client_t *c = sec_client = hd_testenv_client (&sec_env, 1);
    pid_t second = hd_testenv_start_worker (&sec_env, "twin", 1, NULL);
    int status = 0;
    if (!sec_wait_exit (first, 10000, &status))
        fail_msg ("the older connection of the same key and name was not replaced in 10 s");
    assert_true (WIFEXITED (status));
    assert_int_equal (WEXITSTATUS (status), 1);
    assert_true (hd_hostile_alive (second));
    assert_int_equal (sec_count_nodes (c, "twin", NULL, NULL), 1);
    hd_reply_t *r = NULL;
    sec_call_ok (c, "echo", "newer", 10000, &r);
    assert_string_equal (r->node, "twin");
    hd_reply_destroy (&r);
    //  A raw peer with the worker key (read from the keys directory) takes the name over, then
    //  the real worker's next connection would take it back: one node at any time.
    char path[400], err[256] = "";
    snprintf (path, sizeof path, "%s/worker.cert_secret", sec_env.keys);
    zcert_t *cert = NULL;
    assert_int_equal (hd_keys_load_secret (path, &cert, err, sizeof err), HD_OK);
    sec_certs[0] = cert;
    hd_hostile_worker_t *w = sec_peer (cert, NULL);
    assert_int_equal (hd_hostile_worker_hello (w, "twin", "echo", 1, 0), 0);
    assert_true (hd_hostile_worker_expect (w, HD_CMD_WELCOME, 5000, NULL, NULL));
    if (!sec_wait_exit (second, 10000, &status))
        fail_msg ("the real worker was not replaced by the newer connection in 10 s");
    assert_int_equal (sec_count_nodes (c, "twin", NULL, NULL), 1);
    hd_hostile_worker_t *w2 = sec_peer (cert, NULL);
    assert_int_equal (hd_hostile_worker_hello (w2, "twin", "echo", 1, 0), 0);
    assert_true (hd_hostile_worker_expect (w2, HD_CMD_WELCOME, 5000, NULL, NULL));
    hd_error_t e = { 0 };
    assert_true (hd_hostile_worker_expect (w, HD_CMD_ERROR, 5000, NULL, &e));
    assert_int_equal (e.code, HD_ST_REFUSED);
    assert_int_equal (sec_count_nodes (c, "twin", NULL, NULL), 1);
    sec_check_broker (&sec_env, "same key twice");
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown (test_same_key_replaces_older, sec_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
