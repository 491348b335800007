/*  hd_hist: a latency histogram in microseconds with HDR-style log-linear buckets. Memory is
    fixed at creation (about 26 KiB) and recording never allocates, so it can sit on a hot path.
    Values below 256 us are exact; above, each power of two is cut into 128 buckets, so a
    percentile is within 0.4% of a recorded value. It knows nothing of clocks or tasks.  */
#ifndef HD_HIST_H
#define HD_HIST_H

#include <stdint.h>

//  Largest value bucketed apart from its neighbours: one hour. Larger values are counted in the
//  top bucket (min, max and mean still see their exact value).
#define HD_HIST_MAX_USEC 3600000000ULL

typedef struct hd_hist hd_hist_t;

//  A new, empty histogram. NULL only when memory runs out. Caller destroys.
hd_hist_t *hd_hist_new (void);
//  NULL-safe; sets *self_p = NULL.
void hd_hist_destroy (hd_hist_t **self_p);
//  Forget every sample; the memory is kept.
void hd_hist_reset (hd_hist_t *self);

//  Count one sample of `usec` microseconds. Never fails, never allocates.
void hd_hist_record (hd_hist_t *self, uint64_t usec);
//  Add every sample of `other` to self (other is unchanged).
void hd_hist_merge (hd_hist_t *self, const hd_hist_t *other);

//  The value at percentile p (0..100, clamped): the smallest bucket holding at least p% of the
//  samples, reported as the bucket's midpoint kept inside [min, max]. p <= 0 gives min exactly,
//  p >= 100 gives max exactly. 0 when empty.
uint64_t hd_hist_percentile (const hd_hist_t *self, double p);
//  Samples recorded; smallest and largest exact values (0 when empty); mean (0.0 when empty).
uint64_t hd_hist_count (const hd_hist_t *self);
uint64_t hd_hist_min (const hd_hist_t *self);
uint64_t hd_hist_max (const hd_hist_t *self);
double hd_hist_mean (const hd_hist_t *self);

#endif
