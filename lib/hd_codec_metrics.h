/*  hd_codec_metrics: the METRICS message a worker publishes on its PUB socket and the broker reads
    on its SUB socket: frames [header 'H' 'D' version HD_CMD_METRICS][envelope]. The envelope is
    a MessagePack map of one capacity snapshot (docs/METRICS.md). Metrics are lossy hints: a field
    the worker has no source for is omitted, never sent as 0. Also defines hd_sysinfo_t, the
    machine sample, so lib/ need not know worker/. Part of the codec module (uses msgpack-c).  */
#ifndef HD_CODEC_METRICS_H
#define HD_CODEC_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hd_buf.h"
#include "hd_err.h"
#include "hd_proto.h"

//  Belongs in hd_proto.h with the other commands (worker -> broker, "metrics" PUB/SUB socket).
//  It is defined here until then; hd_codec_parse_header does not know it yet, so a SUB reader
//  checks the header frame with hd_codec_metrics_is_header.
#define HD_CMD_METRICS 0x40
//  The SUB subscription prefix: the whole header frame at HD_PROTO_VERSION (1).
#define HD_METRICS_TOPIC "HD\x01\x40"
#define HD_METRICS_TOPIC_BYTES 4
//  An envelope larger than this is refused by decode (HD_ETOOBIG).
#define HD_MAX_METRICS_ENVELOPE 4096

//  Presence bits of hd_sysinfo_t.present: one per field. A clear bit means "no source on this
//  machine" (or no previous sample to take a delta from); the field's value is then 0 and
//  meaningless. Never read a field whose bit is clear.
#define HD_M_CORES (1u << 0)
#define HD_M_CPU (1u << 1)
#define HD_M_LOAD1 (1u << 2)
#define HD_M_LOAD5 (1u << 3)
#define HD_M_LOAD15 (1u << 4)
#define HD_M_MEM_TOTAL (1u << 5)
#define HD_M_MEM_AVAIL (1u << 6)
#define HD_M_DISK_FREE (1u << 7)
#define HD_M_DISK_TOTAL (1u << 8)
#define HD_M_RX (1u << 9)
#define HD_M_TX (1u << 10)
#define HD_M_TEMP (1u << 11)
#define HD_M_THROTTLED (1u << 12)
#define HD_M_SYS_ALL ((1u << 13) - 1)

//  Presence bits of hd_metrics_t.present: the worker's own counters. Distinct from the HD_M_*
//  sysinfo bits above so that a bit put in the wrong mask is never silently meaningful.
#define HD_M_SLOTS (1u << 16)
#define HD_M_BUSY (1u << 17)
#define HD_M_SCORE (1u << 18)
#define HD_M_DONE (1u << 19)
#define HD_M_FAILED (1u << 20)
#define HD_M_INTERVAL (1u << 21)
#define HD_M_WORKER_ALL (((1u << 22) - 1) & ~((1u << 16) - 1))

//  One sample of a machine (worker/hd_sysinfo.h fills it). Units are in docs/METRICS.md.
typedef struct {
    uint32_t present;                //  HD_M_* sysinfo bits of the fields that hold a value
    uint32_t cores;                  //  online cores
    double cpu_util;                 //  whole-machine busy fraction 0..1 since the previous sample
    double load1, load5, load15;     //  run-queue load averages
    uint64_t mem_total, mem_avail;   //  bytes
    uint64_t disk_free, disk_total;  //  bytes of the work directory's file system
    double net_rx_bps, net_tx_bps;   //  bytes/s over non-loopback interfaces
    double temp_c;                   //  hottest thermal zone, degrees Celsius
    uint32_t throttled;              //  Raspberry Pi firmware get_throttled bits
} hd_sysinfo_t;

//  One METRICS snapshot. name and seq are always sent; every other field only when its bit is
//  set in `present` (worker counters) or `sys.present` (machine sample).
typedef struct {
    char name[HD_MAX_NAME + 1];         //  node name, 1..HD_MAX_NAME bytes
    uint64_t seq;                       //  +1 per snapshot from this publisher
    uint32_t present;                   //  HD_M_* worker bits (HD_M_SLOTS .. HD_M_INTERVAL)
    uint32_t slots, busy, interval_ms;  //  interval_ms: the publisher's period
    uint64_t done, failed;              //  tasks finished since the worker started
    double score;                       //  hd_bench_score result (work units per ms)
    hd_sysinfo_t sys;
} hd_metrics_t;

//  Write the METRICS header frame (HD_HEADER_BYTES, equal to HD_METRICS_TOPIC).
void hd_codec_metrics_header (uint8_t out[HD_HEADER_BYTES]);
//  Whether a frame is a METRICS header at the version this codec reads.
bool hd_codec_metrics_is_header (const void *data, size_t size);

//  Reset `buf` and write one METRICS envelope holding the present fields of `msg`.
//  HD_OK; HD_ENOMEM when the buffer cannot grow; HD_EINVAL (buf left empty) when `msg` breaks
//  a rule decode would refuse: empty, unterminated or over-long name, a present float that is
//  not finite, cpu_util outside [0, 1], or a negative score, load or network rate.
hd_err_t hd_codec_encode_metrics (hd_buf_t *buf, const hd_metrics_t *msg);

//  Decode one METRICS envelope into `out` (zeroed first, then each present key sets its value
//  and its presence bit). Unknown keys are skipped. HD_OK; HD_ETOOBIG for an envelope over
//  HD_MAX_METRICS_ENVELOPE bytes or a name over HD_MAX_NAME; HD_EPROTO for anything malformed:
//  not one valid MessagePack map, a non-string or repeated key, a missing or empty name or
//  missing seq, a wrong type (floats accept float32, float64 and integers; unsigned fields
//  accept only non-negative integers within their width), or a value outside the encoder's
//  rules. On an error `out` may hold part of the message and must not be used.
hd_err_t hd_codec_decode_metrics (const void *data, size_t size, hd_metrics_t *out);

#endif
