/*  hd_codec_nodes: NODES_REPLY, ADMIN and EVENT through msgpack-c's object API. Input is first
    checked by hd_codec_validate (declared lengths fit, bounded depth), so the unpacker never
    allocates for sizes the bytes cannot back. Rare messages: clarity over speed.  */
#include "hd_codec_nodes.h"

#include <math.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "hd_codec.h"
#include "hd_mpw.h"

static void
s_key (msgpack_packer *pk, const char *key)
{
    size_t n = strlen (key);
    msgpack_pack_str (pk, n);
    msgpack_pack_str_body (pk, key, n);
}

static void
s_kv_str (msgpack_packer *pk, const char *key, const char *value)
{
    s_key (pk, key);
    s_key (pk, value);
}

static void
s_kv_uint (msgpack_packer *pk, const char *key, uint64_t value)
{
    s_key (pk, key);
    msgpack_pack_uint64 (pk, value);
}

static void
s_kv_double (msgpack_packer *pk, const char *key, double value)
{
    s_key (pk, key);
    msgpack_pack_double (pk, value);
}

static uint32_t
s_node_keys (const hd_nodeinfo_t *x)
{
    uint32_t p = x->present;
    return 9 + !!(p & HD_NI_CPU) + 2 * !!(p & HD_NI_MEM) + !!(p & HD_NI_TEMP)
           + !!(p & HD_NI_SCORE) + !!(p & HD_NI_LOAD) + !!(p & HD_NI_AGE) + (x->ntags > 0);
}

static void
s_pack_node (msgpack_packer *pk, const hd_nodeinfo_t *x)
{
    msgpack_pack_map (pk, s_node_keys (x));
    s_kv_str (pk, "name", x->name);
    s_kv_str (pk, "arch", x->arch);
    s_kv_str (pk, "state", x->state);
    s_kv_uint (pk, "slots", x->slots);
    s_kv_uint (pk, "busy", x->busy);
    s_kv_uint (pk, "cores", x->cores);
    s_kv_double (pk, "capacity", x->capacity);
    s_kv_uint (pk, "done", x->done);
    s_kv_uint (pk, "failed", x->failed);
    if (x->present & HD_NI_CPU)
        s_kv_double (pk, "cpu", x->cpu);
    if (x->present & HD_NI_MEM) {
        s_kv_uint (pk, "mem_total", x->mem_total);
        s_kv_uint (pk, "mem_avail", x->mem_avail);
    }
    if (x->present & HD_NI_TEMP)
        s_kv_double (pk, "temp", x->temp);
    if (x->present & HD_NI_SCORE)
        s_kv_double (pk, "score", x->score);
    if (x->present & HD_NI_LOAD)
        s_kv_double (pk, "load1", x->load1);
    if (x->present & HD_NI_AGE)
        s_kv_uint (pk, "age", x->age_ms);
    if (x->ntags) {
        s_key (pk, "tags");
        msgpack_pack_array (pk, x->ntags);
        for (uint32_t i = 0; i < x->ntags; i++)
            s_key (pk, x->tags[i]);
    }
}

hd_err_t
hd_codec_encode_nodes (hd_buf_t *buf, const hd_nodeinfo_t *nodes, uint32_t count)
{
    hd_buf_reset (buf);
    hd_mpw_t w;
    msgpack_packer *pk = hd_mpw_start (&w, buf);
    msgpack_pack_map (pk, 1);
    s_key (pk, "nodes");
    msgpack_pack_array (pk, count);
    for (uint32_t i = 0; i < count; i++)
        s_pack_node (pk, &nodes[i]);
    return hd_mpw_end (&w);
}

//  --- decoding helpers -------------------------------------------------------------------------

static bool
s_key_is (const msgpack_object_kv *kv, const char *key)
{
    return kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen (key)
           && memcmp (kv->key.via.str.ptr, key, kv->key.via.str.size) == 0;
}

//  Whether kv's key is one of `keys` already seen in this map (a known key appearing twice is
//  malformed: docs/PROTOCOL.md); marks it seen. At most 32 keys.
static bool
s_dup (const msgpack_object_kv *kv, const char *const *keys, uint32_t nkeys, uint32_t *seen)
{
    for (uint32_t i = 0; i < nkeys; i++)
        if (s_key_is (kv, keys[i])) {
            bool dup = (*seen >> i) & 1u;
            *seen |= 1u << i;
            return dup;
        }
    return false;
}

static bool
s_str (const msgpack_object *o, char *out, size_t outlen)
{
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size >= outlen
        || memchr (o->via.str.ptr, 0, o->via.str.size))
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
s_double (const msgpack_object *o, double *out)
{
    if (o->type == MSGPACK_OBJECT_FLOAT64 || o->type == MSGPACK_OBJECT_FLOAT32)
        *out = o->via.f64;
    else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        *out = (double) o->via.u64;
    else
        return false;
    return isfinite (*out);
}

static bool
s_u32 (const msgpack_object *o, uint32_t *out)
{
    uint64_t u;
    if (!s_uint (o, &u) || u > UINT32_MAX)
        return false;
    *out = (uint32_t) u;
    return true;
}

static bool
s_tags (const msgpack_object *o, hd_nodeinfo_t *x)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > HD_MAX_TAGS)
        return false;
    for (uint32_t i = 0; i < o->via.array.size; i++)
        if (!s_str (&o->via.array.ptr[i], x->tags[i], sizeof x->tags[i]))
            return false;
    x->ntags = o->via.array.size;
    return true;
}

//  Optional live figures: each sets its present bit.
static int
s_node_metric (const msgpack_object_kv *kv, hd_nodeinfo_t *x)
{
    const msgpack_object *v = &kv->val;
    uint64_t u;
    if (s_key_is (kv, "cpu"))
        return (x->present |= HD_NI_CPU, s_double (v, &x->cpu));
    if (s_key_is (kv, "mem_total"))
        return (x->present |= HD_NI_MEM, s_uint (v, &x->mem_total));
    if (s_key_is (kv, "mem_avail"))
        return (x->present |= HD_NI_MEM, s_uint (v, &x->mem_avail));
    if (s_key_is (kv, "temp"))
        return (x->present |= HD_NI_TEMP, s_double (v, &x->temp));
    if (s_key_is (kv, "score"))
        return (x->present |= HD_NI_SCORE, s_double (v, &x->score));
    if (s_key_is (kv, "load1"))
        return (x->present |= HD_NI_LOAD, s_double (v, &x->load1));
    if (s_key_is (kv, "age"))
        return (x->present |= HD_NI_AGE, s_uint (v, &u) && u <= UINT32_MAX && (x->age_ms = (uint32_t) u, true));
    if (s_key_is (kv, "tags"))
        return s_tags (v, x);
    return -1;  //  not a metric key
}

static bool
s_node_field (const msgpack_object_kv *kv, hd_nodeinfo_t *x)
{
    const msgpack_object *v = &kv->val;
    if (s_key_is (kv, "name")) return s_str (v, x->name, sizeof x->name);
    if (s_key_is (kv, "arch")) return s_str (v, x->arch, sizeof x->arch);
    if (s_key_is (kv, "state")) return s_str (v, x->state, sizeof x->state);
    if (s_key_is (kv, "capacity")) return s_double (v, &x->capacity);
    if (s_key_is (kv, "slots")) return s_u32 (v, &x->slots);
    if (s_key_is (kv, "busy")) return s_u32 (v, &x->busy);
    if (s_key_is (kv, "cores")) return s_u32 (v, &x->cores);
    if (s_key_is (kv, "done")) return s_uint (v, &x->done);
    if (s_key_is (kv, "failed")) return s_uint (v, &x->failed);
    int rc = s_node_metric (kv, x);
    return rc != 0;  //  -1: unknown key, skipped
}

static const char *const s_node_names[] = { "name", "arch", "state", "capacity", "slots",
                                            "busy", "cores", "done", "failed", "cpu",
                                            "mem_total", "mem_avail", "temp", "score", "load1",
                                            "age", "tags" };

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
        uint32_t seen = 0;
        for (uint32_t k = 0; ok && k < o->via.map.size; k++)
            ok = !s_dup (&o->via.map.ptr[k], s_node_names,
                         sizeof s_node_names / sizeof *s_node_names, &seen)
                 && s_node_field (&o->via.map.ptr[k], &nodes[i]);
        if (!ok) {
            free (nodes);
            return HD_EPROTO;
        }
    }
    *out = nodes;
    *count = n;
    return HD_OK;
}

//  Unpack a validated top-level map and call `field` for each pair; HD_EPROTO when it refuses.
static hd_err_t
s_each_pair (const void *data, size_t size, bool (*field) (const msgpack_object_kv *, void *),
             void *arg)
{
    if (hd_codec_validate (data, size) != HD_OK)
        return HD_EPROTO;
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    hd_err_t rc = HD_EPROTO;
    if (msgpack_unpack_next (&u, data, size, NULL) == MSGPACK_UNPACK_SUCCESS
        && u.data.type == MSGPACK_OBJECT_MAP) {
        rc = HD_OK;
        for (uint32_t k = 0; rc == HD_OK && k < u.data.via.map.size; k++)
            if (!field (&u.data.via.map.ptr[k], arg))
                rc = HD_EPROTO;
    }
    msgpack_unpacked_destroy (&u);
    return rc;
}

typedef struct {
    hd_nodeinfo_t **out;
    uint32_t *count;
    hd_err_t rc;
    bool seen;
} s_nodes_ctx_t;

static bool
s_nodes_pair (const msgpack_object_kv *kv, void *arg)
{
    s_nodes_ctx_t *ctx = arg;
    if (!s_key_is (kv, "nodes"))
        return true;
    if (ctx->seen)
        return false;
    ctx->seen = true;
    ctx->rc = s_decode_list (&kv->val, ctx->out, ctx->count);
    return ctx->rc == HD_OK;
}

hd_err_t
hd_codec_decode_nodes (const void *data, size_t size, hd_nodeinfo_t **out, uint32_t *count)
{
    *out = NULL;
    *count = 0;
    s_nodes_ctx_t ctx = { out, count, HD_EPROTO, false };
    hd_err_t rc = s_each_pair (data, size, s_nodes_pair, &ctx);
    if (rc == HD_OK && !ctx.seen)
        rc = HD_EPROTO;
    if (rc != HD_OK) {
        free (*out);
        *out = NULL;
        *count = 0;
        return ctx.rc == HD_ETOOBIG ? HD_ETOOBIG : rc;
    }
    return HD_OK;
}

//  --- ADMIN ------------------------------------------------------------------------------------

hd_err_t
hd_codec_encode_admin (hd_buf_t *buf, const hd_admin_t *msg)
{
    hd_buf_reset (buf);
    hd_mpw_t w;
    msgpack_packer *pk = hd_mpw_start (&w, buf);
    msgpack_pack_map (pk, 2 + (msg->grant[0] != 0));
    s_kv_str (pk, "op", msg->op);
    s_kv_str (pk, "node", msg->node);
    if (msg->grant[0])
        s_kv_str (pk, "grant", msg->grant);
    return hd_mpw_end (&w);
}

typedef struct {
    void *msg;
    uint32_t seen;
} s_once_t;

static bool
s_admin_pair (const msgpack_object_kv *kv, void *arg)
{
    static const char *const keys[] = { "op", "node", "grant" };
    s_once_t *ctx = arg;
    hd_admin_t *a = ctx->msg;
    if (s_dup (kv, keys, 3, &ctx->seen))
        return false;
    if (s_key_is (kv, "op")) return s_str (&kv->val, a->op, sizeof a->op);
    if (s_key_is (kv, "node")) return s_str (&kv->val, a->node, sizeof a->node);
    if (s_key_is (kv, "grant")) return s_str (&kv->val, a->grant, sizeof a->grant);
    return true;
}

hd_err_t
hd_codec_decode_admin (const void *data, size_t size, hd_admin_t *out)
{
    memset (out, 0, sizeof *out);
    s_once_t ctx = { out, 0 };
    hd_err_t rc = s_each_pair (data, size, s_admin_pair, &ctx);
    return rc == HD_OK && out->op[0] && out->node[0] ? HD_OK : HD_EPROTO;
}

//  --- EVENT ------------------------------------------------------------------------------------

hd_err_t
hd_codec_encode_event (hd_buf_t *buf, const hd_event_t *msg)
{
    hd_buf_reset (buf);
    hd_mpw_t w;
    msgpack_packer *pk = hd_mpw_start (&w, buf);
    msgpack_pack_map (pk, 9);
    s_kv_str (pk, "type", msg->type);
    s_kv_str (pk, "node", msg->node);
    s_kv_str (pk, "state", msg->state);
    s_kv_str (pk, "text", msg->text);
    s_kv_uint (pk, "queued", msg->queued);
    s_kv_uint (pk, "running", msg->running);
    s_kv_uint (pk, "done", msg->done);
    s_kv_uint (pk, "failed", msg->failed);
    s_kv_double (pk, "rate", msg->rate);
    return hd_mpw_end (&w);
}

static bool
s_event_pair (const msgpack_object_kv *kv, void *arg)
{
    static const char *const keys[] = { "type", "node", "state", "text", "queued",
                                        "running", "done", "failed", "rate" };
    s_once_t *ctx = arg;
    hd_event_t *e = ctx->msg;
    if (s_dup (kv, keys, 9, &ctx->seen))
        return false;
    const msgpack_object *v = &kv->val;
    if (s_key_is (kv, "type")) return s_str (v, e->type, sizeof e->type);
    if (s_key_is (kv, "node")) return s_str (v, e->node, sizeof e->node);
    if (s_key_is (kv, "state")) return s_str (v, e->state, sizeof e->state);
    if (s_key_is (kv, "text")) return s_str (v, e->text, sizeof e->text);
    if (s_key_is (kv, "queued")) return s_uint (v, &e->queued);
    if (s_key_is (kv, "running")) return s_uint (v, &e->running);
    if (s_key_is (kv, "done")) return s_uint (v, &e->done);
    if (s_key_is (kv, "failed")) return s_uint (v, &e->failed);
    if (s_key_is (kv, "rate")) return s_double (v, &e->rate);
    return true;
}

hd_err_t
hd_codec_decode_event (const void *data, size_t size, hd_event_t *out)
{
    memset (out, 0, sizeof *out);
    s_once_t ctx = { out, 0 };
    hd_err_t rc = s_each_pair (data, size, s_event_pair, &ctx);
    return rc == HD_OK && out->type[0] ? HD_OK : HD_EPROTO;
}

//  --- NOTICE -----------------------------------------------------------------------------------

hd_err_t
hd_codec_encode_notice (hd_buf_t *buf, const hd_notice_t *msg)
{
    hd_buf_reset (buf);
    hd_mpw_t w;
    msgpack_packer *pk = hd_mpw_start (&w, buf);
    msgpack_pack_map (pk, 4);
    s_kv_str (pk, "fn", msg->fn);
    s_kv_uint (pk, "nodes", msg->nodes);
    s_kv_uint (pk, "wait", msg->wait_ms);
    s_kv_str (pk, "reason", msg->reason);
    return hd_mpw_end (&w);
}

typedef struct {
    hd_notice_t *n;
    uint32_t seen;
} s_notice_ctx_t;

static bool
s_notice_pair (const msgpack_object_kv *kv, void *arg)
{
    s_notice_ctx_t *ctx = arg;
    hd_notice_t *n = ctx->n;
    const msgpack_object *v = &kv->val;
    const char *keys[] = { "fn", "nodes", "wait", "reason" };
    for (uint32_t i = 0; i < 4; i++)
        if (s_key_is (kv, keys[i])) {
            if (ctx->seen & (1u << i))
                return false;  //  a known key twice
            ctx->seen |= 1u << i;
        }
    if (s_key_is (kv, "fn")) return s_str (v, n->fn, sizeof n->fn) && n->fn[0];
    if (s_key_is (kv, "nodes")) return s_u32 (v, &n->nodes);
    if (s_key_is (kv, "wait")) return s_u32 (v, &n->wait_ms);
    if (s_key_is (kv, "reason")) return s_str (v, n->reason, sizeof n->reason);
    return true;
}

hd_err_t
hd_codec_decode_notice (const void *data, size_t size, hd_notice_t *out)
{
    memset (out, 0, sizeof *out);
    s_notice_ctx_t ctx = { out, 0 };
    hd_err_t rc = s_each_pair (data, size, s_notice_pair, &ctx);
    return rc == HD_OK && (ctx.seen & 5) == 5 ? HD_OK : HD_EPROTO;
}

//  --- FUNCTIONS_REPLY --------------------------------------------------------------------------

static void
s_pack_fn (msgpack_packer *pk, const hd_fninfo_t *f)
{
    uint32_t nnames = f->nnames < HD_FN_NAMES ? f->nnames : HD_FN_NAMES;
    msgpack_pack_map (pk, 6 + (nnames > 0));
    s_kv_str (pk, "name", f->name);
    s_kv_uint (pk, "nodes", f->nodes);
    if (nnames) {
        s_key (pk, "names");
        msgpack_pack_array (pk, nnames);
        for (uint32_t i = 0; i < nnames; i++)
            s_key (pk, f->names[i]);
    }
    s_kv_uint (pk, "queued", f->queued);
    s_kv_uint (pk, "running", f->running);
    s_kv_uint (pk, "done", f->done);
    s_kv_double (pk, "ms", f->ms);
}

hd_err_t
hd_codec_encode_functions (hd_buf_t *buf, const hd_fninfo_t *fns, uint32_t count)
{
    hd_buf_reset (buf);
    if (count > HD_MAX_FUNCTIONS)
        return HD_EINVAL;
    hd_mpw_t w;
    msgpack_packer *pk = hd_mpw_start (&w, buf);
    msgpack_pack_map (pk, 1);
    s_key (pk, "fns");
    msgpack_pack_array (pk, count);
    for (uint32_t i = 0; i < count; i++)
        s_pack_fn (pk, &fns[i]);
    return hd_mpw_end (&w);
}

static bool
s_fn_names (const msgpack_object *o, hd_fninfo_t *f)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > HD_FN_NAMES)
        return false;
    for (uint32_t i = 0; i < o->via.array.size; i++)
        if (!s_str (&o->via.array.ptr[i], f->names[i], sizeof f->names[i]))
            return false;
    f->nnames = o->via.array.size;
    return true;
}

//  One key of a function's map; sets its bit in *seen (a known key twice is malformed).
static bool
s_fn_field (const msgpack_object_kv *kv, hd_fninfo_t *f, uint32_t *seen)
{
    static const char *const keys[] = { "name", "nodes", "names", "queued", "running", "done",
                                        "ms" };
    uint32_t k = 0;
    while (k < 7 && !s_key_is (kv, keys[k]))
        k++;
    if (k == 7)
        return true;  //  unknown: ignored
    if (*seen & (1u << k))
        return false;
    *seen |= 1u << k;
    const msgpack_object *v = &kv->val;
    switch (k) {
    case 0: return s_str (v, f->name, sizeof f->name) && f->name[0];
    case 1: return s_u32 (v, &f->nodes);
    case 2: return s_fn_names (v, f);
    case 3: return s_u32 (v, &f->queued);
    case 4: return s_u32 (v, &f->running);
    case 5: return s_uint (v, &f->done);
    default: return s_double (v, &f->ms) && f->ms >= 0;
    }
}

static hd_err_t
s_decode_fns (const msgpack_object *list, hd_fninfo_t **out, uint32_t *count)
{
    if (list->type != MSGPACK_OBJECT_ARRAY)
        return HD_EPROTO;
    if (list->via.array.size > HD_MAX_FUNCTIONS)
        return HD_ETOOBIG;
    uint32_t n = list->via.array.size;
    hd_fninfo_t *fns = calloc (n ? n : 1, sizeof *fns);
    if (!fns)
        return HD_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *o = &list->via.array.ptr[i];
        uint32_t seen = 0;
        bool ok = o->type == MSGPACK_OBJECT_MAP;
        for (uint32_t k = 0; ok && k < o->via.map.size; k++)
            ok = s_fn_field (&o->via.map.ptr[k], &fns[i], &seen);
        if (!ok || (seen & 0x7b) != 0x7b) {  //  all but names
            free (fns);
            return HD_EPROTO;
        }
    }
    *out = fns;
    *count = n;
    return HD_OK;
}

typedef struct {
    hd_fninfo_t **out;
    uint32_t *count;
    hd_err_t rc;
    bool seen;
} s_fns_ctx_t;

static bool
s_fns_pair (const msgpack_object_kv *kv, void *arg)
{
    s_fns_ctx_t *ctx = arg;
    if (!s_key_is (kv, "fns"))
        return true;
    if (ctx->seen)
        return false;
    ctx->seen = true;
    ctx->rc = s_decode_fns (&kv->val, ctx->out, ctx->count);
    return ctx->rc == HD_OK;
}

hd_err_t
hd_codec_decode_functions (const void *data, size_t size, hd_fninfo_t **out, uint32_t *count)
{
    *out = NULL;
    *count = 0;
    s_fns_ctx_t ctx = { out, count, HD_EPROTO, false };
    hd_err_t rc = s_each_pair (data, size, s_fns_pair, &ctx);
    if (rc == HD_OK && !ctx.seen)
        rc = HD_EPROTO;
    if (rc != HD_OK) {
        free (*out);
        *out = NULL;
        *count = 0;
        return ctx.rc == HD_ETOOBIG ? HD_ETOOBIG : rc;
    }
    return HD_OK;
}

//  --- PONG -------------------------------------------------------------------------------------

hd_err_t
hd_codec_encode_pong (hd_buf_t *buf, uint32_t maxpay)
{
    hd_buf_reset (buf);
    hd_mpw_t w;
    msgpack_packer *pk = hd_mpw_start (&w, buf);
    msgpack_pack_map (pk, 1);
    s_kv_uint (pk, "maxpay", maxpay);
    return hd_mpw_end (&w);
}

static bool
s_pong_pair (const msgpack_object_kv *kv, void *arg)
{
    return !s_key_is (kv, "maxpay") || s_u32 (&kv->val, arg);
}

hd_err_t
hd_codec_decode_pong (const void *data, size_t size, uint32_t *maxpay)
{
    *maxpay = 0;
    hd_err_t rc = s_each_pair (data, size, s_pong_pair, maxpay);
    if (rc != HD_OK)
        *maxpay = 0;
    return rc;
}
