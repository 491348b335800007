/*  hd_codec_nodes: the cluster-administration envelopes, rare and kept apart from the hot-path
    codec: NODES_REPLY {nodes: [{name, arch, state, slots, busy, cores, capacity, done, failed,
    cpu?, mem_total?, mem_avail?, temp?, score?, load1?, age?, tags?}, ...]} (optional keys are
    omitted when the broker has no figure: absent, never 0), ADMIN {op, node} and EVENT {type,
    node?, state?, text?, queued?, running?, done?, failed?, rate?}. Part of the codec module
    (the second file allowed to use msgpack).  */
#ifndef HD_CODEC_NODES_H
#define HD_CODEC_NODES_H

#include <stdint.h>

#include "hd_buf.h"
#include "hd_err.h"
#include "hd_proto.h"

#define HD_MAX_NODES 4096

//  present bits of hd_nodeinfo_t (figures from the node's last metrics snapshot)
#define HD_NI_CPU 0x01
#define HD_NI_MEM 0x02
#define HD_NI_TEMP 0x04
#define HD_NI_SCORE 0x08
#define HD_NI_LOAD 0x10
#define HD_NI_AGE 0x20

typedef struct {
    char name[HD_MAX_NAME + 1];
    char arch[HD_MAX_NAME + 1];
    char state[16];       //  idle | busy | draining | stale
    uint32_t slots, busy, cores;
    double capacity;      //  C_j used by the scheduler now
    uint64_t done, failed;
    uint32_t present;     //  HD_NI_* bits
    double cpu;           //  whole-machine CPU busy, 0..1
    uint64_t mem_total, mem_avail;  //  bytes
    double temp;          //  degrees C
    double score;         //  benchmark score
    double load1;
    uint32_t age_ms;      //  age of the last metrics snapshot
    uint32_t ntags;
    char tags[HD_MAX_TAGS][HD_MAX_NAME + 1];
} hd_nodeinfo_t;

//  ADMIN {op: "drain" | "resume", node: name}; answered with REJECTED whose code is 0 on success.
//  approve may carry grant: the payload secret sealed to the approved worker's key (Z85, for
//  sealed payloads); op "grant" gives one to an already approved worker key (node: the key).
typedef struct {
    char op[16];
    char node[HD_MAX_NAME + 1];
    char grant[HD_GRANT_TEXT];  //  "" none
} hd_admin_t;

//  EVENT on the broker's events PUB socket: frames [header 'H' 'D' 1 HD_CMD_EVENT][envelope].
#define HD_CMD_EVENT 0x41
typedef struct {
    char type[16];        //  "node" (joined, left, lost, drain, resume) or "stats" (every second)
    char node[HD_MAX_NAME + 1];
    char state[16];
    char text[256];
    uint64_t queued, running, done, failed;
    double rate;          //  results per second over the last interval
} hd_event_t;

hd_err_t hd_codec_encode_nodes (hd_buf_t *buf, const hd_nodeinfo_t *nodes, uint32_t count);
//  *out (caller frees with free()) holds *count entries. HD_EPROTO on malformed input,
//  HD_ETOOBIG past HD_MAX_NODES.
hd_err_t hd_codec_decode_nodes (const void *data, size_t size, hd_nodeinfo_t **out,
                                uint32_t *count);

hd_err_t hd_codec_encode_admin (hd_buf_t *buf, const hd_admin_t *msg);
hd_err_t hd_codec_decode_admin (const void *data, size_t size, hd_admin_t *out);
hd_err_t hd_codec_encode_event (hd_buf_t *buf, const hd_event_t *msg);
hd_err_t hd_codec_decode_event (const void *data, size_t size, hd_event_t *out);

#endif
