/*  hd_codec_nodes: NODES_REPLY through msgpack-c's object API. The input is first checked by
    hd_codec_validate (declared lengths fit, bounded depth), so the unpacker never allocates for
    sizes the bytes cannot back.  */
#include "hd_codec_nodes.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "hd_codec.h"

static int
s_write (void *data, const char *buf, size_t len)
{
    return hd_buf_append (data, buf, len) == HD_OK ? 0 : -1;
}

static void
s_key (msgpack_packer *pk, const char *key)
{
    size_t n = strlen (key);
    msgpack_pack_str (pk, n);
    msgpack_pack_str_body (pk, key, n);
}

static void
s_pack_node (msgpack_packer *pk, const hd_nodeinfo_t *x)
{
    msgpack_pack_map (pk, 9);
    const char *strs[3][2] = { { "name", x->name }, { "arch", x->arch }, { "state", x->state } };
    for (int i = 0; i < 3; i++) {
        s_key (pk, strs[i][0]);
        s_key (pk, strs[i][1]);
    }
    s_key (pk, "slots");
    msgpack_pack_uint32 (pk, x->slots);
    s_key (pk, "busy");
    msgpack_pack_uint32 (pk, x->busy);
    s_key (pk, "cores");
    msgpack_pack_uint32 (pk, x->cores);
    s_key (pk, "capacity");
    msgpack_pack_double (pk, x->capacity);
    s_key (pk, "done");
    msgpack_pack_uint64 (pk, x->done);
    s_key (pk, "failed");
    msgpack_pack_uint64 (pk, x->failed);
}

hd_err_t
hd_codec_encode_nodes (hd_buf_t *buf, const hd_nodeinfo_t *nodes, uint32_t count)
{
    hd_buf_reset (buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, s_write);
    msgpack_pack_map (&pk, 1);
    s_key (&pk, "nodes");
    msgpack_pack_array (&pk, count);
    for (uint32_t i = 0; i < count; i++)
        s_pack_node (&pk, &nodes[i]);
    return buf->size ? HD_OK : HD_ENOMEM;
}

static bool
s_key_is (const msgpack_object_kv *kv, const char *key)
{
    return kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen (key)
           && memcmp (kv->key.via.str.ptr, key, kv->key.via.str.size) == 0;
}

static bool
s_str (const msgpack_object *o, char *out, size_t outlen)
{
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size >= outlen)
        return false;
    memcpy (out, o->via.str.ptr, o->via.str.size);
    out[o->via.str.size] = 0;
    return true;
}

static bool
s_uint (const msgpack_object *o, uint64_t *out)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return false;
    *out = o->via.u64;
    return true;
}

static bool
s_node_field (const msgpack_object_kv *kv, hd_nodeinfo_t *x)
{
    uint64_t u = 0;
    if (s_key_is (kv, "name")) return s_str (&kv->val, x->name, sizeof x->name);
    if (s_key_is (kv, "arch")) return s_str (&kv->val, x->arch, sizeof x->arch);
    if (s_key_is (kv, "state")) return s_str (&kv->val, x->state, sizeof x->state);
    if (s_key_is (kv, "capacity")) {
        if (kv->val.type == MSGPACK_OBJECT_FLOAT64 || kv->val.type == MSGPACK_OBJECT_FLOAT32)
            x->capacity = kv->val.via.f64;
        else if (s_uint (&kv->val, &u))
            x->capacity = (double) u;
        else
            return false;
        return true;
    }
    uint32_t *u32 = s_key_is (kv, "slots") ? &x->slots : s_key_is (kv, "busy") ? &x->busy
                    : s_key_is (kv, "cores") ? &x->cores : NULL;
    uint64_t *u64 = s_key_is (kv, "done") ? &x->done : s_key_is (kv, "failed") ? &x->failed : NULL;
    if (!u32 && !u64)
        return true;  //  unknown key: skipped
    if (!s_uint (&kv->val, &u) || (u32 && u > UINT32_MAX))
        return false;
    if (u32)
        *u32 = (uint32_t) u;
    else
        *u64 = u;
    return true;
}

static hd_err_t
s_decode_list (const msgpack_object *list, hd_nodeinfo_t **out, uint32_t *count)
{
    if (list->type != MSGPACK_OBJECT_ARRAY)
        return HD_EPROTO;
    if (list->via.array.size > HD_MAX_NODES)
        return HD_ETOOBIG;
    uint32_t n = list->via.array.size;
    hd_nodeinfo_t *nodes = calloc (n ? n : 1, sizeof *nodes);
    if (!nodes)
        return HD_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *o = &list->via.array.ptr[i];
        bool ok = o->type == MSGPACK_OBJECT_MAP;
        for (uint32_t k = 0; ok && k < o->via.map.size; k++)
            ok = s_node_field (&o->via.map.ptr[k], &nodes[i]);
        if (!ok) {
            free (nodes);
            return HD_EPROTO;
        }
    }
    *out = nodes;
    *count = n;
    return HD_OK;
}

hd_err_t
hd_codec_decode_nodes (const void *data, size_t size, hd_nodeinfo_t **out, uint32_t *count)
{
    *out = NULL;
    *count = 0;
    if (hd_codec_validate (data, size) != HD_OK)
        return HD_EPROTO;
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    hd_err_t rc = HD_EPROTO;
    if (msgpack_unpack_next (&u, data, size, NULL) == MSGPACK_UNPACK_SUCCESS
        && u.data.type == MSGPACK_OBJECT_MAP) {
        for (uint32_t k = 0; k < u.data.via.map.size; k++)
            if (s_key_is (&u.data.via.map.ptr[k], "nodes"))
                rc = s_decode_list (&u.data.via.map.ptr[k].val, out, count);
    }
    msgpack_unpacked_destroy (&u);
    return rc;
}
