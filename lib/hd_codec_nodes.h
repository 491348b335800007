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
//  PONG {maxpay} (broker -> client): the largest payload the broker accepts, bytes. Decoding
//  accepts any map (an older broker sends {}): *maxpay is then 0, unknown.
hd_err_t hd_codec_encode_pong (hd_buf_t *buf, uint32_t maxpay);
hd_err_t hd_codec_decode_pong (const void *data, size_t size, uint32_t *maxpay);

//  NOTICE {fn, nodes, wait, reason} (broker -> client): tasks of this SUBMIT wait for a worker
//  that offers `fn` (none of the `nodes` connected does), at most `wait` ms, then UNKNOWN_FN.
typedef struct {
    char fn[HD_MAX_NAME + 1];
    uint32_t nodes;
    uint32_t wait_ms;
    char reason[256];
} hd_notice_t;

hd_err_t hd_codec_encode_notice (hd_buf_t *buf, const hd_notice_t *msg);
//  HD_EPROTO unless fn and wait are present and well typed (nodes, reason optional).
hd_err_t hd_codec_decode_notice (const void *data, size_t size, hd_notice_t *out);
//  FUNCTIONS_REPLY {fns: [{name, nodes, names?, queued, running, done, ms}, ...]} (broker ->
//  client, answering FUNCTIONS {}): each function some worker offered since the broker started
//  or that has tasks: how many nodes offer it now and the first HD_FN_NAMES of their names,
//  tasks queued and running now, results since the broker started and their mean run time (ms,
//  as the workers report it). At most HD_MAX_FN_IDS entries (1024).
#define HD_MAX_FUNCTIONS 1024
#define HD_FN_NAMES 16
typedef struct {
    char name[HD_MAX_NAME + 1];
    uint32_t nodes;
    uint32_t nnames;
    char names[HD_FN_NAMES][HD_MAX_NAME + 1];
    uint32_t queued, running;
    uint64_t done;
    double ms;
} hd_fninfo_t;

hd_err_t hd_codec_encode_functions (hd_buf_t *buf, const hd_fninfo_t *fns, uint32_t count);
//  *out (caller frees with free()) holds *count entries. HD_EPROTO on malformed input (name,
//  nodes, queued, running, done and ms are required), HD_ETOOBIG past HD_MAX_FUNCTIONS entries
//  or HD_FN_NAMES names.
hd_err_t hd_codec_decode_functions (const void *data, size_t size, hd_fninfo_t **out,
                                    uint32_t *count);
hd_err_t hd_codec_encode_event (hd_buf_t *buf, const hd_event_t *msg);
hd_err_t hd_codec_decode_event (const void *data, size_t size, hd_event_t *out);

#endif
