//  Unit tests for hd_grants: payload-key grants kept per worker key, bounded, persisted.
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "hd_grants.h"

static void
s_z85 (char *out, size_t raw_len, uint8_t fill)
{
    uint8_t raw[80];
    memset (raw, fill, sizeof raw);
    zmq_z85_encode (out, raw, raw_len);
}

static void
test_grants_add_for_and_bound (void **state)
{
    (void) state;
    hd_grants_t *g = hd_grants_new ();
    char key[41], other[41], grant[HD_GRANT_TEXT], got[HD_MAX_GRANTS][HD_GRANT_TEXT], err[256];
    s_z85 (key, 32, 1);
    s_z85 (other, 32, 2);
    for (int i = 0; i < HD_MAX_GRANTS + 2; i++) {
        s_z85 (grant, 80, (uint8_t) (10 + i));
        assert_int_equal (hd_grants_add (g, key, grant, NULL, err, sizeof err), HD_OK);
        assert_int_equal (hd_grants_add (g, key, grant, NULL, err, sizeof err), HD_OK);  //  dup
    }
    assert_int_equal (hd_grants_for (g, key, got, HD_MAX_GRANTS), HD_MAX_GRANTS);
    s_z85 (grant, 80, 10 + 2);  //  the two oldest went
    assert_string_equal (got[0], grant);
    assert_int_equal (hd_grants_for (g, other, got, HD_MAX_GRANTS), 0);
    assert_int_equal (hd_grants_drop (g, key), HD_MAX_GRANTS);
    assert_int_equal (hd_grants_for (g, key, got, HD_MAX_GRANTS), 0);
    hd_grants_destroy (&g);
}

static void
test_grants_bad_text_is_einval (void **state)
{
    (void) state;
    hd_grants_t *g = hd_grants_new ();
    char key[41], grant[HD_GRANT_TEXT], err[256];
    s_z85 (key, 32, 1);
    s_z85 (grant, 80, 3);
    assert_int_equal (hd_grants_add (g, "short", grant, NULL, err, sizeof err), HD_EINVAL);
    assert_int_equal (hd_grants_add (g, key, "short", NULL, err, sizeof err), HD_EINVAL);
    assert_int_equal (hd_grants_keys (g), 0);
    hd_grants_destroy (&g);
}

static void
test_grants_file_round_trip (void **state)
{
    (void) state;
    char path[] = "/tmp/hd-grants-XXXXXX";
    int fd = mkstemp (path);
    close (fd);
    unlink (path);
    hd_grants_t *g = hd_grants_new ();
    char key[41], grant[HD_GRANT_TEXT], got[HD_MAX_GRANTS][HD_GRANT_TEXT], err[256];
    s_z85 (key, 32, 7);
    s_z85 (grant, 80, 8);
    assert_int_equal (hd_grants_add (g, key, grant, path, err, sizeof err), HD_OK);
    hd_grants_destroy (&g);
    g = hd_grants_new ();
    assert_int_equal (hd_grants_load (g, path, err, sizeof err), HD_OK);
    assert_int_equal (hd_grants_for (g, key, got, HD_MAX_GRANTS), 1);
    assert_string_equal (got[0], grant);
    FILE *f = fopen (path, "a");
    fprintf (f, "# a comment\n\n");
    fclose (f);
    hd_grants_destroy (&g);
    g = hd_grants_new ();
    assert_int_equal (hd_grants_load (g, path, err, sizeof err), HD_OK);
    f = fopen (path, "a");
    fprintf (f, "garbage\n");
    fclose (f);
    hd_grants_destroy (&g);
    g = hd_grants_new ();
    assert_int_equal (hd_grants_load (g, path, err, sizeof err), HD_EINVAL);
    assert_non_null (strstr (err, ":4:"));
    hd_grants_destroy (&g);
    unlink (path);
    g = hd_grants_new ();
    assert_int_equal (hd_grants_load (g, path, err, sizeof err), HD_OK);  //  missing: empty
    hd_grants_destroy (&g);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_grants_add_for_and_bound),
        cmocka_unit_test (test_grants_bad_text_is_einval),
        cmocka_unit_test (test_grants_file_round_trip),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
