/*  hd_idmap: open-addressing id map. Load factor kept under 1/2 so probes stay short.  */
#include "hd_idmap.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    hd_id_t id;
    hd_idval_t val;
    bool used;
} s_slot_t;

struct hd_idmap {
    s_slot_t *slots;
    uint32_t cap;   //  power of two
    uint32_t size;
};

static uint32_t
s_hash (const hd_id_t *id, uint32_t mask)
{
    uint64_t h, lo;
    memcpy (&h, id->b, sizeof h);
    memcpy (&lo, id->b + 8, sizeof lo);
    h ^= lo * 0x9E3779B97F4A7C15ULL;  //  a detached job's ids share their first 8 bytes (the
                                      //  job's nonce) and differ in the last 8 (the index)
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;  //  ids from other clients may not be random: mix anyway
    h ^= h >> 33;
    return (uint32_t) h & mask;
}

hd_idmap_t *
hd_idmap_new (void)
{
    hd_idmap_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->cap = 64;
    self->slots = calloc (self->cap, sizeof *self->slots);
    if (!self->slots) {
        free (self);
        return NULL;
    }
    return self;
}

void
hd_idmap_destroy (hd_idmap_t **self_p)
{
    if (!*self_p)
        return;
    free ((*self_p)->slots);
    free (*self_p);
    *self_p = NULL;
}

static s_slot_t *
s_find (const hd_idmap_t *self, const hd_id_t *id)
{
    uint32_t mask = self->cap - 1;
    for (uint32_t i = s_hash (id, mask);; i = (i + 1) & mask) {
        s_slot_t *s = &self->slots[i];
        if (!s->used || hd_id_eq (&s->id, id))
            return s;
    }
}

static hd_err_t
s_grow (hd_idmap_t *self)
{
    hd_idmap_t bigger = { calloc (self->cap * 2, sizeof (s_slot_t)), self->cap * 2, 0 };
    if (!bigger.slots)
        return HD_ENOMEM;
    for (uint32_t i = 0; i < self->cap; i++)
        if (self->slots[i].used) {
            *s_find (&bigger, &self->slots[i].id) = self->slots[i];
            bigger.size++;
        }
    free (self->slots);
    *self = bigger;
    return HD_OK;
}

hd_err_t
hd_idmap_put (hd_idmap_t *self, const hd_id_t *id, const hd_idval_t *val)
{
    if ((self->size + 1) * 2 > self->cap && s_grow (self) != HD_OK)
        return HD_ENOMEM;
    s_slot_t *s = s_find (self, id);
    if (s->used)
        return HD_EINVAL;
    s->id = *id;
    s->val = *val;
    s->used = true;
    self->size++;
    return HD_OK;
}

hd_idval_t *
hd_idmap_get (const hd_idmap_t *self, const hd_id_t *id)
{
    s_slot_t *s = s_find (self, id);
    return s->used ? &s->val : NULL;
}

bool
hd_idmap_take (hd_idmap_t *self, const hd_id_t *id, hd_idval_t *out)
{
    s_slot_t *s = s_find (self, id);
    if (!s->used)
        return false;
    if (out)
        *out = s->val;
    //  Backward-shift: move later entries of the probe run into the hole.
    uint32_t mask = self->cap - 1, hole = (uint32_t) (s - self->slots);
    for (uint32_t j = (hole + 1) & mask; self->slots[j].used; j = (j + 1) & mask) {
        uint32_t home = s_hash (&self->slots[j].id, mask);
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            self->slots[hole] = self->slots[j];
            hole = j;
        }
    }
    self->slots[hole].used = false;
    self->size--;
    return true;
}

uint32_t
hd_idmap_size (const hd_idmap_t *self)
{
    return self->size;
}

void
hd_idmap_each (const hd_idmap_t *self, void (*fn) (const hd_id_t *, hd_idval_t *, void *),
               void *arg)
{
    for (uint32_t i = 0; i < self->cap; i++)
        if (self->slots[i].used)
            fn (&self->slots[i].id, &self->slots[i].val, arg);
}
