/*  Unit tests for hd_jobstore (detached jobs' files): create writes the meta file and an empty
    store; append writes hd_pack pairs, marks the bitmap and counts; read returns whole pairs
    (at least one) up to a byte bound; reopen rebuilds bitmap, counts and bytes; a torn last
    pair and a foreign pair are cut away at load; cancel survives a reopen; remove unlinks both
    files; dirty descriptors are handed over once. Each test runs in a fresh mkdtemp directory.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hd_codec.h"
#include "hd_jobstore.h"
#include "hd_pack.h"

#define JOB "j-00112233445566ff"
#define OWNER "rq:rV]d.Y2xe9*5DgwQ-2XnNL@8Vw=o8(Hb[%8n}"

static char s_dir[64];
static int s_warnings;

static void
s_warn (const char *text)
{
    (void) text;
    s_warnings++;
}

static int
s_setup (void **state)
{
    (void) state;
    snprintf (s_dir, sizeof s_dir, "/tmp/hd_jobstore_XXXXXX");
    assert_non_null (mkdtemp (s_dir));
    s_warnings = 0;
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    char cmd[128];
    snprintf (cmd, sizeof cmd, "rm -rf %s", s_dir);
    assert_int_equal (system (cmd), 0);
    return 0;
}

static hd_jobstore_t *
s_open (void)
{
    hd_jobstore_t *js = NULL;
    char err[256];
    assert_int_equal (hd_jobstore_open (s_dir, &js, s_warn, err, sizeof err), HD_OK);
    return js;
}

static uint32_t
s_create (hd_jobstore_t *js, const char *job, uint32_t total)
{
    hd_jobrec_t m;
    memset (&m, 0, sizeof m);
    snprintf (m.job, sizeof m.job, "%s", job);
    snprintf (m.owner, sizeof m.owner, "%s", OWNER);
    snprintf (m.name, sizeof m.name, "sha256 of in.txt");
    m.total = total;
    m.ttl_s = 3600;
    m.created_ms = 1764780000123;
    uint32_t i = HD_JOBSTORE_NONE;
    assert_int_equal (hd_jobstore_create (js, &m, &i), HD_OK);
    return i;
}

//  Append the result of `index` with an output of `size` bytes of `fill`.
static void
s_append (hd_jobstore_t *js, uint32_t i, const char *job, uint64_t index, uint32_t status,
          size_t size, int fill)
{
    hd_result_t r;
    memset (&r, 0, sizeof r);
    hd_job_task_id (job, index, r.id.b);
    r.attempt = 1;
    r.status = status;
    hd_buf_t env;
    hd_buf_init (&env);
    assert_int_equal (hd_codec_encode_result (&env, &r), HD_OK);
    char *out = malloc (size + 1);
    memset (out, fill, size);
    assert_int_equal (hd_jobstore_append (js, i, index, status, env.data, env.size, out, size,
                                          1000),
                      HD_OK);
    free (out);
    hd_buf_fini (&env);
}

static off_t
s_file_size (const char *job, const char *ext)
{
    char path[256];
    snprintf (path, sizeof path, "%s/%s%s", s_dir, job, ext);
    struct stat st;
    return stat (path, &st) == 0 ? st.st_size : -1;
}

static void
test_create_append_read (void **state)
{
    (void) state;
    hd_jobstore_t *js = s_open ();
    uint32_t i = s_create (js, JOB, 10);
    assert_int_equal (s_file_size (JOB, ".results"), 0);
    assert_true (s_file_size (JOB, ".meta") > 0);
    s_append (js, i, JOB, 3, HD_ST_OK, 100, 'a');
    s_append (js, i, JOB, 0, HD_ST_FAILED, 70000, 'b');  //  bin32 output
    s_append (js, i, JOB, 9, HD_ST_CANCELLED, 0, 0);
    hd_jobrec_t *r = hd_jobstore_at (js, i);
    assert_int_equal (r->stored, 3);
    assert_int_equal (r->ok, 1);
    assert_int_equal (r->failed, 1);
    assert_int_equal (r->ncancelled, 1);
    assert_true (hd_jobstore_has (js, i, 3) && hd_jobstore_has (js, i, 0));
    assert_false (hd_jobstore_has (js, i, 1));
    assert_true (hd_jobstore_next_missing (js, i, 0) == 1);
    assert_true (hd_jobstore_next_missing (js, i, 3) == 4);
    assert_true (hd_jobstore_next_missing (js, i, 9) == 10);  //  none: total
    assert_int_equal ((off_t) r->bytes, s_file_size (JOB, ".results"));
    assert_int_equal (hd_jobstore_bytes (js), r->bytes);
    //  the same index twice, and one out of range: refused
    assert_int_equal (hd_jobstore_append (js, i, 3, 0, "x", 1, NULL, 0, 0), HD_EINVAL);
    assert_int_equal (hd_jobstore_append (js, i, 10, 0, "x", 1, NULL, 0, 0), HD_EINVAL);
    //  read: max 1 KiB still gives one pair; then the big one alone; then the rest
    hd_buf_t buf;
    hd_buf_init (&buf);
    uint64_t next = 0, off = 0;
    uint32_t count = 0, seen = 0;
    uint64_t want[] = { 3, 0, 9 };
    while (off < r->bytes) {
        assert_int_equal (hd_jobstore_read (js, i, off, 1024, &buf, &next, &count), HD_OK);
        assert_int_equal (count, 1);
        hd_pack_reader_t pr;
        hd_pack_reader_init (&pr, buf.data, buf.size);
        const void *e, *p;
        size_t es, ps;
        assert_int_equal (hd_pack_next (&pr, &e, &es, &p, &ps), 1);
        hd_result_t res;
        assert_int_equal (hd_codec_decode_result (e, es, &res), HD_OK);
        uint64_t index;
        assert_true (hd_job_task_index (JOB, res.id.b, &index));
        assert_true (index == want[seen++]);
        off = next;
    }
    assert_int_equal (seen, 3);
    //  a large max takes all three in one read; past the end reads nothing
    assert_int_equal (hd_jobstore_read (js, i, 0, 4u << 20, &buf, &next, &count), HD_OK);
    assert_int_equal (count, 3);
    assert_true (next == r->bytes && buf.size == r->bytes);
    assert_int_equal (hd_jobstore_read (js, i, r->bytes + 5, 4096, &buf, &next, &count), HD_OK);
    assert_int_equal (count, 0);
    assert_int_equal (buf.size, 0);
    hd_buf_fini (&buf);
    hd_jobstore_destroy (&js);
    assert_null (js);
}

//  append_many: 300 results (two pwritev) written as one append each would write them, in
//  order, all counted; a batch with an index stored already or repeated writes nothing.
static void
test_append_many_same_bytes (void **state)
{
    (void) state;
    hd_jobstore_t *js = s_open ();
    uint32_t i = s_create (js, JOB, 400);
    enum { N = 300 };
    static hd_buf_t envs[N];
    static hd_jobstore_item_t items[N];
    static char outs[N][300];
    for (uint32_t k = 0; k < N; k++) {
        hd_result_t r;
        memset (&r, 0, sizeof r);
        hd_job_task_id (JOB, N - 1 - k, r.id.b);  //  any order
        hd_buf_init (&envs[k]);
        assert_int_equal (hd_codec_encode_result (&envs[k], &r), HD_OK);
        memset (outs[k], 'a' + k % 26, k);
        items[k] = (hd_jobstore_item_t) { N - 1 - k, HD_ST_OK, envs[k].data, outs[k],
                                          envs[k].size, k };
    }
    hd_jobstore_item_t twice[2] = { items[0], items[0] };
    assert_int_equal (hd_jobstore_append_many (js, i, twice, 2, 0), HD_EINVAL);
    assert_int_equal (hd_jobstore_append_many (js, i, items, N, 1000), HD_OK);
    hd_jobrec_t *r = hd_jobstore_at (js, i);
    assert_int_equal (r->stored, N);
    assert_int_equal (r->ok, N);
    assert_int_equal ((off_t) r->bytes, s_file_size (JOB, ".results"));
    assert_int_equal (hd_jobstore_append_many (js, i, items + 5, 1, 0), HD_EINVAL);
    hd_buf_t buf;
    hd_buf_init (&buf);
    uint64_t next;
    uint32_t count;
    assert_int_equal (hd_jobstore_read (js, i, 0, 4u << 20, &buf, &next, &count), HD_OK);
    assert_int_equal (count, N);
    hd_pack_reader_t pr;
    hd_pack_reader_init (&pr, buf.data, buf.size);
    const void *e, *p;
    size_t es, ps;
    for (uint32_t k = 0; k < N; k++) {
        assert_int_equal (hd_pack_next (&pr, &e, &es, &p, &ps), 1);
        assert_int_equal (es, envs[k].size);
        assert_memory_equal (e, envs[k].data, es);
        assert_int_equal (ps, k);
        if (k)
            assert_memory_equal (p, outs[k], k);
        hd_buf_fini (&envs[k]);
    }
    hd_buf_fini (&buf);
    hd_jobstore_destroy (&js);
}

static void
test_reopen_rebuilds_and_cuts_torn_tail (void **state)
{
    (void) state;
    hd_jobstore_t *js = s_open ();
    uint32_t i = s_create (js, JOB, 5);
    s_append (js, i, JOB, 1, HD_ST_OK, 10, 'x');
    s_append (js, i, JOB, 2, HD_ST_FAILED, 10, 'y');
    uint64_t good = hd_jobstore_at (js, i)->bytes;
    s_append (js, i, JOB, 4, HD_ST_OK, 3000, 'z');
    hd_jobstore_destroy (&js);
    //  tear the last pair
    char path[256];
    snprintf (path, sizeof path, "%s/%s.results", s_dir, JOB);
    assert_int_equal (truncate (path, (off_t) good + 100), 0);
    js = s_open ();
    assert_int_equal (s_warnings, 1);
    assert_int_equal (hd_jobstore_count (js), 1);
    i = hd_jobstore_find (js, JOB);
    assert_int_not_equal (i, HD_JOBSTORE_NONE);
    hd_jobrec_t *r = hd_jobstore_at (js, i);
    assert_int_equal (r->stored, 2);
    assert_int_equal (r->ok, 1);
    assert_int_equal (r->failed, 1);
    assert_true (r->bytes == good);
    assert_int_equal (s_file_size (JOB, ".results"), (off_t) good);
    assert_true (hd_jobstore_has (js, i, 1) && hd_jobstore_has (js, i, 2));
    assert_false (hd_jobstore_has (js, i, 4));
    assert_string_equal (r->owner, OWNER);
    assert_string_equal (r->name, "sha256 of in.txt");
    assert_int_equal (r->total, 5);
    assert_true (r->created_ms == 1764780000123);
    //  index 4 can be stored again after the cut
    s_append (js, i, JOB, 4, HD_ST_OK, 5, 'z');
    assert_int_equal (r->stored, 3);
    //  every index of a 130-input job but 129: found past two full words
    uint32_t k = s_create (js, "j-00000000000000aa", 130);
    for (uint64_t x = 0; x < 129; x++)
        s_append (js, k, "j-00000000000000aa", x, HD_ST_OK, 1, 'k');
    assert_true (hd_jobstore_next_missing (js, k, 0) == 129);
    hd_jobstore_destroy (&js);
}

//  A store larger than the loader's read window (256 KiB), of many small pairs and one large:
//  every pair found again; a fetch of 64 KiB ends on a pair boundary.
static void
test_reopen_large_store (void **state)
{
    (void) state;
    hd_jobstore_t *js = s_open ();
    const char *job = "j-00000000000000bb";
    uint32_t n = 20000, i = s_create (js, job, n);
    for (uint64_t x = 0; x < n; x++)
        s_append (js, i, job, x, x % 7 ? HD_ST_OK : HD_ST_FAILED, x == 12345 ? 300000 : 8, 'p');
    uint64_t bytes = hd_jobstore_at (js, i)->bytes;
    hd_jobstore_destroy (&js);
    js = s_open ();
    assert_int_equal (s_warnings, 0);
    i = hd_jobstore_find (js, job);
    hd_jobrec_t *r = hd_jobstore_at (js, i);
    assert_int_equal (r->stored, n);
    assert_int_equal (r->failed, (n + 6) / 7);
    assert_true (r->bytes == bytes);
    assert_true (hd_jobstore_next_missing (js, i, 0) == n);
    hd_buf_t buf;
    hd_buf_init (&buf);
    uint64_t next, off = 0;
    uint32_t count, total = 0;
    while (off < bytes) {
        assert_int_equal (hd_jobstore_read (js, i, off, 65536, &buf, &next, &count), HD_OK);
        assert_true (count > 0 && next > off);
        assert_int_equal (hd_pack_count (buf.data, buf.size), (int) count);
        total += count;
        off = next;
    }
    assert_int_equal (total, n);
    hd_buf_fini (&buf);
    hd_jobstore_destroy (&js);
}

static void
test_foreign_pair_ends_the_store (void **state)
{
    (void) state;
    hd_jobstore_t *js = s_open ();
    uint32_t i = s_create (js, JOB, 5);
    s_append (js, i, JOB, 0, HD_ST_OK, 4, 'a');
    uint64_t good = hd_jobstore_at (js, i)->bytes;
    hd_jobstore_destroy (&js);
    //  a pair of another job's id written at the end by hand
    hd_result_t r;
    memset (&r, 0, sizeof r);
    hd_job_task_id ("j-aaaaaaaaaaaaaaaa", 1, r.id.b);
    hd_buf_t env, pair;
    hd_buf_init (&env);
    hd_buf_init (&pair);
    assert_int_equal (hd_codec_encode_result (&env, &r), HD_OK);
    assert_int_equal (hd_pack_add (&pair, env.data, env.size, "out", 3), HD_OK);
    char path[256];
    snprintf (path, sizeof path, "%s/%s.results", s_dir, JOB);
    FILE *f = fopen (path, "ab");
    assert_non_null (f);
    assert_int_equal (fwrite (pair.data, 1, pair.size, f), pair.size);
    fclose (f);
    hd_buf_fini (&env);
    hd_buf_fini (&pair);
    js = s_open ();
    i = hd_jobstore_find (js, JOB);
    assert_int_equal (hd_jobstore_at (js, i)->stored, 1);
    assert_true (hd_jobstore_at (js, i)->bytes == good);
    assert_int_equal (s_file_size (JOB, ".results"), (off_t) good);
    hd_jobstore_destroy (&js);
}

static void
test_cancel_remove_and_owner_counts (void **state)
{
    (void) state;
    hd_jobstore_t *js = s_open ();
    uint32_t a = s_create (js, JOB, 3);
    uint32_t b = s_create (js, "j-0000000000000001", 3);
    assert_int_equal (hd_jobstore_owner_jobs (js, OWNER), 2);
    assert_int_equal (hd_jobstore_owner_jobs (js, "other"), 0);
    //  the same id again is refused; so is a total of 0 or over the bound
    hd_jobrec_t m;
    memset (&m, 0, sizeof m);
    snprintf (m.job, sizeof m.job, "%s", JOB);
    m.total = 1;
    uint32_t x;
    assert_int_equal (hd_jobstore_create (js, &m, &x), HD_EINVAL);
    snprintf (m.job, sizeof m.job, "j-0000000000000002");
    m.total = 0;
    assert_int_equal (hd_jobstore_create (js, &m, &x), HD_EINVAL);
    m.total = HD_JOBSTORE_MAX_TOTAL + 1;
    assert_int_equal (hd_jobstore_create (js, &m, &x), HD_EINVAL);
    assert_int_equal (hd_jobstore_cancel (js, a), HD_OK);
    s_append (js, b, "j-0000000000000001", 2, HD_ST_OK, 8, 'q');
    hd_jobstore_remove (js, b);
    assert_int_equal (s_file_size ("j-0000000000000001", ".meta"), -1);
    assert_int_equal (s_file_size ("j-0000000000000001", ".results"), -1);
    assert_int_equal (hd_jobstore_count (js), 1);
    assert_true (hd_jobstore_bytes (js) == 0);
    hd_jobstore_destroy (&js);
    js = s_open ();
    assert_int_equal (hd_jobstore_count (js), 1);
    a = hd_jobstore_find (js, JOB);
    assert_true (hd_jobstore_at (js, a)->cancelled);
    assert_int_equal (hd_jobstore_find (js, "j-0000000000000001"), HD_JOBSTORE_NONE);
    hd_jobstore_destroy (&js);
}

static void
test_bad_meta_is_left_alone (void **state)
{
    (void) state;
    char path[256];
    snprintf (path, sizeof path, "%s/j-0123456789abcdef.meta", s_dir);
    FILE *f = fopen (path, "w");
    assert_non_null (f);
    fputs ("heddle-job 1\njob j-0123456789abcdef\ntotal 0\n", f);  //  total 0
    fclose (f);
    hd_jobstore_t *js = s_open ();
    assert_int_equal (hd_jobstore_count (js), 0);
    assert_int_equal (s_warnings, 1);
    assert_int_equal (s_file_size ("j-0123456789abcdef", ".meta") > 0, 1);  //  kept
    hd_jobstore_destroy (&js);
}

static void
test_dirty_fds_once (void **state)
{
    (void) state;
    hd_jobstore_t *js = s_open ();
    uint32_t a = s_create (js, JOB, 3);
    s_create (js, "j-0000000000000001", 3);
    int fds[4];
    assert_int_equal (hd_jobstore_dirty_fds (js, fds, 4), 0);
    s_append (js, a, JOB, 1, HD_ST_OK, 3, 'a');
    assert_int_equal (hd_jobstore_dirty_fds (js, fds, 4), 1);
    assert_int_equal (fdatasync (fds[0]), 0);
    close (fds[0]);
    assert_int_equal (hd_jobstore_dirty_fds (js, fds, 4), 0);
    s_append (js, a, JOB, 2, HD_ST_OK, 3, 'a');
    assert_int_equal (hd_jobstore_sync (js), 0);
    assert_int_equal (hd_jobstore_dirty_fds (js, fds, 4), 0);
    //  rate: 2 results in the last minute
    assert_true (hd_jobstore_rate (hd_jobstore_at (js, a), 1000) > 0.0);
    assert_true (hd_jobstore_rate (hd_jobstore_at (js, a), 1000 + 3600000) == 0.0);
    hd_jobstore_destroy (&js);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_create_append_read, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_append_many_same_bytes, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_reopen_rebuilds_and_cuts_torn_tail, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_reopen_large_store, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_foreign_pair_ends_the_store, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_cancel_remove_and_owner_counts, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_bad_meta_is_left_alone, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_dirty_fds_once, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
