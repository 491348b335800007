/*  hd_journal: the broker's append-only log of what it must not lose (accepted tasks, leases,
    results, client acks), with group commit, replay after a crash, and compaction.
    Pure: file I/O only. No sockets, no clock (callers pass now_ms), no knowledge of what the
    blobs mean: a record is a type, a 16-byte id and two opaque blobs. The on-disk format and
    the reasons for a hand-written log are in docs/JOURNAL.md.

    Life cycle (the broker follows this order):
        open -> replay (once) -> { append* -> commit }* -> destroy
    Record durability:
        appended (pending, in memory) --commit HD_OK--> durable
        appended (pending)            --commit HD_EFULL--> discarded (never durable)
        any                           --commit HD_EIO--> journal failed (sticky; stop)  */
#ifndef HD_JOURNAL_H
#define HD_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "hd_codec.h"
#include "hd_err.h"

#define HD_JOURNAL_VERSION 2u                      //  on-disk format version written
#define HD_JOURNAL_VERSION_MIN 1u                  //  oldest version read
#define HD_JOURNAL_MAX_RECORD (64u * 1024 * 1024)  //  bytes after a record's length+CRC words
#define HD_JOURNAL_DEFAULT_COMPACT (64ull * 1024 * 1024)
#define HD_JOURNAL_BATCH_SOFT (4u * 1024 * 1024)  //  a batch this big is due at once

typedef enum { HD_JOURNAL_NONE = 0, HD_JOURNAL_BATCH, HD_JOURNAL_SYNC } hd_journal_mode_t;
typedef enum {
    HD_JREC_ACCEPT = 1,
    HD_JREC_LEASE = 2,
    HD_JREC_RESULT = 3,
    HD_JREC_ACK = 4,
    HD_JREC_DROP = 5
} hd_jrec_type_t;

typedef struct hd_journal hd_journal_t;

typedef struct {
    hd_journal_mode_t mode;
    uint32_t batch_delay_ms;  //  BATCH: longest a record waits for its commit
    uint64_t compact_bytes;   //  compact past this size when live data is under half the file;
                              //  0: HD_JOURNAL_DEFAULT_COMPACT (64 MiB)
    int64_t wall_ms;          //  wall-clock ms since the epoch, stamped into a new file's
                              //  header (informational only; 0 is fine)
} hd_journal_config_t;

//  Open DIR/journal.log, creating it (and DIR/journal.lock) when missing; DIR must exist.
//  The lock file is held with flock (LOCK_EX | LOCK_NB) until destroy, so two brokers can
//  never share a journal dir. `cfg` NULL means SYNC with defaults. In NONE mode nothing is
//  read, written or locked (`dir` may be NULL), and replay sees nothing.
//  HD_OK with *out set (caller destroys). HD_EINVAL: no dir outside NONE mode, bad mode.
//  HD_EIO: DIR missing or unreadable, the journal is locked by another process, the file is
//  not a heddle journal, its header is corrupt or its version unsupported, or creating it
//  failed. HD_ENOMEM. On failure *out stays NULL and errbuf (when given) holds the reason.
hd_err_t hd_journal_open (const char *dir, const hd_journal_config_t *cfg, hd_journal_t **out,
                          char *errbuf, size_t errlen);
//  NULL-safe. Commits pending records first (best effort: a failure is dropped, as the
//  caller never saw those records durable), closes the file and releases the lock.
//  Sets *self_p = NULL.
void hd_journal_destroy (hd_journal_t **self_p);

//  Called once per intact record by replay, in file order. The id and blobs are borrowed and
//  valid only during the call (blobs are never NULL, even when empty). Return 0 to go on,
//  non-zero to stop the replay.
typedef int (hd_journal_replay_fn) (hd_jrec_type_t type, const hd_id_t *id, const void *a,
                                    size_t alen, const void *b, size_t blen, void *arg);
typedef struct {
    uint64_t records;          //  intact records replayed
    uint64_t bytes;            //  their framed size (file header excluded)
    uint64_t truncated_bytes;  //  torn or corrupt tail cut off (0 after a clean shutdown)
} hd_journal_replay_stats_t;

//  Replay every intact record in order. Must be called exactly once, after open and before
//  any append. A torn or corrupt tail (length out of bounds, CRC mismatch, record cut short)
//  ends the log: everything from the first bad record on is truncated away (ftruncate then
//  fdatasync) and counted in stats->truncated_bytes; the caller should log it.
//  HD_OK. HD_EINVAL: fn asked to stop. HD_EIO: a read, truncate or sync failed, or a record
//  has a valid CRC but impossible contents (unknown type, inner lengths that do not add up:
//  written by a newer or broken heddle; nothing is truncated). After HD_EINVAL or HD_EIO the
//  journal is failed (sticky) and only destroy is useful. stats may be NULL.
hd_err_t hd_journal_replay (hd_journal_t *self, hd_journal_replay_fn *fn, void *arg,
                            hd_journal_replay_stats_t *stats);

//  Framed size on disk of a record with blobs of these lengths (for live-size estimates).
uint64_t hd_journal_record_size (size_t alen, size_t blen);

//  Copy one record into the in-memory batch; nothing reaches the disk until commit. Either
//  blob may be empty (pointer may then be NULL). *lsn (may be NULL) gets the record's
//  sequence number: 1, 2, 3... per open, never stored on disk. In NONE mode the record is
//  dropped and counts as durable at once.
//  HD_OK. HD_ETOOBIG: alen + blen over the record bound (HD_JOURNAL_MAX_RECORD less 25).
//  HD_ENOMEM: the batch could not grow (batch unchanged). HD_EIO: the journal has failed.
hd_err_t hd_journal_append (hd_journal_t *self, hd_jrec_type_t type, const hd_id_t *id,
                            const void *a, size_t alen, const void *b, size_t blen, uint64_t *lsn);

//  Group commit: one writev of the whole batch, then (SYNC and BATCH) one fdatasync.
//  HD_OK: everything appended so far is durable, durable_lsn() == the last lsn (also HD_OK
//  with nothing pending). HD_EFULL: the write hit ENOSPC or EDQUOT: the batch is discarded
//  (those lsns never become durable, even when durable_lsn later passes them), the file is cut
//  back to its last durable size, and the journal stays usable. HD_EIO: fdatasync failed or
//  another write error: the journal is failed (sticky; never retry an fsync) and the broker
//  must stop. last_error() has the text for HD_EFULL and HD_EIO.
hd_err_t hd_journal_commit (hd_journal_t *self);

//  The same group commit in three steps, so that the write and fdatasync can run on another
//  thread while the caller goes on appending (the broker's hd_syncer):
//    begin (caller): the pending batch becomes the in-flight one; later appends start a new
//          batch. *started is false when nothing was pending. HD_EIO: the journal has failed.
//          Only one commit may be in flight; commit, compaction and destroy wait for its end.
//    write (any one thread, between begin and end): writev + fdatasync of the in-flight batch;
//          touches nothing but the file and the in-flight batch. Returns 0 or the errno.
//    end   (caller, with what write returned): the outcome, exactly as hd_journal_commit's
//          for the in-flight batch (durable_lsn moves to its last lsn on HD_OK).
hd_err_t hd_journal_commit_begin (hd_journal_t *self, bool *started);
int hd_journal_commit_write (hd_journal_t *self);
hd_err_t hd_journal_commit_end (hd_journal_t *self, int write_err);
bool hd_journal_in_flight (const hd_journal_t *self);

//  Tell the journal the time (any monotonic ms clock). The first record appended into an
//  empty batch is stamped with the latest value: call it at the start of each burst of
//  messages. Never calling it makes BATCH behave like SYNC.
void hd_journal_set_now (hd_journal_t *self, int64_t now_ms);
//  Whether a commit is due at now_ms: SYNC: records are pending. BATCH: the oldest pending
//  record has waited batch_delay_ms, or the batch passed HD_JOURNAL_BATCH_SOFT. NONE: never.
bool hd_journal_commit_due (const hd_journal_t *self, int64_t now_ms);
//  Ms until the next commit is due (0: now), for the reactor's poll timeout; -1 when nothing
//  is pending (or in NONE mode).
int64_t hd_journal_next_commit_ms (const hd_journal_t *self, int64_t now_ms);
//  Highest lsn known durable (0 before the first commit).
uint64_t hd_journal_durable_lsn (const hd_journal_t *self);
//  Records appended and not yet committed (0 after any commit, whatever its result).
uint64_t hd_journal_pending (const hd_journal_t *self);
//  Format version of journal.log as opened (records of older versions read differently: the
//  caller's blobs may have another layout); HD_JOURNAL_VERSION after a compaction, for a new
//  file, and in NONE mode. An older file is rewritten by the next hd_journal_maybe_compact.
uint32_t hd_journal_version (const hd_journal_t *self);
//  Size of journal.log as last made durable, file header included (0 in NONE mode).
uint64_t hd_journal_size (const hd_journal_t *self);
//  Text of the last HD_EFULL / HD_EIO (from open's checks, replay, commit or compaction); ""
//  when none. Borrowed, valid until the next call on the journal.
const char *hd_journal_last_error (const hd_journal_t *self);

//  Compaction. live() must emit every live record (through hd_journal_compact_emit) and
//  nothing else; it is called only from inside maybe_compact.
typedef void (hd_journal_live_fn) (hd_journal_t *self, void *arg);
//  Inside live() only: add one record to the new file. HD_OK; HD_ETOOBIG; HD_ENOMEM;
//  HD_EFULL / HD_EIO (the first failure is kept and returned by maybe_compact, and every
//  later emit returns it at once, so live() may ignore the result).
hd_err_t hd_journal_compact_emit (hd_journal_t *self, hd_jrec_type_t type, const hd_id_t *id,
                                  const void *a, size_t alen, const void *b, size_t blen);
//  Compact when the file is over compact_bytes and live_bytes_estimate (framed bytes, see
//  record_size) is under half the file; *done (may be NULL) says whether it ran. Commits
//  pending records first. Writes journal.log.tmp, fdatasyncs it, renames it over
//  journal.log and fsyncs the directory; the journal then appends to the new file.
//  HD_OK (also when not needed). HD_EFULL: no room for the new file: it is removed and the
//  old one stays in use (journal usable). HD_EIO: sync, rename or other write failure
//  (sticky). HD_ENOMEM / HD_ETOOBIG from emit: new file removed, old one kept.
hd_err_t hd_journal_maybe_compact (hd_journal_t *self, uint64_t live_bytes_estimate,
                                   hd_journal_live_fn *live, void *arg, bool *done);
//  Space is short (the disk is nearly full, or a commit failed for lack of it): while set,
//  maybe_compact runs whatever the file's size once a quarter of it (and 4 KiB) is not live.
void hd_journal_set_urgent (hd_journal_t *self, bool urgent);
//  Whether hd_journal_maybe_compact would compact now (same estimate, same urgency).
bool hd_journal_compact_wanted (const hd_journal_t *self, uint64_t live_bytes_estimate);
//  The caller holds no live record at all: commit what is pending (records a full disk refuses
//  are dropped) and cut journal.log back to its header in place, which needs no free space.
//  HD_OK; HD_EIO (sticky).
hd_err_t hd_journal_reset (hd_journal_t *self);

//  Test hook: the calls commit and compaction use to write and sync. Copied; NULL (or a NULL
//  member) restores the real writev / fdatasync.
typedef struct {
    ssize_t (*writev_fn) (int, const struct iovec *, int);
    int (*fdatasync_fn) (int);
} hd_journal_io_t;
void hd_journal_set_io (hd_journal_t *self, const hd_journal_io_t *io);

#endif
