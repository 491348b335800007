/*  test_discovery: the beacon payload "HEDDLE1 CLUSTER HOST PORT KEY": round trips, and the
    strict decoder refusing truncated, oversized, malformed and other-version payloads; what a
    broker bound on an endpoint announces; where a beacon points a worker. (The zbeacon actors
    are exercised by tests/integration/test_discovery, on a LAN of network namespaces.)  */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "hd_discovery.h"

#define S_KEY "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
#define S_GOOD "HEDDLE1 heddle * 7701 " S_KEY

static hd_beacon_t
s_beacon (const char *cluster, const char *host, uint16_t port, const char *key)
{
    hd_beacon_t b;
    memset (&b, 0, sizeof b);
    snprintf (b.cluster, sizeof b.cluster, "%s", cluster);
    snprintf (b.host, sizeof b.host, "%s", host);
    b.port = port;
    snprintf (b.key, sizeof b.key, "%s", key);
    return b;
}

static hd_err_t
s_decode (const char *text, hd_beacon_t *out)
{
    return hd_discovery_decode_beacon (text, strlen (text), out);
}

static void
test_discovery_encodes_the_documented_text (void **state)
{
    (void) state;
    hd_beacon_t b = s_beacon ("heddle", "*", 7701, S_KEY);
    char text[HD_BEACON_MAX + 1];
    size_t size = 0;
    assert_int_equal (hd_discovery_encode_beacon (&b, text, sizeof text, &size), HD_OK);
    assert_string_equal (text, S_GOOD);
    assert_int_equal (size, strlen (S_GOOD));
}

static void
test_discovery_round_trips_every_field (void **state)
{
    (void) state;
    const hd_beacon_t in[] = {
        s_beacon ("heddle", "*", 7701, S_KEY),
        s_beacon ("lab-2.rack_A", "10.1.2.3", 1, S_KEY),
        s_beacon ("x", "fe80::1", 65535, ""),  //  insecure broker: key sent as "-"
        s_beacon ("abcdefghijklmnopqrstuvwxyz012345", "pi1.example.org", 7701, S_KEY),
    };
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        char text[HD_BEACON_MAX + 1];
        size_t size;
        hd_beacon_t out;
        assert_int_equal (hd_discovery_encode_beacon (&in[i], text, sizeof text, &size), HD_OK);
        assert_true (size <= HD_BEACON_MAX);
        assert_int_equal (hd_discovery_decode_beacon (text, size, &out), HD_OK);
        assert_string_equal (out.cluster, in[i].cluster);
        assert_string_equal (out.host, in[i].host);
        assert_int_equal (out.port, in[i].port);
        assert_string_equal (out.key, in[i].key);
    }
}

static void
test_discovery_longest_beacon_fits_zbeacon (void **state)
{
    (void) state;
    char host[HD_BEACON_HOST_MAX + 1], cluster[HD_CLUSTER_MAX + 1], text[HD_BEACON_MAX + 1];
    memset (host, 'h', HD_BEACON_HOST_MAX);
    host[HD_BEACON_HOST_MAX] = '\0';
    memset (cluster, 'c', HD_CLUSTER_MAX);
    cluster[HD_CLUSTER_MAX] = '\0';
    hd_beacon_t b = s_beacon (cluster, host, 65535, S_KEY);
    size_t size;
    assert_int_equal (hd_discovery_encode_beacon (&b, text, sizeof text, &size), HD_OK);
    assert_true (size <= HD_BEACON_MAX);
}

static void
test_discovery_encode_refuses_fields_that_would_not_decode (void **state)
{
    (void) state;
    const hd_beacon_t bad[] = {
        s_beacon ("", "*", 7701, S_KEY),      s_beacon ("has space", "*", 7701, S_KEY),
        s_beacon ("heddle", "", 7701, S_KEY), s_beacon ("heddle", "a b", 7701, S_KEY),
        s_beacon ("heddle", "*", 0, S_KEY),   s_beacon ("heddle", "*", 7701, "not-a-key"),
    };
    char text[HD_BEACON_MAX + 1];
    size_t size;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal (hd_discovery_encode_beacon (&bad[i], text, sizeof text, &size),
                          HD_EINVAL);
    hd_beacon_t b = s_beacon ("heddle", "*", 7701, S_KEY);
    assert_int_equal (hd_discovery_encode_beacon (&b, text, 20, &size), HD_ETOOBIG);
}

static void
test_discovery_decode_rejects_truncated_payloads (void **state)
{
    (void) state;
    hd_beacon_t out;
    //  Every proper prefix of a good beacon is refused, never half-read.
    for (size_t n = 0; n < strlen (S_GOOD); n++)
        assert_int_not_equal (hd_discovery_decode_beacon (S_GOOD, n, &out), HD_OK);
    assert_int_equal (s_decode ("HEDDLE1 heddle * 7701", &out), HD_EPROTO);
    assert_string_equal (out.cluster, "");
}

static void
test_discovery_decode_rejects_an_oversized_payload (void **state)
{
    (void) state;
    char big[HD_BEACON_MAX + 2];
    memset (big, 'x', sizeof big);
    memcpy (big, S_GOOD, strlen (S_GOOD));
    hd_beacon_t out;
    assert_int_equal (hd_discovery_decode_beacon (big, sizeof big, &out), HD_ETOOBIG);
}

static void
test_discovery_decode_rejects_wrong_magic (void **state)
{
    (void) state;
    hd_beacon_t out;
    assert_int_equal (s_decode ("HEDDLX1 heddle * 7701 " S_KEY, &out), HD_EPROTO);
    assert_int_equal (s_decode ("heddle1 heddle * 7701 " S_KEY, &out), HD_EPROTO);
    assert_int_equal (s_decode ("HEDDLE heddle * 7701 " S_KEY, &out), HD_EPROTO);
    assert_int_equal (s_decode ("HEDDLEx heddle * 7701 " S_KEY, &out), HD_EPROTO);
    assert_int_equal (s_decode ("ZRE\x01 anything", &out), HD_EPROTO);
}

static void
test_discovery_decode_tells_another_version (void **state)
{
    (void) state;
    hd_beacon_t out;
    assert_int_equal (s_decode ("HEDDLE2 heddle * 7701 " S_KEY " more fields", &out), HD_EVERSION);
    assert_int_equal (s_decode ("HEDDLE0", &out), HD_EVERSION);
}

static void
test_discovery_decode_rejects_malformed_fields (void **state)
{
    (void) state;
    const char *bad[] = {
        "HEDDLE1  heddle * 7701 " S_KEY,                                   //  two spaces
        "HEDDLE1 heddle * 7701 " S_KEY " ",                                //  trailing space
        "HEDDLE1 heddle * 7701 " S_KEY " extra",                           //  a sixth field
        "HEDDLE1 he/ddle * 7701 " S_KEY,                                   //  cluster charset
        "HEDDLE1 abcdefghijklmnopqrstuvwxyz0123456 * 7701 " S_KEY,         //  cluster of 33
        "HEDDLE1 heddle h$st 7701 " S_KEY,                                 //  host charset
        "HEDDLE1 heddle * 0 " S_KEY,                                       //  port 0
        "HEDDLE1 heddle * 07701 " S_KEY,                                   //  leading zero
        "HEDDLE1 heddle * 65536 " S_KEY,                                   //  out of range
        "HEDDLE1 heddle * -1 " S_KEY,                                      //  sign
        "HEDDLE1 heddle * 7701 Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hI",   //  39-char key
        "HEDDLE1 heddle * 7701 Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hI~",  //  not Z85
        "HEDDLE1 heddle * 7701 --",                                        //  neither a key nor "-"
        "HEDDLE1\theddle * 7701 " S_KEY,                                   //  tab
    };
    hd_beacon_t out;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (s_decode (bad[i], &out) != HD_EPROTO)
            fail_msg ("accepted: %s", bad[i]);
}

static void
test_discovery_decode_rejects_an_embedded_nul (void **state)
{
    (void) state;
    char text[] = S_GOOD;
    text[10] = '\0';
    hd_beacon_t out;
    assert_int_equal (hd_discovery_decode_beacon (text, sizeof text - 1, &out), HD_EPROTO);
}

static void
test_discovery_broker_on_a_wildcard_announces_star (void **state)
{
    (void) state;
    hd_beacon_t b;
    char why[256];
    assert_int_equal (
        hd_discovery_beacon_for (&b, "heddle", "tcp://0.0.0.0:7701", S_KEY, why, sizeof why),
        HD_OK);
    assert_string_equal (b.host, "*");
    assert_int_equal (b.port, 7701);
    assert_string_equal (b.key, S_KEY);
    assert_int_equal (
        hd_discovery_beacon_for (&b, "heddle", "tcp://[::]:7701", NULL, why, sizeof why), HD_OK);
    assert_string_equal (b.host, "*");
    assert_string_equal (b.key, "");
    assert_int_equal (
        hd_discovery_beacon_for (&b, "lab", "tcp://10.0.0.5:40000", S_KEY, why, sizeof why), HD_OK);
    assert_string_equal (b.host, "10.0.0.5");
    assert_int_equal (b.port, 40000);
}

static void
test_discovery_broker_on_loopback_or_inproc_announces_nothing (void **state)
{
    (void) state;
    hd_beacon_t b;
    char why[256];
    const char *quiet[] = { "tcp://127.0.0.1:7701", "tcp://[::1]:7701", "inproc://workers",
                            "ipc:///tmp/w" };
    for (size_t i = 0; i < sizeof quiet / sizeof quiet[0]; i++)
        assert_int_equal (hd_discovery_beacon_for (&b, "heddle", quiet[i], S_KEY, why, sizeof why),
                          HD_EINVAL);
    assert_int_equal (
        hd_discovery_beacon_for (&b, "bad name", "tcp://0.0.0.0:7701", S_KEY, why, sizeof why),
        HD_EINVAL);
    assert_non_null (strstr (why, "bad name"));
}

static void
test_discovery_endpoint_uses_the_sender_for_star (void **state)
{
    (void) state;
    char ep[HD_ENDPOINT_MAX];
    hd_beacon_t b = s_beacon ("heddle", "*", 7701, S_KEY);
    assert_string_equal (hd_discovery_endpoint (&b, "10.9.8.7", ep, sizeof ep),
                         "tcp://10.9.8.7:7701");
    b = s_beacon ("heddle", "10.1.1.1", 9000, S_KEY);
    assert_string_equal (hd_discovery_endpoint (&b, "10.9.8.7", ep, sizeof ep),
                         "tcp://10.1.1.1:9000");
    b = s_beacon ("heddle", "fe80::1", 9000, S_KEY);
    assert_string_equal (hd_discovery_endpoint (&b, "10.9.8.7", ep, sizeof ep),
                         "tcp://[fe80::1]:9000");
}

static void
test_discovery_cluster_names (void **state)
{
    (void) state;
    assert_true (hd_discovery_cluster_ok ("heddle"));
    assert_true (hd_discovery_cluster_ok ("Lab_2.rack-A"));
    assert_false (hd_discovery_cluster_ok (""));
    assert_false (hd_discovery_cluster_ok (NULL));
    assert_false (hd_discovery_cluster_ok ("a b"));
    assert_false (hd_discovery_cluster_ok ("abcdefghijklmnopqrstuvwxyz0123456"));
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_discovery_encodes_the_documented_text),
        cmocka_unit_test (test_discovery_round_trips_every_field),
        cmocka_unit_test (test_discovery_longest_beacon_fits_zbeacon),
        cmocka_unit_test (test_discovery_encode_refuses_fields_that_would_not_decode),
        cmocka_unit_test (test_discovery_decode_rejects_truncated_payloads),
        cmocka_unit_test (test_discovery_decode_rejects_an_oversized_payload),
        cmocka_unit_test (test_discovery_decode_rejects_wrong_magic),
        cmocka_unit_test (test_discovery_decode_tells_another_version),
        cmocka_unit_test (test_discovery_decode_rejects_malformed_fields),
        cmocka_unit_test (test_discovery_decode_rejects_an_embedded_nul),
        cmocka_unit_test (test_discovery_broker_on_a_wildcard_announces_star),
        cmocka_unit_test (test_discovery_broker_on_loopback_or_inproc_announces_nothing),
        cmocka_unit_test (test_discovery_endpoint_uses_the_sender_for_star),
        cmocka_unit_test (test_discovery_cluster_names),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
