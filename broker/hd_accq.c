/*  hd_accq: see hd_accq.h. The array only grows (doubling); entries leave from the front, so a
    removal is one memmove of what waits behind them (a few hundred entries at most in
    practice: one loop pass of accepted tasks).  */
#include "hd_accq.h"

#include <stdlib.h>
#include <string.h>

void
hd_accq_init (hd_accq_t *self)
{
    memset (self, 0, sizeof *self);
}

void
hd_accq_fini (hd_accq_t *self)
{
    free (self->items);
    memset (self, 0, sizeof *self);
}

hd_err_t
hd_accq_push (hd_accq_t *self, uint32_t client, const hd_id_t *id, int64_t now)
{
    if (self->count == self->cap) {
        uint32_t cap = self->cap ? self->cap * 2 : 1024;
        hd_accq_item_t *items = realloc (self->items, cap * sizeof *items);
        if (!items)
            return HD_ENOMEM;
        self->items = items;
        self->cap = cap;
    }
    if (!self->count)
        self->since_ms = now;
    self->items[self->count++] = (hd_accq_item_t){ client, *id };
    return HD_OK;
}

void
hd_accq_commit_begin (hd_accq_t *self)
{
    self->flight = self->count;
}

void
hd_accq_durable_to (hd_accq_t *self, uint32_t covered)
{
    if (covered > self->count)
        covered = self->count;
    self->durable = covered;
    if (self->flight < covered)
        self->flight = covered;
}

void
hd_accq_flight_failed (hd_accq_t *self)
{
    self->flight = self->durable;
}

void
hd_accq_remove (hd_accq_t *self, uint32_t from, uint32_t to)
{
    if (to > self->count)
        to = self->count;
    if (from >= to)
        return;
    memmove (self->items + from, self->items + to, (self->count - to) * sizeof *self->items);
    uint32_t n = to - from;
    self->count -= n;
    if (self->flight >= to)
        self->flight -= n;
    else if (self->flight > from)
        self->flight = from;
    if (self->durable >= to)
        self->durable -= n;
    else if (self->durable > from)
        self->durable = from;
}

int64_t
hd_accq_due_in (const hd_accq_t *self, int64_t now)
{
    if (!self->durable)
        return -1;  //  the journal's commit comes first
    int64_t left = self->since_ms + HD_ACCQ_DELAY_MS - now;
    return self->durable >= HD_ACCQ_BATCH || left < 0 ? 0 : left;
}

void
hd_accq_sent (hd_accq_t *self, int64_t now)
{
    hd_accq_remove (self, 0, self->durable);
    self->since_ms = now;  //  the oldest of those left is no older than this
}
