/*  Unit tests for hd_journal's reading side: replay across close and reopen, torn and corrupt
    tails (made by hand with write()), records refused rather than truncated, and compaction.
    Open, commit and injected write failures are in test_journal.c. Each test runs in a fresh
    mkdtemp directory under /tmp, removed afterwards.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hd_journal.h"
#include "hd_journal_int.h"

#define S_HEADER 24  //  file header size (docs/JOURNAL.md)
#define S_MAX_BLOB 512

typedef struct {
    hd_jrec_type_t type;
    hd_id_t id;
    size_t alen, blen;
    uint8_t a[S_MAX_BLOB], b[S_MAX_BLOB];
} rec_t;

//  What a replay delivered, in order.
typedef struct {
    rec_t *recs;
    size_t count, cap;
    size_t stop_after;  //  return non-zero once this many arrived (0: never)
} seen_t;

//  Record number i of a deterministic sequence: every type in turn, blob lengths that
//  include zero (i = 0 has two empty blobs), contents that depend on i.
static void
s_gen (uint32_t i, rec_t *out)
{
    memset (out, 0, sizeof *out);
    out->type = (hd_jrec_type_t) (HD_JREC_ACCEPT + i % 5);
    for (size_t k = 0; k < sizeof out->id.b; k++)
        out->id.b[k] = (uint8_t) ((i >> (8 * (k % 4))) ^ k);
    out->alen = (i * 7) % 300;
    out->blen = (i * 13) % 200;
    for (size_t k = 0; k < out->alen; k++)
        out->a[k] = (uint8_t) (i + k);
    for (size_t k = 0; k < out->blen; k++)
        out->b[k] = (uint8_t) (i * 3 + k);
}

static void
s_append_gen (hd_journal_t *journal, uint32_t i)
{
    rec_t rec;
    s_gen (i, &rec);
    assert_int_equal (
        hd_journal_append (journal, rec.type, &rec.id, rec.a, rec.alen, rec.b, rec.blen, NULL),
        HD_OK);
}

static void
s_assert_gen (const rec_t *got, uint32_t i)
{
    rec_t want;
    s_gen (i, &want);
    assert_int_equal (got->type, want.type);
    assert_memory_equal (got->id.b, want.id.b, sizeof want.id.b);
    assert_int_equal (got->alen, want.alen);
    assert_int_equal (got->blen, want.blen);
    assert_memory_equal (got->a, want.a, want.alen + 1);  //  + 1: both zero-padded
    assert_memory_equal (got->b, want.b, want.blen + 1);
}

static int
s_collect (hd_jrec_type_t type, const hd_id_t *id, const void *a, size_t alen, const void *b,
           size_t blen, void *arg)
{
    seen_t *seen = arg;
    if (alen > S_MAX_BLOB || blen > S_MAX_BLOB || !a || !b)
        return -1;
    if (seen->count == seen->cap) {
        seen->cap = seen->cap ? seen->cap * 2 : 64;
        seen->recs = realloc (seen->recs, seen->cap * sizeof *seen->recs);
        assert_non_null (seen->recs);
    }
    rec_t *rec = &seen->recs[seen->count++];
    *rec = (rec_t){ .type = type, .id = *id, .alen = alen, .blen = blen };
    memcpy (rec->a, a, alen);
    memcpy (rec->b, b, blen);
    return seen->stop_after && seen->count >= seen->stop_after;
}

static hd_journal_t *
s_open_cfg (const char *dir, uint64_t compact_bytes, seen_t *seen, hd_journal_replay_stats_t *stats)
{
    hd_journal_config_t cfg = { .mode = HD_JOURNAL_SYNC, .compact_bytes = compact_bytes };
    hd_journal_t *journal = NULL;
    char err[256] = "";
    assert_int_equal (hd_journal_open (dir, &cfg, &journal, err, sizeof err), HD_OK);
    assert_int_equal (hd_journal_replay (journal, s_collect, seen, stats), HD_OK);
    return journal;
}

//  Open and replay into *seen (reset first), with the default compaction threshold.
static hd_journal_t *
s_open (const char *dir, seen_t *seen, hd_journal_replay_stats_t *stats)
{
    seen->count = 0;
    return s_open_cfg (dir, 0, seen, stats);
}

//  A journal in dir holding records 0..n-1 of the sequence, committed and closed.
static void
s_make (const char *dir, uint32_t n)
{
    seen_t seen = { 0 };
    hd_journal_t *journal = s_open (dir, &seen, NULL);
    for (uint32_t i = 0; i < n; i++)
        s_append_gen (journal, i);
    assert_int_equal (hd_journal_commit (journal), HD_OK);
    hd_journal_destroy (&journal);
    free (seen.recs);
}

static uint64_t
s_offset_of (uint32_t i)
{
    uint64_t off = S_HEADER;
    for (uint32_t k = 0; k < i; k++) {
        rec_t rec;
        s_gen (k, &rec);
        off += hd_journal_record_size (rec.alen, rec.blen);
    }
    return off;
}

static void
s_path (char *path, size_t size, const char *dir, const char *name)
{
    snprintf (path, size, "%s/%s", dir, name);
}

//  Overwrite bytes of journal.log at `off` (with pwrite: the hand-made damage).
static void
s_poke (const char *dir, uint64_t off, const void *data, size_t len)
{
    char path[512];
    s_path (path, sizeof path, dir, "journal.log");
    int fd = open (path, O_WRONLY);
    assert_true (fd >= 0);
    assert_int_equal (pwrite (fd, data, len, (off_t) off), (ssize_t) len);
    close (fd);
}

static uint64_t
s_file_size (const char *dir)
{
    char path[512];
    struct stat st;
    s_path (path, sizeof path, dir, "journal.log");
    assert_int_equal (stat (path, &st), 0);
    return (uint64_t) st.st_size;
}

static void
s_assert_replays_first (const char *dir, uint32_t n)
{
    seen_t seen = { 0 };
    hd_journal_t *journal = s_open (dir, &seen, NULL);
    assert_int_equal (seen.count, n);
    for (uint32_t i = 0; i < n; i++)
        s_assert_gen (&seen.recs[i], i);
    hd_journal_destroy (&journal);
    free (seen.recs);
}

static void
test_journal_round_trips_records_of_every_type (void **state)
{
    seen_t seen = { 0 };
    hd_journal_t *journal = s_open (*state, &seen, NULL);
    for (uint32_t i = 0; i < 1000; i++) {
        s_append_gen (journal, i);
        if (i % 100 == 99)
            assert_int_equal (hd_journal_commit (journal), HD_OK);
    }
    hd_journal_destroy (&journal);
    free (seen.recs);
    s_assert_replays_first (*state, 1000);
}

//  Three sessions, each appending after what the last one left: one sequence on replay.
static void
test_journal_replays_in_append_order_across_sessions (void **state)
{
    seen_t seen = { 0 };
    for (uint32_t session = 0; session < 3; session++) {
        hd_journal_t *journal = s_open (*state, &seen, NULL);
        assert_int_equal (seen.count, session * 10);
        for (uint32_t i = session * 10; i < session * 10 + 10; i++)
            s_append_gen (journal, i);
        hd_journal_destroy (&journal);
    }
    free (seen.recs);
    s_assert_replays_first (*state, 30);
}

static void
test_journal_replay_reports_stats (void **state)
{
    s_make (*state, 20);
    seen_t seen = { 0 };
    hd_journal_replay_stats_t stats;
    hd_journal_t *journal = s_open (*state, &seen, &stats);
    assert_int_equal (stats.records, 20);
    assert_int_equal (stats.bytes, s_offset_of (20) - S_HEADER);
    assert_int_equal (stats.truncated_bytes, 0);
    hd_journal_destroy (&journal);
    free (seen.recs);
}

static void
test_journal_truncates_torn_tail (void **state)
{
    s_make (*state, 6);
    uint64_t whole = s_file_size (*state);
    //  half of record 5's bytes again, as a crash in the middle of a write leaves them
    uint8_t half[64];
    char path[512];
    s_path (path, sizeof path, *state, "journal.log");
    int fd = open (path, O_RDWR | O_APPEND);
    assert_int_equal (pread (fd, half, sizeof half, (off_t) s_offset_of (5)), sizeof half);
    assert_int_equal (write (fd, half, sizeof half / 2), sizeof half / 2);
    close (fd);
    seen_t seen = { 0 };
    hd_journal_replay_stats_t stats;
    hd_journal_t *journal = s_open (*state, &seen, &stats);
    assert_int_equal (stats.records, 6);
    assert_int_equal (stats.truncated_bytes, sizeof half / 2);
    assert_int_equal (s_file_size (*state), whole);
    hd_journal_destroy (&journal);
    free (seen.recs);
}

static void
test_journal_appends_after_torn_tail_survive (void **state)
{
    s_make (*state, 3);
    s_poke (*state, s_offset_of (3), "\x40\x00\x00", 3);  //  a frame cut short
    seen_t seen = { 0 };
    hd_journal_t *journal = s_open (*state, &seen, NULL);
    s_append_gen (journal, 3);
    hd_journal_destroy (&journal);
    free (seen.recs);
    s_assert_replays_first (*state, 4);
}

static void
test_journal_truncates_from_corrupt_crc (void **state)
{
    s_make (*state, 10);
    uint8_t flip = 0xff;
    s_poke (*state, s_offset_of (4) + 8 + 5, &flip, 1);  //  inside record 4's id
    seen_t seen = { 0 };
    hd_journal_replay_stats_t stats;
    hd_journal_t *journal = s_open (*state, &seen, &stats);
    assert_int_equal (stats.records, 4);
    assert_int_equal (stats.truncated_bytes, s_offset_of (10) - s_offset_of (4));
    assert_int_equal (s_file_size (*state), s_offset_of (4));
    hd_journal_destroy (&journal);
    free (seen.recs);
    s_assert_replays_first (*state, 4);
}

//  A length near 4 GiB must read as corruption, not as a reason to allocate 4 GiB.
static void
test_journal_treats_giant_length_as_corruption (void **state)
{
    s_make (*state, 5);
    s_poke (*state, s_offset_of (2), "\xf0\xff\xff\xff", 4);
    seen_t seen = { 0 };
    hd_journal_replay_stats_t stats;
    hd_journal_t *journal = s_open (*state, &seen, &stats);
    assert_int_equal (stats.records, 2);
    assert_int_equal (stats.truncated_bytes, s_offset_of (5) - s_offset_of (2));
    hd_journal_destroy (&journal);
    free (seen.recs);
}

static void
test_journal_treats_zeroed_tail_as_torn (void **state)
{
    s_make (*state, 2);
    static const uint8_t zeros[4096];
    s_poke (*state, s_offset_of (2), zeros, sizeof zeros);
    seen_t seen = { 0 };
    hd_journal_replay_stats_t stats;
    hd_journal_t *journal = s_open (*state, &seen, &stats);
    assert_int_equal (stats.records, 2);
    assert_int_equal (stats.truncated_bytes, sizeof zeros);
    hd_journal_destroy (&journal);
    free (seen.recs);
}

//  Bitwise CRC32C, independent of the journal's table.
static uint32_t
s_crc32c (const uint8_t *p, size_t len)
{
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int bit = 0; bit < 8; bit++)
            crc = crc & 1 ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
    }
    return ~crc;
}

//  Append a record with a good CRC and type `type` (lengths consistent, blobs empty).
static void
s_append_raw_type (const char *dir, uint8_t type)
{
    uint8_t rec[8 + 25] = { 25 };
    rec[8] = type;
    uint32_t crc = s_crc32c (rec + 8, 25);
    for (int k = 0; k < 4; k++)
        rec[4 + k] = (uint8_t) (crc >> (8 * k));
    s_poke (dir, s_file_size (dir), rec, sizeof rec);
}

static void
test_journal_refuses_unknown_type_without_truncating (void **state)
{
    s_make (*state, 3);
    s_append_raw_type (*state, 9);
    uint64_t size = s_file_size (*state);
    hd_journal_t *journal = NULL;
    assert_int_equal (hd_journal_open (*state, NULL, &journal, NULL, 0), HD_OK);
    seen_t seen = { 0 };
    assert_int_equal (hd_journal_replay (journal, s_collect, &seen, NULL), HD_EIO);
    assert_non_null (strstr (hd_journal_last_error (journal), "unknown type 9"));
    assert_int_equal (seen.count, 3);
    hd_journal_destroy (&journal);
    assert_int_equal (s_file_size (*state), size);
    free (seen.recs);
}

static void
test_journal_raw_record_with_known_type_replays (void **state)
{
    s_make (*state, 1);
    s_append_raw_type (*state, HD_JREC_DROP);
    seen_t seen = { 0 };
    hd_journal_t *journal = s_open (*state, &seen, NULL);
    assert_int_equal (seen.count, 2);
    assert_int_equal (seen.recs[1].type, HD_JREC_DROP);
    assert_int_equal (seen.recs[1].alen + seen.recs[1].blen, 0);
    hd_journal_destroy (&journal);
    free (seen.recs);
}

static void
test_journal_replay_stops_when_fn_asks (void **state)
{
    s_make (*state, 5);
    hd_journal_t *journal = NULL;
    assert_int_equal (hd_journal_open (*state, NULL, &journal, NULL, 0), HD_OK);
    seen_t seen = { .stop_after = 2 };
    assert_int_equal (hd_journal_replay (journal, s_collect, &seen, NULL), HD_EINVAL);
    assert_int_equal (seen.count, 2);
    hd_id_t id = { { 0 } };
    assert_int_equal (hd_journal_append (journal, HD_JREC_ACK, &id, NULL, 0, NULL, 0, NULL),
                      HD_EIO);
    hd_journal_destroy (&journal);
    free (seen.recs);
    s_assert_replays_first (*state, 5);  //  nothing was cut
}

//  The live set for compaction tests: these records of the sequence.
typedef struct {
    const uint32_t *which;
    size_t n;
} live_t;

static void
s_emit_live (hd_journal_t *journal, void *arg)
{
    const live_t *live = arg;
    for (size_t k = 0; k < live->n; k++) {
        rec_t rec;
        s_gen (live->which[k], &rec);
        hd_journal_compact_emit (journal, rec.type, &rec.id, rec.a, rec.alen, rec.b, rec.blen);
    }
}

static const uint32_t s_live_ids[] = { 7, 42, 99 };
static const live_t s_live = { s_live_ids, 3 };

//  A journal of 100 records (about 27 KB) with a 4 KB compaction threshold.
static hd_journal_t *
s_open_big (const char *dir, seen_t *seen)
{
    s_make (dir, 100);
    seen->count = 0;
    return s_open_cfg (dir, 4096, seen, NULL);
}

static void
test_journal_compaction_keeps_only_live_records (void **state)
{
    seen_t seen = { 0 };
    hd_journal_t *journal = s_open_big (*state, &seen);
    bool done = false;
    assert_int_equal (
        hd_journal_maybe_compact (journal, 1000, s_emit_live, (void *) &s_live, &done), HD_OK);
    assert_true (done);
    assert_int_equal (hd_journal_size (journal), s_file_size (*state));
    hd_journal_destroy (&journal);
    journal = s_open (*state, &seen, NULL);
    assert_int_equal (seen.count, 3);
    for (size_t k = 0; k < 3; k++)
        s_assert_gen (&seen.recs[k], s_live_ids[k]);
    hd_journal_destroy (&journal);
    free (seen.recs);
}

static void
test_journal_compaction_not_needed_below_threshold (void **state)
{
    s_make (*state, 5);
    seen_t seen = { 0 };
    hd_journal_t *journal = s_open_cfg (*state, 4096, &seen, NULL);
    uint64_t size = hd_journal_size (journal);
    bool done = true;
    assert_int_equal (hd_journal_maybe_compact (journal, 0, s_emit_live, (void *) &s_live, &done),
                      HD_OK);
    assert_false (done);
    assert_int_equal (s_file_size (*state), size);
    hd_journal_destroy (&journal);
    free (seen.recs);
}

static void
test_journal_compaction_waits_while_live_is_half (void **state)
{
    seen_t seen = { 0 };
    hd_journal_t *journal = s_open_big (*state, &seen);
    bool done = true;
    uint64_t live = hd_journal_size (journal) / 2;
    assert_int_equal (
        hd_journal_maybe_compact (journal, live, s_emit_live, (void *) &s_live, &done), HD_OK);
    assert_false (done);
    hd_journal_destroy (&journal);
    free (seen.recs);
}

//  Space is short: a file far under its threshold is compacted all the same.
static void
test_journal_urgent_compaction_ignores_threshold (void **state)
{
    s_make (*state, 100);
    seen_t seen = { 0 };
    hd_journal_t *journal = s_open_cfg (*state, 0, &seen, NULL);  //  threshold 64 MiB
    bool done = true;
    assert_int_equal (hd_journal_maybe_compact (journal, 0, s_emit_live, (void *) &s_live, &done),
                      HD_OK);
    assert_false (done);
    hd_journal_set_urgent (journal, true);
    assert_int_equal (hd_journal_maybe_compact (journal, 0, s_emit_live, (void *) &s_live, &done),
                      HD_OK);
    assert_true (done);
    hd_journal_destroy (&journal);
    journal = s_open (*state, &seen, NULL);
    assert_int_equal (seen.count, 3);
    hd_journal_destroy (&journal);
    free (seen.recs);
}

//  Nothing live: the file is cut back to its header in place, and replays nothing.
static void
test_journal_reset_cuts_back_to_header (void **state)
{
    seen_t seen = { 0 };
    hd_journal_t *journal = s_open_big (*state, &seen);
    s_append_gen (journal, 500);  //  pending: committed (or dropped), then cut
    assert_int_equal (hd_journal_reset (journal), HD_OK);
    assert_int_equal (hd_journal_size (journal), 24u);  //  the header (docs/JOURNAL.md)
    assert_int_equal (s_file_size (*state), 24u);  //  the header (docs/JOURNAL.md)
    s_append_gen (journal, 501);
    assert_int_equal (hd_journal_commit (journal), HD_OK);
    hd_journal_destroy (&journal);
    journal = s_open (*state, &seen, NULL);
    assert_int_equal (seen.count, 1);
    s_assert_gen (&seen.recs[0], 501);
    hd_journal_destroy (&journal);
    free (seen.recs);
}

static void
test_journal_appends_after_compaction_survive (void **state)
{
    seen_t seen = { 0 };
    hd_journal_t *journal = s_open_big (*state, &seen);
    s_append_gen (journal, 500);  //  pending: committed before the rewrite
    assert_int_equal (hd_journal_maybe_compact (journal, 0, s_emit_live, (void *) &s_live, NULL),
                      HD_OK);
    s_append_gen (journal, 501);
    assert_int_equal (hd_journal_commit (journal), HD_OK);
    hd_journal_destroy (&journal);
    journal = s_open (*state, &seen, NULL);
    assert_int_equal (seen.count, 4);  //  the live three, then 501
    s_assert_gen (&seen.recs[3], 501);
    hd_journal_destroy (&journal);
    free (seen.recs);
}

static size_t s_budget;

static ssize_t
s_writev_budget (int fd, const struct iovec *iov, int iovcnt)
{
    assert_int_equal (iovcnt, 1);
    if (s_budget == 0) {
        errno = ENOSPC;
        return -1;
    }
    size_t len = iov[0].iov_len < s_budget ? iov[0].iov_len : s_budget;
    ssize_t n = write (fd, iov[0].iov_base, len);
    s_budget -= n > 0 ? (size_t) n : 0;
    return n;
}

static void
test_journal_compaction_on_full_disk_keeps_old_file (void **state)
{
    seen_t seen = { 0 };
    hd_journal_t *journal = s_open_big (*state, &seen);
    s_budget = 100;
    hd_journal_io_t io = { .writev_fn = s_writev_budget };
    hd_journal_set_io (journal, &io);
    bool done = true;
    assert_int_equal (hd_journal_maybe_compact (journal, 0, s_emit_live, (void *) &s_live, &done),
                      HD_EFULL);
    assert_false (done);
    char tmp[512];
    s_path (tmp, sizeof tmp, *state, "journal.log.tmp");
    assert_int_equal (access (tmp, F_OK), -1);
    hd_journal_set_io (journal, NULL);
    s_append_gen (journal, 100);
    assert_int_equal (hd_journal_commit (journal), HD_OK);  //  still usable
    hd_journal_destroy (&journal);
    free (seen.recs);
    s_assert_replays_first (*state, 101);
}

static void
s_emit_oversize (hd_journal_t *journal, void *arg)
{
    (void) arg;
    static const uint8_t blob[1];
    hd_id_t id = { { 1 } };
    hd_journal_compact_emit (journal, HD_JREC_ACCEPT, &id, blob, HD_JOURNAL_MAX_RECORD, NULL, 0);
    assert_int_equal (hd_journal_compact_emit (journal, HD_JREC_ACCEPT, &id, NULL, 0, NULL, 0),
                      HD_ETOOBIG);  //  the first failure sticks for the rest of the pass
}

static void
test_journal_compaction_emit_failure_keeps_old_file (void **state)
{
    seen_t seen = { 0 };
    hd_journal_t *journal = s_open_big (*state, &seen);
    assert_int_equal (hd_journal_maybe_compact (journal, 0, s_emit_oversize, NULL, NULL),
                      HD_ETOOBIG);
    hd_journal_destroy (&journal);
    free (seen.recs);
    s_assert_replays_first (*state, 100);
}

static int
s_fdatasync_eio (int fd)
{
    (void) fd;
    errno = EIO;
    return -1;
}

static void
test_journal_compaction_sync_failure_is_eio (void **state)
{
    seen_t seen = { 0 };
    hd_journal_t *journal = s_open_big (*state, &seen);
    hd_journal_io_t io = { .fdatasync_fn = s_fdatasync_eio };
    hd_journal_set_io (journal, &io);
    assert_int_equal (hd_journal_maybe_compact (journal, 0, s_emit_live, (void *) &s_live, NULL),
                      HD_EIO);
    assert_int_equal (hd_journal_commit (journal), HD_EIO);  //  sticky
    hd_journal_destroy (&journal);
    free (seen.recs);
    s_assert_replays_first (*state, 100);  //  the rename never happened
}

static int
s_setup (void **state)
{
    char *dir = strdup ("/tmp/hd_journal_XXXXXX");
    if (!dir || !mkdtemp (dir)) {
        free (dir);
        return -1;
    }
    *state = dir;
    return 0;
}

static int
s_teardown (void **state)
{
    char *dir = *state;
    DIR *handle = opendir (dir);
    struct dirent *entry;
    while (handle && (entry = readdir (handle)))
        if (strcmp (entry->d_name, ".") && strcmp (entry->d_name, ".."))
            unlinkat (dirfd (handle), entry->d_name, 0);
    if (handle)
        closedir (handle);
    int rc = rmdir (dir);
    free (dir);
    return rc;
}

//  The CRC (the CPU's instruction where there is one, else the sliced tables) and the tables
//  alone agree with the bitwise one at every length and alignment, and with the standard check
//  value; a CRC continued over a second piece equals the CRC of both pieces at once.
static void
test_journal_crc32c_matches_bitwise (void **state)
{
    (void) state;
    assert_int_equal (hd_journal_crc32c (0, "123456789", 9), 0xe3069283u);
    assert_int_equal (hd_journal_crc32c_sw (0, "123456789", 9), 0xe3069283u);
    static uint8_t buf[600];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t) (i * 131 + (i >> 3) * 7);
    for (size_t off = 0; off < 8; off++)
        for (size_t len = 0; len + off <= 520; len++) {
            uint32_t want = s_crc32c (buf + off, len);
            assert_int_equal (hd_journal_crc32c (0, buf + off, len), want);
            assert_int_equal (hd_journal_crc32c_sw (0, buf + off, len), want);
            size_t cut = len / 3;
            assert_int_equal (hd_journal_crc32c (hd_journal_crc32c (0, buf + off, cut),
                                                 buf + off + cut, len - cut), want);
        }
#if defined(__x86_64__)
    if (!hd_journal_crc32c_hw ())
        print_message ("note: this CPU has no SSE4.2; only the tables were tested\n");
#endif
}

#define S_TEST(name) cmocka_unit_test_setup_teardown (name, s_setup, s_teardown)

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_journal_crc32c_matches_bitwise),
        S_TEST (test_journal_round_trips_records_of_every_type),
        S_TEST (test_journal_replays_in_append_order_across_sessions),
        S_TEST (test_journal_replay_reports_stats),
        S_TEST (test_journal_truncates_torn_tail),
        S_TEST (test_journal_appends_after_torn_tail_survive),
        S_TEST (test_journal_truncates_from_corrupt_crc),
        S_TEST (test_journal_treats_giant_length_as_corruption),
        S_TEST (test_journal_treats_zeroed_tail_as_torn),
        S_TEST (test_journal_refuses_unknown_type_without_truncating),
        S_TEST (test_journal_raw_record_with_known_type_replays),
        S_TEST (test_journal_replay_stops_when_fn_asks),
        S_TEST (test_journal_compaction_keeps_only_live_records),
        S_TEST (test_journal_compaction_not_needed_below_threshold),
        S_TEST (test_journal_compaction_waits_while_live_is_half),
        S_TEST (test_journal_urgent_compaction_ignores_threshold),
        S_TEST (test_journal_reset_cuts_back_to_header),
        S_TEST (test_journal_appends_after_compaction_survive),
        S_TEST (test_journal_compaction_on_full_disk_keeps_old_file),
        S_TEST (test_journal_compaction_emit_failure_keeps_old_file),
        S_TEST (test_journal_compaction_sync_failure_is_eio),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
