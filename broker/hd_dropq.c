/*  hd_dropq: see hd_dropq.h. Storage, growth and removal are hd_accq's; what is its own is
    the cadence (when a sync is due) and the removal of a released job's entries.  */
#include "hd_dropq.h"

#include <stdbool.h>

void
hd_dropq_init (hd_dropq_t *self)
{
    hd_accq_init (self);
}

void
hd_dropq_fini (hd_dropq_t *self)
{
    hd_accq_fini (self);
}

hd_err_t
hd_dropq_push (hd_dropq_t *self, const hd_id_t *id, uint32_t slot, int64_t now)
{
    bool first = self->count == self->flight;  //  the oldest waiting one: the cadence's start
    hd_err_t rc = hd_accq_push (self, slot, id, now);
    if (rc == HD_OK && first)
        self->since_ms = now;
    return rc;
}

uint32_t
hd_dropq_waiting (const hd_dropq_t *self)
{
    return self->count - self->flight;
}

int64_t
hd_dropq_due_in (const hd_dropq_t *self, int64_t now, uint32_t every_ms)
{
    uint32_t waiting = self->count - self->flight;
    if (!waiting)
        return -1;
    int64_t left = self->since_ms + (int64_t) every_ms - now;
    return waiting >= HD_DROPQ_SOFT || left <= 0 ? 0 : left;
}

void
hd_dropq_sync_begin (hd_dropq_t *self)
{
    hd_accq_commit_begin (self);
}

void
hd_dropq_synced (hd_dropq_t *self, hd_dropq_fn *fn, void *arg)
{
    for (uint32_t k = 0; k < self->flight; k++)
        fn (&self->items[k], arg);
    hd_accq_remove (self, 0, self->flight);
}

void
hd_dropq_sync_failed (hd_dropq_t *self)
{
    if (self->flight)
        self->since_ms = INT64_MIN / 2;  //  due at once
    hd_accq_flight_failed (self);
}

uint32_t
hd_dropq_take_slot (hd_dropq_t *self, uint32_t slot, hd_dropq_fn *fn, void *arg)
{
    uint32_t kept = 0, taken = 0, flight = self->flight;
    for (uint32_t k = 0; k < self->count; k++) {
        if (self->items[k].client != slot) {
            self->items[kept++] = self->items[k];
            continue;
        }
        fn (&self->items[k], arg);
        taken++;
        if (k < self->flight)
            flight--;
    }
    self->count = kept;
    self->flight = flight;
    return taken;
}
