/*  hd_codec_jobs: the detached-job envelopes through msgpack-c's object API, each message
    described by a table of fields (key, kind, offset, bound) that one encoder and one decoder
    walk. Input is first checked by hd_codec_validate (declared lengths fit, bounded depth), so
    the unpacker never allocates for sizes the bytes cannot back. Rare messages: clarity first.  */
#include "hd_codec_jobs.h"

#include <math.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "hd_codec.h"
#include "hd_mpw.h"

typedef enum {
    F_JOB,     //  char[19]: a valid job id
    F_JOBREF,  //  char[19]: a valid job id or ""
    F_NAME,    //  char[65]: no control bytes
    F_STATE,   //  char[16]
    F_U32,
    F_U64,
    F_I64,
    F_RATE,    //  double, finite, >= 0
    F_INFO,    //  a nested jobinfo map
} s_kind_t;

typedef struct {
    const char *key;
    s_kind_t kind;
    size_t offset;
    size_t len;     //  string fields: bytes of the array
    bool required;
} s_field_t;

#define S_F(T, key, kind, member, req) \
    { key, kind, offsetof (T, member), sizeof (((T *) 0)->member), req }

static const s_field_t s_open_fields[] = {
    S_F (hd_jobopen_t, "job", F_JOB, job, true),
    S_F (hd_jobopen_t, "name", F_NAME, name, false),
    S_F (hd_jobopen_t, "total", F_U32, total, true),
    S_F (hd_jobopen_t, "ttl", F_U32, ttl_s, false),
};
static const s_field_t s_ref_fields[] = {
    S_F (hd_jobref_t, "job", F_JOBREF, job, false),
};
static const s_field_t s_fetch_fields[] = {
    S_F (hd_jobfetch_t, "job", F_JOB, job, true),
    S_F (hd_jobfetch_t, "off", F_U64, off, false),
    S_F (hd_jobfetch_t, "max", F_U32, max, false),
    S_F (hd_jobfetch_t, "wait", F_U32, wait_ms, false),
};
static const s_field_t s_info_fields[] = {
    S_F (hd_jobinfo_t, "job", F_JOB, job, true),
    S_F (hd_jobinfo_t, "name", F_NAME, name, false),
    S_F (hd_jobinfo_t, "state", F_STATE, state, true),
    S_F (hd_jobinfo_t, "total", F_U32, total, false),
    S_F (hd_jobinfo_t, "queued", F_U32, queued, false),
    S_F (hd_jobinfo_t, "running", F_U32, running, false),
    S_F (hd_jobinfo_t, "ok", F_U32, ok, false),
    S_F (hd_jobinfo_t, "failed", F_U32, failed, false),
    S_F (hd_jobinfo_t, "cancelled", F_U32, cancelled, false),
    S_F (hd_jobinfo_t, "stored", F_U32, stored, false),
    S_F (hd_jobinfo_t, "bytes", F_U64, bytes, false),
    S_F (hd_jobinfo_t, "created", F_I64, created_ms, false),
    S_F (hd_jobinfo_t, "expires", F_I64, expires_ms, false),
    S_F (hd_jobinfo_t, "rate", F_RATE, rate, false),
};
static const s_field_t s_data_fields[] = {
    S_F (hd_jobdata_t, "job", F_JOB, job, true),
    S_F (hd_jobdata_t, "off", F_U64, off, true),
    S_F (hd_jobdata_t, "next", F_U64, next, true),
    S_F (hd_jobdata_t, "size", F_U64, size, true),
    S_F (hd_jobdata_t, "count", F_U32, count, true),
    S_F (hd_jobdata_t, "info", F_INFO, info, true),
};
#define S_N(a) ((uint32_t) (sizeof a / sizeof a[0]))

//  --- job ids ----------------------------------------------------------------------------------

static int
s_hex (char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

bool
hd_job_nonce (const char *job, uint8_t out[8])
{
    if (!job || job[0] != 'j' || job[1] != '-')
        return false;
    for (int i = 0; i < 16; i++)
        if (s_hex (job[2 + i]) < 0)
            return false;
    if (job[HD_JOB_ID_LEN] != 0)
        return false;
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t) (s_hex (job[2 + 2 * i]) << 4 | s_hex (job[3 + 2 * i]));
    return true;
}

bool
hd_job_id_valid (const char *job)
{
    uint8_t nonce[8];
    return hd_job_nonce (job, nonce);
}

hd_err_t
hd_job_id_new (char out[HD_JOB_ID_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    hd_id_t id;
    hd_id_random (&id);  //  libsodium, initialised by hd_id_random
    out[0] = 'j';
    out[1] = '-';
    for (int i = 0; i < 8; i++) {
        out[2 + 2 * i] = digits[id.b[i] >> 4];
        out[3 + 2 * i] = digits[id.b[i] & 15];
    }
    out[HD_JOB_ID_LEN] = 0;
    return HD_OK;
}

void
hd_job_task_id (const char *job, uint64_t index, uint8_t out[16])
{
    if (!hd_job_nonce (job, out)) {
        memset (out, 0, 16);
        return;
    }
    for (int i = 0; i < 8; i++)
        out[8 + i] = (uint8_t) (index >> (56 - 8 * i));
}

bool
hd_job_task_index (const char *job, const uint8_t id[16], uint64_t *index)
{
    uint8_t nonce[8];
    if (!hd_job_nonce (job, nonce) || memcmp (nonce, id, 8) != 0)
        return false;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | id[8 + i];
    *index = v;
    return true;
}

//  --- encoding ---------------------------------------------------------------------------------

static void
s_str (msgpack_packer *pk, const char *text)
{
    size_t n = strlen (text);
    msgpack_pack_str (pk, n);
    msgpack_pack_str_body (pk, text, n);
}

static bool
s_name_ok (const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

//  Whether the string field at `p` (array of `len`) holds a value its decoder accepts.
static bool
s_str_ok (s_kind_t kind, const char *p, size_t len)
{
    size_t n = strnlen (p, len);
    if (n == len)
        return false;  //  unterminated
    if (kind == F_JOB)
        return hd_job_id_valid (p);
    if (kind == F_JOBREF)
        return n == 0 || hd_job_id_valid (p);
    return kind != F_NAME || s_name_ok (p, n);
}

static bool s_pack_fields (msgpack_packer *pk, const s_field_t *f, uint32_t n, const void *m);

static bool
s_pack_field (msgpack_packer *pk, const s_field_t *f, const void *m)
{
    const char *p = (const char *) m + f->offset;
    uint32_t u32;
    uint64_t u64;
    int64_t i64;
    double d;
    switch (f->kind) {
    case F_U32: memcpy (&u32, p, 4); msgpack_pack_uint32 (pk, u32); return true;
    case F_U64: memcpy (&u64, p, 8); msgpack_pack_uint64 (pk, u64); return true;
    case F_I64: memcpy (&i64, p, 8); msgpack_pack_int64 (pk, i64); return true;
    case F_RATE:
        memcpy (&d, p, sizeof d);
        msgpack_pack_double (pk, d);
        return isfinite (d) && d >= 0;
    case F_INFO: return s_pack_fields (pk, s_info_fields, S_N (s_info_fields), p);
    default:
        if (!s_str_ok (f->kind, p, f->len))
            return false;
        s_str (pk, p);
        return true;
    }
}

static bool
s_pack_fields (msgpack_packer *pk, const s_field_t *f, uint32_t n, const void *m)
{
    msgpack_pack_map (pk, n);
    for (uint32_t i = 0; i < n; i++) {
        s_str (pk, f[i].key);
        if (!s_pack_field (pk, &f[i], m))
            return false;
    }
    return true;
}

static hd_err_t
s_encode (hd_buf_t *buf, const s_field_t *f, uint32_t n, const void *m)
{
    hd_buf_reset (buf);
    hd_mpw_t w;
    msgpack_packer *pk = hd_mpw_start (&w, buf);
    if (!s_pack_fields (pk, f, n, m)) {
        hd_buf_reset (buf);
        return HD_EINVAL;
    }
    hd_err_t rc = hd_mpw_end (&w);
    if (rc != HD_OK)
        hd_buf_reset (buf);
    return rc;
}

//  --- decoding ---------------------------------------------------------------------------------

static bool
s_key_is (const msgpack_object *k, const char *key)
{
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen (key)
           && memcmp (k->via.str.ptr, key, k->via.str.size) == 0;
}

//  A string field: HD_OK, HD_ETOOBIG (too long) or HD_EPROTO.
static hd_err_t
s_get_str (const msgpack_object *o, const s_field_t *f, char *out)
{
    if (o->type != MSGPACK_OBJECT_STR)
        return HD_EPROTO;
    size_t n = o->via.str.size;
    if (n >= f->len)
        return f->kind == F_NAME ? HD_ETOOBIG : HD_EPROTO;
    if (memchr (o->via.str.ptr, 0, n))
        return HD_EPROTO;
    memcpy (out, o->via.str.ptr, n);
    out[n] = 0;
    return s_str_ok (f->kind, out, f->len) ? HD_OK : HD_EPROTO;
}

static hd_err_t s_get_fields (const msgpack_object *map, const s_field_t *f, uint32_t n,
                              void *out);

static hd_err_t
s_get_field (const msgpack_object *o, const s_field_t *f, void *m)
{
    char *p = (char *) m + f->offset;
    uint64_t u = o->via.u64;
    bool pos = o->type == MSGPACK_OBJECT_POSITIVE_INTEGER;
    switch (f->kind) {
    case F_U32:
        if (!pos || u > UINT32_MAX)
            return HD_EPROTO;
        uint32_t u32 = (uint32_t) u;
        memcpy (p, &u32, 4);
        return HD_OK;
    case F_U64:
        if (!pos)
            return HD_EPROTO;
        memcpy (p, &u, 8);
        return HD_OK;
    case F_I64: {
        if (!(pos && u <= INT64_MAX) && o->type != MSGPACK_OBJECT_NEGATIVE_INTEGER)
            return HD_EPROTO;
        int64_t i = pos ? (int64_t) u : o->via.i64;
        memcpy (p, &i, 8);
        return HD_OK;
    }
    case F_RATE: {
        double d;
        if (o->type == MSGPACK_OBJECT_FLOAT64 || o->type == MSGPACK_OBJECT_FLOAT32)
            d = o->via.f64;
        else if (pos)
            d = (double) u;
        else
            return HD_EPROTO;
        if (!isfinite (d) || d < 0)
            return HD_EPROTO;
        memcpy (p, &d, sizeof d);
        return HD_OK;
    }
    case F_INFO: return s_get_fields (o, s_info_fields, S_N (s_info_fields), p);
    default: return s_get_str (o, f, p);
    }
}

//  Each known key at most once, every required one present; unknown keys skipped.
static hd_err_t
s_get_fields (const msgpack_object *map, const s_field_t *f, uint32_t n, void *out)
{
    if (map->type != MSGPACK_OBJECT_MAP)
        return HD_EPROTO;
    uint32_t seen = 0, need = 0;
    for (uint32_t i = 0; i < n; i++)
        need |= f[i].required ? 1u << i : 0;
    for (uint32_t k = 0; k < map->via.map.size; k++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[k];
        uint32_t i = 0;
        while (i < n && !s_key_is (&kv->key, f[i].key))
            i++;
        if (i == n)
            continue;
        if (seen & (1u << i))
            return HD_EPROTO;
        seen |= 1u << i;
        hd_err_t rc = s_get_field (&kv->val, &f[i], out);
        if (rc != HD_OK)
            return rc;
    }
    return (seen & need) == need ? HD_OK : HD_EPROTO;
}

//  Validate, unpack, and hand the top-level object to `fn`.
static hd_err_t
s_decode (const void *data, size_t size, size_t limit,
          hd_err_t (*fn) (const msgpack_object *, void *), void *out)
{
    if (size > limit)
        return HD_ETOOBIG;
    if (hd_codec_validate (data, size) != HD_OK)
        return HD_EPROTO;
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    hd_err_t rc = HD_EPROTO;
    if (msgpack_unpack_next (&u, data, size, NULL) == MSGPACK_UNPACK_SUCCESS)
        rc = fn (&u.data, out);
    msgpack_unpacked_destroy (&u);
    return rc;
}

#define S_CODEC(name, T, table, check)                                                         \
    static hd_err_t s_get_##name (const msgpack_object *o, void *out)                          \
    {                                                                                          \
        return s_get_fields (o, table, S_N (table), out);                                      \
    }                                                                                          \
    hd_err_t hd_codec_encode_##name (hd_buf_t *buf, const T *m)                                \
    {                                                                                          \
        const T *x = m;                                                                        \
        if (!(check)) {                                                                        \
            hd_buf_reset (buf);                                                                \
            return HD_EINVAL;                                                                  \
        }                                                                                      \
        return s_encode (buf, table, S_N (table), m);                                          \
    }                                                                                          \
    hd_err_t hd_codec_decode_##name (const void *data, size_t size, T *out)                    \
    {                                                                                          \
        memset (out, 0, sizeof *out);                                                          \
        hd_err_t rc = s_decode (data, size, HD_MAX_ENVELOPE, s_get_##name, out);             \
        const T *x = out;                                                                      \
        if (rc == HD_OK && !(check))                                                           \
            rc = HD_EPROTO;                                                                    \
        return rc;                                                                             \
    }

//  `check`: a condition on the message `x` beyond its fields' own bounds.
S_CODEC (jobopen, hd_jobopen_t, s_open_fields, x->total >= 1)
S_CODEC (jobref, hd_jobref_t, s_ref_fields, x != NULL)
S_CODEC (jobfetch, hd_jobfetch_t, s_fetch_fields, x != NULL)
S_CODEC (jobinfo, hd_jobinfo_t, s_info_fields, x != NULL)
S_CODEC (jobdata, hd_jobdata_t, s_data_fields, x != NULL)

//  --- JOBS_REPLY -------------------------------------------------------------------------------

hd_err_t
hd_codec_encode_joblist (hd_buf_t *buf, const hd_joblist_t *m)
{
    hd_buf_reset (buf);
    if (m->count > HD_MAX_JOBS_LIST)
        return HD_EINVAL;
    hd_mpw_t w;
    msgpack_packer *pk = hd_mpw_start (&w, buf);
    msgpack_pack_map (pk, 1);
    s_str (pk, "jobs");
    msgpack_pack_array (pk, m->count);
    for (uint32_t i = 0; i < m->count; i++)
        if (!s_pack_fields (pk, s_info_fields, S_N (s_info_fields), &m->jobs[i])) {
            hd_buf_reset (buf);
            return HD_EINVAL;
        }
    hd_err_t rc = hd_mpw_end (&w);
    if (rc != HD_OK)
        hd_buf_reset (buf);
    return rc;
}

static hd_err_t
s_get_list (const msgpack_object *o, void *arg)
{
    hd_joblist_t *out = arg;
    if (o->type != MSGPACK_OBJECT_MAP)
        return HD_EPROTO;
    bool seen = false;
    for (uint32_t k = 0; k < o->via.map.size; k++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[k];
        if (!s_key_is (&kv->key, "jobs"))
            continue;
        if (seen || kv->val.type != MSGPACK_OBJECT_ARRAY)
            return HD_EPROTO;
        seen = true;
        if (kv->val.via.array.size > HD_MAX_JOBS_LIST)
            return HD_ETOOBIG;
        for (uint32_t i = 0; i < kv->val.via.array.size; i++) {
            hd_err_t rc = s_get_fields (&kv->val.via.array.ptr[i], s_info_fields,
                                        S_N (s_info_fields), &out->jobs[i]);
            if (rc != HD_OK)
                return rc;
        }
        out->count = kv->val.via.array.size;
    }
    return seen ? HD_OK : HD_EPROTO;
}

hd_err_t
hd_codec_decode_joblist (const void *data, size_t size, hd_joblist_t *out)
{
    memset (out, 0, sizeof *out);
    return s_decode (data, size, HD_JOBS_REPLY_MAX, s_get_list, out);
}
