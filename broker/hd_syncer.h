/*  hd_syncer: one thread that runs the journal's commit_write (writev + fdatasync) while the
    broker's loop goes on: the loop used to stop for every fdatasync (0.1 to several ms on a
    small board's SD card or a shared VM disk), and nothing moved meanwhile. The loop still
    decides when to commit and handles the outcome (hd_journal_commit_begin / _end); this
    only moves the waiting elsewhere. An eventfd says when the write is done.  */
#ifndef HD_SYNCER_H
#define HD_SYNCER_H

#include <stdbool.h>

#include "hd_journal.h"
#include "hd_snapshot.h"

typedef struct hd_syncer hd_syncer_t;

//  Start the thread. NULL when a thread or eventfd cannot be had.
hd_syncer_t *hd_syncer_new (hd_journal_t *journal);
//  Waits for a write in progress (its outcome is then collected by the caller through
//  hd_syncer_wait before destroy, or lost), stops and joins the thread. NULL-safe.
void hd_syncer_destroy (hd_syncer_t **self_p);
//  After hd_journal_commit_begin: run its write on the thread.
void hd_syncer_start (hd_syncer_t *self);
//  The same, after fdatasync of each of `fds` (taken: the thread closes them), which must be
//  durable before the journal's records (detached jobs' result stores). When one fails the
//  journal is not written and its errno is the write's outcome; hd_syncer_pre_failed says so.
void hd_syncer_start_after (hd_syncer_t *self, const int *fds, int n);
//  Only the fdatasync of `fds` (taken), no journal write: detached jobs' stores whose tasks'
//  DROP records wait for it while the journal has nothing to commit. Its outcome, through
//  hd_syncer_done / _wait, is the first failure's errno or 0; no commit_end follows.
void hd_syncer_start_stores (hd_syncer_t *self, const int *fds, int n);
bool hd_syncer_pre_failed (hd_syncer_t *self);
//  Polls readable when a write has finished.
int hd_syncer_fd (const hd_syncer_t *self);
//  Whether the write started last has finished; if so *err gets what commit_write returned
//  (pass it to hd_journal_commit_end). Non-blocking.
bool hd_syncer_done (hd_syncer_t *self, int *err);
//  Block until the write started last has finished; *err as above.
void hd_syncer_wait (hd_syncer_t *self, int *err);
//  Durations of the writes (writev + fdatasync) so far, in seconds (hd_promhist_commit_bounds).
void hd_syncer_commit_hist (hd_syncer_t *self, hd_promhist_t *out);

#endif
