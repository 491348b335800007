/*  hd_keys: allowlist lines ('#' is a Z85 character, so keys may start or end with it), key
    fingerprints (SHA-256 of the raw key, first 16 bytes in hex groups), reading the pin.  */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hd_keys.h"

static void
s_add (const char *key, void *arg)
{
    char *seen = arg;
    strcat (seen, key);
    strcat (seen, "\n");
}

static hd_err_t
s_read (const char *text, char *seen, char *err)
{
    char path[] = "/tmp/hd-allow-XXXXXX";
    int fd = mkstemp (path);
    assert_true (fd >= 0);
    assert_int_equal (write (fd, text, strlen (text)), (ssize_t) strlen (text));
    close (fd);
    seen[0] = 0;
    hd_err_t rc = hd_keys_read_allowlist (path, s_add, seen, err, 256);
    unlink (path);
    return rc;
}

static void
test_keys_allowlist_reads_keys_containing_hash (void **state)
{
    (void) state;
    //  A real key (zmq_curve_keypair output) ending in '#', with and without a comment after
    //  it. No key can start with '#' (Z85 digit 84; a group's first digit is at most 82), so a
    //  line starting with '#' is always a comment.
    const char *text = "# heddle allowlist\n"
                       "PX=}G11me9v3=7!ChON=IiCekz-g&kwX?b{8oqN#  # client key\n"
                       "PX=}G11me9v3=7!ChON=IiCekz-g&kwX?b{8oqN#\n"
                       "#PX=}G11me9v3=7!ChON=IiCekz-g&kwX?b{8oqN\n"
                       "\n";
    char seen[512], err[256];
    assert_int_equal (s_read (text, seen, err), HD_OK);
    assert_string_equal (seen, "PX=}G11me9v3=7!ChON=IiCekz-g&kwX?b{8oqN#\n"
                               "PX=}G11me9v3=7!ChON=IiCekz-g&kwX?b{8oqN#\n");
}

static void
test_keys_allowlist_rejects_a_bad_line_with_its_number (void **state)
{
    (void) state;
    char seen[512], err[256];
    assert_int_equal (s_read ("# ok\nnot-a-key\n", seen, err), HD_EINVAL);
    assert_non_null (strstr (err, ":2:"));
}

//  The server key of ZeroMQ's CURVE test vectors; its raw bytes start bb88471d.
#define S_KEY "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
//  sha256 (raw key)[0..16] = ebb3af4dd99ceff36e9f90b5db3e450e (computed apart, in Python).
#define S_KEY_FP "ebb3:af4d:d99c:eff3:6e9f:90b5:db3e:450e"

static void
test_keys_fingerprint_is_sha256_of_the_raw_key_in_groups (void **state)
{
    (void) state;
    char fp[HD_FINGERPRINT_TEXT];
    assert_int_equal (hd_keys_fingerprint (S_KEY, fp), HD_OK);
    assert_string_equal (fp, S_KEY_FP);
    assert_int_equal (strlen (fp), HD_FINGERPRINT_TEXT - 1);
}

static void
test_keys_id_is_the_fingerprint_start_in_shell_safe_hex (void **state)
{
    (void) state;
    char id[HD_KEY_ID_TEXT];
    assert_int_equal (hd_keys_id (S_KEY, id), HD_OK);
    assert_string_equal (id, "ebb3af4dd99ceff3");
    assert_int_equal (hd_keys_id ("short", id), HD_EINVAL);
}

static void
test_keys_matches_takes_hex_ids_and_z85_prefixes (void **state)
{
    (void) state;
    assert_true (hd_keys_matches (S_KEY, "ebb3af4d", 8));
    assert_true (hd_keys_matches (S_KEY, "EBB3:AF4D:d99c", 8));  //  as fingerprints print
    assert_true (hd_keys_matches (S_KEY, S_KEY_FP, 8));
    assert_true (hd_keys_matches (S_KEY, "Yne@$w-v", 8));        //  the old Z85 prefix
    assert_true (hd_keys_matches (S_KEY, S_KEY, 8));
    assert_false (hd_keys_matches (S_KEY, "ebb3af4", 8));        //  too short
    assert_false (hd_keys_matches (S_KEY, "ebb3af4e", 8));
    assert_false (hd_keys_matches (S_KEY, "Yne@$w-x", 8));
}

static void
test_keys_fingerprints_of_different_keys_differ (void **state)
{
    (void) state;
    char public_a[41], secret[41], public_b[41], fa[HD_FINGERPRINT_TEXT], fb[HD_FINGERPRINT_TEXT];
    assert_int_equal (zmq_curve_keypair (public_a, secret), 0);
    assert_int_equal (zmq_curve_keypair (public_b, secret), 0);
    assert_int_equal (hd_keys_fingerprint (public_a, fa), HD_OK);
    assert_int_equal (hd_keys_fingerprint (public_b, fb), HD_OK);
    assert_string_not_equal (fa, fb);
}

static void
test_keys_fingerprint_rejects_a_non_key (void **state)
{
    (void) state;
    char fp[HD_FINGERPRINT_TEXT];
    assert_int_equal (hd_keys_fingerprint ("short", fp), HD_EINVAL);
    assert_int_equal (hd_keys_fingerprint ("Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hI ", fp),
                      HD_EINVAL);
    assert_string_equal (fp, "");
}

static void
test_keys_parse_fingerprint_accepts_case_and_missing_colons (void **state)
{
    (void) state;
    char fp[HD_FINGERPRINT_TEXT];
    assert_int_equal (hd_keys_parse_fingerprint ("EBB3AF4DD99CEFF36E9F90B5DB3E450E", fp), HD_OK);
    assert_string_equal (fp, S_KEY_FP);
    assert_int_equal (hd_keys_parse_fingerprint ("ebb3:AF4D:d99c:eff3:6e9f:90b5:db3e:450e", fp),
                      HD_OK);
    assert_string_equal (fp, S_KEY_FP);
}

static void
test_keys_parse_fingerprint_rejects_malformed_text (void **state)
{
    (void) state;
    char fp[HD_FINGERPRINT_TEXT];
    const char *bad[] = { "",
                          "ebb3:af4d",
                          S_KEY_FP ":00",
                          "ebb3:af4d:d99c:eff3:6e9f:90b5:db3e:450g",
                          ":ebb3af4dd99ceff36e9f90b5db3e450e",
                          "ebb3af4dd99ceff36e9f90b5db3e450e:",
                          "ebb3::af4dd99ceff36e9f90b5db3e450e",
                          "ebb3 af4d d99c eff3 6e9f 90b5 db3e 450e" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal (hd_keys_parse_fingerprint (bad[i], fp), HD_EINVAL);
}

static void
test_keys_read_pin_tells_missing_from_pinned (void **state)
{
    (void) state;
    char dir[] = "/tmp/hd-pin-XXXXXX", key[HD_KEY_TEXT], err[256], path[64];
    assert_non_null (mkdtemp (dir));
    assert_int_equal (hd_keys_read_pin (dir, key), HD_ENOTFOUND);
    assert_int_equal (hd_keys_pin (dir, S_KEY, err, sizeof err), HD_OK);
    assert_int_equal (hd_keys_read_pin (dir, key), HD_OK);
    assert_string_equal (key, S_KEY);
    snprintf (path, sizeof path, "%s/broker.pin", dir);
    FILE *f = fopen (path, "w");
    assert_non_null (f);
    fputs ("not a key\n", f);
    fclose (f);
    assert_int_equal (hd_keys_read_pin (dir, key), HD_EIO);
    unlink (path);
    rmdir (dir);
}

static mode_t
s_mode (const char *dir, const char *name)
{
    char path[512];
    struct stat st;
    snprintf (path, sizeof path, "%s/%s", dir, name);
    assert_int_equal (stat (path, &st), 0);
    return st.st_mode & 07777;
}

static void
s_rm_keys (const char *dir)
{
    char cmd[600];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal (system (cmd), 0);
}

static void
test_keys_init_writes_secrets_0600_in_a_0700_dir_whatever_the_umask (void **state)
{
    (void) state;
    char dir[] = "/tmp/hd-keys-XXXXXX", err[256] = "";
    assert_non_null (mkdtemp (dir));
    assert_int_equal (chmod (dir, 0755), 0);  //  a directory made by hand, open to others
    mode_t old = umask (0);
    hd_err_t rc = hd_keys_init_dir (dir, false, err, sizeof err);
    umask (old);
    assert_int_equal (rc, HD_OK);
    assert_int_equal (s_mode (dir, "."), 0700);
    assert_int_equal (s_mode (dir, "broker.cert_secret"), 0600);
    assert_int_equal (s_mode (dir, "admin.cert_secret"), 0600);
    assert_int_equal (s_mode (dir, "broker.cert"), 0644);
    assert_int_equal (s_mode (dir, "clients.keys"), 0644);
    assert_int_equal (s_mode (dir, "workers.keys"), 0644);
    s_rm_keys (dir);
}

static void
test_keys_check_mode_refuses_an_open_secret_and_names_the_fix (void **state)
{
    (void) state;
    char dir[] = "/tmp/hd-keys-XXXXXX", err[512] = "", path[600];
    assert_non_null (mkdtemp (dir));
    assert_int_equal (hd_keys_init_dir (dir, false, err, sizeof err), HD_OK);
    snprintf (path, sizeof path, "%s/broker.cert_secret", dir);
    assert_int_equal (hd_keys_check_mode (path, HD_KEYS_SECRET, false, err, sizeof err), HD_OK);
    assert_int_equal (chmod (path, 0644), 0);
    assert_int_equal (hd_keys_check_mode (path, HD_KEYS_SECRET, false, err, sizeof err),
                      HD_ECRYPTO);
    assert_non_null (strstr (err, path));
    assert_non_null (strstr (err, "mode 0644"));
    assert_non_null (strstr (err, "chmod 600"));
    assert_non_null (strstr (err, "--insecure-key-perms"));
    //  Group read alone is enough to refuse a secret key.
    assert_int_equal (chmod (path, 0640), 0);
    zcert_t *cert = NULL;
    assert_int_equal (hd_keys_load_secret_checked (path, NULL, false, &cert, err, sizeof err),
                      HD_ECRYPTO);
    assert_null (cert);
    //  The override loads it (with a warning).
    assert_int_equal (hd_keys_load_secret_checked (path, NULL, true, &cert, err, sizeof err),
                      HD_OK);
    assert_non_null (cert);
    zcert_destroy (&cert);
    s_rm_keys (dir);
}

static void
test_keys_check_mode_refuses_an_open_keys_dir (void **state)
{
    (void) state;
    char dir[] = "/tmp/hd-keys-XXXXXX", err[512] = "", path[600];
    assert_non_null (mkdtemp (dir));
    assert_int_equal (hd_keys_init_dir (dir, false, err, sizeof err), HD_OK);
    assert_int_equal (chmod (dir, 0755), 0);
    snprintf (path, sizeof path, "%s/client.cert_secret", dir);
    zcert_t *cert = NULL;
    assert_int_equal (hd_keys_load_secret_checked (path, dir, false, &cert, err, sizeof err),
                      HD_ECRYPTO);
    assert_null (cert);
    assert_non_null (strstr (err, "mode 0755"));
    assert_non_null (strstr (err, "chmod 700"));
    assert_int_equal (chmod (dir, 0700), 0);
    assert_int_equal (hd_keys_load_secret_checked (path, dir, false, &cert, err, sizeof err),
                      HD_OK);
    zcert_destroy (&cert);
    s_rm_keys (dir);
}

static void
test_keys_check_mode_refuses_an_allowlist_others_may_write (void **state)
{
    (void) state;
    char dir[] = "/tmp/hd-keys-XXXXXX", err[512] = "", path[600];
    assert_non_null (mkdtemp (dir));
    assert_int_equal (hd_keys_init_dir (dir, false, err, sizeof err), HD_OK);
    snprintf (path, sizeof path, "%s/workers.keys", dir);
    //  Readable by all is fine for a list of public keys; writable is not.
    assert_int_equal (hd_keys_check_mode (path, HD_KEYS_ALLOWLIST, false, err, sizeof err),
                      HD_OK);
    assert_int_equal (chmod (path, 0666), 0);
    assert_int_equal (hd_keys_check_mode (path, HD_KEYS_ALLOWLIST, false, err, sizeof err),
                      HD_ECRYPTO);
    assert_non_null (strstr (err, "chmod go-w"));
    assert_int_equal (hd_keys_check_mode (path, HD_KEYS_ALLOWLIST, true, err, sizeof err),
                      HD_OK);
    s_rm_keys (dir);
}

static void
test_keys_load_or_make_refuses_an_open_state_dir (void **state)
{
    (void) state;
    char dir[] = "/tmp/hd-state-XXXXXX", err[512] = "";
    assert_non_null (mkdtemp (dir));
    assert_int_equal (chmod (dir, 0750), 0);
    zcert_t *cert = NULL;
    bool made = true;
    assert_int_equal (hd_keys_load_or_make (dir, "worker", false, &cert, &made, err, sizeof err),
                      HD_ECRYPTO);
    assert_null (cert);
    assert_non_null (strstr (err, "chmod 700"));
    assert_int_equal (chmod (dir, 0700), 0);
    assert_int_equal (hd_keys_load_or_make (dir, "worker", false, &cert, &made, err, sizeof err),
                      HD_OK);
    assert_true (made);
    assert_int_equal (s_mode (dir, "worker.cert_secret"), 0600);
    zcert_destroy (&cert);
    s_rm_keys (dir);
}

static void
test_keys_append_allowlist_creates_it_0644_whatever_the_umask (void **state)
{
    (void) state;
    char dir[] = "/tmp/hd-keys-XXXXXX", err[256] = "", path[600];
    assert_non_null (mkdtemp (dir));
    snprintf (path, sizeof path, "%s/workers.keys", dir);
    mode_t old = umask (0);
    hd_err_t rc = hd_keys_append_allowlist (path, S_KEY, "approved", err, sizeof err);
    umask (old);
    assert_int_equal (rc, HD_OK);
    assert_int_equal (s_mode (dir, "workers.keys"), 0644);
    s_rm_keys (dir);
}

static void
s_count_secret (const uint8_t secret[32], void *arg)
{
    (void) secret;
    (*(int *) arg)++;
}

//  keys init makes the payload pair; rotation keeps the old one beside a new one; a payload
//  secret others can read is not used.
static void
test_keys_payload_pair_rotation_and_mode (void **state)
{
    (void) state;
    char dir[] = "/tmp/hd-payload-XXXXXX", err[512] = "", old[64], path[600];
    assert_non_null (mkdtemp (dir));
    assert_int_equal (hd_keys_init_dir (dir, true, err, sizeof err), HD_OK);
    uint8_t pub[32], pub2[32];
    assert_int_equal (hd_keys_load_payload_public (dir, pub, err, sizeof err), HD_OK);
    size_t n = 0;
    int calls = 0;
    assert_int_equal (hd_keys_each_payload_secret (dir, s_count_secret, &calls, &n), HD_OK);
    assert_int_equal (n, 1);
    assert_int_equal (hd_keys_rotate_payload (dir, old, err, sizeof err), HD_OK);
    assert_true (strncmp (old, "payload-", 8) == 0);
    assert_int_equal (hd_keys_load_payload_public (dir, pub2, err, sizeof err), HD_OK);
    assert_memory_not_equal (pub, pub2, 32);
    assert_int_equal (hd_keys_each_payload_secret (dir, s_count_secret, &calls, &n), HD_OK);
    assert_int_equal (n, 2);
    snprintf (path, sizeof path, "%s/%s.cert_secret", dir, old);
    assert_int_equal (chmod (path, 0644), 0);
    assert_int_equal (hd_keys_each_payload_secret (dir, s_count_secret, &calls, &n), HD_OK);
    assert_int_equal (n, 1);  //  the open one is skipped
    char cmd[700];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal (system (cmd), 0);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_keys_allowlist_reads_keys_containing_hash),
        cmocka_unit_test (test_keys_allowlist_rejects_a_bad_line_with_its_number),
        cmocka_unit_test (test_keys_fingerprint_is_sha256_of_the_raw_key_in_groups),
        cmocka_unit_test (test_keys_id_is_the_fingerprint_start_in_shell_safe_hex),
        cmocka_unit_test (test_keys_matches_takes_hex_ids_and_z85_prefixes),
        cmocka_unit_test (test_keys_fingerprints_of_different_keys_differ),
        cmocka_unit_test (test_keys_fingerprint_rejects_a_non_key),
        cmocka_unit_test (test_keys_parse_fingerprint_accepts_case_and_missing_colons),
        cmocka_unit_test (test_keys_parse_fingerprint_rejects_malformed_text),
        cmocka_unit_test (test_keys_read_pin_tells_missing_from_pinned),
        cmocka_unit_test (test_keys_init_writes_secrets_0600_in_a_0700_dir_whatever_the_umask),
        cmocka_unit_test (test_keys_check_mode_refuses_an_open_secret_and_names_the_fix),
        cmocka_unit_test (test_keys_check_mode_refuses_an_open_keys_dir),
        cmocka_unit_test (test_keys_check_mode_refuses_an_allowlist_others_may_write),
        cmocka_unit_test (test_keys_load_or_make_refuses_an_open_state_dir),
        cmocka_unit_test (test_keys_append_allowlist_creates_it_0644_whatever_the_umask),
        cmocka_unit_test (test_keys_payload_pair_rotation_and_mode),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
