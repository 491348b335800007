/*  hd_sysinfo: samples the machine a worker runs on (cores, CPU busy share, load, memory, disk,
    network rates, temperature, Raspberry Pi throttling) into an hd_sysinfo_t, the type the METRICS
    codec carries (lib/hd_codec_metrics.h). Reads Linux /proc and /sys under a root prefix so tests
    can point it at a fake tree. Knows nothing of sockets, the wire or the publishing period: the
    caller passes the clock. docs/METRICS.md lists each field's source and unit.  */
#ifndef HD_SYSINFO_H
#define HD_SYSINFO_H

#include <stdint.h>

#include "hd_codec_metrics.h"
#include "hd_err.h"

//  A sampler keeps the previous counters that rates and the CPU busy share are deltas of.
//  Not thread-safe: one sampler per thread.
typedef struct hd_sampler hd_sampler_t;

//  Create a sampler. `work_dir` is the directory whose file system disk_free/disk_total
//  describe (NULL: those fields stay absent). `root` is prefixed to every /proc and /sys path
//  ("" or NULL: the real ones; "/tmp/x" reads /tmp/x/proc/stat). Thermal zones are discovered
//  here, once. Both strings are copied. NULL only when memory runs out. Caller destroys.
hd_sampler_t *hd_sampler_new (const char *work_dir, const char *root);

//  Free the sampler. NULL-safe; sets *self_p = NULL.
void hd_sampler_destroy (hd_sampler_t **self_p);

//  Fill `out` (zeroed first) with a sample taken at `now_ms` (a monotonic clock in ms, e.g.
//  hd_now_ms). Each field whose source exists sets its HD_M_* bit in out->present; a missing or
//  unreadable source leaves the field absent, never 0. cores is always present. cpu_util and the
//  network rates are deltas since the previous sample, so they are absent on the first sample,
//  when now_ms did not advance, and after a counter went backwards (the sample is the new
//  baseline). Always HD_OK. Allocates nothing.
hd_err_t hd_sampler_sample (hd_sampler_t *self, int64_t now_ms, hd_sysinfo_t *out);

#endif
