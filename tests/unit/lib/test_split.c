/*  test_split: spec parsing (good and bad specs) and each split mode, whole-input and streamed
    one byte at a time, plus stopping on a callback's error.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>  //  after the four above, which it needs

#include <stdio.h>
#include <string.h>

#include "hd_split.h"

#define S_MAX_PIECES 16
#define S_MAX_PIECE 64

typedef struct {
    size_t count;
    size_t sizes[S_MAX_PIECES];
    char pieces[S_MAX_PIECES][S_MAX_PIECE];
    size_t stop_after;  //  return HD_ETASK once this many pieces are in; 0: never
} s_pieces_t;

static hd_err_t
s_collect (const void *piece, size_t size, void *arg)
{
    s_pieces_t *got = arg;
    assert_non_null (piece);
    assert_true (got->count < S_MAX_PIECES && size < S_MAX_PIECE);
    memcpy (got->pieces[got->count], piece, size);
    got->sizes[got->count++] = size;
    return got->stop_after && got->count >= got->stop_after ? HD_ETASK : HD_OK;
}

//  Split `input` (size bytes) with `spec_text`, either at once or fed one byte at a time.
static void
s_split (const char *spec_text, const char *input, size_t size, int bytewise, s_pieces_t *got)
{
    hd_split_spec_t spec;
    assert_int_equal (hd_split_parse (spec_text, &spec, NULL, 0), HD_OK);
    memset (got, 0, sizeof *got);
    if (!bytewise) {
        assert_int_equal (hd_split_run (&spec, input, size, s_collect, got), HD_OK);
        return;
    }
    hd_split_t *split = hd_split_new (&spec, s_collect, got);
    assert_non_null (split);
    for (size_t i = 0; i < size; i++)
        assert_int_equal (hd_split_feed (split, input + i, 1), HD_OK);
    assert_int_equal (hd_split_end (split), HD_OK);
    assert_int_equal (hd_split_pieces (split), got->count);
    hd_split_destroy (&split);
}

//  Pieces must equal the `n` NUL-terminated strings in `want`, in order.
static void
s_assert_pieces (const s_pieces_t *got, size_t n, const char *const *want)
{
    assert_int_equal (got->count, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal (got->sizes[i], strlen (want[i]));
        assert_memory_equal (got->pieces[i], want[i], got->sizes[i]);
    }
}

//  Both ways of splitting give `want`.
#define S_CHECK(spec, input, ...)                                                                  \
    do {                                                                                           \
        const char *const want_[] = { __VA_ARGS__ };                                               \
        s_pieces_t got_;                                                                           \
        s_split (spec, input, sizeof (input) - 1, 0, &got_);                                       \
        s_assert_pieces (&got_, sizeof want_ / sizeof want_[0], want_);                            \
        s_split (spec, input, sizeof (input) - 1, 1, &got_);                                       \
        s_assert_pieces (&got_, sizeof want_ / sizeof want_[0], want_);                            \
    } while (0)

static void
s_assert_no_pieces (const char *spec, const char *input, size_t size)
{
    s_pieces_t got;
    s_split (spec, input, size, 0, &got);
    assert_int_equal (got.count, 0);
    s_split (spec, input, size, 1, &got);
    assert_int_equal (got.count, 0);
}

static void
s_assert_rejected (const char *text)
{
    hd_split_spec_t spec = { HD_SPLIT_WHOLE, 7, true };
    char reason[256] = "";
    assert_int_equal (hd_split_parse (text, &spec, reason, sizeof reason), HD_EINVAL);
    assert_true (strlen (reason) > 0);
    assert_int_equal (spec.mode, HD_SPLIT_WHOLE);  //  untouched on failure
    assert_int_equal (spec.count, 7);
}

static void
test_split_parse_defaults_to_one_line (void **state)
{
    (void) state;
    hd_split_spec_t spec;
    assert_int_equal (hd_split_parse (NULL, &spec, NULL, 0), HD_OK);
    assert_int_equal (spec.mode, HD_SPLIT_LINES);
    assert_int_equal (spec.count, 1);
}

static void
test_split_parse_reads_counts_and_size_suffixes (void **state)
{
    (void) state;
    hd_split_spec_t spec;
    assert_int_equal (hd_split_parse ("lines:3", &spec, NULL, 0), HD_OK);
    assert_int_equal (spec.mode, HD_SPLIT_LINES);
    assert_int_equal (spec.count, 3);
    assert_int_equal (hd_split_parse ("bytes:4K", &spec, NULL, 0), HD_OK);
    assert_int_equal (spec.mode, HD_SPLIT_BYTES);
    assert_int_equal (spec.count, 4096);
    assert_int_equal (hd_split_parse ("bytes:2m", &spec, NULL, 0), HD_OK);
    assert_int_equal (spec.count, 2 << 20);
}

static void
test_split_parse_rejects_zero_count (void **state)
{
    (void) state;
    s_assert_rejected ("lines:0");
    s_assert_rejected ("bytes:0");
}

static void
test_split_parse_rejects_malformed_count (void **state)
{
    (void) state;
    s_assert_rejected ("lines:x");
    s_assert_rejected ("lines:");
    s_assert_rejected ("lines:-1");
    s_assert_rejected ("lines: 2");
    s_assert_rejected ("lines:2x");
    s_assert_rejected ("lines:4K");  //  suffixes are for sizes only
    s_assert_rejected ("bytes:1T");
}

static void
test_split_parse_rejects_too_large_count (void **state)
{
    (void) state;
    s_assert_rejected ("lines:99999999999999999999999");
    s_assert_rejected ("bytes:2G");
}

static void
test_split_parse_rejects_unknown_mode (void **state)
{
    (void) state;
    s_assert_rejected ("foo");
    s_assert_rejected ("");
    s_assert_rejected ("Lines");
    s_assert_rejected ("linesx:2");
}

static void
test_split_parse_rejects_count_where_none_is_taken (void **state)
{
    (void) state;
    s_assert_rejected ("whole:2");
    s_assert_rejected ("null:1");
}

static void
test_split_parse_rejects_bytes_without_size (void **state)
{
    (void) state;
    s_assert_rejected ("bytes");
}

static void
test_split_lines_strip_newlines (void **state)
{
    (void) state;
    S_CHECK ("lines", "a\nbb\nccc\n", "a", "bb", "ccc");
}

static void
test_split_lines_keep_last_line_without_newline (void **state)
{
    (void) state;
    S_CHECK ("lines", "a\nbb", "a", "bb");
}

static void
test_split_lines_keep_empty_lines (void **state)
{
    (void) state;
    S_CHECK ("lines", "a\n\nb\n\n", "a", "", "b", "");
}

static void
test_split_lines_of_empty_input_give_nothing (void **state)
{
    (void) state;
    s_assert_no_pieces ("lines", "", 0);
    s_assert_no_pieces ("lines:3", "", 0);
}

static void
test_split_line_groups_keep_their_newlines (void **state)
{
    (void) state;
    S_CHECK ("lines:2", "a\nb\nc\nd\ne\n", "a\nb\n", "c\nd\n", "e\n");
}

static void
test_split_line_groups_keep_short_last_group (void **state)
{
    (void) state;
    S_CHECK ("lines:3", "a\nb\nc\nd\ne", "a\nb\nc\n", "d\ne");
}

static hd_err_t
s_count_newlines (const void *piece, size_t size, void *arg)
{
    uint64_t *counts = arg;
    for (size_t i = 0; i < size; i++)
        counts[counts[0] + 1] += ((const char *) piece)[i] == '\n';
    counts[0]++;
    return HD_OK;
}

//  Issue 12: `map --split lines:100 wordcount` counted 99 lines per 100-line chunk.
static void
test_split_lines_100_gives_chunks_of_100_lines_as_wc_counts_them (void **state)
{
    (void) state;
    char text[250 * 4];
    size_t size = 0;
    for (int i = 0; i < 250; i++)
        size += (size_t) snprintf (text + size, sizeof text - size, "%02d\n", i % 100);
    hd_split_spec_t spec;
    assert_int_equal (hd_split_parse ("lines:100", &spec, NULL, 0), HD_OK);
    uint64_t counts[1 + 8] = { 0 };
    assert_int_equal (hd_split_run (&spec, text, size, s_count_newlines, counts), HD_OK);
    assert_int_equal (counts[0], 3);
    assert_int_equal (counts[1], 100);
    assert_int_equal (counts[2], 100);
    assert_int_equal (counts[3], 50);
}

static void
test_split_bytes_cut_fixed_chunks (void **state)
{
    (void) state;
    S_CHECK ("bytes:4", "abcdefghij", "abcd", "efgh", "ij");
    S_CHECK ("bytes:3", "a\nbc\n", "a\nb", "c\n");
}

static void
test_split_bytes_of_empty_input_give_nothing (void **state)
{
    (void) state;
    s_assert_no_pieces ("bytes:8", "", 0);
}

static void
test_split_whole_is_one_piece (void **state)
{
    (void) state;
    S_CHECK ("whole", "a\nb\n\nc\n", "a\nb\n\nc\n");
}

static void
test_split_whole_of_empty_input_is_one_empty_piece (void **state)
{
    (void) state;
    S_CHECK ("whole", "", "");
}

static void
test_split_null_separates_records (void **state)
{
    (void) state;
    S_CHECK ("null", "a\0b b\0\0c\n", "a", "b b", "", "c\n");
}

static void
test_split_stops_on_callback_error (void **state)
{
    (void) state;
    hd_split_spec_t spec = { HD_SPLIT_LINES, 1, false };
    s_pieces_t got;
    memset (&got, 0, sizeof got);
    got.stop_after = 2;
    assert_int_equal (hd_split_run (&spec, "a\nb\nc\nd\n", 8, s_collect, &got), HD_ETASK);
    assert_int_equal (got.count, 2);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_split_parse_defaults_to_one_line),
        cmocka_unit_test (test_split_parse_reads_counts_and_size_suffixes),
        cmocka_unit_test (test_split_parse_rejects_zero_count),
        cmocka_unit_test (test_split_parse_rejects_malformed_count),
        cmocka_unit_test (test_split_parse_rejects_too_large_count),
        cmocka_unit_test (test_split_parse_rejects_unknown_mode),
        cmocka_unit_test (test_split_parse_rejects_count_where_none_is_taken),
        cmocka_unit_test (test_split_parse_rejects_bytes_without_size),
        cmocka_unit_test (test_split_lines_strip_newlines),
        cmocka_unit_test (test_split_lines_keep_last_line_without_newline),
        cmocka_unit_test (test_split_lines_keep_empty_lines),
        cmocka_unit_test (test_split_lines_of_empty_input_give_nothing),
        cmocka_unit_test (test_split_line_groups_keep_their_newlines),
        cmocka_unit_test (test_split_lines_100_gives_chunks_of_100_lines_as_wc_counts_them),
        cmocka_unit_test (test_split_line_groups_keep_short_last_group),
        cmocka_unit_test (test_split_bytes_cut_fixed_chunks),
        cmocka_unit_test (test_split_bytes_of_empty_input_give_nothing),
        cmocka_unit_test (test_split_whole_is_one_piece),
        cmocka_unit_test (test_split_whole_of_empty_input_is_one_empty_piece),
        cmocka_unit_test (test_split_null_separates_records),
        cmocka_unit_test (test_split_stops_on_callback_error),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
