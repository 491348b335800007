/*  hd_accq: the ACCEPTED queue. A task accepted in a loop pass is answered ACCEPTED only once
    the journal commit that covers its record is durable; until then its (session, id) waits
    here, in acceptance order, in three ranges:
        [0, durable)        durable: ACCEPTED is due (sent after a short delay, in batches)
        [durable, flight)   covered by the commit in flight (hd_syncer)
        [flight, count)     waiting for the next commit
    A commit that succeeds makes its range durable; one refused for lack of space takes its
    range back (the broker answers STORAGE for each). Pure: no sockets, no journal; the broker
    says when commits start and end. Embedded in the broker (_init / _fini).  */
#ifndef HD_ACCQ_H
#define HD_ACCQ_H

#include <stdint.h>

#include "hd_codec.h"

#define HD_ACCQ_DELAY_MS 5  //  a durable ACCEPTED waits this long for others to share a message
#define HD_ACCQ_BATCH 256   //  ... or until this many are due

typedef struct {
    uint32_t client;  //  the session's index (hd_sessions)
    hd_id_t id;
} hd_accq_item_t;

typedef struct {
    hd_accq_item_t *items;
    uint32_t count, cap;
    uint32_t durable, flight;
    int64_t since_ms;  //  when the oldest waiting entry was queued (or the last send)
} hd_accq_t;

void hd_accq_init (hd_accq_t *self);
void hd_accq_fini (hd_accq_t *self);
//  Queue one entry. HD_OK or HD_ENOMEM (nothing queued).
hd_err_t hd_accq_push (hd_accq_t *self, uint32_t client, const hd_id_t *id, int64_t now);
//  A commit starts that covers every entry queued so far.
void hd_accq_commit_begin (hd_accq_t *self);
//  The commit covering [0, covered) succeeded: that range is durable.
void hd_accq_durable_to (hd_accq_t *self, uint32_t covered);
//  The commit in flight failed: its entries are waiting again (the caller refused or removed
//  them first when they must not be answered).
void hd_accq_flight_failed (hd_accq_t *self);
//  Drop entries [from, to), keeping the order of the rest and the ranges consistent.
void hd_accq_remove (hd_accq_t *self, uint32_t from, uint32_t to);
//  Milliseconds until the durable entries are due (0: now), -1 when none is durable.
int64_t hd_accq_due_in (const hd_accq_t *self, int64_t now);
//  After the durable entries were answered: drop them, restart the delay at now.
void hd_accq_sent (hd_accq_t *self, int64_t now);

#endif
