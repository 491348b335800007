/*  hd_hist: log-linear latency histogram. Index layout: values 0..255 have a bucket each; a value
    v >= 256 with top bit e (8..31) falls in 128 equal buckets of width 2^(e-7) covering
    [2^e, 2^(e+1)). Min, max and sum are kept exactly beside the buckets.  */
#include "hd_hist.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define S_SUB_BITS 7  //  128 buckets per power of two
#define S_SUB_COUNT (1u << S_SUB_BITS)
#define S_LINEAR (2u * S_SUB_COUNT)  //  0..255 are exact
#define S_TOP_BIT 31                 //  HD_HIST_MAX_USEC < 2^32
#define S_BUCKETS (S_LINEAR + (S_TOP_BIT - S_SUB_BITS) * S_SUB_COUNT)

struct hd_hist {
    uint64_t count;
    uint64_t min, max;
    uint64_t sum;
    uint64_t buckets[S_BUCKETS];
};

static unsigned
s_top_bit (uint64_t v)
{
    return 63u - (unsigned) __builtin_clzll (v);
}

static uint32_t
s_index_of (uint64_t usec)
{
    if (usec > HD_HIST_MAX_USEC)
        usec = HD_HIST_MAX_USEC;
    if (usec < S_LINEAR)
        return (uint32_t) usec;
    unsigned e = s_top_bit (usec);
    unsigned shift = e - S_SUB_BITS;
    uint32_t sub = (uint32_t) (usec >> shift) - S_SUB_COUNT;
    return S_LINEAR + (e - S_SUB_BITS - 1) * S_SUB_COUNT + sub;
}

//  Midpoint of bucket `index`: exact in the linear range, else the centre of its span.
static uint64_t
s_value_of (uint32_t index)
{
    if (index < S_LINEAR)
        return index;
    uint32_t j = index - S_LINEAR;
    unsigned shift = j / S_SUB_COUNT + 1;
    uint64_t low = (uint64_t) (S_SUB_COUNT + j % S_SUB_COUNT) << shift;
    return low + ((1ULL << shift) - 1) / 2;
}

hd_hist_t *
hd_hist_new (void)
{
    return calloc (1, sizeof (hd_hist_t));
}

void
hd_hist_destroy (hd_hist_t **self_p)
{
    assert (self_p);
    free (*self_p);
    *self_p = NULL;
}

void
hd_hist_reset (hd_hist_t *self)
{
    assert (self);
    memset (self, 0, sizeof *self);
}

void
hd_hist_record (hd_hist_t *self, uint64_t usec)
{
    assert (self);
    if (self->count == 0 || usec < self->min)
        self->min = usec;
    if (usec > self->max)
        self->max = usec;
    self->count++;
    self->sum += usec;
    self->buckets[s_index_of (usec)]++;
}

void
hd_hist_merge (hd_hist_t *self, const hd_hist_t *other)
{
    assert (self && other);
    if (other->count == 0)
        return;
    if (self->count == 0 || other->min < self->min)
        self->min = other->min;
    if (other->max > self->max)
        self->max = other->max;
    self->count += other->count;
    self->sum += other->sum;
    for (uint32_t i = 0; i < S_BUCKETS; i++)
        self->buckets[i] += other->buckets[i];
}

uint64_t
hd_hist_percentile (const hd_hist_t *self, double p)
{
    assert (self);
    if (self->count == 0)
        return 0;
    if (!(p > 0.0))  //  also catches NaN
        return self->min;
    if (p >= 100.0)
        return self->max;
    //  The rank of the p-th percentile sample, 1-based: ceil (p% of count), at least 1.
    double want = p / 100.0 * (double) self->count;
    uint64_t rank = (uint64_t) want;
    if ((double) rank < want || rank == 0)
        rank++;
    uint64_t seen = 0;
    uint32_t i = 0;
    for (; i < S_BUCKETS - 1; i++) {
        seen += self->buckets[i];
        if (seen >= rank)
            break;
    }
    uint64_t v = s_value_of (i);
    return v < self->min ? self->min : v > self->max ? self->max : v;
}

uint64_t
hd_hist_count (const hd_hist_t *self)
{
    assert (self);
    return self->count;
}

uint64_t
hd_hist_min (const hd_hist_t *self)
{
    assert (self);
    return self->min;
}

uint64_t
hd_hist_max (const hd_hist_t *self)
{
    assert (self);
    return self->max;
}

double
hd_hist_mean (const hd_hist_t *self)
{
    assert (self);
    return self->count ? (double) self->sum / (double) self->count : 0.0;
}
