/*  Unit tests for hd_journal: open and its lock, the file header and record bytes, append,
    group commit and its timing, NONE mode, and write / fdatasync failures injected through
    hd_journal_set_io. Replay, torn tails and compaction are in test_journal_replay.c.
    Each test runs in a fresh mkdtemp directory under /tmp, removed afterwards.  */
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

#define S_HEADER 24  //  file header size (docs/JOURNAL.md)

//  Fake I/O: writev passes s_budget bytes through, then fails with s_errno.
static size_t s_budget;
static int s_errno;

static ssize_t
s_writev_budget (int fd, const struct iovec *iov, int iovcnt)
{
    assert_int_equal (iovcnt, 1);
    if (s_budget == 0) {
        errno = s_errno;
        return -1;
    }
    size_t len = iov[0].iov_len < s_budget ? iov[0].iov_len : s_budget;
    ssize_t n = write (fd, iov[0].iov_base, len);
    if (n > 0)
        s_budget -= (size_t) n;
    return n;
}

static int
s_fdatasync_eio (int fd)
{
    (void) fd;
    errno = EIO;
    return -1;
}

static void
s_fail_writes_after (hd_journal_t *journal, size_t budget, int err)
{
    s_budget = budget;
    s_errno = err;
    hd_journal_io_t io = { .writev_fn = s_writev_budget };
    hd_journal_set_io (journal, &io);
}

static int
s_count (hd_jrec_type_t type, const hd_id_t *id, const void *a, size_t alen, const void *b,
         size_t blen, void *arg)
{
    (void) type, (void) id, (void) a, (void) alen, (void) b, (void) blen;
    (*(uint64_t *) arg)++;
    return 0;
}

//  Open DIR in `mode` and replay; *records (may be NULL) gets the number of records seen.
static hd_journal_t *
s_open (const char *dir, hd_journal_mode_t mode, uint64_t *records)
{
    hd_journal_config_t cfg = { .mode = mode, .batch_delay_ms = 50 };
    hd_journal_t *journal = NULL;
    char err[256] = "";
    assert_int_equal (hd_journal_open (dir, &cfg, &journal, err, sizeof err), HD_OK);
    uint64_t count = 0;
    assert_int_equal (hd_journal_replay (journal, s_count, &count, NULL), HD_OK);
    if (records)
        *records = count;
    return journal;
}

static uint64_t
s_reopen_count (const char *dir)
{
    uint64_t count = 0;
    hd_journal_t *journal = s_open (dir, HD_JOURNAL_SYNC, &count);
    hd_journal_destroy (&journal);
    return count;
}

static hd_id_t
s_id (uint8_t seed)
{
    hd_id_t id;
    for (size_t i = 0; i < sizeof id.b; i++)
        id.b[i] = (uint8_t) (seed + i);
    return id;
}

static void
s_append (hd_journal_t *journal, uint8_t seed, uint64_t *lsn)
{
    hd_id_t id = s_id (seed);
    assert_int_equal (
        hd_journal_append (journal, HD_JREC_ACCEPT, &id, "envelope", 8, "payload", 7, lsn), HD_OK);
}

static uint64_t
s_file_size (const char *dir, const char *name)
{
    char path[512];
    struct stat st;
    snprintf (path, sizeof path, "%s/%s", dir, name);
    if (stat (path, &st) != 0)
        return UINT64_MAX;
    return (uint64_t) st.st_size;
}

static void
s_write_file (const char *dir, const char *name, const void *data, size_t len)
{
    char path[512];
    snprintf (path, sizeof path, "%s/%s", dir, name);
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true (fd >= 0);
    assert_int_equal (write (fd, data, len), (ssize_t) len);
    close (fd);
}

static hd_err_t
s_try_open (const char *dir, char *err, size_t errlen)
{
    hd_journal_t *journal = NULL;
    hd_err_t rc = hd_journal_open (dir, NULL, &journal, err, errlen);
    if (rc != HD_OK)
        assert_null (journal);
    hd_journal_destroy (&journal);
    return rc;
}

static void
test_journal_creates_file_with_header (void **state)
{
    hd_journal_t *journal = s_open (*state, HD_JOURNAL_SYNC, NULL);
    assert_int_equal (hd_journal_size (journal), S_HEADER);
    assert_int_equal (s_file_size (*state, "journal.log"), S_HEADER);
    hd_journal_destroy (&journal);
    assert_null (journal);
}

//  Pins the on-disk format: these bytes were computed independently (bitwise CRC32C).
static void
test_journal_writes_documented_format (void **state)
{
    static const uint8_t want[] = {
        0x48, 0x44, 0x4a, 0x31, 0x02, 0x00, 0x00, 0x00, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02,
        0x01, 0x00, 0x00, 0x00, 0x00, 0xe3, 0xf9, 0xef, 0x7b, 0x1b, 0x00, 0x00, 0x00, 0xaf, 0x23,
        0x08, 0xcf, 0x01, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b,
        0x0c, 0x0d, 0x0e, 0x0f, 0x02, 0x00, 0x00, 0x00, 0x61, 0x62, 0x00, 0x00, 0x00, 0x00,
    };
    hd_journal_config_t cfg = { .mode = HD_JOURNAL_SYNC, .wall_ms = 0x0102030405060708 };
    hd_journal_t *journal = NULL;
    assert_int_equal (hd_journal_open (*state, &cfg, &journal, NULL, 0), HD_OK);
    assert_int_equal (hd_journal_replay (journal, s_count, &(uint64_t){ 0 }, NULL), HD_OK);
    hd_id_t id = s_id (0);
    assert_int_equal (hd_journal_append (journal, HD_JREC_ACCEPT, &id, "ab", 2, NULL, 0, NULL),
                      HD_OK);
    assert_int_equal (hd_journal_commit (journal), HD_OK);
    hd_journal_destroy (&journal);
    uint8_t got[sizeof want + 1];
    char path[512];
    snprintf (path, sizeof path, "%s/journal.log", (char *) *state);
    int fd = open (path, O_RDONLY);
    assert_int_equal (read (fd, got, sizeof got), (ssize_t) sizeof want);
    close (fd);
    assert_memory_equal (got, want, sizeof want);
}

static void
test_journal_second_open_is_locked (void **state)
{
    hd_journal_t *first = s_open (*state, HD_JOURNAL_SYNC, NULL);
    char err[256] = "";
    assert_int_equal (s_try_open (*state, err, sizeof err), HD_EIO);
    assert_non_null (strstr (err, "locked"));
    hd_journal_destroy (&first);
}

static void
test_journal_lock_released_by_destroy (void **state)
{
    hd_journal_t *first = s_open (*state, HD_JOURNAL_SYNC, NULL);
    hd_journal_destroy (&first);
    assert_int_equal (s_try_open (*state, NULL, 0), HD_OK);
}

static void
test_journal_open_missing_dir_is_eio (void **state)
{
    char dir[512], err[256] = "";
    snprintf (dir, sizeof dir, "%s/absent", (char *) *state);
    assert_int_equal (s_try_open (dir, err, sizeof err), HD_EIO);
    assert_non_null (strstr (err, "absent"));
}

static void
test_journal_open_needs_dir_unless_none (void **state)
{
    (void) state;
    hd_journal_t *journal = NULL;
    char err[256] = "";
    assert_int_equal (hd_journal_open (NULL, NULL, &journal, err, sizeof err), HD_EINVAL);
    assert_null (journal);
    assert_true (strlen (err) > 0);
}

static void
test_journal_open_rejects_unknown_mode (void **state)
{
    hd_journal_config_t cfg = { .mode = (hd_journal_mode_t) 7 };
    hd_journal_t *journal = NULL;
    assert_int_equal (hd_journal_open (*state, &cfg, &journal, NULL, 0), HD_EINVAL);
    assert_null (journal);
}

static void
test_journal_open_rejects_foreign_file (void **state)
{
    const char text[] = "this is somebody else's log file, not a journal";
    s_write_file (*state, "journal.log", text, sizeof text);
    char err[256] = "";
    assert_int_equal (s_try_open (*state, err, sizeof err), HD_EIO);
    assert_non_null (strstr (err, "not a heddle journal"));
    assert_int_equal (s_file_size (*state, "journal.log"), sizeof text);  //  left alone
}

static void
test_journal_open_rejects_newer_version (void **state)
{
    uint8_t hdr[S_HEADER] = { 'H', 'D', 'J', '1', 3, 0, 0, 0 };
    s_write_file (*state, "journal.log", hdr, sizeof hdr);
    char err[256] = "";
    assert_int_equal (s_try_open (*state, err, sizeof err), HD_EIO);
    assert_non_null (strstr (err, "version 3"));
}

static void
s_emit_nothing (hd_journal_t *journal, void *arg)
{
    (void) journal;
    (void) arg;
}

//  A format-1 file (its header computed independently) is read, reports its version, and is
//  rewritten in the current format by the next compaction whatever its size.
static void
test_journal_reads_version_1_and_rewrites_it (void **state)
{
    static const uint8_t v1[S_HEADER] = { 0x48, 0x44, 0x4a, 0x31, 0x01, 0x00, 0x00, 0x00,
                                          0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
                                          0x00, 0x00, 0x00, 0x00, 0x10, 0x99, 0x17, 0x68 };
    s_write_file (*state, "journal.log", v1, sizeof v1);
    hd_journal_config_t cfg = { .mode = HD_JOURNAL_SYNC };
    hd_journal_t *journal = NULL;
    assert_int_equal (hd_journal_open (*state, &cfg, &journal, NULL, 0), HD_OK);
    assert_int_equal (hd_journal_replay (journal, s_count, &(uint64_t){ 0 }, NULL), HD_OK);
    assert_int_equal (hd_journal_version (journal), 1);
    bool done = false;
    assert_int_equal (hd_journal_maybe_compact (journal, 0, s_emit_nothing, NULL, &done), HD_OK);
    assert_true (done);
    assert_int_equal (hd_journal_version (journal), HD_JOURNAL_VERSION);
    hd_journal_destroy (&journal);
    assert_int_equal (hd_journal_open (*state, &cfg, &journal, NULL, 0), HD_OK);
    assert_int_equal (hd_journal_version (journal), HD_JOURNAL_VERSION);
    hd_journal_destroy (&journal);
}

static void
test_journal_open_rejects_corrupt_header (void **state)
{
    uint8_t hdr[S_HEADER] = { 'H', 'D', 'J', '1', 1, 0, 0, 0, 42 };  //  CRC left zero
    s_write_file (*state, "journal.log", hdr, sizeof hdr);
    char err[256] = "";
    assert_int_equal (s_try_open (*state, err, sizeof err), HD_EIO);
    assert_non_null (strstr (err, "corrupt"));
}

//  A crash while the file was being created leaves a partial header: nothing to lose.
static void
test_journal_open_rewrites_partial_header (void **state)
{
    s_write_file (*state, "journal.log", "HDJ", 3);
    assert_int_equal (s_try_open (*state, NULL, 0), HD_OK);
    assert_int_equal (s_file_size (*state, "journal.log"), S_HEADER);
}

static void
test_journal_open_removes_stale_tmp (void **state)
{
    s_write_file (*state, "journal.log.tmp", "half a compaction", 17);
    assert_int_equal (s_try_open (*state, NULL, 0), HD_OK);
    assert_int_equal (s_file_size (*state, "journal.log.tmp"), UINT64_MAX);
}

static void
test_journal_none_mode_writes_no_file (void **state)
{
    hd_journal_t *journal = s_open (*state, HD_JOURNAL_NONE, NULL);
    s_append (journal, 1, NULL);
    assert_int_equal (hd_journal_commit (journal), HD_OK);
    hd_journal_destroy (&journal);
    DIR *dir = opendir (*state);
    struct dirent *entry;
    int entries = 0;
    while ((entry = readdir (dir)))
        entries += strcmp (entry->d_name, ".") && strcmp (entry->d_name, "..");
    closedir (dir);
    assert_int_equal (entries, 0);
}

static void
test_journal_none_mode_replays_nothing (void **state)
{
    hd_journal_t *journal = s_open (*state, HD_JOURNAL_SYNC, NULL);
    s_append (journal, 1, NULL);
    hd_journal_destroy (&journal);
    uint64_t records = 99;
    journal = s_open (*state, HD_JOURNAL_NONE, &records);
    assert_int_equal (records, 0);
    hd_journal_destroy (&journal);
}

static void
test_journal_none_mode_append_is_durable_at_once (void **state)
{
    hd_journal_t *journal = s_open (*state, HD_JOURNAL_NONE, NULL);
    uint64_t lsn = 0;
    s_append (journal, 1, &lsn);
    assert_int_equal (lsn, 1);
    assert_int_equal (hd_journal_durable_lsn (journal), 1);
    assert_int_equal (hd_journal_pending (journal), 0);
    assert_int_equal (hd_journal_next_commit_ms (journal, 0), -1);
    hd_journal_destroy (&journal);
}

static void
test_journal_append_is_not_written_before_commit (void **state)
{
    hd_journal_t *journal = s_open (*state, HD_JOURNAL_SYNC, NULL);
    s_append (journal, 1, NULL);
    assert_int_equal (s_file_size (*state, "journal.log"), S_HEADER);
    assert_int_equal (hd_journal_pending (journal), 1);
    hd_journal_destroy (&journal);
}

static void
test_journal_commit_advances_durable_lsn (void **state)
{
    hd_journal_t *journal = s_open (*state, HD_JOURNAL_SYNC, NULL);
    uint64_t lsn[3];
    for (int i = 0; i < 3; i++)
        s_append (journal, (uint8_t) i, &lsn[i]);
    assert_true (lsn[0] == 1 && lsn[1] == 2 && lsn[2] == 3);
    assert_int_equal (hd_journal_durable_lsn (journal), 0);
    assert_int_equal (hd_journal_commit (journal), HD_OK);
    assert_int_equal (hd_journal_durable_lsn (journal), 3);
    assert_int_equal (hd_journal_pending (journal), 0);
    assert_int_equal (hd_journal_size (journal), S_HEADER + 3 * hd_journal_record_size (8, 7));
    assert_int_equal (s_file_size (*state, "journal.log"), hd_journal_size (journal));
    hd_journal_destroy (&journal);
}

static void
test_journal_commit_with_nothing_pending_is_ok (void **state)
{
    hd_journal_t *journal = s_open (*state, HD_JOURNAL_SYNC, NULL);
    assert_int_equal (hd_journal_commit (journal), HD_OK);
    assert_int_equal (hd_journal_size (journal), S_HEADER);
    hd_journal_destroy (&journal);
}

static void
test_journal_destroy_commits_pending (void **state)
{
    hd_journal_t *journal = s_open (*state, HD_JOURNAL_BATCH, NULL);
    s_append (journal, 1, NULL);
    s_append (journal, 2, NULL);
    hd_journal_destroy (&journal);
    assert_int_equal (s_reopen_count (*state), 2);
}

static void
test_journal_append_rejects_oversize (void **state)
{
    hd_journal_t *journal = s_open (*state, HD_JOURNAL_SYNC, NULL);
    static const uint8_t blob[1];
    hd_id_t id = s_id (1);
    //  rejected on the length alone, before the blob is read
    assert_int_equal (hd_journal_append (journal, HD_JREC_RESULT, &id, blob, 1, blob,
                                         HD_JOURNAL_MAX_RECORD, NULL),
                      HD_ETOOBIG);
    assert_int_equal (hd_journal_pending (journal), 0);
    hd_journal_destroy (&journal);
}

static void
test_journal_sync_commit_due_at_once (void **state)
{
    hd_journal_t *journal = s_open (*state, HD_JOURNAL_SYNC, NULL);
    hd_journal_set_now (journal, 1000);
    s_append (journal, 1, NULL);
    assert_true (hd_journal_commit_due (journal, 1000));
    assert_int_equal (hd_journal_next_commit_ms (journal, 1000), 0);
    hd_journal_destroy (&journal);
}

static void
test_journal_idle_has_no_commit_due (void **state)
{
    hd_journal_t *journal = s_open (*state, HD_JOURNAL_BATCH, NULL);
    assert_false (hd_journal_commit_due (journal, 5000));
    assert_int_equal (hd_journal_next_commit_ms (journal, 5000), -1);
    s_append (journal, 1, NULL);
    assert_int_equal (hd_journal_commit (journal), HD_OK);
    assert_int_equal (hd_journal_next_commit_ms (journal, 5000), -1);
    hd_journal_destroy (&journal);
}

//  s_open sets batch_delay_ms = 50; the batch is stamped when its first record arrives.
static void
test_journal_batch_commit_due_after_delay (void **state)
{
    hd_journal_t *journal = s_open (*state, HD_JOURNAL_BATCH, NULL);
    hd_journal_set_now (journal, 1000);
    s_append (journal, 1, NULL);
    hd_journal_set_now (journal, 1030);
    s_append (journal, 2, NULL);  //  joins the batch; does not restart its clock
    assert_false (hd_journal_commit_due (journal, 1049));
    assert_int_equal (hd_journal_next_commit_ms (journal, 1030), 20);
    assert_int_equal (hd_journal_next_commit_ms (journal, 1049), 1);
    assert_true (hd_journal_commit_due (journal, 1050));
    assert_int_equal (hd_journal_next_commit_ms (journal, 1100), 0);
    hd_journal_destroy (&journal);
}

static void
test_journal_batch_due_at_once_when_large (void **state)
{
    hd_journal_t *journal = s_open (*state, HD_JOURNAL_BATCH, NULL);
    uint8_t *big = calloc (1, HD_JOURNAL_BATCH_SOFT);
    assert_non_null (big);
    hd_journal_set_now (journal, 1000);
    hd_id_t id = s_id (1);
    assert_int_equal (
        hd_journal_append (journal, HD_JREC_RESULT, &id, NULL, 0, big, HD_JOURNAL_BATCH_SOFT, NULL),
        HD_OK);
    free (big);
    assert_true (hd_journal_commit_due (journal, 1000));
    hd_journal_destroy (&journal);
}

//  The three-step commit: records appended while a batch is in flight join the next batch;
//  end makes exactly the in-flight ones durable; a full disk refuses only them.
static void
test_journal_commit_in_three_steps (void **state)
{
    hd_journal_t *journal = s_open (*state, HD_JOURNAL_SYNC, NULL);
    uint64_t lsn1 = 0, lsn3 = 0;
    s_append (journal, 1, &lsn1);
    bool started = false;
    assert_int_equal (hd_journal_commit_begin (journal, &started), HD_OK);
    assert_true (started);
    assert_true (hd_journal_in_flight (journal));
    s_append (journal, 2, NULL);
    s_append (journal, 3, &lsn3);
    assert_int_equal (hd_journal_pending (journal), 2);
    assert_int_equal (hd_journal_commit_end (journal, hd_journal_commit_write (journal)), HD_OK);
    assert_false (hd_journal_in_flight (journal));
    assert_int_equal (hd_journal_durable_lsn (journal), lsn1);
    assert_int_equal (hd_journal_pending (journal), 2);
    uint64_t durable = hd_journal_size (journal);
    //  The next batch hits a full disk: refused, the file cut back; later appends are fine.
    assert_int_equal (hd_journal_commit_begin (journal, &started), HD_OK);
    s_fail_writes_after (journal, 10, ENOSPC);
    int err = hd_journal_commit_write (journal);
    assert_int_equal (err, ENOSPC);
    hd_journal_set_io (journal, NULL);
    s_append (journal, 4, NULL);
    assert_int_equal (hd_journal_commit_end (journal, err), HD_EFULL);
    assert_int_equal (hd_journal_durable_lsn (journal), lsn1);
    assert_int_equal (s_file_size (*state, "journal.log"), durable);
    assert_int_equal (hd_journal_pending (journal), 1);
    assert_int_equal (hd_journal_commit (journal), HD_OK);
    assert_true (hd_journal_durable_lsn (journal) > lsn3);
    //  Nothing pending: begin starts nothing.
    assert_int_equal (hd_journal_commit_begin (journal, &started), HD_OK);
    assert_false (started);
    hd_journal_destroy (&journal);
    assert_int_equal (s_reopen_count (*state), 2);  //  1 and 4; 2 and 3 were refused
}

//  A write that stops part way with ENOSPC: the file must end on a record boundary again.
static void
test_journal_enospc_is_full_and_restores_size (void **state)
{
    hd_journal_t *journal = s_open (*state, HD_JOURNAL_SYNC, NULL);
    s_append (journal, 1, NULL);
    assert_int_equal (hd_journal_commit (journal), HD_OK);
    uint64_t durable = hd_journal_size (journal);
    s_append (journal, 2, NULL);
    s_append (journal, 3, NULL);
    s_fail_writes_after (journal, 50, ENOSPC);
    assert_int_equal (hd_journal_commit (journal), HD_EFULL);
    assert_non_null (strstr (hd_journal_last_error (journal), "space"));
    assert_int_equal (s_file_size (*state, "journal.log"), durable);
    assert_int_equal (hd_journal_size (journal), durable);
    assert_int_equal (hd_journal_pending (journal), 0);
    assert_int_equal (hd_journal_durable_lsn (journal), 1);
    hd_journal_destroy (&journal);
}

static void
test_journal_commit_works_again_after_full_disk (void **state)
{
    hd_journal_t *journal = s_open (*state, HD_JOURNAL_SYNC, NULL);
    s_append (journal, 1, NULL);
    assert_int_equal (hd_journal_commit (journal), HD_OK);
    s_append (journal, 2, NULL);
    s_fail_writes_after (journal, 0, ENOSPC);
    assert_int_equal (hd_journal_commit (journal), HD_EFULL);
    hd_journal_set_io (journal, NULL);
    uint64_t lsn = 0;
    s_append (journal, 3, &lsn);
    assert_int_equal (hd_journal_commit (journal), HD_OK);
    assert_int_equal (hd_journal_durable_lsn (journal), lsn);
    hd_journal_destroy (&journal);
    assert_int_equal (s_reopen_count (*state), 2);  //  1 and 3; 2 was refused
}

static void
test_journal_edquot_is_full (void **state)
{
    hd_journal_t *journal = s_open (*state, HD_JOURNAL_SYNC, NULL);
    s_append (journal, 1, NULL);
    s_fail_writes_after (journal, 0, EDQUOT);
    assert_int_equal (hd_journal_commit (journal), HD_EFULL);
    hd_journal_set_io (journal, NULL);
    s_append (journal, 2, NULL);
    assert_int_equal (hd_journal_commit (journal), HD_OK);
    hd_journal_destroy (&journal);
}

static void
test_journal_write_error_is_sticky_eio (void **state)
{
    hd_journal_t *journal = s_open (*state, HD_JOURNAL_SYNC, NULL);
    s_append (journal, 1, NULL);
    s_fail_writes_after (journal, 0, EIO);
    assert_int_equal (hd_journal_commit (journal), HD_EIO);
    hd_journal_set_io (journal, NULL);
    hd_id_t id = s_id (2);
    assert_int_equal (hd_journal_append (journal, HD_JREC_ACK, &id, NULL, 0, NULL, 0, NULL),
                      HD_EIO);
    hd_journal_destroy (&journal);
}

//  An fsync error means durability is unknown: never retried, the journal stays failed.
static void
test_journal_fdatasync_failure_is_sticky_eio (void **state)
{
    hd_journal_t *journal = s_open (*state, HD_JOURNAL_SYNC, NULL);
    hd_journal_io_t io = { .fdatasync_fn = s_fdatasync_eio };
    hd_journal_set_io (journal, &io);
    s_append (journal, 1, NULL);
    assert_int_equal (hd_journal_commit (journal), HD_EIO);
    assert_non_null (strstr (hd_journal_last_error (journal), "fdatasync"));
    assert_int_equal (hd_journal_durable_lsn (journal), 0);
    hd_journal_set_io (journal, NULL);
    hd_id_t id = s_id (2);
    assert_int_equal (hd_journal_append (journal, HD_JREC_ACK, &id, NULL, 0, NULL, 0, NULL),
                      HD_EIO);
    assert_int_equal (hd_journal_commit (journal), HD_EIO);
    hd_journal_destroy (&journal);
}

static int
s_setup (void **state)
{
    char *dir = strdup ("/tmp/hd_journal_XXXXXX");
    if (!dir || !mkdtemp (dir)) {
        free (dir);
        return -1;
    }
    s_budget = SIZE_MAX;
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

static void
test_journal_destroy_is_null_safe (void **state)
{
    (void) state;
    hd_journal_t *journal = NULL;
    hd_journal_destroy (&journal);
    hd_journal_destroy (NULL);
}

#define S_TEST(name) cmocka_unit_test_setup_teardown (name, s_setup, s_teardown)

int
main (void)
{
    const struct CMUnitTest tests[] = {
        S_TEST (test_journal_creates_file_with_header),
        S_TEST (test_journal_writes_documented_format),
        S_TEST (test_journal_second_open_is_locked),
        S_TEST (test_journal_lock_released_by_destroy),
        S_TEST (test_journal_open_missing_dir_is_eio),
        S_TEST (test_journal_open_needs_dir_unless_none),
        S_TEST (test_journal_open_rejects_unknown_mode),
        S_TEST (test_journal_open_rejects_foreign_file),
        S_TEST (test_journal_reads_version_1_and_rewrites_it),
        S_TEST (test_journal_open_rejects_newer_version),
        S_TEST (test_journal_open_rejects_corrupt_header),
        S_TEST (test_journal_open_rewrites_partial_header),
        S_TEST (test_journal_open_removes_stale_tmp),
        S_TEST (test_journal_none_mode_writes_no_file),
        S_TEST (test_journal_none_mode_replays_nothing),
        S_TEST (test_journal_none_mode_append_is_durable_at_once),
        S_TEST (test_journal_append_is_not_written_before_commit),
        S_TEST (test_journal_commit_advances_durable_lsn),
        S_TEST (test_journal_commit_with_nothing_pending_is_ok),
        S_TEST (test_journal_destroy_commits_pending),
        S_TEST (test_journal_append_rejects_oversize),
        S_TEST (test_journal_sync_commit_due_at_once),
        S_TEST (test_journal_idle_has_no_commit_due),
        S_TEST (test_journal_batch_commit_due_after_delay),
        S_TEST (test_journal_batch_due_at_once_when_large),
        S_TEST (test_journal_commit_in_three_steps),
        S_TEST (test_journal_enospc_is_full_and_restores_size),
        S_TEST (test_journal_commit_works_again_after_full_disk),
        S_TEST (test_journal_edquot_is_full),
        S_TEST (test_journal_write_error_is_sticky_eio),
        S_TEST (test_journal_fdatasync_failure_is_sticky_eio),
        cmocka_unit_test (test_journal_destroy_is_null_safe),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
