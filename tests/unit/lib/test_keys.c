/*  hd_keys: allowlist lines. '#' is a Z85 character, so keys may start or end with it.  */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_keys_allowlist_reads_keys_containing_hash),
        cmocka_unit_test (test_keys_allowlist_rejects_a_bad_line_with_its_number),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
