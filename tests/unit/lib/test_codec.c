/*  test_codec: encoders, round trips of every envelope, the header frame, id and status helpers.
    Hostile input to the decoders is in test_codec_decode.c; replayed fuzz inputs in
    test_codec_regressions.c.  */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hd_codec.h"

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

static hd_id_t
s_id (uint8_t first)
{
    hd_id_t id;
    for (int i = 0; i < HD_ID_BYTES; i++)
        id.b[i] = (uint8_t) (first + i);
    return id;
}

//  hd_reject_t has padding after has_id: compare it field by field.
static void
s_assert_reject_equal (const hd_reject_t *a, const hd_reject_t *b)
{
    assert_int_equal (a->has_id, b->has_id);
    assert_memory_equal (&a->id, &b->id, sizeof a->id);
    assert_int_equal (a->code, b->code);
    assert_int_equal (a->retry_ms, b->retry_ms);
    assert_string_equal (a->reason, b->reason);
}

//  --- round trips -----------------------------------------------------------------------------

static void
test_codec_roundtrips_full_submit (void **state)
{
    hd_buf_t *buf = *state;
    hd_submit_t in = { .fn = "img.resize",
                       .priority = -7,
                       .timeout_ms = 30000,
                       .max_attempts = 3,
                       .min_mem_mb = 512,
                       .ntags = 2,
                       .tags = { "gpu", "arm64" },
                       .node = "pi-4" };
    in.id = s_id (0xa0);
    hd_submit_t out;
    assert_int_equal (hd_codec_encode_submit (buf, &in), HD_OK);
    assert_int_equal (hd_codec_decode_submit (buf->data, buf->size, &out), HD_OK);
    assert_memory_equal (&in, &out, sizeof in);
}

static void
test_codec_roundtrips_minimal_submit (void **state)
{
    hd_buf_t *buf = *state;
    hd_submit_t in = { .fn = "echo" };
    in.id = s_id (1);
    hd_submit_t out;
    assert_int_equal (hd_codec_encode_submit (buf, &in), HD_OK);
    assert_int_equal (buf->data[0], 0x82);  //  defaults are omitted: only id and fn
    assert_int_equal (hd_codec_decode_submit (buf->data, buf->size, &out), HD_OK);
    assert_memory_equal (&in, &out, sizeof in);
}

static void
test_codec_encodes_submit_example_bytes (void **state)
{
    //  The worked example of docs/PROTOCOL.md: keep the two in step.
    hd_buf_t *buf = *state;
    hd_submit_t in = { .fn = "echo" };
    for (int i = 0; i < HD_ID_BYTES; i++)
        in.id.b[i] = (uint8_t) i;
    const uint8_t expect[] = { 0x82, 0xa2, 'i',  'd',  0xc4, 0x10, 0x00, 0x01, 0x02, 0x03,
                               0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d,
                               0x0e, 0x0f, 0xa2, 'f',  'n',  0xa4, 'e',  'c',  'h',  'o' };
    assert_int_equal (hd_codec_encode_submit (buf, &in), HD_OK);
    assert_int_equal (buf->size, sizeof expect);
    assert_memory_equal (buf->data, expect, sizeof expect);
}

static void
test_codec_roundtrips_task (void **state)
{
    hd_buf_t *buf = *state;
    hd_task_t in = { .fn = "echo", .attempt = 2, .timeout_ms = 1000 };
    in.id = s_id (7);
    hd_task_t out;
    assert_int_equal (hd_codec_encode_task (buf, &in), HD_OK);
    assert_int_equal (hd_codec_decode_task (buf->data, buf->size, &out), HD_OK);
    assert_memory_equal (&in, &out, sizeof in);
}

static void
test_codec_roundtrips_minimal_task (void **state)
{
    hd_buf_t *buf = *state;
    hd_task_t in = { .fn = "x", .attempt = 0 };  //  attempt is required even when 0
    hd_task_t out;
    assert_int_equal (hd_codec_encode_task (buf, &in), HD_OK);
    assert_int_equal (buf->data[0], 0x83);
    assert_int_equal (hd_codec_decode_task (buf->data, buf->size, &out), HD_OK);
    assert_memory_equal (&in, &out, sizeof in);
}

static void
test_codec_roundtrips_full_result (void **state)
{
    hd_buf_t *buf = *state;
    hd_result_t in = { .attempt = 3,
                       .status = HD_ST_FAILED,
                       .elapsed_ms = 42,
                       .node = "pi-4",
                       .error = "exit status 1" };
    in.id = s_id (9);
    hd_result_t out;
    assert_int_equal (hd_codec_encode_result (buf, &in), HD_OK);
    assert_int_equal (hd_codec_decode_result (buf->data, buf->size, &out), HD_OK);
    assert_memory_equal (&in, &out, sizeof in);
}

static void
test_codec_roundtrips_minimal_result (void **state)
{
    hd_buf_t *buf = *state;
    hd_result_t in = { .attempt = 1, .status = HD_ST_OK };
    hd_result_t out;
    assert_int_equal (hd_codec_encode_result (buf, &in), HD_OK);
    assert_int_equal (buf->data[0], 0x83);
    assert_int_equal (hd_codec_decode_result (buf->data, buf->size, &out), HD_OK);
    assert_memory_equal (&in, &out, sizeof in);
}

static void
test_codec_roundtrips_reject_with_id (void **state)
{
    hd_buf_t *buf = *state;
    hd_reject_t in = { .has_id = true, .code = HD_ST_BUSY, .retry_ms = 250, .reason = "full" };
    in.id = s_id (3);
    hd_reject_t out;
    assert_int_equal (hd_codec_encode_reject (buf, &in), HD_OK);
    assert_int_equal (hd_codec_decode_reject (buf->data, buf->size, &out), HD_OK);
    s_assert_reject_equal (&in, &out);
}

static void
test_codec_roundtrips_reject_without_id (void **state)
{
    hd_buf_t *buf = *state;
    hd_reject_t in = { .code = HD_ST_DENIED, .reason = "" };
    hd_reject_t out;
    assert_int_equal (hd_codec_encode_reject (buf, &in), HD_OK);
    assert_int_equal (hd_codec_decode_reject (buf->data, buf->size, &out), HD_OK);
    assert_false (out.has_id);
    s_assert_reject_equal (&in, &out);
}

static void
test_codec_roundtrips_full_hello (void **state)
{
    hd_buf_t *buf = *state;
    static hd_hello_t in = { .name = "pi-4",
                             .slots = 4,
                             .cores = 4,
                             .arch = "aarch64",
                             .ntags = 2,
                             .tags = { "lab", "ssd" },
                             .score = 1234.5 };
    in.nfns = HD_MAX_FNS;
    for (uint32_t i = 0; i < HD_MAX_FNS; i++)
        snprintf (in.fns[i], sizeof in.fns[i], "fn.%u", i);
    static hd_hello_t out;
    assert_int_equal (hd_codec_encode_hello (buf, &in), HD_OK);
    assert_int_equal (hd_codec_decode_hello (buf->data, buf->size, &out), HD_OK);
    assert_memory_equal (&in, &out, sizeof in);
}

static void
test_codec_roundtrips_minimal_hello (void **state)
{
    hd_buf_t *buf = *state;
    static hd_hello_t in = { .name = "n", .slots = 1 };  //  fns is required, even empty
    static hd_hello_t out;
    assert_int_equal (hd_codec_encode_hello (buf, &in), HD_OK);
    assert_int_equal (buf->data[0], 0x83);
    assert_int_equal (hd_codec_decode_hello (buf->data, buf->size, &out), HD_OK);
    assert_memory_equal (&in, &out, sizeof in);
}

static void
test_codec_roundtrips_welcome (void **state)
{
    hd_buf_t *buf = *state;
    hd_welcome_t in = { .heartbeat_ms = 1000, .max_payload = HD_DEFAULT_MAX_PAYLOAD };
    hd_welcome_t out;
    assert_int_equal (hd_codec_encode_welcome (buf, &in), HD_OK);
    assert_int_equal (hd_codec_decode_welcome (buf->data, buf->size, &out), HD_OK);
    assert_memory_equal (&in, &out, sizeof in);
}

static void
test_codec_roundtrips_error (void **state)
{
    hd_buf_t *buf = *state;
    hd_error_t in = { .code = HD_ST_VERSION, .reason = "supported versions 1..1" };
    hd_error_t out;
    assert_int_equal (hd_codec_encode_error (buf, &in), HD_OK);
    assert_int_equal (hd_codec_decode_error (buf->data, buf->size, &out), HD_OK);
    assert_memory_equal (&in, &out, sizeof in);
}

static void
test_codec_roundtrips_full_id_list (void **state)
{
    hd_buf_t *buf = *state;
    static hd_idlist_t in, out;
    in.count = HD_MAX_BATCH;
    for (uint32_t i = 0; i < HD_MAX_BATCH; i++)
        in.ids[i] = s_id ((uint8_t) i);
    assert_int_equal (hd_codec_encode_ids (buf, in.ids, in.count), HD_OK);
    assert_int_equal (hd_codec_decode_ids (buf->data, buf->size, &out), HD_OK);
    assert_memory_equal (&in, &out, sizeof in);
}

static void
test_codec_roundtrips_empty_id_list (void **state)
{
    hd_buf_t *buf = *state;
    static hd_idlist_t out;
    assert_int_equal (hd_codec_encode_ids (buf, NULL, 0), HD_OK);
    assert_int_equal (hd_codec_decode_ids (buf->data, buf->size, &out), HD_OK);
    assert_int_equal (out.count, 0);
}

static void
test_codec_roundtrips_credit (void **state)
{
    hd_buf_t *buf = *state;
    uint32_t n = 0;
    assert_int_equal (hd_codec_encode_credit (buf, UINT32_MAX), HD_OK);
    assert_int_equal (hd_codec_decode_credit (buf->data, buf->size, &n), HD_OK);
    assert_int_equal (n, UINT32_MAX);
}

static void
test_codec_roundtrips_empty (void **state)
{
    hd_buf_t *buf = *state;
    assert_int_equal (hd_codec_encode_empty (buf), HD_OK);
    assert_int_equal (buf->size, 1);
    assert_int_equal (buf->data[0], 0x80);
    assert_int_equal (hd_codec_decode_empty (buf->data, buf->size), HD_OK);
}

static void
test_codec_roundtrips_drain (void **state)
{
    hd_buf_t *buf = *state;
    bool on = false;
    assert_int_equal (hd_codec_encode_drain (buf, true), HD_OK);
    assert_int_equal (hd_codec_decode_drain (buf->data, buf->size, &on), HD_OK);
    assert_true (on);
    assert_int_equal (hd_codec_encode_drain (buf, false), HD_OK);
    assert_int_equal (hd_codec_decode_drain (buf->data, buf->size, &on), HD_OK);
    assert_false (on);
}

static void
test_codec_encode_resets_buffer (void **state)
{
    hd_buf_t *buf = *state;
    assert_int_equal (hd_buf_append (buf, "junk", 4), HD_OK);
    assert_int_equal (hd_codec_encode_empty (buf), HD_OK);
    assert_int_equal (buf->size, 1);
}

static void
test_codec_clamps_priority (void **state)
{
    hd_buf_t *buf = *state;
    hd_submit_t in = { .fn = "echo", .priority = 5000 };
    hd_submit_t out;
    assert_int_equal (hd_codec_encode_submit (buf, &in), HD_OK);
    assert_int_equal (hd_codec_decode_submit (buf->data, buf->size, &out), HD_OK);
    assert_int_equal (out.priority, 1000);
    in.priority = INT32_MIN;
    assert_int_equal (hd_codec_encode_submit (buf, &in), HD_OK);
    assert_int_equal (hd_codec_decode_submit (buf->data, buf->size, &out), HD_OK);
    assert_int_equal (out.priority, -1000);
}

//  --- encoders refuse what decoders would refuse ---------------------------------------------

static void
test_codec_encoder_refuses_bad_fn (void **state)
{
    hd_buf_t *buf = *state;
    hd_task_t task = { .fn = "has space", .attempt = 1 };
    assert_int_equal (hd_codec_encode_task (buf, &task), HD_EINVAL);
    assert_int_equal (buf->size, 0);
    hd_submit_t submit = { .fn = "" };
    assert_int_equal (hd_codec_encode_submit (buf, &submit), HD_EINVAL);
}

static void
test_codec_encoder_refuses_too_many_tags (void **state)
{
    hd_buf_t *buf = *state;
    hd_submit_t in = { .fn = "echo", .ntags = HD_MAX_TAGS + 1 };
    assert_int_equal (hd_codec_encode_submit (buf, &in), HD_EINVAL);
}

static void
test_codec_encoder_refuses_unterminated_string (void **state)
{
    hd_buf_t *buf = *state;
    hd_error_t in = { .code = 1 };
    memset (in.reason, 'x', sizeof in.reason);
    assert_int_equal (hd_codec_encode_error (buf, &in), HD_EINVAL);
}

static void
test_codec_encoder_refuses_too_many_ids (void **state)
{
    hd_buf_t *buf = *state;
    static hd_id_t ids[HD_MAX_BATCH + 1];
    assert_int_equal (hd_codec_encode_ids (buf, ids, HD_MAX_BATCH + 1), HD_EINVAL);
}

static void
test_codec_encoder_refuses_hello_without_slots (void **state)
{
    hd_buf_t *buf = *state;
    static hd_hello_t in = { .name = "n", .slots = 0 };
    assert_int_equal (hd_codec_encode_hello (buf, &in), HD_EINVAL);
    in.slots = 1;
    in.score = NAN;
    assert_int_equal (hd_codec_encode_hello (buf, &in), HD_EINVAL);
}

//  --- header frame ----------------------------------------------------------------------------

static void
test_codec_writes_header (void **state)
{
    (void) state;
    uint8_t hdr[HD_HEADER_BYTES];
    hd_codec_header (hdr, HD_CMD_TASK);
    const uint8_t expect[] = { 'H', 'D', HD_PROTO_VERSION, 0x32 };
    assert_memory_equal (hdr, expect, sizeof expect);
}

static void
test_codec_parses_good_header (void **state)
{
    (void) state;
    uint8_t hdr[HD_HEADER_BYTES], version = 0, cmd = 0;
    hd_codec_header (hdr, HD_CMD_SUBMIT);
    assert_int_equal (hd_codec_parse_header (hdr, sizeof hdr, &version, &cmd), HD_OK);
    assert_int_equal (version, HD_PROTO_VERSION);
    assert_int_equal (cmd, HD_CMD_SUBMIT);
}

static void
test_codec_rejects_short_header (void **state)
{
    (void) state;
    const uint8_t hdr[] = { 'H', 'D', 1 };
    uint8_t version, cmd;
    assert_int_equal (hd_codec_parse_header (hdr, sizeof hdr, &version, &cmd), HD_EPROTO);
    assert_int_equal (hd_codec_parse_header (hdr, 0, &version, &cmd), HD_EPROTO);
}

static void
test_codec_rejects_long_header (void **state)
{
    (void) state;
    const uint8_t hdr[] = { 'H', 'D', 1, 0x01, 0x00 };
    uint8_t version, cmd;
    assert_int_equal (hd_codec_parse_header (hdr, sizeof hdr, &version, &cmd), HD_EPROTO);
}

static void
test_codec_rejects_bad_signature (void **state)
{
    (void) state;
    const uint8_t hdr[] = { 'H', 'X', 1, 0x01 };
    uint8_t version, cmd;
    assert_int_equal (hd_codec_parse_header (hdr, sizeof hdr, &version, &cmd), HD_EPROTO);
}

static void
test_codec_reports_bad_version (void **state)
{
    (void) state;
    const uint8_t newer[] = { 'H', 'D', HD_PROTO_VERSION + 1, 0x7e };  //  cmd unknown to us
    const uint8_t zero[] = { 'H', 'D', 0, 0x21 };
    uint8_t version = 0, cmd = 0;
    assert_int_equal (hd_codec_parse_header (newer, 4, &version, &cmd), HD_EVERSION);
    assert_int_equal (version, HD_PROTO_VERSION + 1);
    assert_int_equal (cmd, 0x7e);
    assert_int_equal (hd_codec_parse_header (zero, 4, &version, &cmd), HD_EVERSION);
    assert_int_equal (version, 0);
    assert_int_equal (cmd, HD_CMD_HELLO);
}

static void
test_codec_rejects_unknown_cmd (void **state)
{
    (void) state;
    const uint8_t hdr[] = { 'H', 'D', HD_PROTO_VERSION, 0x0D };  //  0x0C is JOB_RELEASE
    uint8_t version = 0, cmd = 0;
    assert_int_equal (hd_codec_parse_header (hdr, sizeof hdr, &version, &cmd), HD_EPROTO);
    assert_int_equal (version, HD_PROTO_VERSION);
}

static void
test_codec_flags_payload_commands (void **state)
{
    (void) state;
    assert_true (hd_codec_cmd_has_payload (HD_CMD_SUBMIT));
    assert_true (hd_codec_cmd_has_payload (HD_CMD_RESULT));
    assert_true (hd_codec_cmd_has_payload (HD_CMD_DONE));
    assert_true (hd_codec_cmd_has_payload (HD_CMD_TASK));
    assert_false (hd_codec_cmd_has_payload (HD_CMD_ACCEPTED));
    assert_false (hd_codec_cmd_has_payload (HD_CMD_HELLO));
    assert_false (hd_codec_cmd_has_payload (0xff));
}

//  --- helpers ---------------------------------------------------------------------------------

static void
test_codec_id_hex_is_lowercase (void **state)
{
    (void) state;
    hd_id_t id = s_id (0xf0);
    char hex[2 * HD_ID_BYTES + 1];
    hd_id_hex (&id, hex);
    assert_string_equal (hex, "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
}

static void
test_codec_random_ids_differ (void **state)
{
    (void) state;
    hd_id_t a, b;
    hd_id_random (&a);
    hd_id_random (&b);
    assert_false (hd_id_eq (&a, &b));
    assert_true (hd_id_eq (&a, &a));
}

static void
test_codec_names_every_status (void **state)
{
    (void) state;
    for (uint32_t st = 0; st <= HD_ST_MAX_; st++)
        assert_string_not_equal (hd_status_str (st), "unknown status");
    assert_string_equal (hd_status_str (HD_ST_OK), "ok");
    assert_string_equal (hd_status_str (HD_ST_MAX_ + 1), "unknown status");
}

static void
test_codec_checks_fn_names (void **state)
{
    (void) state;
    char longest[HD_MAX_FN + 2];
    memset (longest, 'a', sizeof longest);
    longest[HD_MAX_FN] = 0;
    assert_true (hd_codec_fn_is_valid (longest));
    longest[HD_MAX_FN] = 'a';
    longest[HD_MAX_FN + 1] = 0;
    assert_false (hd_codec_fn_is_valid (longest));
    assert_true (hd_codec_fn_is_valid ("A-z_0.9"));
    assert_false (hd_codec_fn_is_valid (""));
    assert_false (hd_codec_fn_is_valid ("a/b"));
    assert_false (hd_codec_fn_is_valid ("caf\xc3\xa9"));
}

#define S_TEST(t) cmocka_unit_test_setup_teardown (t, s_setup, s_teardown)

//  Fresh ids never repeat, not across a refill of the per-thread buffer nor across fork: the
//  child must not hand out the ids its parent still holds.
static void
test_id_random_is_unique_and_fork_safe (void **state)
{
    (void) state;
    enum { N = 1000 };
    static hd_id_t ids[N];
    for (int i = 0; i < N; i++) {
        hd_id_random (&ids[i]);
        for (int j = 0; j < i; j++)
            assert_false (hd_id_eq (&ids[i], &ids[j]));
    }
    int fds[2];
    assert_int_equal (pipe (fds), 0);
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        hd_id_t child;
        hd_id_random (&child);
        _exit (write (fds[1], child.b, HD_ID_BYTES) == HD_ID_BYTES ? 0 : 1);
    }
    hd_id_t mine, theirs;
    hd_id_random (&mine);
    assert_int_equal (read (fds[0], theirs.b, HD_ID_BYTES), HD_ID_BYTES);
    int status = 0;
    waitpid (pid, &status, 0);
    assert_int_equal (status, 0);
    assert_false (hd_id_eq (&mine, &theirs));
    close (fds[0]);
    close (fds[1]);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        S_TEST (test_codec_roundtrips_full_submit),
        S_TEST (test_codec_roundtrips_minimal_submit),
        S_TEST (test_codec_encodes_submit_example_bytes),
        S_TEST (test_codec_roundtrips_task),
        S_TEST (test_codec_roundtrips_minimal_task),
        S_TEST (test_codec_roundtrips_full_result),
        S_TEST (test_codec_roundtrips_minimal_result),
        S_TEST (test_codec_roundtrips_reject_with_id),
        S_TEST (test_codec_roundtrips_reject_without_id),
        S_TEST (test_codec_roundtrips_full_hello),
        S_TEST (test_codec_roundtrips_minimal_hello),
        S_TEST (test_codec_roundtrips_welcome),
        S_TEST (test_codec_roundtrips_error),
        S_TEST (test_codec_roundtrips_full_id_list),
        S_TEST (test_codec_roundtrips_empty_id_list),
        S_TEST (test_codec_roundtrips_credit),
        S_TEST (test_codec_roundtrips_empty),
        S_TEST (test_codec_roundtrips_drain),
        S_TEST (test_codec_encode_resets_buffer),
        S_TEST (test_codec_clamps_priority),
        S_TEST (test_codec_encoder_refuses_bad_fn),
        S_TEST (test_codec_encoder_refuses_too_many_tags),
        S_TEST (test_codec_encoder_refuses_unterminated_string),
        S_TEST (test_codec_encoder_refuses_too_many_ids),
        S_TEST (test_codec_encoder_refuses_hello_without_slots),
        cmocka_unit_test (test_codec_writes_header),
        cmocka_unit_test (test_codec_parses_good_header),
        cmocka_unit_test (test_codec_rejects_short_header),
        cmocka_unit_test (test_codec_rejects_long_header),
        cmocka_unit_test (test_codec_rejects_bad_signature),
        cmocka_unit_test (test_codec_reports_bad_version),
        cmocka_unit_test (test_codec_rejects_unknown_cmd),
        cmocka_unit_test (test_codec_flags_payload_commands),
        cmocka_unit_test (test_codec_id_hex_is_lowercase),
        cmocka_unit_test (test_codec_random_ids_differ),
        cmocka_unit_test (test_codec_names_every_status),
        cmocka_unit_test (test_codec_checks_fn_names),
        cmocka_unit_test (test_id_random_is_unique_and_fork_safe),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
