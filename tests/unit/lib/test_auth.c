/*  Unit tests of hd_auth's decisions (hd_auth_check) and of enrollment: pending worker keys,
    approve, reject, auto-approve. No socket handshake: the ZAP socket is bound but unused.  */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hd_auth.h"
#include "hd_keys.h"

typedef struct {
    hd_auth_t *auth;
    char dir[64], file[128];
} s_fixture_t;

//  A valid Z85 key whose bytes are all `fill` except the last, `last`.
static void
s_key (char out[HD_KEY_TEXT], uint8_t fill, uint8_t last)
{
    uint8_t raw[32];
    memset (raw, fill, sizeof raw);
    raw[31] = last;
    zmq_z85_encode (out, raw, 32);
}

static int
s_setup (void **state)
{
    s_fixture_t *f = calloc (1, sizeof *f);
    assert_non_null (f);
    snprintf (f->dir, sizeof f->dir, "/tmp/hd-test-auth-XXXXXX");
    assert_non_null (mkdtemp (f->dir));
    snprintf (f->file, sizeof f->file, "%s/workers.keys", f->dir);
    //  A fresh endpoint per test: an inproc name is released only when libzmq reaps the socket.
    static int n;
    char ep[64];
    snprintf (ep, sizeof ep, "inproc://hd-test-auth-%d", n++);
    assert_int_equal (hd_auth_new_at (&f->auth, ep), HD_OK);
    hd_auth_set_enroll (f->auth, f->file, false);
    *state = f;
    return 0;
}

static int
s_teardown (void **state)
{
    s_fixture_t *f = *state;
    hd_auth_destroy (&f->auth);
    unlink (f->file);
    rmdir (f->dir);
    free (f);
    return 0;
}

static void
test_auth_check_admits_listed_key (void **state)
{
    s_fixture_t *f = *state;
    char key[HD_KEY_TEXT];
    s_key (key, 1, 1);
    assert_int_equal (hd_auth_allow (f->auth, HD_DOMAIN_WORKERS, key, "worker"), HD_OK);
    assert_string_equal (hd_auth_check (f->auth, HD_DOMAIN_WORKERS, key, "10.0.0.2"), "worker");
    assert_int_equal (hd_auth_pending_count (f->auth), 0);
}

static void
test_auth_check_keeps_roles_apart (void **state)
{
    s_fixture_t *f = *state;
    char key[HD_KEY_TEXT];
    s_key (key, 2, 2);
    hd_auth_allow (f->auth, HD_DOMAIN_CLIENTS, key, "client");
    assert_null (hd_auth_check (f->auth, HD_DOMAIN_WORKERS, key, "10.0.0.2"));
    assert_string_equal (hd_auth_check (f->auth, HD_DOMAIN_CLIENTS, key, NULL), "client");
}

static void
test_auth_unknown_client_key_is_not_pending (void **state)
{
    s_fixture_t *f = *state;
    char key[HD_KEY_TEXT];
    s_key (key, 3, 3);
    assert_null (hd_auth_check (f->auth, HD_DOMAIN_CLIENTS, key, "10.0.0.2"));
    assert_int_equal (hd_auth_pending_count (f->auth), 0);
    assert_int_equal (hd_auth_refused (f->auth), 1);
}

static void
test_auth_unknown_worker_key_becomes_pending (void **state)
{
    s_fixture_t *f = *state;
    char key[HD_KEY_TEXT];
    s_key (key, 4, 4);
    assert_null (hd_auth_check (f->auth, HD_DOMAIN_WORKERS, key, "10.0.0.7"));
    assert_int_equal (hd_auth_pending_count (f->auth), 1);
    const hd_auth_pending_t *p = hd_auth_pending_at (f->auth, 0);
    assert_string_equal (p->key, key);
    assert_string_equal (p->address, "10.0.0.7");
    assert_int_equal (p->attempts, 1);
    assert_true (p->first_seen > 0 && p->last_seen >= p->first_seen);
}

static void
test_auth_pending_counts_attempts (void **state)
{
    s_fixture_t *f = *state;
    char key[HD_KEY_TEXT];
    s_key (key, 5, 5);
    for (int i = 0; i < 3; i++)
        assert_null (hd_auth_check (f->auth, HD_DOMAIN_WORKERS, key, "10.0.0.7"));
    assert_int_equal (hd_auth_pending_count (f->auth), 1);
    assert_int_equal (hd_auth_pending_at (f->auth, 0)->attempts, 3);
}

static void
test_auth_pending_is_bounded_oldest_dropped (void **state)
{
    s_fixture_t *f = *state;
    char key[HD_KEY_TEXT], first[HD_KEY_TEXT];
    s_key (first, 6, 0);
    for (int i = 0; i <= HD_AUTH_MAX_PENDING; i++) {
        s_key (key, 6, (uint8_t) i);
        key[0] = (char) ('a' + i / 200);  //  more than 256 distinct keys: vary a byte too
        if (i == 0)
            snprintf (first, sizeof first, "%s", key);
        hd_auth_check (f->auth, HD_DOMAIN_WORKERS, key, "h");
    }
    assert_int_equal (hd_auth_pending_count (f->auth), HD_AUTH_MAX_PENDING);
    assert_string_not_equal (hd_auth_pending_at (f->auth, 0)->key, first);
}

static void
test_auth_approve_by_prefix_admits (void **state)
{
    s_fixture_t *f = *state;
    char key[HD_KEY_TEXT], full[HD_KEY_TEXT], prefix[9], err[256];
    s_key (key, 7, 7);
    hd_auth_check (f->auth, HD_DOMAIN_WORKERS, key, "h");
    snprintf (prefix, sizeof prefix, "%.8s", key);
    assert_int_equal (hd_auth_approve (f->auth, prefix, full, err, sizeof err), HD_OK);
    assert_string_equal (full, key);
    assert_int_equal (hd_auth_pending_count (f->auth), 0);
    assert_string_equal (hd_auth_check (f->auth, HD_DOMAIN_WORKERS, key, "h"), "worker");
}

static void
test_auth_approve_appends_to_workers_file (void **state)
{
    s_fixture_t *f = *state;
    char key[HD_KEY_TEXT], full[HD_KEY_TEXT], err[256], line[128];
    s_key (key, 8, 8);
    hd_auth_check (f->auth, HD_DOMAIN_WORKERS, key, "h");
    assert_int_equal (hd_auth_approve (f->auth, key, full, err, sizeof err), HD_OK);
    FILE *file = fopen (f->file, "r");
    assert_non_null (file);
    assert_non_null (fgets (line, sizeof line, file));
    assert_true (strncmp (line, "# approved ", 11) == 0);
    assert_non_null (fgets (line, sizeof line, file));
    fclose (file);
    assert_true (strncmp (line, key, 40) == 0);
}

static void
test_auth_approve_ends_an_unterminated_last_line (void **state)
{
    s_fixture_t *f = *state;
    char key[HD_KEY_TEXT], old[HD_KEY_TEXT], full[HD_KEY_TEXT], err[256];
    s_key (old, 14, 14);
    FILE *file = fopen (f->file, "w");
    assert_non_null (file);
    fputs (old, file);  //  no newline at the end
    fclose (file);
    s_key (key, 15, 15);
    hd_auth_check (f->auth, HD_DOMAIN_WORKERS, key, "h");
    assert_int_equal (hd_auth_approve (f->auth, key, full, err, sizeof err), HD_OK);
    hd_auth_t *again = NULL;
    assert_int_equal (hd_auth_new_at (&again, "inproc://hd-test-auth-reload"), HD_OK);
    assert_int_equal (hd_auth_load (again, HD_DOMAIN_WORKERS, f->file, "worker", err, sizeof err),
                      HD_OK);
    assert_string_equal (hd_auth_check (again, HD_DOMAIN_WORKERS, old, "h"), "worker");
    assert_string_equal (hd_auth_check (again, HD_DOMAIN_WORKERS, key, "h"), "worker");
    hd_auth_destroy (&again);
}

static void
test_auth_approve_unwritable_file_is_eio (void **state)
{
    s_fixture_t *f = *state;
    char key[HD_KEY_TEXT], full[HD_KEY_TEXT], err[256];
    s_key (key, 9, 9);
    hd_auth_set_enroll (f->auth, "/nonexistent-dir/workers.keys", false);
    hd_auth_check (f->auth, HD_DOMAIN_WORKERS, key, "h");
    assert_int_equal (hd_auth_approve (f->auth, key, full, err, sizeof err), HD_EIO);
    //  Admitted all the same: the admin is told it was not saved.
    assert_string_equal (hd_auth_check (f->auth, HD_DOMAIN_WORKERS, key, "h"), "worker");
}

static void
test_auth_reject_keeps_refusing_unlisted (void **state)
{
    s_fixture_t *f = *state;
    char key[HD_KEY_TEXT], full[HD_KEY_TEXT], err[256];
    s_key (key, 10, 10);
    hd_auth_check (f->auth, HD_DOMAIN_WORKERS, key, "h");
    assert_int_equal (hd_auth_reject (f->auth, key, full, err, sizeof err), HD_OK);
    assert_null (hd_auth_check (f->auth, HD_DOMAIN_WORKERS, key, "h"));
    assert_int_equal (hd_auth_pending_count (f->auth), 0);
}

static void
test_auth_short_prefix_is_einval (void **state)
{
    s_fixture_t *f = *state;
    char key[HD_KEY_TEXT], full[HD_KEY_TEXT], err[256];
    s_key (key, 11, 11);
    hd_auth_check (f->auth, HD_DOMAIN_WORKERS, key, "h");
    key[7] = 0;
    assert_int_equal (hd_auth_approve (f->auth, key, full, err, sizeof err), HD_EINVAL);
    assert_int_equal (hd_auth_pending_count (f->auth), 1);
}

static void
test_auth_ambiguous_prefix_is_einval (void **state)
{
    s_fixture_t *f = *state;
    char a[HD_KEY_TEXT], b[HD_KEY_TEXT], full[HD_KEY_TEXT], err[256];
    s_key (a, 12, 1);
    s_key (b, 12, 2);  //  same first 31 bytes: same first 35 chars
    hd_auth_check (f->auth, HD_DOMAIN_WORKERS, a, "h");
    hd_auth_check (f->auth, HD_DOMAIN_WORKERS, b, "h");
    a[10] = 0;
    assert_int_equal (hd_auth_reject (f->auth, a, full, err, sizeof err), HD_EINVAL);
    assert_non_null (strstr (err, "2 pending keys"));
}

static void
test_auth_unknown_prefix_is_enotfound (void **state)
{
    s_fixture_t *f = *state;
    char full[HD_KEY_TEXT], err[256];
    assert_int_equal (hd_auth_approve (f->auth, "abcdefgh", full, err, sizeof err), HD_ENOTFOUND);
}

static void
test_auth_auto_approve_admits_and_saves (void **state)
{
    s_fixture_t *f = *state;
    char key[HD_KEY_TEXT];
    s_key (key, 13, 13);
    hd_auth_set_enroll (f->auth, f->file, true);
    assert_string_equal (hd_auth_check (f->auth, HD_DOMAIN_WORKERS, key, "h"), "worker");
    assert_int_equal (hd_auth_pending_count (f->auth), 0);
    assert_int_equal (access (f->file, R_OK), 0);
}

static void
test_auth_split_user_id_names_role_and_key (void **state)
{
    (void) state;
    char role[16], key[41];
    const char *k = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
    char user[64];
    snprintf (user, sizeof user, "admin:%s", k);
    assert_true (hd_auth_split_user_id (user, role, key));
    assert_string_equal (role, "admin");
    assert_string_equal (key, k);
    assert_false (hd_auth_split_user_id (NULL, role, key));
    assert_string_equal (role, "");
    assert_false (hd_auth_split_user_id ("admin", role, key));
    assert_false (hd_auth_split_user_id (":abc", role, key));
    assert_false (hd_auth_split_user_id ("client:short", role, key));
    assert_string_equal (key, "");
}

#define S_TEST(t) cmocka_unit_test_setup_teardown (t, s_setup, s_teardown)

int
main (void)
{
    const struct CMUnitTest tests[] = {
        S_TEST (test_auth_check_admits_listed_key),
        S_TEST (test_auth_check_keeps_roles_apart),
        S_TEST (test_auth_unknown_client_key_is_not_pending),
        S_TEST (test_auth_unknown_worker_key_becomes_pending),
        S_TEST (test_auth_pending_counts_attempts),
        S_TEST (test_auth_pending_is_bounded_oldest_dropped),
        S_TEST (test_auth_approve_by_prefix_admits),
        S_TEST (test_auth_approve_appends_to_workers_file),
        S_TEST (test_auth_approve_ends_an_unterminated_last_line),
        S_TEST (test_auth_approve_unwritable_file_is_eio),
        S_TEST (test_auth_reject_keeps_refusing_unlisted),
        S_TEST (test_auth_short_prefix_is_einval),
        S_TEST (test_auth_ambiguous_prefix_is_einval),
        S_TEST (test_auth_unknown_prefix_is_enotfound),
        S_TEST (test_auth_auto_approve_admits_and_saves),
        cmocka_unit_test (test_auth_split_user_id_names_role_and_key),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
