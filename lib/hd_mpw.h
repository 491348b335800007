/*  hd_mpw: the one MessagePack-to-buffer writer every encoder uses (hd_codec, hd_codec_nodes,
    hd_codec_metrics): msgpack-c's packer writing into an hd_buf_t. The packer's write callback
    cannot say why it failed and the packer goes on after a failure, so the first failed write
    is latched here, every later one refused, and the encoder checks once, at the end: a
    message cut short (memory ran out, or the writer's limit was reached) is never HD_OK.
    Only the codec files include this header (it brings msgpack.h).  */
#ifndef HD_MPW_H
#define HD_MPW_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>

#include "hd_buf.h"

typedef struct {
    msgpack_packer pk;  //  pack through &w->pk
    hd_buf_t *buf;
    size_t limit;  //  the buffer may not grow past this many bytes (0: no limit)
    bool failed;
} hd_mpw_t;

//  Start writing at the end of `buf` (the caller resets it first for a new message). The
//  writer must outlive its packer's use. Returns &w->pk.
msgpack_packer *hd_mpw_start (hd_mpw_t *w, hd_buf_t *buf);
//  The same with a size limit (bytes of the whole buffer): a write past it fails as a failed
//  allocation does.
msgpack_packer *hd_mpw_start_limited (hd_mpw_t *w, hd_buf_t *buf, size_t limit);
//  HD_OK when every write went in, HD_ENOMEM when one failed (the buffer then holds a prefix).
hd_err_t hd_mpw_end (const hd_mpw_t *w);

#endif
