/*  hd_dropq: DROP records of detached jobs' tasks waiting for their result stores' fdatasync
    (docs/JOURNAL.md). A task whose result was appended to its job's store is forgotten at once
    (scheduler, memory), but the journal record that forgets it must not be durable before the
    result is: its DROP waits here until a store sync covers it, then goes into the next
    journal commit. Stores are synced every --jobs-sync ms (or as soon as HD_DROPQ_SOFT wait),
    so a commit carries one fdatasync, not two. Entries, in the order the results were stored:
        [0, flight)      covered by the store sync in flight
        [flight, count)  waiting for the next store sync
    Each names its job's store slot: a job released takes its entries out at once. Pure: no
    files, no journal; the broker says when syncs start and end. Embedded (_init / _fini).  */
#ifndef HD_DROPQ_H
#define HD_DROPQ_H

#include <stdint.h>

#include "hd_accq.h"
#include "hd_codec.h"

#define HD_DROPQ_SOFT 4096   //  a store sync is due as soon as this many wait
#define HD_DROPQ_HARD 65536  //  past this many (a sync in flight for long) the broker syncs at once

//  The queue is an hd_accq (the ACCEPTED queue's storage, growth and range-keeping removal)
//  used with two ranges: its `durable` stays 0, `flight` is the store sync in flight, and each
//  entry's `client` field holds its job's store slot (hd_jobstore).
typedef hd_accq_t hd_dropq_t;
typedef hd_accq_item_t hd_dropq_item_t;

typedef void (hd_dropq_fn) (const hd_dropq_item_t *item, void *arg);

void hd_dropq_init (hd_dropq_t *self);
void hd_dropq_fini (hd_dropq_t *self);
//  Queue one entry. HD_OK or HD_ENOMEM (nothing queued).
hd_err_t hd_dropq_push (hd_dropq_t *self, const hd_id_t *id, uint32_t slot, int64_t now);
//  Entries waiting for a sync (not in flight).
uint32_t hd_dropq_waiting (const hd_dropq_t *self);
//  Milliseconds until a store sync is due for the waiting entries: 0 when the oldest has waited
//  `every_ms` or HD_DROPQ_SOFT wait; -1 when none waits.
int64_t hd_dropq_due_in (const hd_dropq_t *self, int64_t now, uint32_t every_ms);
//  A store sync starts that covers every entry queued so far.
void hd_dropq_sync_begin (hd_dropq_t *self);
//  The sync in flight succeeded: `fn` is called for each entry it covered, in order, and they
//  leave the queue.
void hd_dropq_synced (hd_dropq_t *self, hd_dropq_fn *fn, void *arg);
//  The sync in flight failed: its entries wait again (due at once).
void hd_dropq_sync_failed (hd_dropq_t *self);
//  The entries of store slot `slot`, in order, through `fn`, and out of the queue (a job
//  released). Returns how many.
uint32_t hd_dropq_take_slot (hd_dropq_t *self, uint32_t slot, hd_dropq_fn *fn, void *arg);

#endif
