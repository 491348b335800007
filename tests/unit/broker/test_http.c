/*  Unit: hd_http's access rule (loopback, token), its refusals at start (bad address, beyond
    loopback without a token) and the snapshot hand-over. Serving is tested end to end in
    tests/integration/test_web_metrics.c.  */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "hd_http.h"

static struct sockaddr_in
s_v4 (const char *addr)
{
    struct sockaddr_in sa = { .sin_family = AF_INET };
    assert_int_equal (inet_pton (AF_INET, addr, &sa.sin_addr), 1);
    return sa;
}

static struct sockaddr_in6
s_v6 (const char *addr)
{
    struct sockaddr_in6 sa = { .sin6_family = AF_INET6 };
    assert_int_equal (inet_pton (AF_INET6, addr, &sa.sin6_addr), 1);
    return sa;
}

static void
test_http_knows_loopback (void **state)
{
    (void) state;
    struct sockaddr_in a = s_v4 ("127.0.0.1"), b = s_v4 ("127.9.9.9"), c = s_v4 ("192.168.1.5");
    struct sockaddr_in6 d = s_v6 ("::1"), e = s_v6 ("::ffff:127.0.0.1"), f = s_v6 ("fe80::1");
    assert_true (hd_http_is_loopback (&a));
    assert_true (hd_http_is_loopback (&b));
    assert_false (hd_http_is_loopback (&c));
    assert_true (hd_http_is_loopback (&d));
    assert_true (hd_http_is_loopback (&e));
    assert_false (hd_http_is_loopback (&f));
}

static void
test_http_lan_peers_need_the_token (void **state)
{
    (void) state;
    struct sockaddr_in lo = s_v4 ("127.0.0.1"), lan = s_v4 ("10.0.0.7");
    assert_true (hd_http_allowed (&lo, "", NULL, NULL));
    assert_false (hd_http_allowed (&lan, "", NULL, NULL));
    assert_false (hd_http_allowed (&lan, NULL, "Bearer x", "x"));
    assert_false (hd_http_allowed (&lan, "s3cret", NULL, NULL));
    assert_false (hd_http_allowed (&lan, "s3cret", "Bearer s3cre", NULL));
    assert_false (hd_http_allowed (&lan, "s3cret", "Bearer s3crets", NULL));
    assert_false (hd_http_allowed (&lan, "s3cret", "s3cret", NULL));  //  no "Bearer "
    assert_true (hd_http_allowed (&lan, "s3cret", "Bearer s3cret", NULL));
    assert_true (hd_http_allowed (&lan, "s3cret", NULL, "s3cret"));
    assert_false (hd_http_allowed (NULL, "s3cret", NULL, NULL));
}

static void
test_http_refuses_bad_addresses (void **state)
{
    (void) state;
    hd_http_t *http = NULL;
    char err[256];
    assert_int_equal (hd_http_start (&http, "localhost", NULL, err, sizeof err), HD_EINVAL);
    assert_int_equal (hd_http_start (&http, "127.0.0.1:99999", NULL, err, sizeof err), HD_EINVAL);
    assert_int_equal (hd_http_start (&http, "example.org:80", NULL, err, sizeof err), HD_EINVAL);
    assert_int_equal (hd_http_start (&http, "0.0.0.0:0", NULL, err, sizeof err), HD_EINVAL);
    assert_non_null (strstr (err, "--http-token"));
    assert_int_equal (hd_http_start (&http, ":0", NULL, err, sizeof err), HD_EINVAL);
    assert_null (http);
}

static void
test_http_publish_swaps_snapshots (void **state)
{
    (void) state;
    hd_http_t *http = NULL;
    char err[256];
    assert_int_equal (hd_http_start (&http, "127.0.0.1:0", NULL, err, sizeof err), HD_OK);
    assert_non_null (strstr (hd_http_endpoint (http), "127.0.0.1:"));
    assert_string_not_equal (hd_http_endpoint (http), "127.0.0.1:0");
    hd_snapshot_t *a = calloc (1, sizeof *a), *b = calloc (1, sizeof *b), *snap = a;
    assert_true (hd_http_publish (http, &snap));
    assert_null (snap);  //  the first: nothing to give back
    snap = b;
    assert_true (hd_http_publish (http, &snap));
    assert_ptr_equal (snap, a);
    free (snap);
    hd_http_destroy (&http);  //  frees b
    assert_null (http);
}

static void
test_http_listens_on_ipv6_loopback (void **state)
{
    (void) state;
    hd_http_t *http = NULL;
    char err[256];
    hd_err_t rc = hd_http_start (&http, "[::1]:0", NULL, err, sizeof err);
    assert_int_equal (rc, HD_OK);
    assert_non_null (strstr (hd_http_endpoint (http), "[::1]:"));
    hd_http_destroy (&http);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_http_knows_loopback),
        cmocka_unit_test (test_http_lan_peers_need_the_token),
        cmocka_unit_test (test_http_refuses_bad_addresses),
        cmocka_unit_test (test_http_publish_swaps_snapshots),
        cmocka_unit_test (test_http_listens_on_ipv6_loopback),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
