/*  hd_codec_metrics: the METRICS envelope through msgpack-c (packer to encode, object API to
    decode). Every optional field is one row of s_fields, so encode, decode and the presence bits
    cannot drift apart. Input is checked by hd_codec_validate before msgpack-c sees it, so the
    unpacker never allocates for sizes the bytes cannot back.  */
#include "hd_codec_metrics.h"

#include <math.h>
#include <msgpack.h>
#include <string.h>

#include "hd_codec.h"
#include "hd_mpw.h"

_Static_assert(HD_PROTO_VERSION == 1, "HD_METRICS_TOPIC spells version 1: update it");
_Static_assert(sizeof HD_METRICS_TOPIC - 1 == HD_METRICS_TOPIC_BYTES, "topic is the header");

typedef enum { S_U32, S_U64, S_F64 } s_kind_t;
//  Allowed range of a float field; every float must also be finite.
typedef enum { S_ANY, S_NONNEG, S_UNIT } s_range_t;

typedef struct {
    const char *key;
    uint32_t bit;  //  HD_M_* presence bit
    bool sys;      //  bit lives in sys.present (else in present)
    s_kind_t kind;
    s_range_t range;  //  floats only
    size_t offset;    //  of the value in hd_metrics_t
} s_field_t;

//  Where a field lives in hd_metrics_t.
#define S_AT(member) offsetof (hd_metrics_t, member)

//  Wire order of the optional keys (docs/METRICS.md). Keys are wire format: never rename one.
static const s_field_t s_fields[] = {
    { "slots", HD_M_SLOTS, false, S_U32, S_ANY, S_AT (slots) },
    { "busy", HD_M_BUSY, false, S_U32, S_ANY, S_AT (busy) },
    { "cores", HD_M_CORES, true, S_U32, S_ANY, S_AT (sys.cores) },
    { "score", HD_M_SCORE, false, S_F64, S_NONNEG, S_AT (score) },
    { "cpu", HD_M_CPU, true, S_F64, S_UNIT, S_AT (sys.cpu_util) },
    { "load1", HD_M_LOAD1, true, S_F64, S_NONNEG, S_AT (sys.load1) },
    { "load5", HD_M_LOAD5, true, S_F64, S_NONNEG, S_AT (sys.load5) },
    { "load15", HD_M_LOAD15, true, S_F64, S_NONNEG, S_AT (sys.load15) },
    { "mem_total", HD_M_MEM_TOTAL, true, S_U64, S_ANY, S_AT (sys.mem_total) },
    { "mem_avail", HD_M_MEM_AVAIL, true, S_U64, S_ANY, S_AT (sys.mem_avail) },
    { "disk_free", HD_M_DISK_FREE, true, S_U64, S_ANY, S_AT (sys.disk_free) },
    { "disk_total", HD_M_DISK_TOTAL, true, S_U64, S_ANY, S_AT (sys.disk_total) },
    { "rx", HD_M_RX, true, S_F64, S_NONNEG, S_AT (sys.net_rx_bps) },
    { "tx", HD_M_TX, true, S_F64, S_NONNEG, S_AT (sys.net_tx_bps) },
    { "temp", HD_M_TEMP, true, S_F64, S_ANY, S_AT (sys.temp_c) },
    { "throttled", HD_M_THROTTLED, true, S_U32, S_ANY, S_AT (sys.throttled) },
    { "done", HD_M_DONE, false, S_U64, S_ANY, S_AT (done) },
    { "failed", HD_M_FAILED, false, S_U64, S_ANY, S_AT (failed) },
    { "interval", HD_M_INTERVAL, false, S_U32, S_ANY, S_AT (interval_ms) },
};
#define S_NFIELDS (sizeof s_fields / sizeof s_fields[0])
//  Decode's duplicate-key mask: one bit per row, then name and seq.
#define S_SEEN_NAME ((uint32_t) 1 << S_NFIELDS)
#define S_SEEN_SEQ ((uint32_t) 1 << (S_NFIELDS + 1))
_Static_assert(S_NFIELDS + 2 <= 32, "seen mask is 32 bits");

//  --- header ---------------------------------------------------------------------------------

void
hd_codec_metrics_header (uint8_t out[HD_HEADER_BYTES])
{
    memcpy (out, HD_METRICS_TOPIC, HD_METRICS_TOPIC_BYTES);
}

bool
hd_codec_metrics_is_header (const void *data, size_t size)
{
    return size == HD_METRICS_TOPIC_BYTES &&
           memcmp (data, HD_METRICS_TOPIC, HD_METRICS_TOPIC_BYTES) == 0;
}

//  --- shared rules ---------------------------------------------------------------------------

static bool
s_is_present (const hd_metrics_t *msg, const s_field_t *f)
{
    return ((f->sys ? msg->sys.present : msg->present) & f->bit) != 0;
}

static bool
s_float_ok (double v, s_range_t range)
{
    if (!isfinite (v))
        return false;
    if (range == S_ANY)
        return true;
    return v >= 0 && (range != S_UNIT || v <= 1);
}

static double
s_get_f64 (const hd_metrics_t *msg, const s_field_t *f)
{
    double v;
    memcpy (&v, (const char *) msg + f->offset, sizeof v);
    return v;
}

//  --- encode ---------------------------------------------------------------------------------

//  The shared writer latches the first failed write; checked once at the end (hd_mpw).
typedef hd_mpw_t s_enc_t;

static void
s_pack_text (msgpack_packer *pk, const char *text)
{
    msgpack_pack_str_with_body (pk, text, strlen (text));
}

static bool
s_msg_is_valid (const hd_metrics_t *msg)
{
    if (!memchr (msg->name, 0, sizeof msg->name) || msg->name[0] == 0)
        return false;
    if ((msg->present & ~HD_M_WORKER_ALL) || (msg->sys.present & ~HD_M_SYS_ALL))
        return false;
    for (size_t i = 0; i < S_NFIELDS; i++) {
        const s_field_t *f = &s_fields[i];
        if (f->kind == S_F64 && s_is_present (msg, f) && !s_float_ok (s_get_f64 (msg, f), f->range))
            return false;
    }
    return true;
}

static void
s_pack_field (msgpack_packer *pk, const hd_metrics_t *msg, const s_field_t *f)
{
    const char *at = (const char *) msg + f->offset;
    uint32_t u32;
    uint64_t u64;
    s_pack_text (pk, f->key);
    switch (f->kind) {
    case S_U32:
        memcpy (&u32, at, sizeof u32);
        msgpack_pack_uint32 (pk, u32);
        break;
    case S_U64:
        memcpy (&u64, at, sizeof u64);
        msgpack_pack_uint64 (pk, u64);
        break;
    case S_F64:
        msgpack_pack_double (pk, s_get_f64 (msg, f));
        break;
    }
}

hd_err_t
hd_codec_encode_metrics (hd_buf_t *buf, const hd_metrics_t *msg)
{
    hd_buf_reset (buf);
    if (!s_msg_is_valid (msg))
        return HD_EINVAL;
    size_t nkeys = 2;
    for (size_t i = 0; i < S_NFIELDS; i++)
        nkeys += s_is_present (msg, &s_fields[i]);
    s_enc_t enc;
    hd_mpw_start (&enc, buf);
    msgpack_pack_map (&enc.pk, nkeys);
    s_pack_text (&enc.pk, "name");
    s_pack_text (&enc.pk, msg->name);
    s_pack_text (&enc.pk, "seq");
    msgpack_pack_uint64 (&enc.pk, msg->seq);
    for (size_t i = 0; i < S_NFIELDS; i++)
        if (s_is_present (msg, &s_fields[i]))
            s_pack_field (&enc.pk, msg, &s_fields[i]);
    if (enc.failed) {
        hd_buf_reset (buf);
        return HD_ENOMEM;
    }
    return HD_OK;
}

//  --- decode ---------------------------------------------------------------------------------

static bool
s_key_is (const msgpack_object *key, const char *text)
{
    size_t n = strlen (text);
    return key->via.str.size == n && memcmp (key->via.str.ptr, text, n) == 0;
}

static const s_field_t *
s_find_field (const msgpack_object *key)
{
    for (size_t i = 0; i < S_NFIELDS; i++)
        if (s_key_is (key, s_fields[i].key))
            return &s_fields[i];
    return NULL;
}

static hd_err_t
s_get_name (const msgpack_object *o, hd_metrics_t *out)
{
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size == 0)
        return HD_EPROTO;
    if (o->via.str.size > HD_MAX_NAME)
        return HD_ETOOBIG;
    if (memchr (o->via.str.ptr, 0, o->via.str.size))
        return HD_EPROTO;
    memcpy (out->name, o->via.str.ptr, o->via.str.size);
    out->name[o->via.str.size] = 0;
    return HD_OK;
}

static bool
s_get_double (const msgpack_object *o, double *v)
{
    if (o->type == MSGPACK_OBJECT_FLOAT32 || o->type == MSGPACK_OBJECT_FLOAT64)
        *v = o->via.f64;
    else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        *v = (double) o->via.u64;
    else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        *v = (double) o->via.i64;
    else
        return false;
    return true;
}

static hd_err_t
s_get_uint (const msgpack_object *o, s_kind_t kind, char *at)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return HD_EPROTO;
    uint64_t u = o->via.u64;
    if (kind == S_U64) {
        memcpy (at, &u, sizeof u);
        return HD_OK;
    }
    if (u > UINT32_MAX)
        return HD_EPROTO;
    uint32_t u32 = (uint32_t) u;
    memcpy (at, &u32, sizeof u32);
    return HD_OK;
}

//  Write one known field's value and presence bit, checking its type and range.
static hd_err_t
s_get_field (const msgpack_object *o, const s_field_t *f, hd_metrics_t *out)
{
    char *at = (char *) out + f->offset;
    if (f->kind == S_F64) {
        double v;
        if (!s_get_double (o, &v) || !s_float_ok (v, f->range))
            return HD_EPROTO;
        memcpy (at, &v, sizeof v);
    } else if (s_get_uint (o, f->kind, at) != HD_OK)
        return HD_EPROTO;
    *(f->sys ? &out->sys.present : &out->present) |= f->bit;
    return HD_OK;
}

static hd_err_t
s_get_entry (const msgpack_object_kv *kv, uint32_t *seen, hd_metrics_t *out)
{
    if (kv->key.type != MSGPACK_OBJECT_STR)
        return HD_EPROTO;
    const s_field_t *f = s_find_field (&kv->key);
    uint32_t bit = f                             ? (uint32_t) 1 << (f - s_fields)
                   : s_key_is (&kv->key, "name") ? S_SEEN_NAME
                   : s_key_is (&kv->key, "seq")  ? S_SEEN_SEQ
                                                 : 0;
    if (bit == 0)
        return HD_OK;  //  unknown key: skipped (forward compatibility)
    if (*seen & bit)
        return HD_EPROTO;
    *seen |= bit;
    if (f)
        return s_get_field (&kv->val, f, out);
    if (bit == S_SEEN_NAME)
        return s_get_name (&kv->val, out);
    if (kv->val.type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return HD_EPROTO;
    out->seq = kv->val.via.u64;
    return HD_OK;
}

static hd_err_t
s_get_map (const msgpack_object *map, hd_metrics_t *out)
{
    if (map->type != MSGPACK_OBJECT_MAP)
        return HD_EPROTO;
    uint32_t seen = 0;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        hd_err_t rc = s_get_entry (&map->via.map.ptr[i], &seen, out);
        if (rc != HD_OK)
            return rc;
    }
    uint32_t required = S_SEEN_NAME | S_SEEN_SEQ;
    return (seen & required) == required ? HD_OK : HD_EPROTO;
}

hd_err_t
hd_codec_decode_metrics (const void *data, size_t size, hd_metrics_t *out)
{
    memset (out, 0, sizeof *out);
    if (size > HD_MAX_METRICS_ENVELOPE)
        return HD_ETOOBIG;
    if (hd_codec_validate (data, size) != HD_OK)
        return HD_EPROTO;
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    hd_err_t rc = HD_EPROTO;
    if (msgpack_unpack_next (&u, data, size, NULL) == MSGPACK_UNPACK_SUCCESS)
        rc = s_get_map (&u.data, out);
    msgpack_unpacked_destroy (&u);
    return rc;
}
