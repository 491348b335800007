/*  hd_pack: MessagePack bin 8/16/32 headers written and read by hand (the whole format is two
    of them per pair), so that packing costs a memcpy per pair and reading none.  */
#include "hd_pack.h"

#include <string.h>

static size_t
s_head_size (size_t n)
{
    return n <= UINT8_MAX ? 2 : n <= UINT16_MAX ? 3 : 5;
}

static uint8_t *
s_put_head (uint8_t *p, size_t n)
{
    if (n <= UINT8_MAX) {
        *p++ = 0xc4;
        *p++ = (uint8_t) n;
    }
    else if (n <= UINT16_MAX) {
        *p++ = 0xc5;
        *p++ = (uint8_t) (n >> 8);
        *p++ = (uint8_t) n;
    }
    else {
        *p++ = 0xc6;
        *p++ = (uint8_t) (n >> 24);
        *p++ = (uint8_t) (n >> 16);
        *p++ = (uint8_t) (n >> 8);
        *p++ = (uint8_t) n;
    }
    return p;
}

size_t
hd_pack_pair_size (size_t env_size, size_t payload_size)
{
    return s_head_size (env_size) + env_size + s_head_size (payload_size) + payload_size;
}

bool
hd_pack_fits (size_t env_size, size_t payload_size)
{
    return payload_size <= HD_PACK_MAX_PAYLOAD
           && hd_pack_pair_size (env_size, payload_size) <= HD_PACK_MAX_BYTES;
}

hd_err_t
hd_pack_add (hd_buf_t *buf, const void *env, size_t env_size, const void *payload,
             size_t payload_size)
{
    if (env_size > UINT32_MAX || payload_size > UINT32_MAX)
        return HD_EINVAL;
    hd_err_t rc = hd_buf_reserve (buf, hd_pack_pair_size (env_size, payload_size));
    if (rc != HD_OK)
        return rc;
    uint8_t *p = s_put_head (buf->data + buf->size, env_size);
    if (env_size)
        memcpy (p, env, env_size);
    p = s_put_head (p + env_size, payload_size);
    if (payload_size)
        memcpy (p, payload, payload_size);
    buf->size = (size_t) (p + payload_size - buf->data);
    return HD_OK;
}

void
hd_pack_reader_init (hd_pack_reader_t *r, const void *data, size_t size)
{
    r->at = data;
    r->end = data ? r->at + size : r->at;  //  no arithmetic on NULL (an empty frame may be NULL)
}

//  One bin object: its bytes and length. false when malformed.
static bool
s_bin (hd_pack_reader_t *r, const void **out, size_t *size)
{
    size_t left = (size_t) (r->end - r->at), head, n;
    if (left < 2)
        return false;
    switch (r->at[0]) {
        case 0xc4: head = 2; n = r->at[1]; break;
        case 0xc5:
            if (left < 3)
                return false;
            head = 3;
            n = (size_t) r->at[1] << 8 | r->at[2];
            break;
        case 0xc6:
            if (left < 5)
                return false;
            head = 5;
            n = (size_t) r->at[1] << 24 | (size_t) r->at[2] << 16 | (size_t) r->at[3] << 8
                | r->at[4];
            break;
        default: return false;
    }
    if (n > left - head)
        return false;
    *out = r->at + head;
    *size = n;
    r->at += head + n;
    return true;
}

int
hd_pack_next (hd_pack_reader_t *r, const void **env, size_t *env_size, const void **payload,
              size_t *payload_size)
{
    if (r->at == r->end)
        return 0;
    if (!s_bin (r, env, env_size) || !s_bin (r, payload, payload_size)) {
        r->at = r->end;
        return -1;
    }
    return 1;
}

int
hd_pack_count_readable (const void *data, size_t size, bool *bad)
{
    hd_pack_reader_t r;
    hd_pack_reader_init (&r, data, size);
    const void *e, *p;
    size_t es, ps;
    int n = 0, rc;
    while ((rc = hd_pack_next (&r, &e, &es, &p, &ps)) == 1)
        n++;
    *bad = rc < 0;
    return n;
}

int
hd_pack_count (const void *data, size_t size)
{
    bool bad;
    int n = hd_pack_count_readable (data, size, &bad);
    return bad || n == 0 ? -1 : n;
}
