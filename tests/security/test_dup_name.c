/*  Security: two boards with one name and different keys (cloned images share a host name, or
    a key posing as another node). The name belongs to the first key that joined with it, also
    after the broker restarts (KEYS/workers.names): the other board is refused (its worker stops
    with an error), the conflict is reported in NODES (state "conflict") and in `nodes pending`,
    and the owner keeps its place and its work.  */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "hd_keys.h"
#include "hd_proto.h"
#include "hd_testcli.h"
#include "sec_util.h"

static pid_t
s_start_clone (const char *cert_path)
{
    const char *extra[] = { "--cert", cert_path, NULL };
    return hd_testenv_start_worker (&sec_env, "board", 1, extra);
}

static void
s_expect_refused_exit (pid_t pid)
{
    int status = 0;
    if (!sec_wait_exit (pid, 10000, &status))
        fail_msg ("the second board (another key, same name) was not refused within 10 s");
    assert_true (WIFEXITED (status));
    assert_int_equal (WEXITSTATUS (status), 1);
}

static void
test_dup_name_refused_and_reported (void **state)
{
    (void) state;
    hd_testenv_init (&sec_env);
    zcert_t *cert = sec_cert ();
    hd_hostile_enroll (&sec_env, cert);
    char cert_path[512];
    hd_hostile_save (&sec_env, cert, "clone", cert_path, sizeof cert_path);
    hd_testenv_start_broker (&sec_env, NULL);
    pid_t owner = hd_testenv_start_worker (&sec_env, "board", 1, NULL);
    hd_client_t *c = sec_client = hd_testenv_client (&sec_env, 1);
    s_expect_refused_exit (s_start_clone (cert_path));
    hd_node_info_t info;
    assert_int_equal (sec_count_nodes (c, "board", "conflict", NULL), 1);
    assert_int_equal (sec_count_nodes (c, "board", NULL, &info), 1);
    char text[1024], admin_cert[400], err[512] = "";
    snprintf (admin_cert, sizeof admin_cert, "%s/admin.cert_secret", sec_env.keys);
    hd_client_config_t cfg = { .endpoint = sec_env.clients_ep, .keys_dir = sec_env.keys,
                               .cert_path = admin_cert };
    hd_client_t *admin = NULL;
    if (hd_client_connect_verbose (&cfg, &admin, err, sizeof err) != HD_OK)
        fail_msg ("admin connect: %s", err);
    hd_err_t rc = hd_client_admin_text (admin, "pending", "*", text, sizeof text);
    hd_client_destroy (&admin);
    assert_int_equal (rc, HD_OK);
    assert_non_null (strstr (text, zcert_public_txt (cert)));
    assert_non_null (strstr (text, "name-conflict"));
    hd_reply_t *r = NULL;
    sec_call_ok (c, "echo", "owner", 5000, &r);
    assert_string_equal (r->node, "board");
    hd_reply_destroy (&r);
    //  The binding is on disk: after a restart the clone is refused again, whoever comes first.
    char path[400];
    snprintf (path, sizeof path, "%s/workers.names", sec_env.keys);
    char *names = hd_testcli_read_file (path, NULL);
    assert_non_null (names);
    assert_non_null (strstr (names, " board\n"));
    free (names);
    //  A new broker on the same keys (on fresh ports: tests running alongside may have taken
    //  the old ones), the owner gone: the clone, the only one to come, is refused all the same.
    hd_testenv_kill (&sec_env, owner, SIGTERM);
    hd_testenv_kill (&sec_env, sec_env.broker, SIGTERM);
    hd_testenv_start_broker (&sec_env, NULL);
    s_expect_refused_exit (s_start_clone (cert_path));
    //  ... while the owner's key still joins under it.
    char path_w[400];
    err[0] = 0;
    snprintf (path_w, sizeof path_w, "%s/worker.cert_secret", sec_env.keys);
    zcert_t *owner_cert = NULL;
    assert_int_equal (hd_keys_load_secret (path_w, &owner_cert, err, sizeof err), HD_OK);
    sec_certs[1] = owner_cert;
    hd_hostile_worker_t *w = sec_peer (owner_cert, NULL);
    assert_int_equal (hd_hostile_worker_hello (w, "board", "echo", 1, 0), 0);
    assert_true (hd_hostile_worker_expect (w, HD_CMD_WELCOME, 5000, NULL, NULL));
    sec_check_broker (&sec_env, "duplicate name");
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown (test_dup_name_refused_and_reported, sec_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
