/*  Unit tests for hd_mpw, the MessagePack writer of every encoder: a whole message is HD_OK;
    the first failed write is latched, later ones (even small ones that would fit) are refused,
    and the end says HD_ENOMEM, so a message cut short is never taken for a whole one.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "hd_mpw.h"

static void
test_mpw_whole_message_is_ok (void **state)
{
    (void) state;
    hd_buf_t buf = { 0 };
    hd_mpw_t w;
    msgpack_packer *pk = hd_mpw_start (&w, &buf);
    msgpack_pack_map (pk, 1);
    msgpack_pack_str_with_body (pk, "k", 1);
    msgpack_pack_uint32 (pk, 7);
    assert_int_equal (hd_mpw_end (&w), HD_OK);
    const uint8_t want[] = { 0x81, 0xa1, 'k', 0x07 };
    assert_int_equal (buf.size, sizeof want);
    assert_memory_equal (buf.data, want, sizeof want);
    hd_buf_fini (&buf);
}

static void
test_mpw_failed_write_is_latched (void **state)
{
    (void) state;
    hd_buf_t buf = { 0 };
    hd_mpw_t w;
    msgpack_packer *pk = hd_mpw_start_limited (&w, &buf, 8);
    msgpack_pack_map (pk, 2);
    assert_int_equal (hd_mpw_end (&w), HD_OK);
    msgpack_pack_str_with_body (pk, "a long key", 10);  //  over the limit: fails
    assert_int_equal (hd_mpw_end (&w), HD_ENOMEM);
    size_t cut = buf.size;
    msgpack_pack_uint32 (pk, 1);  //  would fit, but the message is broken already
    assert_int_equal (buf.size, cut);
    assert_int_equal (hd_mpw_end (&w), HD_ENOMEM);
    //  A new start clears the latch.
    hd_buf_reset (&buf);
    pk = hd_mpw_start (&w, &buf);
    msgpack_pack_nil (pk);
    assert_int_equal (hd_mpw_end (&w), HD_OK);
    hd_buf_fini (&buf);
}

//  A buffer that already has room beyond the limit (the fast path copies without growing):
//  the limit still holds to the byte, and a write that needs the buffer to grow still works.
static void
test_mpw_limit_holds_with_room (void **state)
{
    (void) state;
    hd_buf_t buf = { 0 };
    assert_int_equal (hd_buf_reserve (&buf, 1024), HD_OK);
    assert_int_equal (hd_buf_append (&buf, "xy", 2), HD_OK);  //  a prefix the writer keeps
    hd_mpw_t w;
    msgpack_packer *pk = hd_mpw_start_limited (&w, &buf, 8);
    msgpack_pack_str_with_body (pk, "abcde", 5);  //  1 + 5 bytes: 8 in all
    assert_int_equal (hd_mpw_end (&w), HD_OK);
    assert_int_equal (buf.size, 8);
    msgpack_pack_nil (pk);  //  the 9th byte
    assert_int_equal (hd_mpw_end (&w), HD_ENOMEM);
    assert_int_equal (buf.size, 8);
    assert_memory_equal (buf.data, "xy\xa5" "abcde", 8);
    hd_buf_reset (&buf);
    pk = hd_mpw_start (&w, &buf);
    char big[3000];
    memset (big, 'b', sizeof big);
    msgpack_pack_nil (pk);
    msgpack_pack_bin_with_body (pk, big, sizeof big);  //  past the 1024 reserved: grows
    assert_int_equal (hd_mpw_end (&w), HD_OK);
    assert_int_equal (buf.size, 1 + 3 + sizeof big);
    assert_memory_equal (buf.data + 4, big, sizeof big);
    hd_buf_fini (&buf);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_mpw_whole_message_is_ok),
        cmocka_unit_test (test_mpw_failed_write_is_latched),
        cmocka_unit_test (test_mpw_limit_holds_with_room),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
