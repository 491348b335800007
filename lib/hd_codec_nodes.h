/*  hd_codec_nodes: the NODES_REPLY envelope, {nodes: [{name, arch, state, slots, busy, cores,
    capacity, done, failed}, ...]}: an admin message, rare and broker-to-client only, kept apart
    from the hot-path codec. Part of the codec module (the second file allowed to use msgpack).  */
#ifndef HD_CODEC_NODES_H
#define HD_CODEC_NODES_H

#include <stdint.h>

#include "hd_buf.h"
#include "hd_err.h"
#include "hd_proto.h"

#define HD_MAX_NODES 4096

typedef struct {
    char name[HD_MAX_NAME + 1];
    char arch[HD_MAX_NAME + 1];
    char state[16];       //  idle | busy | draining
    uint32_t slots, busy, cores;
    double capacity;
    uint64_t done, failed;
} hd_nodeinfo_t;

hd_err_t hd_codec_encode_nodes (hd_buf_t *buf, const hd_nodeinfo_t *nodes, uint32_t count);
//  *out (caller frees with free()) holds *count entries. HD_EPROTO on malformed input,
//  HD_ETOOBIG past HD_MAX_NODES.
hd_err_t hd_codec_decode_nodes (const void *data, size_t size, hd_nodeinfo_t **out,
                                uint32_t *count);

#endif
