/*  test_pack: the packed form of task-carrying messages: pairs written and read back byte for
    byte at every bin header size, the limits, and every malformed frame refused.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "hd_pack.h"

static void
test_pack_round_trip_all_header_sizes (void **state)
{
    (void) state;
    static uint8_t big[70016];
    for (size_t k = 0; k < sizeof big; k++)
        big[k] = (uint8_t) (k * 13);
    const size_t sizes[] = { 0, 1, 255, 256, 65535, 65536, 70000 };
    hd_buf_t buf;
    hd_buf_init (&buf);
    for (size_t i = 0; i < 7; i++)
        assert_int_equal (hd_pack_add (&buf, big, i + 1, big + 7, sizes[i]), HD_OK);
    hd_pack_reader_t r;
    hd_pack_reader_init (&r, buf.data, buf.size);
    for (size_t i = 0; i < 7; i++) {
        const void *env, *pay;
        size_t es, ps;
        assert_int_equal (hd_pack_next (&r, &env, &es, &pay, &ps), 1);
        assert_int_equal (es, i + 1);
        assert_memory_equal (env, big, es);
        assert_int_equal (ps, sizes[i]);
        if (ps)
            assert_memory_equal (pay, big + 7, ps);
    }
    const void *e, *p;
    size_t es, ps;
    assert_int_equal (hd_pack_next (&r, &e, &es, &p, &ps), 0);
    assert_int_equal (hd_pack_count (buf.data, buf.size), 7);
    size_t want = 0;
    for (size_t i = 0; i < 7; i++)
        want += hd_pack_pair_size (i + 1, sizes[i]);
    assert_int_equal (buf.size, want);
    hd_buf_fini (&buf);
}

static void
test_pack_limits (void **state)
{
    (void) state;
    assert_true (hd_pack_fits (100, 0));
    assert_true (hd_pack_fits (100, HD_PACK_MAX_PAYLOAD));
    assert_false (hd_pack_fits (100, HD_PACK_MAX_PAYLOAD + 1));
    assert_false (hd_pack_fits (HD_PACK_MAX_BYTES, 10));
    assert_int_equal (hd_pack_pair_size (40, 64), 2 + 40 + 2 + 64);
    assert_int_equal (hd_pack_pair_size (300, 1000), 3 + 300 + 3 + 1000);
}

static void
test_pack_malformed_frames_are_refused (void **state)
{
    (void) state;
    const uint8_t empty[] = { 0 };
    assert_int_equal (hd_pack_count (empty, 0), -1);                  //  no pair at all
    const uint8_t not_bin[] = { 0xa3, 'a', 'b', 'c', 0xc4, 0x00 };     //  a str, not a bin
    assert_int_equal (hd_pack_count (not_bin, sizeof not_bin), -1);
    const uint8_t lone[] = { 0xc4, 0x01, 'x' };                       //  envelope, no payload
    assert_int_equal (hd_pack_count (lone, sizeof lone), -1);
    const uint8_t past_end[] = { 0xc4, 0x05, 'x', 0xc4, 0x00 };       //  length past the end
    assert_int_equal (hd_pack_count (past_end, sizeof past_end), -1);
    const uint8_t cut16[] = { 0xc5, 0x00 };                           //  header cut short
    assert_int_equal (hd_pack_count (cut16, sizeof cut16), -1);
    const uint8_t cut32[] = { 0xc6, 0x00, 0x00, 0x01 };
    assert_int_equal (hd_pack_count (cut32, sizeof cut32), -1);
    const uint8_t huge[] = { 0xc6, 0xff, 0xff, 0xff, 0xff, 0xc4, 0x00 };
    assert_int_equal (hd_pack_count (huge, sizeof huge), -1);
    const uint8_t ok[] = { 0xc4, 0x01, 'e', 0xc4, 0x00, 0xc5, 0x00, 0x01, 'f', 0xc4, 0x01, 'p' };
    assert_int_equal (hd_pack_count (ok, sizeof ok), 2);
    //  A malformed pair after good ones: the good ones read, then -1, then nothing more.
    const uint8_t tail[] = { 0xc4, 0x01, 'e', 0xc4, 0x00, 0xc4 };
    hd_pack_reader_t r;
    hd_pack_reader_init (&r, tail, sizeof tail);
    const void *e, *p;
    size_t es, ps;
    assert_int_equal (hd_pack_next (&r, &e, &es, &p, &ps), 1);
    assert_int_equal (hd_pack_next (&r, &e, &es, &p, &ps), -1);
    assert_int_equal (hd_pack_next (&r, &e, &es, &p, &ps), 0);
    //  The pairs before the malformed byte are counted as readable (the broker queues them).
    bool bad = false;
    assert_int_equal (hd_pack_count_readable (tail, sizeof tail, &bad), 1);
    assert_true (bad);
    assert_int_equal (hd_pack_count_readable (ok, sizeof ok, &bad), 2);
    assert_false (bad);
    assert_int_equal (hd_pack_count_readable (not_bin, sizeof not_bin, &bad), 0);
    assert_true (bad);
    assert_int_equal (hd_pack_count_readable (empty, 0, &bad), 0);
    assert_false (bad);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_pack_round_trip_all_header_sizes),
        cmocka_unit_test (test_pack_limits),
        cmocka_unit_test (test_pack_malformed_frames_are_refused),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
