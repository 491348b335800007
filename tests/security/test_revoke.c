/*  Security: `heddle nodes revoke` (a stolen board). An admin revokes a worker by node name
    while it runs a task: the key leaves workers.keys and the broker's memory, the worker is
    told and stops, its task is requeued and finished by another worker, and the key can no
    longer join. A client key may not revoke.  */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "hd_proto.h"
#include "hd_testcli.h"
#include "sec_util.h"

static void
test_revoke_disconnects_and_requeues (void **state)
{
    (void) state;
    hd_testenv_init (&sec_env);
    zcert_t *cert = sec_cert ();
    hd_hostile_enroll (&sec_env, cert);
    char cert_path[512];
    hd_hostile_save (&sec_env, cert, "stolen", cert_path, sizeof cert_path);
    hd_testenv_start_broker (&sec_env, NULL);
    const char *extra[] = { "--cert", cert_path, NULL };
    pid_t stolen = hd_testenv_start_worker (&sec_env, "stolen", 1, extra);
    hd_client_t *c = sec_client = hd_testenv_client (&sec_env, 1);
    uint8_t id[16];
    assert_int_equal (hd_client_submit (c, "sleep", "1500", 4, NULL, 0, id), HD_OK);
    assert_int_equal (hd_client_flush (c), HD_OK);
    assert_true (sec_wait_busy (c, "stolen", 1, 5000));
    hd_testenv_start_worker (&sec_env, "good", 1, NULL);
    //  A raw peer with the same key, joined as a node of its own before the revocation.
    hd_hostile_worker_t *w0 = sec_peer (cert, NULL);
    assert_int_equal (hd_hostile_worker_hello (w0, "stolen-b", "echo", 1, 0), 0);
    assert_true (hd_hostile_worker_expect (w0, HD_CMD_WELCOME, 5000, NULL, NULL));
    assert_int_equal (hd_client_wait_nodes (c, 3, 15000), HD_OK);
    //  A client key may not.
    char text[1024];
    assert_int_equal (hd_client_admin_text (c, "revoke", "stolen", text, sizeof text),
                      HD_EDENIED);
    hd_testcli_t cli = { 0 };
    const char *args[] = { "nodes", "revoke", "stolen", "--broker", sec_env.clients_ep, "--keys",
                           sec_env.keys, NULL };
    hd_testcli_run (&cli, args, NULL, 0, 20000);
    if (cli.code != 0)
        fail_msg ("heddle nodes revoke: exit %d: %s%s", cli.code, cli.out, cli.err);
    assert_non_null (strstr (cli.out, zcert_public_txt (cert)));
    hd_testcli_fini (&cli);
    int status = 0;
    assert_true (sec_wait_exit (stolen, 10000, &status));
    assert_int_equal (WEXITSTATUS (status), 1);
    hd_reply_t *r = NULL;
    assert_int_equal (hd_client_next (c, 15000, &r), HD_OK);
    assert_int_equal (r->status, HD_ST_OK);
    assert_string_equal (r->node, "good");
    hd_reply_destroy (&r);
    char path[400];
    snprintf (path, sizeof path, "%s/workers.keys", sec_env.keys);
    char *keys = hd_testcli_read_file (path, NULL);
    assert_non_null (keys);
    assert_null (strstr (keys, zcert_public_txt (cert)));
    free (keys);
    //  The key can no longer join: not on the connection it has (told REFUSED, and a HELLO
    //  again is refused) ...
    hd_error_t e = { 0 };
    assert_true (hd_hostile_worker_expect (w0, HD_CMD_ERROR, 5000, NULL, &e));
    assert_int_equal (e.code, HD_ST_REFUSED);
    assert_int_equal (hd_hostile_worker_hello (w0, "stolen-b", "echo", 1, 0), 0);
    assert_true (hd_hostile_worker_expect (w0, HD_CMD_ERROR, 5000, NULL, &e));
    assert_int_equal (e.code, HD_ST_REFUSED);
    assert_int_equal (sec_count_nodes (c, "stolen-b", NULL, NULL), 0);
    //  ... nor on a new one (the handshake is refused).
    hd_hostile_worker_t *w = sec_peer (cert, NULL);
    assert_int_equal (hd_hostile_worker_hello (w, "stolen", "echo", 1, 0), 0);
    assert_false (hd_hostile_worker_expect (w, HD_CMD_WELCOME, 1500, NULL, NULL));
    assert_int_equal (sec_count_nodes (c, "stolen", NULL, NULL), 0);
    sec_check_broker (&sec_env, "revoke");
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown (test_revoke_disconnects_and_requeues, sec_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
