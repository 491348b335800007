/*  hd_jobstore: the broker's detached jobs on disk (docs/PROTOCOL.md section 15, docs/JOURNAL.md).
    Each job has DIR/<job>.meta (text: owner key, name, total, created, ttl, cancelled; written
    atomically: tmp + fsync + rename + fsync of DIR) and DIR/<job>.results, its result store: a
    sequence of (bin envelope, bin output) MessagePack pairs, exactly hd_pack's pair encoding,
    appended as results come and never rewritten. Per job it keeps the bitmap of the input
    indices stored and the counts (ok, failed, cancelled), and over all jobs the store bytes
    (the budget's figure). Loading scans every store: a torn last pair is truncated away, and
    pairs whose envelope is not a result of this job (or repeats an index) end the store there.
    Pure: files only, no sockets, no clock (callers pass ms). A store append is a write without
    fdatasync; hd_jobstore_dirty_fds hands the stores written since to whoever syncs them before
    the journal records that depend on them are committed.  */
#ifndef HD_JOBSTORE_H
#define HD_JOBSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hd_buf.h"
#include "hd_codec_jobs.h"
#include "hd_err.h"

#define HD_JOBSTORE_NONE UINT32_MAX
#define HD_JOBSTORE_RATE_SLOTS 6      //  rate window: 6 x 10 s
#define HD_JOBSTORE_MAX_TOTAL (1u << 26)  //  inputs in one job at most (an 8 MiB bitmap)

typedef struct {
    char job[HD_JOB_ID_LEN + 1];
    char owner[41];                   //  Z85 client key; "" insecure
    char name[HD_MAX_JOB_NAME + 1];
    uint32_t total;
    uint32_t ttl_s;
    int64_t created_ms;               //  wall clock, ms since the epoch
    bool cancelled;
    //  from the store
    uint32_t stored, ok, failed, ncancelled;
    uint64_t bytes;
    uint8_t nonce[8];                 //  the job id's 8 bytes: its tasks' ids start with them
    //  the caller's
    uint32_t session;                 //  the broker's session index for the job
    int64_t running_ms;               //  when `running` was counted (JOB_DATA's, cached)
    uint32_t running;
    int64_t rate_at_s;                //  rate window: the newest 10-second slot
    uint32_t rate[HD_JOBSTORE_RATE_SLOTS];
} hd_jobrec_t;

typedef struct hd_jobstore hd_jobstore_t;

//  Open DIR (created 0700 when missing) and load every job in it: *out (caller destroys).
//  Files of a job with a meta file that does not parse are left alone and logged through
//  `warn` (may be NULL). HD_OK; HD_EIO (errbuf says why); HD_ENOMEM.
hd_err_t hd_jobstore_open (const char *dir, hd_jobstore_t **out,
                           void (*warn) (const char *text), char *errbuf, size_t errlen);
void hd_jobstore_destroy (hd_jobstore_t **self_p);

//  Job slots: indices 0..hd_jobstore_slots - 1, free ones NULL. Borrowed until the next create.
uint32_t hd_jobstore_slots (const hd_jobstore_t *self);
hd_jobrec_t *hd_jobstore_at (const hd_jobstore_t *self, uint32_t i);
//  The job's slot, or HD_JOBSTORE_NONE.
uint32_t hd_jobstore_find (const hd_jobstore_t *self, const char *job);
uint32_t hd_jobstore_count (const hd_jobstore_t *self);
//  Open jobs of an owner key (a scan).
uint32_t hd_jobstore_owner_jobs (const hd_jobstore_t *self, const char *owner);
//  Bytes of every store.
uint64_t hd_jobstore_bytes (const hd_jobstore_t *self);

//  A new job from `meta` (job, owner, name, total 1..HD_JOBSTORE_MAX_TOTAL, ttl, created): its
//  meta file written durably and an empty store created. *out its slot. HD_OK; HD_EINVAL (a job
//  of that id exists, or a bad field); HD_EFULL (no space); HD_EIO; HD_ENOMEM.
hd_err_t hd_jobstore_create (hd_jobstore_t *self, const hd_jobrec_t *meta, uint32_t *out);
//  Mark the job cancelled, durably (its meta file rewritten). HD_OK; HD_EFULL; HD_EIO.
hd_err_t hd_jobstore_cancel (hd_jobstore_t *self, uint32_t i);
//  Remove both files and free the slot.
void hd_jobstore_remove (hd_jobstore_t *self, uint32_t i);

//  The input index of task `id` of the job `rec` (the id is the job's nonce + a big-endian
//  index < total): hd_job_task_index without parsing the job id again.
static inline bool
hd_jobrec_index (const hd_jobrec_t *rec, const uint8_t id[16], uint64_t *index)
{
    if (memcmp (id, rec->nonce, 8) != 0)
        return false;
    uint64_t n = 0;
    for (int i = 8; i < 16; i++)
        n = n << 8 | id[i];
    *index = n;
    return n < rec->total;
}

//  Whether input `index` has its result stored.
bool hd_jobstore_has (const hd_jobstore_t *self, uint32_t i, uint64_t index);
//  The first index >= `from` whose result is not stored (total when none): skips stored ones
//  64 at a time.
uint64_t hd_jobstore_next_missing (const hd_jobstore_t *self, uint32_t i, uint64_t from);
//  Append the result of input `index` (< total, not stored yet) with wire status `status`:
//  one pair (env, output) written at the store's end (no fdatasync). HD_OK: counted and marked.
//  HD_EFULL (ENOSPC / EDQUOT) or HD_EIO: nothing of it stays in the store (cut back); the caller
//  keeps the result and tries again later. HD_EINVAL: index out of range or already stored.
hd_err_t hd_jobstore_append (hd_jobstore_t *self, uint32_t i, uint64_t index, uint32_t status,
                             const void *env, size_t env_size, const void *out, size_t out_size,
                             int64_t now_ms);
//  One result of hd_jobstore_append_many.
typedef struct {
    uint64_t index;
    uint32_t status;
    const void *env, *out;
    size_t env_size, out_size;
} hd_jobstore_item_t;

//  hd_jobstore_append of `n` results of job `i` at once: their pairs written with as few
//  pwritev as the system allows (one per HD_JOBSTORE_BATCH), all or none. Every index must be
//  < total, not stored, and appear once (HD_EINVAL, nothing written, when one is not). HD_OK:
//  all counted and marked; HD_EFULL / HD_EIO: none (the store cut back).
#define HD_JOBSTORE_BATCH 256
hd_err_t hd_jobstore_append_many (hd_jobstore_t *self, uint32_t i,
                                  const hd_jobstore_item_t *items, uint32_t n, int64_t now_ms);
//  Whole pairs stored from byte `off` on, up to `max` bytes (at least one pair when one is
//  there), appended to `buf` (reset first). *next: the offset after the last pair read; *count
//  pairs. `off` past the end reads nothing (*next = off). HD_OK; HD_EIO (a read failed or
//  the bytes at `off` are not a pair: `off` was not 0 or a `next`); HD_ENOMEM.
hd_err_t hd_jobstore_read (hd_jobstore_t *self, uint32_t i, uint64_t off, uint32_t max,
                           hd_buf_t *buf, uint64_t *next, uint32_t *count);
//  Results per second over the last minute (HD_JOBSTORE_RATE_SLOTS x 10 s) at now_ms.
double hd_jobstore_rate (const hd_jobrec_t *rec, int64_t now_ms);

//  Stores appended to since the last call, each dup'ed (the caller fdatasyncs and closes them);
//  their dirty mark is cleared. `max` must be at least hd_jobstore_slots. Returns how many, or
//  -1 when a dup failed (none taken: the caller syncs with hd_jobstore_sync instead).
int hd_jobstore_dirty_fds (hd_jobstore_t *self, int *fds, int max);
//  Mark store `i` as written (its next sync fdatasyncs it).
void hd_jobstore_touch (hd_jobstore_t *self, uint32_t i);
//  fdatasync every dirty store here. 0 or the first errno.
int hd_jobstore_sync (hd_jobstore_t *self);

#endif
