/*  test_codec_decode: the decoders against hostile input. Every case is a hand-made byte array
    (or built byte by byte) so each test states exactly which lie the bytes tell: declared lengths
    past the end, nesting, wrong types, missing or repeated keys, over-long fields.  */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "hd_codec.h"

//  Pieces of a valid TASK envelope {id: bin16, fn: "echo", attempt: 1}.
#define K_ID 0xa2, 'i', 'd'
#define V_ID 0xc4, 0x10, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
#define K_FN 0xa2, 'f', 'n'
#define V_ECHO 0xa4, 'e', 'c', 'h', 'o'
#define K_ATTEMPT 0xa7, 'a', 't', 't', 'e', 'm', 'p', 't'
#define K_X 0xa1, 'x'

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

static void
s_put (hd_buf_t *buf, const void *data, size_t size)
{
    assert_int_equal (hd_buf_append (buf, data, size), HD_OK);
}

//  str8 form, any length up to 255.
static void
s_put_str (hd_buf_t *buf, const char *text, size_t len)
{
    const uint8_t head[] = { 0xd9, (uint8_t) len };
    s_put (buf, head, sizeof head);
    s_put (buf, text, len);
}

static void
s_put_id (hd_buf_t *buf)
{
    const uint8_t id[] = { V_ID };
    s_put (buf, id, sizeof id);
}

//  A HELLO {name: "n", slots: 1, fns: [nfns x "f"]}.
static void
s_put_hello (hd_buf_t *buf, uint16_t nfns)
{
    const uint8_t head[] = { 0x83,          0xa4, 'n', 'a', 'm', 'e',  0xa1,
                             'n',           0xa5, 's', 'l', 'o', 't',  's',
                             0x01,          0xa3, 'f', 'n', 's', 0xdc, (uint8_t) (nfns >> 8),
                             (uint8_t) nfns };
    const uint8_t fn[] = { 0xa1, 'f' };
    s_put (buf, head, sizeof head);
    for (uint16_t i = 0; i < nfns; i++)
        s_put (buf, fn, sizeof fn);
}

//  --- baseline --------------------------------------------------------------------------------

static void
test_codec_decodes_hand_made_task (void **state)
{
    (void) state;
    const uint8_t in[] = { 0x83, K_ID, V_ID, K_FN, V_ECHO, K_ATTEMPT, 0x01 };
    hd_task_t task;
    assert_int_equal (hd_codec_decode_task (in, sizeof in, &task), HD_OK);
    assert_string_equal (task.fn, "echo");
    assert_int_equal (task.attempt, 1);
    assert_int_equal (task.id.b[15], 15);
}

static void
test_codec_zeroes_output_first (void **state)
{
    (void) state;
    const uint8_t in[] = { 0x83, K_ID, V_ID, K_FN, V_ECHO, K_ATTEMPT, 0x01 };
    hd_task_t task;
    memset (&task, 0xaa, sizeof task);
    assert_int_equal (hd_codec_decode_task (in, sizeof in, &task), HD_OK);
    assert_int_equal (task.timeout_ms, 0);
}

static void
test_codec_skips_unknown_keys (void **state)
{
    (void) state;
    //  {"zz": {"a": [1, 2.5, nil, true]}, id, fn, attempt}
    const uint8_t in[] = { 0x84, 0xa2, 'z',  'z',  0x81, 0xa1,   'a',       0x94, 0x01,
                           0xcb, 0x40, 0x04, 0,    0,    0,      0,         0,    0,
                           0xc0, 0xc3, K_ID, V_ID, K_FN, V_ECHO, K_ATTEMPT, 0x01 };
    hd_task_t task;
    assert_int_equal (hd_codec_decode_task (in, sizeof in, &task), HD_OK);
    assert_string_equal (task.fn, "echo");
}

static void
test_codec_accepts_any_int_form_for_uint (void **state)
{
    (void) state;
    //  attempt as int64 5, then as uint64 6: both positive, both fit uint32
    const uint8_t wide[] = {
        0x83, K_ID, V_ID, K_FN, V_ECHO, K_ATTEMPT, 0xd3, 0, 0, 0, 0, 0, 0, 0, 5
    };
    const uint8_t big[] = {
        0x83, K_ID, V_ID, K_FN, V_ECHO, K_ATTEMPT, 0xcf, 0, 0, 0, 0, 0, 0, 0, 6
    };
    hd_task_t task;
    assert_int_equal (hd_codec_decode_task (wide, sizeof wide, &task), HD_OK);
    assert_int_equal (task.attempt, 5);
    assert_int_equal (hd_codec_decode_task (big, sizeof big, &task), HD_OK);
    assert_int_equal (task.attempt, 6);
}

static void
test_codec_clamps_wide_priority (void **state)
{
    (void) state;
    //  {id, fn, pri: int64 min} and {id, fn, pri: uint64 max}
    const uint8_t low[] = { 0x83, K_ID, V_ID, K_FN, V_ECHO, 0xa3, 'p', 'r', 'i',
                            0xd3, 0x80, 0,    0,    0,      0,    0,   0,   0 };
    const uint8_t high[] = { 0x83, K_ID, V_ID, K_FN, V_ECHO, 0xa3, 'p',  'r',  'i',
                             0xcf, 0xff, 0xff, 0xff, 0xff,   0xff, 0xff, 0xff, 0xff };
    hd_submit_t submit;
    assert_int_equal (hd_codec_decode_submit (low, sizeof low, &submit), HD_OK);
    assert_int_equal (submit.priority, -1000);
    assert_int_equal (hd_codec_decode_submit (high, sizeof high, &submit), HD_OK);
    assert_int_equal (submit.priority, 1000);
}

static void
test_codec_accepts_score_forms (void **state)
{
    hd_buf_t *buf = *state;
    static hd_hello_t hello;
    const uint8_t f32[] = { 0xa5, 's', 'c', 'o', 'r', 'e', 0xca, 0x40, 0x20, 0, 0 };  //  2.5
    const uint8_t u7[] = { 0xa5, 's', 'c', 'o', 'r', 'e', 0x07 };
    s_put_hello (buf, 1);
    buf->data[0] = 0x84;
    size_t base = buf->size;
    s_put (buf, f32, sizeof f32);
    assert_int_equal (hd_codec_decode_hello (buf->data, buf->size, &hello), HD_OK);
    assert_true (hello.score == 2.5);
    buf->size = base;
    s_put (buf, u7, sizeof u7);
    assert_int_equal (hd_codec_decode_hello (buf->data, buf->size, &hello), HD_OK);
    assert_true (hello.score == 7.0);
}

static void
test_codec_rejects_bad_score (void **state)
{
    hd_buf_t *buf = *state;
    static hd_hello_t hello;
    const uint8_t nan[] = { 0xa5, 's', 'c', 'o', 'r', 'e', 0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0 };
    const uint8_t neg[] = { 0xa5, 's', 'c', 'o', 'r', 'e', 0xff };  //  -1
    s_put_hello (buf, 1);
    buf->data[0] = 0x84;
    size_t base = buf->size;
    s_put (buf, nan, sizeof nan);
    assert_int_equal (hd_codec_decode_hello (buf->data, buf->size, &hello), HD_EPROTO);
    buf->size = base;
    s_put (buf, neg, sizeof neg);
    assert_int_equal (hd_codec_decode_hello (buf->data, buf->size, &hello), HD_EPROTO);
}

static void
test_codec_decode_empty_ignores_keys (void **state)
{
    (void) state;
    const uint8_t in[] = { 0x82, 0xa1, 'a', 0x01, 0xa1, 'b', 0x92, 0xc0, 0xa0 };
    assert_int_equal (hd_codec_decode_empty (in, sizeof in), HD_OK);
}

static void
test_codec_validates_every_type (void **state)
{
    (void) state;
    // clang-format off
    const uint8_t in[] = {
        0xdc, 0x00, 0x20,                                     //  array16 of 32
        0xc0, 0xc2, 0xc3, 0x7f, 0xe0,                         //  nil false true fixints
        0xcc, 1, 0xcd, 0, 1, 0xce, 0, 0, 0, 1,                //  uint8 uint16 uint32
        0xcf, 0, 0, 0, 0, 0, 0, 0, 1,                         //  uint64
        0xd0, 0x80, 0xd1, 0x80, 0, 0xd2, 0x80, 0, 0, 0,       //  int8 int16 int32
        0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0,                      //  int64
        0xca, 0, 0, 0, 0, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0,       //  float32 float64
        0xd9, 1, 'a', 0xda, 0, 1, 'a', 0xdb, 0, 0, 0, 1, 'a', //  str8 str16 str32
        0xc4, 1, 0, 0xc5, 0, 1, 0, 0xc6, 0, 0, 0, 1, 0,       //  bin8 bin16 bin32
        0xc7, 1, 5, 0, 0xc8, 0, 1, 5, 0, 0xc9, 0, 0, 0, 1, 5, 0, //  ext8 ext16 ext32
        0xd4, 5, 0, 0xd5, 5, 0, 0,                            //  fixext1 fixext2
        0xd6, 5, 0, 0, 0, 0, 0xd7, 5, 0, 0, 0, 0, 0, 0, 0, 0, //  fixext4 fixext8
        0xd8, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, //  fixext16
        0xdd, 0, 0, 0, 1, 0x90, 0xde, 0, 1, 0xa0, 0x80,      //  array32 [[]] map16 {"": {}}
        0xdf, 0, 0, 0, 0,                                     //  map32 {}
    };
    // clang-format on
    assert_int_equal (hd_codec_validate (in, sizeof in), HD_OK);
}

//  --- shape: empty, truncated, trailing, top level -------------------------------------------

static void
test_codec_rejects_empty_input (void **state)
{
    (void) state;
    const uint8_t none[1] = { 0 };
    hd_task_t task;
    uint32_t n;
    assert_int_equal (hd_codec_validate (none, 0), HD_EPROTO);
    assert_int_equal (hd_codec_validate (NULL, 0), HD_EPROTO);
    assert_int_equal (hd_codec_decode_task (none, 0, &task), HD_EPROTO);
    assert_int_equal (hd_codec_decode_credit (NULL, 0, &n), HD_EPROTO);
    assert_int_equal (hd_codec_decode_empty (NULL, 0), HD_EPROTO);
}

static void
test_codec_rejects_truncated_envelope (void **state)
{
    hd_buf_t *buf = *state;
    hd_submit_t in = { .fn = "echo", .priority = 3, .ntags = 1, .tags = { "t" }, .node = "n" };
    hd_submit_t out;
    assert_int_equal (hd_codec_encode_submit (buf, &in), HD_OK);
    for (size_t len = 0; len < buf->size; len++)
        assert_int_equal (hd_codec_decode_submit (buf->data, len, &out), HD_EPROTO);
    assert_int_equal (hd_codec_decode_submit (buf->data, buf->size, &out), HD_OK);
}

static void
test_codec_rejects_trailing_bytes (void **state)
{
    (void) state;
    const uint8_t in[] = { 0x83, K_ID, V_ID, K_FN, V_ECHO, K_ATTEMPT, 0x01, 0xc0 };
    hd_task_t task;
    assert_int_equal (hd_codec_validate (in, sizeof in), HD_EPROTO);
    assert_int_equal (hd_codec_decode_task (in, sizeof in, &task), HD_EPROTO);
}

static void
test_codec_rejects_non_map_top_level (void **state)
{
    (void) state;
    const uint8_t array[] = { 0x91, 0x01 };
    const uint8_t number[] = { 0x01 };
    const uint8_t text[] = { 0xa1, 'x' };
    uint32_t n;
    assert_int_equal (hd_codec_decode_empty (array, sizeof array), HD_EPROTO);
    assert_int_equal (hd_codec_decode_credit (number, sizeof number, &n), HD_EPROTO);
    assert_int_equal (hd_codec_decode_credit (text, sizeof text, &n), HD_EPROTO);
}

static void
test_codec_rejects_oversized_envelope (void **state)
{
    hd_buf_t *buf = *state;
    //  {"x": bin32 of HD_MAX_ENVELOPE bytes}: well formed, but over the limit
    const uint8_t head[] = { 0x81, K_X, 0xc6, 0x00, 0x01, 0x00, 0x00 };
    s_put (buf, head, sizeof head);
    assert_int_equal (hd_buf_reserve (buf, HD_MAX_ENVELOPE), HD_OK);
    memset (buf->data + buf->size, 0, HD_MAX_ENVELOPE);
    buf->size += HD_MAX_ENVELOPE;
    assert_int_equal (hd_codec_validate (buf->data, buf->size), HD_OK);
    assert_int_equal (hd_codec_decode_empty (buf->data, buf->size), HD_ETOOBIG);
}

//  --- declared lengths past the end ----------------------------------------------------------

static void
test_codec_rejects_str_longer_than_input (void **state)
{
    (void) state;
    const uint8_t in[] = { 0x81, K_FN, 0xdb, 0xff, 0xff, 0xff, 0xff, 'a' };
    assert_int_equal (hd_codec_validate (in, sizeof in), HD_EPROTO);
    assert_int_equal (hd_codec_decode_empty (in, sizeof in), HD_EPROTO);
}

static void
test_codec_rejects_bin_longer_than_input (void **state)
{
    (void) state;
    const uint8_t in[] = { 0x81, K_ID, 0xc6, 0xff, 0xff, 0xff, 0xff, 0x00 };
    hd_reject_t reject;
    assert_int_equal (hd_codec_validate (in, sizeof in), HD_EPROTO);
    assert_int_equal (hd_codec_decode_reject (in, sizeof in, &reject), HD_EPROTO);
}

static void
test_codec_rejects_ext_longer_than_input (void **state)
{
    (void) state;
    const uint8_t in[] = { 0x81, K_X, 0xc9, 0xff, 0xff, 0xff, 0xff, 0x01 };
    assert_int_equal (hd_codec_validate (in, sizeof in), HD_EPROTO);
}

static void
test_codec_rejects_huge_array_count (void **state)
{
    (void) state;
    const uint8_t in[] = { 0x81, 0xa3, 'i', 'd', 's', 0xdd, 0xff, 0xff, 0xff, 0xff, V_ID };
    static hd_idlist_t ids;
    assert_int_equal (hd_codec_validate (in, sizeof in), HD_EPROTO);
    assert_int_equal (hd_codec_decode_ids (in, sizeof in, &ids), HD_EPROTO);
}

static void
test_codec_rejects_huge_map_count (void **state)
{
    (void) state;
    const uint8_t in[] = { 0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 'n', 0x01 };
    uint32_t n;
    assert_int_equal (hd_codec_validate (in, sizeof in), HD_EPROTO);
    assert_int_equal (hd_codec_decode_credit (in, sizeof in, &n), HD_EPROTO);
}

static void
test_codec_rejects_map_count_beyond_pairs (void **state)
{
    (void) state;
    //  3 pairs need at least 6 bytes; 5 are left
    const uint8_t in[] = { 0xde, 0x00, 0x03, 0xa1, 'n', 0x01, 0x02, 0x03 };
    assert_int_equal (hd_codec_validate (in, sizeof in), HD_EPROTO);
}

static void
test_codec_rejects_never_used_byte (void **state)
{
    (void) state;
    const uint8_t in[] = { 0x81, K_X, 0xc1 };
    assert_int_equal (hd_codec_validate (in, sizeof in), HD_EPROTO);
    assert_int_equal (hd_codec_decode_empty (in, sizeof in), HD_EPROTO);
}

//  --- nesting ---------------------------------------------------------------------------------

static void
test_codec_accepts_max_nesting (void **state)
{
    (void) state;
    //  map > array > array > array: HD_MAX_DEPTH (4) containers
    const uint8_t in[] = { 0x81, K_X, 0x91, 0x91, 0x91, 0x01 };
    assert_int_equal (hd_codec_decode_empty (in, sizeof in), HD_OK);
}

static void
test_codec_rejects_deep_nesting (void **state)
{
    (void) state;
    const uint8_t in[] = { 0x81, K_X, 0x91, 0x91, 0x91, 0x91, 0x01 };
    assert_int_equal (hd_codec_validate (in, sizeof in), HD_EPROTO);
    assert_int_equal (hd_codec_decode_empty (in, sizeof in), HD_EPROTO);
}

//  --- keys ------------------------------------------------------------------------------------

static void
test_codec_rejects_missing_required_key (void **state)
{
    (void) state;
    const uint8_t no_attempt[] = { 0x82, K_ID, V_ID, K_FN, V_ECHO };
    const uint8_t no_id[] = { 0x82, K_FN, V_ECHO, K_ATTEMPT, 0x01 };
    hd_task_t task;
    uint32_t n;
    assert_int_equal (hd_codec_decode_task (no_attempt, sizeof no_attempt, &task), HD_EPROTO);
    assert_int_equal (hd_codec_decode_task (no_id, sizeof no_id, &task), HD_EPROTO);
    assert_int_equal (hd_codec_decode_credit ((const uint8_t[]){ 0x80 }, 1, &n), HD_EPROTO);
}

static void
test_codec_rejects_duplicate_key (void **state)
{
    (void) state;
    const uint8_t in[] = { 0x84, K_ID, V_ID, K_FN, V_ECHO, K_ATTEMPT, 0x01, K_ATTEMPT, 0x02 };
    hd_task_t task;
    assert_int_equal (hd_codec_decode_task (in, sizeof in, &task), HD_EPROTO);
}

static void
test_codec_rejects_non_str_key (void **state)
{
    (void) state;
    const uint8_t in[] = { 0x81, 0x01, 0x01 };
    assert_int_equal (hd_codec_validate (in, sizeof in), HD_OK);
    assert_int_equal (hd_codec_decode_empty (in, sizeof in), HD_EPROTO);
}

//  --- types -----------------------------------------------------------------------------------

static void
test_codec_rejects_wrong_type (void **state)
{
    (void) state;
    const uint8_t fn_int[] = { 0x83, K_ID, V_ID, K_FN, 0x05, K_ATTEMPT, 0x01 };
    const uint8_t attempt_str[] = { 0x83, K_ID, V_ID, K_FN, V_ECHO, K_ATTEMPT, 0xa1, '1' };
    const uint8_t attempt_nil[] = { 0x83, K_ID, V_ID, K_FN, V_ECHO, K_ATTEMPT, 0xc0 };
    const uint8_t drain_int[] = { 0x81, 0xa2, 'o', 'n', 0x01 };
    hd_task_t task;
    bool on;
    assert_int_equal (hd_codec_decode_task (fn_int, sizeof fn_int, &task), HD_EPROTO);
    assert_int_equal (hd_codec_decode_task (attempt_str, sizeof attempt_str, &task), HD_EPROTO);
    assert_int_equal (hd_codec_decode_task (attempt_nil, sizeof attempt_nil, &task), HD_EPROTO);
    assert_int_equal (hd_codec_decode_drain (drain_int, sizeof drain_int, &on), HD_EPROTO);
}

static void
test_codec_rejects_id_as_str (void **state)
{
    (void) state;
    const uint8_t in[] = { 0x83, K_ID, 0xb0, 0,  1,  2,  3,  4,    5,      6,         7,   8,
                           9,    10,   11,   12, 13, 14, 15, K_FN, V_ECHO, K_ATTEMPT, 0x01 };
    hd_task_t task;
    assert_int_equal (hd_codec_decode_task (in, sizeof in, &task), HD_EPROTO);
}

static void
test_codec_rejects_short_id (void **state)
{
    (void) state;
    const uint8_t in[] = { 0x83, K_ID, 0xc4, 0x0f, 0,  1,  2,  3,    4,      5,         6,   7,
                           8,    9,    10,   11,   12, 13, 14, K_FN, V_ECHO, K_ATTEMPT, 0x01 };
    hd_task_t task;
    assert_int_equal (hd_codec_decode_task (in, sizeof in, &task), HD_EPROTO);
}

static void
test_codec_rejects_long_id (void **state)
{
    (void) state;
    const uint8_t in[] = { 0x83, K_ID, 0xc4, 0x11, 0,  1,  2,  3,  4,    5,      6,         7,   8,
                           9,    10,   11,   12,   13, 14, 15, 16, K_FN, V_ECHO, K_ATTEMPT, 0x01 };
    hd_task_t task;
    assert_int_equal (hd_codec_decode_task (in, sizeof in, &task), HD_EPROTO);
}

static void
test_codec_rejects_negative_uint (void **state)
{
    (void) state;
    const uint8_t fixneg[] = { 0x83, K_ID, V_ID, K_FN, V_ECHO, K_ATTEMPT, 0xff };
    const uint8_t int8[] = { 0x83, K_ID, V_ID, K_FN, V_ECHO, K_ATTEMPT, 0xd0, 0x80 };
    hd_task_t task;
    assert_int_equal (hd_codec_decode_task (fixneg, sizeof fixneg, &task), HD_EPROTO);
    assert_int_equal (hd_codec_decode_task (int8, sizeof int8, &task), HD_EPROTO);
}

static void
test_codec_rejects_uint_over_32_bits (void **state)
{
    (void) state;
    const uint8_t in[] = { 0x81, 0xa1, 'n', 0xcf, 0, 0, 0, 1, 0, 0, 0, 0 };
    uint32_t n;
    assert_int_equal (hd_codec_decode_credit (in, sizeof in, &n), HD_EPROTO);
}

//  --- strings and lists ----------------------------------------------------------------------

static void
test_codec_rejects_nul_in_string (void **state)
{
    (void) state;
    const uint8_t in[] = { 0x82, 0xa4, 'c', 'o', 'd', 'e',  0x01, 0xa6, 'r',
                           'e',  'a',  's', 'o', 'n', 0xa3, 'a',  0x00, 'b' };
    hd_error_t error;
    assert_int_equal (hd_codec_decode_error (in, sizeof in, &error), HD_EPROTO);
}

static void
test_codec_rejects_long_reason (void **state)
{
    hd_buf_t *buf = *state;
    static char text[HD_MAX_ERROR + 1];
    memset (text, 'r', sizeof text);
    const uint8_t head[] = { 0x82, 0xa4, 'c', 'o', 'd', 'e',  0x01, 0xa6, 'r',
                             'e',  'a',  's', 'o', 'n', 0xda, 0x04, 0x00 };  //  str16 1024
    s_put (buf, head, sizeof head);
    s_put (buf, text, sizeof text);
    hd_error_t error;
    assert_int_equal (hd_codec_decode_error (buf->data, buf->size, &error), HD_ETOOBIG);
    buf->data[sizeof head - 2] = 0x03;  //  declare 1023 bytes and drop the last one: fits
    buf->data[sizeof head - 1] = 0xff;
    assert_int_equal (hd_codec_decode_error (buf->data, buf->size - 1, &error), HD_OK);
    assert_int_equal (strlen (error.reason), HD_MAX_ERROR);
}

static void
test_codec_rejects_long_fn (void **state)
{
    hd_buf_t *buf = *state;
    char name[HD_MAX_FN + 1];
    memset (name, 'a', sizeof name);
    const uint8_t head[] = { 0x83, K_ID, V_ID, K_ATTEMPT, 0x01, K_FN };
    s_put (buf, head, sizeof head);
    s_put_str (buf, name, sizeof name);
    hd_task_t task;
    assert_int_equal (hd_codec_decode_task (buf->data, buf->size, &task), HD_ETOOBIG);
}

static void
test_codec_rejects_bad_fn_chars (void **state)
{
    (void) state;
    const uint8_t space[] = { 0x83, K_ID, V_ID, K_FN, 0xa4, 'e', ' ', 'h', 'o', K_ATTEMPT, 0x01 };
    const uint8_t slash[] = { 0x83, K_ID, V_ID, K_FN, 0xa3, '.', '.', '/', K_ATTEMPT, 0x01 };
    hd_task_t task;
    assert_int_equal (hd_codec_decode_task (space, sizeof space, &task), HD_EPROTO);
    assert_int_equal (hd_codec_decode_task (slash, sizeof slash, &task), HD_EPROTO);
}

static void
test_codec_rejects_empty_fn (void **state)
{
    (void) state;
    const uint8_t in[] = { 0x83, K_ID, V_ID, K_FN, 0xa0, K_ATTEMPT, 0x01 };
    hd_task_t task;
    assert_int_equal (hd_codec_decode_task (in, sizeof in, &task), HD_EPROTO);
}

static void
test_codec_rejects_too_many_tags (void **state)
{
    (void) state;
    const uint8_t in[] = { 0x83, K_ID, V_ID, K_FN, V_ECHO, 0xa4, 't',  'a',  'g',  's',
                           0x99, 0xa0, 0xa0, 0xa0, 0xa0,   0xa0, 0xa0, 0xa0, 0xa0, 0xa0 };
    hd_submit_t submit;
    assert_int_equal (hd_codec_decode_submit (in, sizeof in, &submit), HD_ETOOBIG);
}

static void
test_codec_rejects_long_tag (void **state)
{
    hd_buf_t *buf = *state;
    char tag[HD_MAX_NAME + 1];
    memset (tag, 't', sizeof tag);
    const uint8_t head[] = { 0x83, K_ID, V_ID, K_FN, V_ECHO, 0xa4, 't', 'a', 'g', 's', 0x91 };
    s_put (buf, head, sizeof head);
    s_put_str (buf, tag, sizeof tag);
    hd_submit_t submit;
    assert_int_equal (hd_codec_decode_submit (buf->data, buf->size, &submit), HD_ETOOBIG);
}

static void
test_codec_rejects_too_many_ids (void **state)
{
    hd_buf_t *buf = *state;
    const uint8_t head[] = {
        0x81, 0xa3, 'i', 'd', 's', 0xdc, (HD_MAX_BATCH + 1) >> 8, (HD_MAX_BATCH + 1) & 0xff
    };
    s_put (buf, head, sizeof head);
    for (int i = 0; i < HD_MAX_BATCH + 1; i++)
        s_put_id (buf);
    static hd_idlist_t ids;
    assert_int_equal (hd_codec_decode_ids (buf->data, buf->size, &ids), HD_ETOOBIG);
}

static void
test_codec_rejects_too_many_fns (void **state)
{
    hd_buf_t *buf = *state;
    static hd_hello_t hello;
    s_put_hello (buf, HD_MAX_FNS);
    assert_int_equal (hd_codec_decode_hello (buf->data, buf->size, &hello), HD_OK);
    assert_int_equal (hello.nfns, HD_MAX_FNS);
    hd_buf_reset (buf);
    s_put_hello (buf, HD_MAX_FNS + 1);
    assert_int_equal (hd_codec_decode_hello (buf->data, buf->size, &hello), HD_ETOOBIG);
}

static void
test_codec_rejects_hello_without_slots (void **state)
{
    hd_buf_t *buf = *state;
    static hd_hello_t hello;
    s_put_hello (buf, 1);
    buf->data[14] = 0x00;  //  slots: 0
    assert_int_equal (hd_codec_decode_hello (buf->data, buf->size, &hello), HD_EPROTO);
}

static void
test_codec_rejects_hello_without_name (void **state)
{
    (void) state;
    const uint8_t in[] = { 0x83, 0xa4, 'n', 'a',  'm',  'e', 0xa0, 0xa5, 's', 'l',
                           'o',  't',  's', 0x01, 0xa3, 'f', 'n',  's',  0x90 };
    static hd_hello_t hello;
    assert_int_equal (hd_codec_decode_hello (in, sizeof in, &hello), HD_EPROTO);
}

static void
test_codec_rejects_wrong_list_element (void **state)
{
    (void) state;
    const uint8_t in[] = { 0x81, 0xa3, 'i', 'd', 's', 0x91, 0xa1, 'x' };
    static hd_idlist_t ids;
    assert_int_equal (hd_codec_decode_ids (in, sizeof in, &ids), HD_EPROTO);
}

//  The id of an envelope that does not decode, when it can be read (a refusal names the task).
static void
test_codec_peeks_id_of_undecodable_envelope (void **state)
{
    (void) state;
    uint8_t in[64] = { 0x82, 0xa2, 'f', 'n', 0x05, 0xa2, 'i', 'd', 0xc4, 0x10 };
    for (int i = 0; i < 16; i++)
        in[10 + i] = (uint8_t) i;
    hd_id_t id;
    static hd_submit_t s;
    assert_int_equal (hd_codec_decode_submit (in, 26, &s), HD_EPROTO);  //  fn is not a str
    assert_int_equal (hd_codec_peek_id (in, 26, &id), HD_OK);
    assert_int_equal (id.b[15], 15);
    in[26] = 0xc1;  //  a byte after the map: still readable up to it
    assert_int_equal (hd_codec_peek_id (in, 27, &id), HD_OK);
    in[9] = 0x0f;  //  bin 15: not an id
    assert_int_equal (hd_codec_peek_id (in, 26, &id), HD_ENOTFOUND);
    const uint8_t cut[] = { 0x81, 0xa2, 'i', 'd', 0xc4, 0x10, 1, 2 };  //  id cut short
    assert_int_equal (hd_codec_peek_id (cut, sizeof cut, &id), HD_ENOTFOUND);
    const uint8_t bad_first[] = { 0x82, 0xa2, 'f', 'n', 0xc1, 0xa2, 'i', 'd' };  //  unreadable
    assert_int_equal (hd_codec_peek_id (bad_first, sizeof bad_first, &id), HD_ENOTFOUND);
    assert_int_equal (hd_codec_peek_id ("\x93", 1, &id), HD_ENOTFOUND);  //  not a map
    uint8_t twice[48] = { 0x82, 0xa2, 'i', 'd', 0xc4, 0x10 };  //  two ids: ambiguous
    memcpy (twice + 22, "\xa2id\xc4\x10", 5);
    assert_int_equal (hd_codec_peek_id (twice, 43, &id), HD_ENOTFOUND);
}

#define S_TEST(t) cmocka_unit_test_setup_teardown (t, s_setup, s_teardown)

int
main (void)
{
    const struct CMUnitTest tests[] = {
        S_TEST (test_codec_decodes_hand_made_task),
        S_TEST (test_codec_peeks_id_of_undecodable_envelope),
        S_TEST (test_codec_zeroes_output_first),
        S_TEST (test_codec_skips_unknown_keys),
        S_TEST (test_codec_accepts_any_int_form_for_uint),
        S_TEST (test_codec_clamps_wide_priority),
        S_TEST (test_codec_accepts_score_forms),
        S_TEST (test_codec_rejects_bad_score),
        S_TEST (test_codec_decode_empty_ignores_keys),
        S_TEST (test_codec_validates_every_type),
        S_TEST (test_codec_rejects_empty_input),
        S_TEST (test_codec_rejects_truncated_envelope),
        S_TEST (test_codec_rejects_trailing_bytes),
        S_TEST (test_codec_rejects_non_map_top_level),
        S_TEST (test_codec_rejects_oversized_envelope),
        S_TEST (test_codec_rejects_str_longer_than_input),
        S_TEST (test_codec_rejects_bin_longer_than_input),
        S_TEST (test_codec_rejects_ext_longer_than_input),
        S_TEST (test_codec_rejects_huge_array_count),
        S_TEST (test_codec_rejects_huge_map_count),
        S_TEST (test_codec_rejects_map_count_beyond_pairs),
        S_TEST (test_codec_rejects_never_used_byte),
        S_TEST (test_codec_accepts_max_nesting),
        S_TEST (test_codec_rejects_deep_nesting),
        S_TEST (test_codec_rejects_missing_required_key),
        S_TEST (test_codec_rejects_duplicate_key),
        S_TEST (test_codec_rejects_non_str_key),
        S_TEST (test_codec_rejects_wrong_type),
        S_TEST (test_codec_rejects_id_as_str),
        S_TEST (test_codec_rejects_short_id),
        S_TEST (test_codec_rejects_long_id),
        S_TEST (test_codec_rejects_negative_uint),
        S_TEST (test_codec_rejects_uint_over_32_bits),
        S_TEST (test_codec_rejects_nul_in_string),
        S_TEST (test_codec_rejects_long_reason),
        S_TEST (test_codec_rejects_long_fn),
        S_TEST (test_codec_rejects_bad_fn_chars),
        S_TEST (test_codec_rejects_empty_fn),
        S_TEST (test_codec_rejects_too_many_tags),
        S_TEST (test_codec_rejects_long_tag),
        S_TEST (test_codec_rejects_too_many_ids),
        S_TEST (test_codec_rejects_too_many_fns),
        S_TEST (test_codec_rejects_hello_without_slots),
        S_TEST (test_codec_rejects_hello_without_name),
        S_TEST (test_codec_rejects_wrong_list_element),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
