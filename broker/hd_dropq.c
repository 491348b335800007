/*  hd_dropq: see hd_dropq.h. The array only grows (doubling, up to about HD_DROPQ_HARD entries
    in practice: 20 bytes each); entries leave from the front after a sync (one memmove of what
    waits behind them) or from anywhere when their job is released (rare).  */
#include "hd_dropq.h"

#include <stdlib.h>
#include <string.h>

void
hd_dropq_init (hd_dropq_t *self)
{
    memset (self, 0, sizeof *self);
}

void
hd_dropq_fini (hd_dropq_t *self)
{
    free (self->items);
    memset (self, 0, sizeof *self);
}

hd_err_t
hd_dropq_push (hd_dropq_t *self, const hd_id_t *id, uint32_t slot, int64_t now)
{
    if (self->count == self->cap) {
        uint32_t cap = self->cap ? self->cap * 2 : 1024;
        hd_dropq_item_t *items = realloc (self->items, cap * sizeof *items);
        if (!items)
            return HD_ENOMEM;
        self->items = items;
        self->cap = cap;
    }
    if (self->count == self->flight)
        self->since_ms = now;
    self->items[self->count++] = (hd_dropq_item_t) { *id, slot };
    return HD_OK;
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
    self->flight = self->count;
}

static void
s_remove (hd_dropq_t *self, uint32_t from, uint32_t to)
{
    if (from == to)
        return;  //  nothing (items may still be NULL: memmove must not see it)
    memmove (self->items + from, self->items + to, (self->count - to) * sizeof *self->items);
    uint32_t n = to - from;
    self->count -= n;
    if (self->flight >= to)
        self->flight -= n;
    else if (self->flight > from)
        self->flight = from;
}

void
hd_dropq_synced (hd_dropq_t *self, hd_dropq_fn *fn, void *arg)
{
    for (uint32_t k = 0; k < self->flight; k++)
        fn (&self->items[k], arg);
    s_remove (self, 0, self->flight);
}

void
hd_dropq_sync_failed (hd_dropq_t *self)
{
    if (self->flight)
        self->since_ms = INT64_MIN / 2;  //  due at once
    self->flight = 0;
}

uint32_t
hd_dropq_take_slot (hd_dropq_t *self, uint32_t slot, hd_dropq_fn *fn, void *arg)
{
    uint32_t kept = 0, taken = 0, flight = self->flight;
    for (uint32_t k = 0; k < self->count; k++) {
        if (self->items[k].slot != slot) {
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
