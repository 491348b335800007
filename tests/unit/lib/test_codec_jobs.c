/*  Unit tests for hd_codec_jobs (detached jobs, issue 13): round trips of the six envelopes,
    required keys, a known key twice, bounds (job id form, name length and bytes, total 0, list
    size), and the job id helpers (derived task ids, foreign ids refused). (The seeds of
    tests/fuzz/corpus replay through the fuzz entry in test_codec_regressions.)  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hd_codec_jobs.h"

#define JOB "j-0123456789abcdef"

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

//  Zeroed first, padding included: the structs are compared byte for byte.
static void
s_info (hd_jobinfo_t *i)
{
    memset (i, 0, sizeof *i);
    snprintf (i->job, sizeof i->job, "%s", JOB);
    snprintf (i->name, sizeof i->name, "sha256 of input.txt");
    snprintf (i->state, sizeof i->state, "running");
    i->total = 100000, i->queued = 10, i->running = 4, i->ok = 70, i->failed = 1;
    i->stored = 71, i->bytes = 1ull << 33, i->created_ms = 1764780000000, i->expires_ms = -5;
    i->rate = 12.5;
}

static void
test_jobopen_round_trip (void **state)
{
    (void) state;
    hd_jobopen_t m = { .job = JOB, .name = "", .total = 3, .ttl_s = 0 }, back;
    hd_buf_t buf;
    hd_buf_init (&buf);
    assert_int_equal (hd_codec_encode_jobopen (&buf, &m), HD_OK);
    assert_int_equal (hd_codec_decode_jobopen (buf.data, buf.size, &back), HD_OK);
    assert_memory_equal (&m, &back, sizeof m);
    m.total = 0;  //  refused both ways
    assert_int_equal (hd_codec_encode_jobopen (&buf, &m), HD_EINVAL);
    assert_int_equal (buf.size, 0);
    m.total = 1;
    snprintf (m.job, sizeof m.job, "j-0123456789ABCDEF");  //  upper case: not an id
    assert_int_equal (hd_codec_encode_jobopen (&buf, &m), HD_EINVAL);
    hd_buf_fini (&buf);
}

static void
test_jobopen_bounds (void **state)
{
    (void) state;
    hd_buf_t buf;
    hd_buf_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, s_write);
    hd_jobopen_t m;
    //  total 0
    msgpack_pack_map (&pk, 2);
    s_str (&pk, "job"), s_str (&pk, JOB), s_str (&pk, "total"), msgpack_pack_uint32 (&pk, 0);
    assert_int_equal (hd_codec_decode_jobopen (buf.data, buf.size, &m), HD_EPROTO);
    //  total missing
    hd_buf_reset (&buf);
    msgpack_pack_map (&pk, 1);
    s_str (&pk, "job"), s_str (&pk, JOB);
    assert_int_equal (hd_codec_decode_jobopen (buf.data, buf.size, &m), HD_EPROTO);
    //  total over uint32
    hd_buf_reset (&buf);
    msgpack_pack_map (&pk, 2);
    s_str (&pk, "job"), s_str (&pk, JOB), s_str (&pk, "total");
    msgpack_pack_uint64 (&pk, 1ull << 32);
    assert_int_equal (hd_codec_decode_jobopen (buf.data, buf.size, &m), HD_EPROTO);
    //  name of 65 bytes
    char name[66];
    memset (name, 'a', 65);
    name[65] = 0;
    hd_buf_reset (&buf);
    msgpack_pack_map (&pk, 3);
    s_str (&pk, "job"), s_str (&pk, JOB), s_str (&pk, "total"), msgpack_pack_uint32 (&pk, 1);
    s_str (&pk, "name"), s_str (&pk, name);
    assert_int_equal (hd_codec_decode_jobopen (buf.data, buf.size, &m), HD_ETOOBIG);
    //  name with a control byte
    hd_buf_reset (&buf);
    msgpack_pack_map (&pk, 3);
    s_str (&pk, "job"), s_str (&pk, JOB), s_str (&pk, "total"), msgpack_pack_uint32 (&pk, 1);
    s_str (&pk, "name"), s_str (&pk, "a\033[2Jb");
    assert_int_equal (hd_codec_decode_jobopen (buf.data, buf.size, &m), HD_EPROTO);
    //  job twice
    hd_buf_reset (&buf);
    msgpack_pack_map (&pk, 3);
    s_str (&pk, "job"), s_str (&pk, JOB), s_str (&pk, "total"), msgpack_pack_uint32 (&pk, 1);
    s_str (&pk, "job"), s_str (&pk, JOB);
    assert_int_equal (hd_codec_decode_jobopen (buf.data, buf.size, &m), HD_EPROTO);
    //  unknown keys are skipped, 64-byte name is fine
    name[64] = 0;
    hd_buf_reset (&buf);
    msgpack_pack_map (&pk, 4);
    s_str (&pk, "job"), s_str (&pk, JOB), s_str (&pk, "total"), msgpack_pack_uint32 (&pk, 7);
    s_str (&pk, "name"), s_str (&pk, name), s_str (&pk, "later"), msgpack_pack_nil (&pk);
    assert_int_equal (hd_codec_decode_jobopen (buf.data, buf.size, &m), HD_OK);
    assert_int_equal (m.total, 7);
    assert_string_equal (m.name, name);
    hd_buf_fini (&buf);
}

static void
test_job_ids_in_envelopes (void **state)
{
    (void) state;
    const char *bad[] = { "", "j-0123", "j-0123456789abcdeg", "x-0123456789abcdef",
                          "j-0123456789abcdef0", "J-0123456789abcdef" };
    hd_buf_t buf;
    hd_buf_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, s_write);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        hd_buf_reset (&buf);
        msgpack_pack_map (&pk, 1);
        s_str (&pk, "job"), s_str (&pk, bad[i]);
        hd_jobfetch_t f;
        assert_int_not_equal (hd_codec_decode_jobfetch (buf.data, buf.size, &f), HD_OK);
        hd_jobref_t r;
        hd_err_t rc = hd_codec_decode_jobref (buf.data, buf.size, &r);
        assert_int_equal (rc, i == 0 ? HD_OK : HD_EPROTO);  //  "" = all, for JOBS
    }
    //  jobref: the key may be absent
    hd_buf_reset (&buf);
    msgpack_pack_map (&pk, 0);
    hd_jobref_t r = { .job = "x" };
    assert_int_equal (hd_codec_decode_jobref (buf.data, buf.size, &r), HD_OK);
    assert_string_equal (r.job, "");
    //  not a map
    hd_buf_reset (&buf);
    msgpack_pack_array (&pk, 0);
    assert_int_equal (hd_codec_decode_jobref (buf.data, buf.size, &r), HD_EPROTO);
    hd_buf_fini (&buf);
}

static void
test_jobref_and_fetch_round_trip (void **state)
{
    (void) state;
    hd_buf_t buf;
    hd_buf_init (&buf);
    hd_jobref_t r = { .job = JOB }, r2;
    assert_int_equal (hd_codec_encode_jobref (&buf, &r), HD_OK);
    assert_int_equal (hd_codec_decode_jobref (buf.data, buf.size, &r2), HD_OK);
    assert_memory_equal (&r, &r2, sizeof r);
    hd_jobfetch_t f, f2;
    memset (&f, 0, sizeof f);  //  padding too: the structs are compared byte for byte
    snprintf (f.job, sizeof f.job, "%s", JOB);
    f.off = 1ull << 40, f.max = 4u << 20, f.wait_ms = 30000;
    assert_int_equal (hd_codec_encode_jobfetch (&buf, &f), HD_OK);
    assert_int_equal (hd_codec_decode_jobfetch (buf.data, buf.size, &f2), HD_OK);
    assert_memory_equal (&f, &f2, sizeof f);
    hd_buf_fini (&buf);
}

static void
test_jobinfo_and_data_round_trip (void **state)
{
    (void) state;
    hd_buf_t buf;
    hd_buf_init (&buf);
    hd_jobinfo_t i, i2;
    s_info (&i);
    assert_int_equal (hd_codec_encode_jobinfo (&buf, &i), HD_OK);
    assert_int_equal (hd_codec_decode_jobinfo (buf.data, buf.size, &i2), HD_OK);
    assert_memory_equal (&i, &i2, sizeof i);
    static hd_jobdata_t d, d2;
    snprintf (d.job, sizeof d.job, "%s", JOB);
    d.off = 10, d.next = 900, d.size = 901, d.count = 3;
    s_info (&d.info);
    assert_int_equal (hd_codec_encode_jobdata (&buf, &d), HD_OK);
    assert_int_equal (hd_codec_decode_jobdata (buf.data, buf.size, &d2), HD_OK);
    assert_memory_equal (&d, &d2, sizeof d);
    i.rate = -1;  //  refused
    assert_int_equal (hd_codec_encode_jobinfo (&buf, &i), HD_EINVAL);
    hd_buf_fini (&buf);
}

static void
test_jobinfo_needs_job_and_state (void **state)
{
    (void) state;
    hd_buf_t buf;
    hd_buf_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, s_write);
    msgpack_pack_map (&pk, 1);
    s_str (&pk, "job"), s_str (&pk, JOB);
    hd_jobinfo_t i;
    assert_int_equal (hd_codec_decode_jobinfo (buf.data, buf.size, &i), HD_EPROTO);
    hd_buf_reset (&buf);
    msgpack_pack_map (&pk, 2);
    s_str (&pk, "job"), s_str (&pk, JOB), s_str (&pk, "state"), s_str (&pk, "done");
    assert_int_equal (hd_codec_decode_jobinfo (buf.data, buf.size, &i), HD_OK);
    assert_string_equal (i.state, "done");
    //  jobdata without its info
    hd_buf_reset (&buf);
    msgpack_pack_map (&pk, 5);
    s_str (&pk, "job"), s_str (&pk, JOB), s_str (&pk, "off"), msgpack_pack_uint32 (&pk, 0);
    s_str (&pk, "next"), msgpack_pack_uint32 (&pk, 0), s_str (&pk, "size");
    msgpack_pack_uint32 (&pk, 0), s_str (&pk, "count"), msgpack_pack_uint32 (&pk, 0);
    hd_jobdata_t d;
    assert_int_equal (hd_codec_decode_jobdata (buf.data, buf.size, &d), HD_EPROTO);
    hd_buf_fini (&buf);
}

static void
test_joblist_round_trip_and_bound (void **state)
{
    (void) state;
    hd_joblist_t *l = calloc (2, sizeof *l);
    assert_non_null (l);
    l->count = HD_MAX_JOBS_LIST;
    for (uint32_t k = 0; k < l->count; k++) {
        s_info (&l->jobs[k]);
        l->jobs[k].ok = k;
    }
    hd_buf_t buf;
    hd_buf_init (&buf);
    assert_int_equal (hd_codec_encode_joblist (&buf, l), HD_OK);
    assert_true (buf.size <= HD_JOBS_REPLY_MAX);  //  a full list fits its bound
    assert_int_equal (hd_codec_decode_joblist (buf.data, buf.size, &l[1]), HD_OK);
    assert_memory_equal (&l[0], &l[1], sizeof *l);
    l->count = HD_MAX_JOBS_LIST + 1;
    assert_int_equal (hd_codec_encode_joblist (&buf, l), HD_EINVAL);
    //  257 entries on the wire
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, s_write);
    hd_buf_reset (&buf);
    msgpack_pack_map (&pk, 1);
    s_str (&pk, "jobs");
    msgpack_pack_array (&pk, HD_MAX_JOBS_LIST + 1);
    for (uint32_t k = 0; k <= HD_MAX_JOBS_LIST; k++)
        msgpack_pack_map (&pk, 0);
    assert_int_equal (hd_codec_decode_joblist (buf.data, buf.size, &l[1]), HD_ETOOBIG);
    hd_buf_fini (&buf);
    free (l);
}

static void
test_job_task_ids (void **state)
{
    (void) state;
    uint8_t id[16], nonce[8];
    hd_job_task_id (JOB, 0x0102030405060708ull, id);
    static const uint8_t want[16] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
                                      1, 2, 3, 4, 5, 6, 7, 8 };
    assert_memory_equal (id, want, 16);
    uint64_t index = 0;
    assert_true (hd_job_task_index (JOB, id, &index));
    assert_true (index == 0x0102030405060708ull);
    id[3] ^= 1;  //  another job's id
    assert_false (hd_job_task_index (JOB, id, &index));
    assert_false (hd_job_task_index ("j-bad", want, &index));
    assert_true (hd_job_nonce (JOB, nonce));
    assert_memory_equal (nonce, want, 8);
    char a[HD_JOB_ID_LEN + 1], b[HD_JOB_ID_LEN + 1];
    assert_int_equal (hd_job_id_new (a), HD_OK);
    assert_int_equal (hd_job_id_new (b), HD_OK);
    assert_true (hd_job_id_valid (a));
    assert_true (hd_job_id_valid (b));
    assert_string_not_equal (a, b);
    assert_false (hd_job_id_valid (NULL));
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_jobopen_round_trip),
        cmocka_unit_test (test_jobopen_bounds),
        cmocka_unit_test (test_job_ids_in_envelopes),
        cmocka_unit_test (test_jobref_and_fetch_round_trip),
        cmocka_unit_test (test_jobinfo_and_data_round_trip),
        cmocka_unit_test (test_jobinfo_needs_job_and_state),
        cmocka_unit_test (test_joblist_round_trip_and_bound),
        cmocka_unit_test (test_job_task_ids),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
