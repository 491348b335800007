/*  Unit tests for hd_codec_nodes' client-bound administration envelopes added for issue 12:
    NOTICE {fn, nodes, wait, reason} and FUNCTIONS_REPLY {fns: [...]}: round trips, required
    keys, a known key twice, and bounds. (The seeds of tests/fuzz/corpus replay through the
    fuzz entry in test_codec_regressions.)  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hd_codec_nodes.h"

static int
s_write (void *data, const char *buf, size_t len)
{
    return hd_buf_append (data, buf, len) == HD_OK ? 0 : -1;
}

static void
s_str (msgpack_packer *pk, const char *text)
{
    msgpack_pack_str (pk, strlen (text));
    msgpack_pack_str_body (pk, text, strlen (text));
}

static void
test_notice_round_trip (void **state)
{
    (void) state;
    hd_notice_t n = { .fn = "sha256", .nodes = 3, .wait_ms = 60000 }, back;
    snprintf (n.reason, sizeof n.reason, "waiting for a worker that offers 'sha256'");
    hd_buf_t buf;
    hd_buf_init (&buf);
    assert_int_equal (hd_codec_encode_notice (&buf, &n), HD_OK);
    assert_int_equal (hd_codec_decode_notice (buf.data, buf.size, &back), HD_OK);
    assert_memory_equal (&n, &back, sizeof n);
    hd_buf_fini (&buf);
}

static void
test_notice_needs_fn_and_wait_once (void **state)
{
    (void) state;
    hd_buf_t buf;
    hd_buf_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, s_write);
    msgpack_pack_map (&pk, 1);
    s_str (&pk, "fn");
    s_str (&pk, "echo");
    hd_notice_t n;
    assert_int_equal (hd_codec_decode_notice (buf.data, buf.size, &n), HD_EPROTO);  //  no wait
    hd_buf_reset (&buf);
    msgpack_pack_map (&pk, 3);
    s_str (&pk, "fn");
    s_str (&pk, "echo");
    s_str (&pk, "wait");
    msgpack_pack_uint32 (&pk, 5);
    s_str (&pk, "wait");
    msgpack_pack_uint32 (&pk, 6);
    assert_int_equal (hd_codec_decode_notice (buf.data, buf.size, &n), HD_EPROTO);  //  twice
    hd_buf_fini (&buf);
}

static void
test_functions_round_trip (void **state)
{
    (void) state;
    hd_fninfo_t fns[2] = { { .name = "echo", .nodes = 2, .nnames = 2, .queued = 7, .running = 1,
                             .done = 1ull << 40, .ms = 0.25 },
                           { .name = "sha256" } };
    snprintf (fns[0].names[0], sizeof fns[0].names[0], "pi-1");
    snprintf (fns[0].names[1], sizeof fns[0].names[1], "pi-2");
    hd_buf_t buf;
    hd_buf_init (&buf);
    assert_int_equal (hd_codec_encode_functions (&buf, fns, 2), HD_OK);
    hd_fninfo_t *back = NULL;
    uint32_t count = 0;
    assert_int_equal (hd_codec_decode_functions (buf.data, buf.size, &back, &count), HD_OK);
    assert_int_equal (count, 2);
    assert_memory_equal (fns, back, sizeof fns);
    free (back);
    hd_buf_fini (&buf);
}

//  A function entry with its required keys and `names` names.
static void
s_fn_entry (msgpack_packer *pk, uint32_t names, bool with_done)
{
    msgpack_pack_map (pk, 6 + (with_done ? 1 : 0));
    s_str (pk, "name");
    s_str (pk, "echo");
    s_str (pk, "nodes");
    msgpack_pack_uint32 (pk, names);
    s_str (pk, "names");
    msgpack_pack_array (pk, names);
    for (uint32_t i = 0; i < names; i++)
        s_str (pk, "n");
    s_str (pk, "queued");
    msgpack_pack_uint32 (pk, 0);
    s_str (pk, "running");
    msgpack_pack_uint32 (pk, 0);
    if (with_done) {
        s_str (pk, "done");
        msgpack_pack_uint32 (pk, 0);
    }
    s_str (pk, "ms");
    msgpack_pack_double (pk, 1.5);
}

static hd_err_t
s_decode_one (uint32_t names, bool with_done)
{
    hd_buf_t buf;
    hd_buf_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, s_write);
    msgpack_pack_map (&pk, 1);
    s_str (&pk, "fns");
    msgpack_pack_array (&pk, 1);
    s_fn_entry (&pk, names, with_done);
    hd_fninfo_t *fns = NULL;
    uint32_t count = 0;
    hd_err_t rc = hd_codec_decode_functions (buf.data, buf.size, &fns, &count);
    assert_true (rc == HD_OK ? fns != NULL && count == 1 : fns == NULL && count == 0);
    free (fns);
    hd_buf_fini (&buf);
    return rc;
}

static void
test_functions_bounds_and_required_keys (void **state)
{
    (void) state;
    assert_int_equal (s_decode_one (HD_FN_NAMES, true), HD_OK);
    assert_int_equal (s_decode_one (HD_FN_NAMES + 1, true), HD_EPROTO);  //  too many names
    assert_int_equal (s_decode_one (1, false), HD_EPROTO);               //  no done
    hd_fninfo_t *fns = NULL;
    uint32_t count = 0;
    assert_int_equal (hd_codec_decode_functions ("\x80", 1, &fns, &count), HD_EPROTO);  //  {}
    assert_int_equal (hd_codec_encode_functions (&(hd_buf_t){ 0 }, NULL, HD_MAX_FUNCTIONS + 1),
                      HD_EINVAL);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_notice_round_trip),
        cmocka_unit_test (test_notice_needs_fn_and_wait_once),
        cmocka_unit_test (test_functions_round_trip),
        cmocka_unit_test (test_functions_bounds_and_required_keys),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
