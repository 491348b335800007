/*  hd_pack: the packed form of a task-carrying message (SUBMIT, TASK, DONE, RESULT): one frame
    holding many (envelope, payload) pairs, each as two MessagePack bin objects. Every frame of
    a message costs a CURVE box and libzmq's per-frame work on each hop, so small tasks travel
    packed, many to a frame (docs/PROTOCOL.md section 2). Moves opaque bytes: it neither decodes
    envelopes nor looks into payloads.  */
#ifndef HD_PACK_H
#define HD_PACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hd_buf.h"
#include "hd_err.h"

//  A packed frame never exceeds this many bytes (under every receiver's size limit), and a pair
//  whose payload is larger than HD_PACK_MAX_PAYLOAD travels in frames of its own.
#define HD_PACK_MAX_BYTES 65536
#define HD_PACK_MAX_PAYLOAD 1024

//  Bytes the pair takes in a packed frame.
size_t hd_pack_pair_size (size_t env_size, size_t payload_size);
//  Whether a pair of these sizes may be packed at all.
bool hd_pack_fits (size_t env_size, size_t payload_size);
//  Append one pair to `buf`. HD_ENOMEM (buf unchanged in size).
hd_err_t hd_pack_add (hd_buf_t *buf, const void *env, size_t env_size, const void *payload,
                      size_t payload_size);

typedef struct {
    const uint8_t *at, *end;
} hd_pack_reader_t;

void hd_pack_reader_init (hd_pack_reader_t *r, const void *data, size_t size);
//  The next pair (pointers into the frame). 1: a pair; 0: the frame is used up; -1: malformed
//  (not a bin, or a length past the end): the rest of the frame is unreadable.
int hd_pack_next (hd_pack_reader_t *r, const void **env, size_t *env_size, const void **payload,
                  size_t *payload_size);
//  Pairs in a frame, or -1 when it is malformed or holds none.
int hd_pack_count (const void *data, size_t size);
//  Pairs readable from the start of a frame, before the first malformed byte if any (*bad then
//  true: the rest of the frame is unreadable). 0 when the first is already unreadable or the
//  frame is empty.
int hd_pack_count_readable (const void *data, size_t size, bool *bad);

#endif
