//  Unit tests for hd_seal: sealed task inputs and results, key rings, grants.
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hd_seal.h"

typedef struct {
    uint8_t pub[32], secret[32], job[32];
    hd_seal_sender_t *sender;
    hd_seal_keyring_t *ring;
} s_fix_t;

static int
s_setup (void **state)
{
    s_fix_t *f = calloc (1, sizeof *f);
    assert_int_equal (sodium_init () >= 0, 1);
    crypto_box_keypair (f->pub, f->secret);
    hd_seal_job_key (NULL, NULL, 0, f->job);
    assert_int_equal (hd_seal_sender_new (&f->sender, f->pub, f->job), HD_OK);
    f->ring = hd_seal_keyring_new ();
    assert_non_null (f->ring);
    assert_int_equal (hd_seal_keyring_add (f->ring, f->secret), HD_OK);
    *state = f;
    return 0;
}

static int
s_teardown (void **state)
{
    s_fix_t *f = *state;
    hd_seal_sender_destroy (&f->sender);
    hd_seal_keyring_destroy (&f->ring);
    free (f);
    return 0;
}

static bool
s_contains (const uint8_t *hay, size_t n, const char *needle)
{
    size_t k = strlen (needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp (hay + i, needle, k) == 0)
            return true;
    return false;
}

static const uint8_t s_id[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

static void
test_seal_task_round_trip (void **state)
{
    s_fix_t *f = *state;
    const char msg[] = "the input nobody else reads";
    uint8_t sealed[sizeof msg + HD_SEAL_TASK_OVERHEAD], plain[sizeof msg], key[32];
    size_t n = 0;
    hd_seal_task (f->sender, s_id, "sha256", msg, sizeof msg, sealed);
    assert_false (s_contains (sealed, sizeof sealed, "nobody"));
    assert_int_equal (hd_seal_open_task (f->ring, s_id, "sha256", sealed, sizeof sealed, plain, &n,
                                         key),
                      HD_OK);
    assert_int_equal (n, sizeof msg);
    assert_memory_equal (plain, msg, sizeof msg);
    assert_memory_equal (key, f->job, 32);
}

static void
test_seal_task_flipped_byte_is_ecrypto (void **state)
{
    s_fix_t *f = *state;
    uint8_t sealed[8 + HD_SEAL_TASK_OVERHEAD], plain[8], key[32];
    size_t n = 0;
    hd_seal_task (f->sender, s_id, "echo", "12345678", 8, sealed);
    for (size_t i = 1 + HD_SEAL_ID_BYTES + HD_SEAL_SEALED_KEY_BYTES; i < sizeof sealed; i++) {
        sealed[i] ^= 0x01;
        assert_int_equal (hd_seal_open_task (f->ring, s_id, "echo", sealed, sizeof sealed, plain,
                                             &n, key),
                          HD_ECRYPTO);
        sealed[i] ^= 0x01;
    }
}

static void
test_seal_task_moved_to_other_task_or_fn_is_ecrypto (void **state)
{
    s_fix_t *f = *state;
    uint8_t sealed[4 + HD_SEAL_TASK_OVERHEAD], plain[4], key[32];
    size_t n = 0;
    hd_seal_task (f->sender, s_id, "echo", "abcd", 4, sealed);
    uint8_t other[16];
    memcpy (other, s_id, 16);
    other[15] ^= 0x80;
    assert_int_equal (hd_seal_open_task (f->ring, other, "echo", sealed, sizeof sealed, plain, &n,
                                         key),
                      HD_ECRYPTO);
    assert_int_equal (hd_seal_open_task (f->ring, s_id, "sha256", sealed, sizeof sealed, plain, &n,
                                         key),
                      HD_ECRYPTO);
}

static void
test_seal_task_for_unknown_payload_key_is_enotfound (void **state)
{
    s_fix_t *f = *state;
    hd_seal_keyring_t *other = hd_seal_keyring_new ();
    uint8_t pub[32], secret[32];
    crypto_box_keypair (pub, secret);
    assert_int_equal (hd_seal_keyring_add (other, secret), HD_OK);
    uint8_t sealed[4 + HD_SEAL_TASK_OVERHEAD], plain[4], key[32];
    size_t n = 0;
    hd_seal_task (f->sender, s_id, "echo", "abcd", 4, sealed);
    assert_int_equal (hd_seal_open_task (other, s_id, "echo", sealed, sizeof sealed, plain, &n,
                                         key),
                      HD_ENOTFOUND);
    hd_seal_keyring_destroy (&other);
}

static void
test_seal_short_or_plain_input_is_ecrypto (void **state)
{
    s_fix_t *f = *state;
    uint8_t plain[256], key[32];
    size_t n = 0;
    const char text[] = "plain text that was never sealed, long enough to pass the overhead.....";
    assert_int_equal (hd_seal_open_task (f->ring, s_id, "echo", text, 10, plain, &n, key),
                      HD_ECRYPTO);
    assert_int_equal (hd_seal_open_task (f->ring, s_id, "echo", text, sizeof text, plain, &n, key),
                      HD_ECRYPTO);
    assert_int_equal (hd_seal_open_result (f->sender, s_id, 0, text, sizeof text, plain,
                                           &n),
                      HD_ECRYPTO);
}

static void
test_seal_result_round_trip_and_binds_status (void **state)
{
    s_fix_t *f = *state;
    uint8_t sealed[5 + HD_SEAL_RESULT_OVERHEAD], plain[5];
    size_t n = 0;
    hd_seal_result (f->job, s_id, 1, "oops!", 5, sealed);
    assert_int_equal (hd_seal_open_result (f->sender, s_id, 1, sealed, sizeof sealed,
                                           plain, &n),
                      HD_OK);
    assert_int_equal (n, 5);
    assert_memory_equal (plain, "oops!", 5);
    //  A FAILED output cannot be passed off as OK, nor as another task's.
    assert_int_equal (hd_seal_open_result (f->sender, s_id, 0, sealed, sizeof sealed,
                                           plain, &n),
                      HD_ECRYPTO);
    sealed[sizeof sealed - 1] ^= 1;
    assert_int_equal (hd_seal_open_result (f->sender, s_id, 1, sealed, sizeof sealed,
                                           plain, &n),
                      HD_ECRYPTO);
}

static void
test_seal_empty_input_and_output (void **state)
{
    s_fix_t *f = *state;
    uint8_t sealed[HD_SEAL_TASK_OVERHEAD], res[HD_SEAL_RESULT_OVERHEAD], plain[1], key[32];
    size_t n = 7;
    hd_seal_task (f->sender, s_id, "echo", NULL, 0, sealed);
    assert_int_equal (hd_seal_open_task (f->ring, s_id, "echo", sealed, sizeof sealed, plain, &n,
                                         key),
                      HD_OK);
    assert_int_equal (n, 0);
    hd_seal_result (key, s_id, 0, NULL, 0, res);
    assert_int_equal (hd_seal_open_result (f->sender, s_id, 0, res, sizeof res, plain, &n),
                      HD_OK);
    assert_int_equal (n, 0);
}

static void
test_seal_nonces_differ (void **state)
{
    s_fix_t *f = *state;
    uint8_t a[4 + HD_SEAL_TASK_OVERHEAD], b[4 + HD_SEAL_TASK_OVERHEAD];
    hd_seal_task (f->sender, s_id, "echo", "same", 4, a);
    hd_seal_task (f->sender, s_id, "echo", "same", 4, b);
    assert_memory_not_equal (a + 89, b + 89, HD_SEAL_NONCE_BYTES);
}

static void
test_seal_job_key_derivation_is_stable_per_session (void **state)
{
    (void) state;
    uint8_t secret[32], a[32], b[32], c[32];
    randombytes_buf (secret, sizeof secret);
    hd_seal_job_key (secret, "session-1", 9, a);
    hd_seal_job_key (secret, "session-1", 9, b);
    hd_seal_job_key (secret, "session-2", 9, c);
    assert_memory_equal (a, b, 32);
    assert_memory_not_equal (a, c, 32);
}

static void
test_seal_keyring_bounds_and_tags (void **state)
{
    s_fix_t *f = *state;
    assert_int_equal (hd_seal_keyring_add (f->ring, f->secret), HD_OK);  //  again: no change
    assert_int_equal (hd_seal_keyring_count (f->ring), 1);
    assert_string_equal (hd_seal_keyring_tag (f->ring, 0), hd_seal_sender_tag (f->sender));
    assert_string_equal (hd_seal_keyring_tag (f->ring, 5), "");
    for (int i = 1; i < HD_SEAL_MAX_KEYS; i++) {
        uint8_t pub[32], secret[32];
        crypto_box_keypair (pub, secret);
        assert_int_equal (hd_seal_keyring_add (f->ring, secret), HD_OK);
    }
    uint8_t pub[32], secret[32];
    crypto_box_keypair (pub, secret);
    assert_int_equal (hd_seal_keyring_add (f->ring, secret), HD_EFULL);
}

static void
test_seal_grant_opens_only_with_the_worker_key (void **state)
{
    s_fix_t *f = *state;
    uint8_t wpub[32], wsec[32], opub[32], osec[32], grant[HD_SEAL_SEALED_KEY_BYTES], back[32];
    crypto_box_keypair (wpub, wsec);
    crypto_box_keypair (opub, osec);
    assert_int_equal (hd_seal_grant (f->secret, wpub, grant), HD_OK);
    assert_int_equal (hd_seal_open_grant (grant, opub, osec, back), HD_ECRYPTO);
    assert_int_equal (hd_seal_open_grant (grant, wpub, wsec, back), HD_OK);
    assert_memory_equal (back, f->secret, 32);
}

#define S_TEST(t) cmocka_unit_test_setup_teardown (t, s_setup, s_teardown)

int
main (void)
{
    const struct CMUnitTest tests[] = {
        S_TEST (test_seal_task_round_trip),
        S_TEST (test_seal_task_flipped_byte_is_ecrypto),
        S_TEST (test_seal_task_moved_to_other_task_or_fn_is_ecrypto),
        S_TEST (test_seal_task_for_unknown_payload_key_is_enotfound),
        S_TEST (test_seal_short_or_plain_input_is_ecrypto),
        S_TEST (test_seal_result_round_trip_and_binds_status),
        S_TEST (test_seal_empty_input_and_output),
        S_TEST (test_seal_nonces_differ),
        S_TEST (test_seal_job_key_derivation_is_stable_per_session),
        S_TEST (test_seal_keyring_bounds_and_tags),
        S_TEST (test_seal_grant_opens_only_with_the_worker_key),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
