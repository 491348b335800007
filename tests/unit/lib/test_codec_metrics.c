/*  test_codec_metrics: the METRICS envelope: round trips that keep absent apart from zero, the
    encoder's refusals, and the decoder against hand-made hostile bytes (wrong types, negative
    unsigned values, missing or repeated keys, oversize input, every truncation of a valid one).  */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hd_codec.h"
#include "hd_codec_metrics.h"

//  Pieces of a valid minimal envelope {name: "n", seq: 1}.
#define K_NAME 0xa4, 'n', 'a', 'm', 'e'
#define V_N 0xa1, 'n'
#define K_SEQ 0xa3, 's', 'e', 'q'
#define K_SLOTS 0xa5, 's', 'l', 'o', 't', 's'
#define K_CPU 0xa3, 'c', 'p', 'u'
#define K_TEMP 0xa4, 't', 'e', 'm', 'p'
#define K_SCORE 0xa5, 's', 'c', 'o', 'r', 'e'
#define K_MEM_TOTAL 0xa9, 'm', 'e', 'm', '_', 't', 'o', 't', 'a', 'l'

static int
s_setup (void **state)
{
    hd_buf_t *buf = calloc (1, sizeof *buf);
    *state = buf;
    return buf ? 0 : -1;
}

static int
s_teardown (void **state)
{
    hd_buf_t *buf = *state;
    hd_buf_fini (buf);
    free (buf);
    return 0;
}

static hd_metrics_t
s_full (void)
{
    hd_metrics_t m = { .name = "pi-4",
                       .seq = 1234567890123ull,
                       .present = HD_M_WORKER_ALL,
                       .slots = 4,
                       .busy = 3,
                       .interval_ms = 2000,
                       .done = 5000000000ull,
                       .failed = 7,
                       .score = 812.5 };
    m.sys = (hd_sysinfo_t){ .present = HD_M_SYS_ALL,
                            .cores = 4,
                            .cpu_util = 0.625,
                            .load1 = 1.5,
                            .load5 = 0.75,
                            .load15 = 0.25,
                            .mem_total = 8ull << 30,
                            .mem_avail = 3ull << 30,
                            .disk_free = 20ull << 30,
                            .disk_total = 64ull << 30,
                            .net_rx_bps = 12345.5,
                            .net_tx_bps = 678.25,
                            .temp_c = 61.3,
                            .throttled = 0x50005 };
    return m;
}

//  Field by field: the structs have padding that decode zeroes but an initializer need not.
static void
s_assert_sys_equal (const hd_sysinfo_t *a, const hd_sysinfo_t *b)
{
    assert_int_equal (a->present, b->present);
    assert_int_equal (a->cores, b->cores);
    assert_true (a->cpu_util == b->cpu_util);
    assert_true (a->load1 == b->load1 && a->load5 == b->load5 && a->load15 == b->load15);
    assert_true (a->mem_total == b->mem_total && a->mem_avail == b->mem_avail);
    assert_true (a->disk_free == b->disk_free && a->disk_total == b->disk_total);
    assert_true (a->net_rx_bps == b->net_rx_bps && a->net_tx_bps == b->net_tx_bps);
    assert_true (a->temp_c == b->temp_c);
    assert_int_equal (a->throttled, b->throttled);
}

static void
s_assert_metrics_equal (const hd_metrics_t *a, const hd_metrics_t *b)
{
    assert_string_equal (a->name, b->name);
    assert_true (a->seq == b->seq);
    assert_int_equal (a->present, b->present);
    assert_int_equal (a->slots, b->slots);
    assert_int_equal (a->busy, b->busy);
    assert_int_equal (a->interval_ms, b->interval_ms);
    assert_true (a->done == b->done && a->failed == b->failed);
    assert_true (a->score == b->score);
    s_assert_sys_equal (&a->sys, &b->sys);
}

//  Decode from an exactly sized heap copy, so the sanitizer catches any read past the end.
static hd_err_t
s_decode_exact (const void *data, size_t size, hd_metrics_t *out)
{
    void *copy = malloc (size ? size : 1);
    assert_non_null (copy);
    if (size)
        memcpy (copy, data, size);
    hd_err_t rc = hd_codec_decode_metrics (copy, size, out);
    free (copy);
    return rc;
}

//  --- header ---------------------------------------------------------------------------------

static void
test_codec_metrics_header_is_the_topic (void **state)
{
    (void) state;
    uint8_t hdr[HD_HEADER_BYTES];
    hd_codec_metrics_header (hdr);
    const uint8_t expect[] = { 'H', 'D', HD_PROTO_VERSION, HD_CMD_METRICS };
    assert_memory_equal (hdr, expect, sizeof expect);
    assert_memory_equal (hdr, HD_METRICS_TOPIC, HD_METRICS_TOPIC_BYTES);
    assert_true (hd_codec_metrics_is_header (hdr, sizeof hdr));
}

static void
test_codec_metrics_is_header_rejects_other_commands (void **state)
{
    (void) state;
    uint8_t hdr[HD_HEADER_BYTES];
    hd_codec_header (hdr, HD_CMD_HELLO);
    assert_false (hd_codec_metrics_is_header (hdr, sizeof hdr));
    assert_false (hd_codec_metrics_is_header (HD_METRICS_TOPIC, 3));
}

//  --- round trips ----------------------------------------------------------------------------

static void
test_codec_metrics_roundtrips_all_fields (void **state)
{
    hd_buf_t *buf = *state;
    hd_metrics_t in = s_full (), out;
    assert_int_equal (hd_codec_encode_metrics (buf, &in), HD_OK);
    assert_int_equal (hd_codec_decode_metrics (buf->data, buf->size, &out), HD_OK);
    s_assert_metrics_equal (&in, &out);
}

static void
test_codec_metrics_roundtrips_required_fields_only (void **state)
{
    hd_buf_t *buf = *state;
    hd_metrics_t in = { .name = "n", .seq = 9 }, out;
    assert_int_equal (hd_codec_encode_metrics (buf, &in), HD_OK);
    assert_int_equal (buf->data[0], 0x82);  //  a map of exactly name and seq
    assert_int_equal (hd_codec_decode_metrics (buf->data, buf->size, &out), HD_OK);
    s_assert_metrics_equal (&in, &out);
    assert_int_equal (out.present, 0);
    assert_int_equal (out.sys.present, 0);
}

static void
test_codec_metrics_keeps_present_zeros_apart_from_absent (void **state)
{
    hd_buf_t *buf = *state;
    hd_metrics_t in = { .name = "n", .present = HD_M_BUSY };
    in.sys.present = HD_M_CPU | HD_M_TEMP;  //  busy 0, cpu 0.0, temp 0.0: all real values
    hd_metrics_t out;
    assert_int_equal (hd_codec_encode_metrics (buf, &in), HD_OK);
    assert_int_equal (hd_codec_decode_metrics (buf->data, buf->size, &out), HD_OK);
    assert_int_equal (out.present, HD_M_BUSY);
    assert_int_equal (out.sys.present, HD_M_CPU | HD_M_TEMP);
}

static void
test_codec_metrics_roundtrips_negative_temperature (void **state)
{
    hd_buf_t *buf = *state;
    hd_metrics_t in = { .name = "outdoor", .seq = 1 }, out;
    in.sys.present = HD_M_TEMP;
    in.sys.temp_c = -12.5;
    assert_int_equal (hd_codec_encode_metrics (buf, &in), HD_OK);
    assert_int_equal (hd_codec_decode_metrics (buf->data, buf->size, &out), HD_OK);
    assert_true (out.sys.temp_c == -12.5);
}

//  --- encoder refusals -----------------------------------------------------------------------

static void
test_codec_metrics_encode_rejects_empty_name (void **state)
{
    hd_buf_t *buf = *state;
    hd_metrics_t in = { .seq = 1 };
    assert_int_equal (hd_codec_encode_metrics (buf, &in), HD_EINVAL);
    assert_int_equal (buf->size, 0);
}

static void
test_codec_metrics_encode_rejects_unterminated_name (void **state)
{
    hd_buf_t *buf = *state;
    hd_metrics_t in = s_full ();
    memset (in.name, 'a', sizeof in.name);
    assert_int_equal (hd_codec_encode_metrics (buf, &in), HD_EINVAL);
}

static void
test_codec_metrics_encode_rejects_nan (void **state)
{
    hd_buf_t *buf = *state;
    hd_metrics_t in = s_full ();
    in.sys.load5 = NAN;
    assert_int_equal (hd_codec_encode_metrics (buf, &in), HD_EINVAL);
    assert_int_equal (buf->size, 0);
}

static void
test_codec_metrics_encode_rejects_cpu_over_one (void **state)
{
    hd_buf_t *buf = *state;
    hd_metrics_t in = s_full ();
    in.sys.cpu_util = 1.01;
    assert_int_equal (hd_codec_encode_metrics (buf, &in), HD_EINVAL);
}

static void
test_codec_metrics_encode_ignores_bad_value_of_absent_field (void **state)
{
    hd_buf_t *buf = *state;
    hd_metrics_t in = { .name = "n" };
    in.sys.cpu_util = NAN;  //  absent: never looked at
    assert_int_equal (hd_codec_encode_metrics (buf, &in), HD_OK);
}

static void
test_codec_metrics_encode_rejects_bit_in_wrong_mask (void **state)
{
    hd_buf_t *buf = *state;
    hd_metrics_t in = { .name = "n", .present = HD_M_CPU };
    assert_int_equal (hd_codec_encode_metrics (buf, &in), HD_EINVAL);
}

//  --- decoder: accepted forms ---------------------------------------------------------------

static void
test_codec_metrics_decode_accepts_float32_for_float (void **state)
{
    (void) state;
    const uint8_t msg[] = { 0x83, K_NAME, V_N, K_SEQ, 1, K_CPU, 0xca, 0x3f, 0, 0, 0 };  //  0.5f
    hd_metrics_t out;
    assert_int_equal (s_decode_exact (msg, sizeof msg, &out), HD_OK);
    assert_true (out.sys.cpu_util == 0.5);
    assert_int_equal (out.sys.present, HD_M_CPU);
}

static void
test_codec_metrics_decode_accepts_integers_for_float (void **state)
{
    (void) state;
    const uint8_t msg[] = { 0x84, K_NAME, V_N, K_SEQ, 1, K_TEMP, 0xfb, K_SCORE, 0xcd, 0x01, 0x00 };
    hd_metrics_t out;  //  temp: -5 (negative fixint), score: 256 (uint16)
    assert_int_equal (s_decode_exact (msg, sizeof msg, &out), HD_OK);
    assert_true (out.sys.temp_c == -5.0);
    assert_true (out.score == 256.0);
    assert_int_equal (out.present, HD_M_SCORE);
}

static void
test_codec_metrics_decode_skips_unknown_key (void **state)
{
    (void) state;
    const uint8_t msg[] = { 0x83, K_NAME, V_N,  0xa3, 'g', 'p',   'u', 0x81,
                            0xa1, 'x',    0x92, 1,    2,   K_SEQ, 7 };
    hd_metrics_t out;
    assert_int_equal (s_decode_exact (msg, sizeof msg, &out), HD_OK);
    assert_string_equal (out.name, "n");
    assert_true (out.seq == 7);
}

//  --- decoder: refusals ----------------------------------------------------------------------

static void
test_codec_metrics_decode_rejects_string_for_uint (void **state)
{
    (void) state;
    const uint8_t msg[] = { 0x83, K_NAME, V_N, K_SEQ, 1, K_SLOTS, 0xa1, '4' };
    hd_metrics_t out;
    assert_int_equal (s_decode_exact (msg, sizeof msg, &out), HD_EPROTO);
}

static void
test_codec_metrics_decode_rejects_float_for_uint (void **state)
{
    (void) state;
    const uint8_t msg[] = { 0x83, K_NAME, V_N, K_SEQ, 1, K_SLOTS, 0xca, 0x40, 0x80, 0, 0 };
    hd_metrics_t out;  //  slots: 4.0f
    assert_int_equal (s_decode_exact (msg, sizeof msg, &out), HD_EPROTO);
}

static void
test_codec_metrics_decode_rejects_string_for_float (void **state)
{
    (void) state;
    const uint8_t msg[] = { 0x83, K_NAME, V_N, K_SEQ, 1, K_CPU, 0xa3, '0', '.', '5' };
    hd_metrics_t out;
    assert_int_equal (s_decode_exact (msg, sizeof msg, &out), HD_EPROTO);
}

static void
test_codec_metrics_decode_rejects_negative_uint (void **state)
{
    (void) state;
    const uint8_t msg[] = { 0x83, K_NAME, V_N, K_SEQ, 1, K_MEM_TOTAL, 0xff };  //  -1
    hd_metrics_t out;
    assert_int_equal (s_decode_exact (msg, sizeof msg, &out), HD_EPROTO);
}

static void
test_codec_metrics_decode_rejects_negative_seq (void **state)
{
    (void) state;
    const uint8_t msg[] = { 0x82, K_NAME, V_N, K_SEQ, 0xd0, 0x80 };  //  int8 -128
    hd_metrics_t out;
    assert_int_equal (s_decode_exact (msg, sizeof msg, &out), HD_EPROTO);
}

static void
test_codec_metrics_decode_rejects_uint32_overflow (void **state)
{
    (void) state;
    const uint8_t msg[] = { 0x83, K_NAME, V_N, K_SEQ, 1, K_SLOTS, 0xcf, 0, 0, 0, 1, 0, 0, 0, 0 };
    hd_metrics_t out;  //  slots: 2^32
    assert_int_equal (s_decode_exact (msg, sizeof msg, &out), HD_EPROTO);
}

static void
test_codec_metrics_decode_rejects_nan (void **state)
{
    (void) state;
    const uint8_t msg[] = {
        0x83, K_NAME, V_N, K_SEQ, 1, K_TEMP, 0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0
    };
    hd_metrics_t out;
    assert_int_equal (s_decode_exact (msg, sizeof msg, &out), HD_EPROTO);
}

static void
test_codec_metrics_decode_rejects_cpu_over_one (void **state)
{
    (void) state;
    const uint8_t msg[] = { 0x83, K_NAME, V_N, K_SEQ, 1, K_CPU, 2 };
    hd_metrics_t out;
    assert_int_equal (s_decode_exact (msg, sizeof msg, &out), HD_EPROTO);
}

static void
test_codec_metrics_decode_rejects_missing_name (void **state)
{
    (void) state;
    const uint8_t msg[] = { 0x82, K_SEQ, 1, K_SLOTS, 4 };
    hd_metrics_t out;
    assert_int_equal (s_decode_exact (msg, sizeof msg, &out), HD_EPROTO);
}

static void
test_codec_metrics_decode_rejects_missing_seq (void **state)
{
    (void) state;
    const uint8_t msg[] = { 0x82, K_NAME, V_N, K_SLOTS, 4 };
    hd_metrics_t out;
    assert_int_equal (s_decode_exact (msg, sizeof msg, &out), HD_EPROTO);
}

static void
test_codec_metrics_decode_rejects_empty_name (void **state)
{
    (void) state;
    const uint8_t msg[] = { 0x82, K_NAME, 0xa0, K_SEQ, 1 };
    hd_metrics_t out;
    assert_int_equal (s_decode_exact (msg, sizeof msg, &out), HD_EPROTO);
}

static void
test_codec_metrics_decode_rejects_long_name (void **state)
{
    (void) state;
    uint8_t msg[16 + HD_MAX_NAME + 1] = { 0x82, K_NAME, 0xd9, HD_MAX_NAME + 1 };
    size_t n = 8;
    memset (msg + n, 'a', HD_MAX_NAME + 1);
    n += HD_MAX_NAME + 1;
    const uint8_t seq[] = { K_SEQ, 1 };
    memcpy (msg + n, seq, sizeof seq);
    n += sizeof seq;
    hd_metrics_t out;
    assert_int_equal (s_decode_exact (msg, n, &out), HD_ETOOBIG);
}

static void
test_codec_metrics_decode_rejects_repeated_key (void **state)
{
    (void) state;
    const uint8_t msg[] = { 0x84, K_NAME, V_N, K_SEQ, 1, K_SLOTS, 4, K_SLOTS, 8 };
    hd_metrics_t out;
    assert_int_equal (s_decode_exact (msg, sizeof msg, &out), HD_EPROTO);
}

static void
test_codec_metrics_decode_rejects_non_string_key (void **state)
{
    (void) state;
    const uint8_t msg[] = { 0x83, K_NAME, V_N, K_SEQ, 1, 0x05, 0x05 };
    hd_metrics_t out;
    assert_int_equal (s_decode_exact (msg, sizeof msg, &out), HD_EPROTO);
}

static void
test_codec_metrics_decode_rejects_array (void **state)
{
    (void) state;
    const uint8_t msg[] = { 0x92, V_N, 1 };
    hd_metrics_t out;
    assert_int_equal (s_decode_exact (msg, sizeof msg, &out), HD_EPROTO);
}

static void
test_codec_metrics_decode_rejects_trailing_bytes (void **state)
{
    (void) state;
    const uint8_t msg[] = { 0x82, K_NAME, V_N, K_SEQ, 1, 0xc0 };
    hd_metrics_t out;
    assert_int_equal (s_decode_exact (msg, sizeof msg, &out), HD_EPROTO);
}

static void
test_codec_metrics_decode_rejects_oversize (void **state)
{
    (void) state;
    //  A well-formed map whose unknown key holds a 4 KiB bin: valid but over the limit.
    size_t size = HD_MAX_METRICS_ENVELOPE + 1;
    uint8_t *msg = calloc (1, size);
    assert_non_null (msg);
    const uint8_t head[] = { 0x83, K_NAME, V_N, K_SEQ, 1, 0xa1, 'x', 0xc5 };
    size_t body = size - sizeof head - 2;
    memcpy (msg, head, sizeof head);
    msg[sizeof head] = (uint8_t) (body >> 8);
    msg[sizeof head + 1] = (uint8_t) body;
    hd_metrics_t out;
    assert_int_equal (hd_codec_validate (msg, size), HD_OK);
    assert_int_equal (s_decode_exact (msg, size, &out), HD_ETOOBIG);
    free (msg);
}

static void
test_codec_metrics_decode_rejects_every_truncation (void **state)
{
    hd_buf_t *buf = *state;
    hd_metrics_t in = s_full (), out;
    assert_int_equal (hd_codec_encode_metrics (buf, &in), HD_OK);
    for (size_t n = 0; n < buf->size; n++)
        assert_int_equal (s_decode_exact (buf->data, n, &out), HD_EPROTO);
}

static void
test_codec_metrics_decode_survives_every_byte_flip (void **state)
{
    hd_buf_t *buf = *state;
    hd_metrics_t in = s_full (), out;
    assert_int_equal (hd_codec_encode_metrics (buf, &in), HD_OK);
    for (size_t i = 0; i < buf->size; i++) {
        buf->data[i] ^= 0xff;
        hd_err_t rc = s_decode_exact (buf->data, buf->size, &out);
        assert_true (rc == HD_OK || rc == HD_EPROTO || rc == HD_ETOOBIG);
        buf->data[i] ^= 0xff;
    }
}

#define S_TEST(t) cmocka_unit_test_setup_teardown (t, s_setup, s_teardown)

int
main (void)
{
    const struct CMUnitTest tests[] = {
        S_TEST (test_codec_metrics_header_is_the_topic),
        S_TEST (test_codec_metrics_is_header_rejects_other_commands),
        S_TEST (test_codec_metrics_roundtrips_all_fields),
        S_TEST (test_codec_metrics_roundtrips_required_fields_only),
        S_TEST (test_codec_metrics_keeps_present_zeros_apart_from_absent),
        S_TEST (test_codec_metrics_roundtrips_negative_temperature),
        S_TEST (test_codec_metrics_encode_rejects_empty_name),
        S_TEST (test_codec_metrics_encode_rejects_unterminated_name),
        S_TEST (test_codec_metrics_encode_rejects_nan),
        S_TEST (test_codec_metrics_encode_rejects_cpu_over_one),
        S_TEST (test_codec_metrics_encode_ignores_bad_value_of_absent_field),
        S_TEST (test_codec_metrics_encode_rejects_bit_in_wrong_mask),
        S_TEST (test_codec_metrics_decode_accepts_float32_for_float),
        S_TEST (test_codec_metrics_decode_accepts_integers_for_float),
        S_TEST (test_codec_metrics_decode_skips_unknown_key),
        S_TEST (test_codec_metrics_decode_rejects_string_for_uint),
        S_TEST (test_codec_metrics_decode_rejects_float_for_uint),
        S_TEST (test_codec_metrics_decode_rejects_string_for_float),
        S_TEST (test_codec_metrics_decode_rejects_negative_uint),
        S_TEST (test_codec_metrics_decode_rejects_negative_seq),
        S_TEST (test_codec_metrics_decode_rejects_uint32_overflow),
        S_TEST (test_codec_metrics_decode_rejects_nan),
        S_TEST (test_codec_metrics_decode_rejects_cpu_over_one),
        S_TEST (test_codec_metrics_decode_rejects_missing_name),
        S_TEST (test_codec_metrics_decode_rejects_missing_seq),
        S_TEST (test_codec_metrics_decode_rejects_empty_name),
        S_TEST (test_codec_metrics_decode_rejects_long_name),
        S_TEST (test_codec_metrics_decode_rejects_repeated_key),
        S_TEST (test_codec_metrics_decode_rejects_non_string_key),
        S_TEST (test_codec_metrics_decode_rejects_array),
        S_TEST (test_codec_metrics_decode_rejects_trailing_bytes),
        S_TEST (test_codec_metrics_decode_rejects_oversize),
        S_TEST (test_codec_metrics_decode_rejects_every_truncation),
        S_TEST (test_codec_metrics_decode_survives_every_byte_flip),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
