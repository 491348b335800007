/*  hd_mpw: see hd_mpw.h. hd_codec_nodes.c had its own writer that passed hd_buf_append's
    failure to the packer and then returned HD_OK whenever the buffer was not empty: a message
    cut short by a failed allocation went out as if whole.  */
#include "hd_mpw.h"

#include <string.h>

static int
s_write_slow (hd_mpw_t *w, const char *bytes, size_t len)
{
    if (!w->failed && w->limit && (w->buf->size > w->limit || len > w->limit - w->buf->size))
        w->failed = true;
    if (!w->failed && hd_buf_append (w->buf, bytes, len) != HD_OK)
        w->failed = true;
    return w->failed ? -1 : 0;
}

//  The packer calls this once per token (a map header, a 1-byte integer, a key): most writes
//  are a few bytes into a buffer that already has room, so that case is a copy and no call.
static int
s_write (void *data, const char *bytes, size_t len)
{
    hd_mpw_t *w = data;
    hd_buf_t *b = w->buf;
    size_t end = w->limit && w->limit < b->cap ? w->limit : b->cap;
    if (!w->failed && b->size < end && len <= end - b->size) {
        memcpy (b->data + b->size, bytes, len);
        b->size += len;
        return 0;
    }
    return s_write_slow (w, bytes, len);
}

msgpack_packer *
hd_mpw_start_limited (hd_mpw_t *w, hd_buf_t *buf, size_t limit)
{
    w->buf = buf;
    w->limit = limit;
    w->failed = false;
    msgpack_packer_init (&w->pk, w, s_write);
    return &w->pk;
}

msgpack_packer *
hd_mpw_start (hd_mpw_t *w, hd_buf_t *buf)
{
    return hd_mpw_start_limited (w, buf, 0);
}

hd_err_t
hd_mpw_end (const hd_mpw_t *w)
{
    return w->failed ? HD_ENOMEM : HD_OK;
}
