/*  hd_codec (decoding half): hd_codec_validate and every hd_codec_decode_*, declared in
    hd_codec.h. msgpack-c's unpacker is deliberately not used (it allocates in proportion to
    declared sizes before checking them): a bounds-checked cursor validates the whole value first,
    then a per-envelope field table drives the read. Allocates nothing. The encoding half, header
    frame and id helpers are in hd_codec.c.  */
#include "hd_codec.h"

#include <assert.h>
#include <math.h>
#include <string.h>

//  --- reader: one MessagePack item at a time --------------------------------------------------

typedef struct {
    const uint8_t *p;
    const uint8_t *end;
} s_cursor_t;

typedef enum {
    S_BAD,
    S_NIL,
    S_BOOL,
    S_UINT,
    S_INT,
    S_FLOAT,
    S_STR,
    S_BIN,
    S_EXT,
    S_ARRAY,
    S_MAP
} s_kind_t;

//  One item's head. Positive integers are always S_UINT, whatever their wire form (int8..int64
//  included), and S_INT is negative only, so field readers test one kind per sign.
typedef struct {
    s_kind_t kind;
    uint64_t u;           //  S_UINT value, S_BOOL, byte length (STR, BIN, EXT), count (ARRAY, MAP)
    int64_t i;            //  S_INT value (< 0)
    double f;             //  S_FLOAT value
    const uint8_t *body;  //  STR, BIN, EXT bytes
} s_head_t;

//  Forms 0xc0..0xdf: kind, width of the big-endian length/value that follows, fixext body size.
typedef struct {
    uint8_t kind;
    uint8_t width;
    uint8_t fixlen;
} s_form_t;

static const s_form_t s_forms[32] = {
    { S_NIL, 0, 0 },   { S_BAD, 0, 0 },   { S_BOOL, 0, 0 }, { S_BOOL, 0, 0 },  //  c0-c3
    { S_BIN, 1, 0 },   { S_BIN, 2, 0 },   { S_BIN, 4, 0 },                     //  c4-c6
    { S_EXT, 1, 0 },   { S_EXT, 2, 0 },   { S_EXT, 4, 0 },                     //  c7-c9
    { S_FLOAT, 4, 0 }, { S_FLOAT, 8, 0 },                                      //  ca-cb
    { S_UINT, 1, 0 },  { S_UINT, 2, 0 },  { S_UINT, 4, 0 }, { S_UINT, 8, 0 },  //  cc-cf
    { S_INT, 1, 0 },   { S_INT, 2, 0 },   { S_INT, 4, 0 },  { S_INT, 8, 0 },   //  d0-d3
    { S_EXT, 0, 1 },   { S_EXT, 0, 2 },   { S_EXT, 0, 4 },  { S_EXT, 0, 8 },   //  d4-d7
    { S_EXT, 0, 16 },  { S_STR, 1, 0 },   { S_STR, 2, 0 },  { S_STR, 4, 0 },   //  d8-db
    { S_ARRAY, 2, 0 }, { S_ARRAY, 4, 0 }, { S_MAP, 2, 0 },  { S_MAP, 4, 0 },   //  dc-df
};

static size_t
s_left (const s_cursor_t *cur)
{
    return (size_t) (cur->end - cur->p);
}

//  Take an n-byte big-endian unsigned value (n <= 8); false when the bytes are not there.
static bool
s_take_be (s_cursor_t *cur, size_t n, uint64_t *out)
{
    if (s_left (cur) < n)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | cur->p[i];
    cur->p += n;
    *out = v;
    return true;
}

//  A body (str, bin, ext) must be present in full before anything points into it.
static bool
s_set_body (s_cursor_t *cur, s_head_t *h, uint64_t len)
{
    if (len > s_left (cur))
        return false;
    h->body = cur->p;
    h->u = len;
    cur->p += len;
    return true;
}

//  Every element takes at least one byte, so a count that cannot fit in what is left is a lie:
//  refusing it here is what bounds all later loops by the input size.
static bool
s_set_count (const s_cursor_t *cur, s_head_t *h, uint64_t count)
{
    uint64_t room = h->kind == S_MAP ? s_left (cur) / 2 : s_left (cur);
    h->u = count;
    return count <= room;
}

//  Sign-extend a `width`-byte two's complement value without implementation-defined casts.
static bool
s_set_signed (s_head_t *h, uint64_t v, unsigned width)
{
    uint64_t sign = (uint64_t) 1 << (8 * width - 1);
    if (!(v & sign)) {
        h->kind = S_UINT;
        h->u = v;
        return true;
    }
    uint64_t mask = width == 8 ? UINT64_MAX : ((uint64_t) 1 << (8 * width)) - 1;
    uint64_t mag = ((~v) & mask) + 1;  //  1 .. 2^63
    h->i = mag > (uint64_t) INT64_MAX ? INT64_MIN : -(int64_t) mag;
    return true;
}

static bool
s_set_float (s_head_t *h, uint64_t v, unsigned width)
{
    if (width == 4) {
        uint32_t bits = (uint32_t) v;
        float f;
        memcpy (&f, &bits, sizeof f);
        h->f = f;
    } else
        memcpy (&h->f, &v, sizeof h->f);
    return true;
}

static bool
s_read_typed (s_cursor_t *cur, s_head_t *h, uint8_t b)
{
    const s_form_t *form = &s_forms[b - 0xc0];
    uint64_t v = form->fixlen;
    h->kind = form->kind;
    if (form->width && !s_take_be (cur, form->width, &v))
        return false;
    switch (form->kind) {
    case S_NIL:
        return true;
    case S_BOOL:
        h->u = b & 1;
        return true;
    case S_UINT:
        h->u = v;
        return true;
    case S_INT:
        return s_set_signed (h, v, form->width);
    case S_FLOAT:
        return s_set_float (h, v, form->width);
    case S_STR:
    case S_BIN:
        return s_set_body (cur, h, v);
    case S_EXT:
        return s_take_be (cur, 1, &h->u) && s_set_body (cur, h, v);  //  type byte
    case S_ARRAY:
    case S_MAP:
        return s_set_count (cur, h, v);
    default:
        return false;  //  0xc1 is never used
    }
}

//  Read one item's head (and body for str/bin/ext). false when the input is malformed.
static bool
s_read_head (s_cursor_t *cur, s_head_t *h)
{
    uint64_t b;
    memset (h, 0, sizeof *h);
    if (!s_take_be (cur, 1, &b))
        return false;
    if (b <= 0x7f || b >= 0xe0) {
        h->kind = b <= 0x7f ? S_UINT : S_INT;
        h->u = b <= 0x7f ? b : 0;
        h->i = b >= 0xe0 ? (int64_t) b - 256 : 0;
        return true;
    }
    if (b <= 0x9f) {
        h->kind = b <= 0x8f ? S_MAP : S_ARRAY;
        return s_set_count (cur, h, b & 0x0f);
    }
    if (b <= 0xbf) {
        h->kind = S_STR;
        return s_set_body (cur, h, b & 0x1f);
    }
    return s_read_typed (cur, h, (uint8_t) b);
}

//  Skip one whole value. `depth` counts the containers around it; recursion is bounded by
//  HD_MAX_DEPTH and every iteration consumes input, so the walk is linear in the input size.
static bool
s_skip_value (s_cursor_t *cur, int depth)
{
    s_head_t h;
    if (!s_read_head (cur, &h))
        return false;
    if (h.kind != S_ARRAY && h.kind != S_MAP)
        return true;
    if (depth >= HD_MAX_DEPTH)
        return false;
    uint64_t n = h.kind == S_MAP ? 2 * h.u : h.u;
    for (uint64_t i = 0; i < n; i++)
        if (!s_skip_value (cur, depth + 1))
            return false;
    return true;
}

hd_err_t
hd_codec_validate (const void *data, size_t size)
{
    if (size == 0)  //  also keeps NULL + 0 out of the pointer arithmetic below
        return HD_EPROTO;
    s_cursor_t cur = { data, (const uint8_t *) data + size };
    if (!s_skip_value (&cur, 0) || cur.p != cur.end)
        return HD_EPROTO;
    return HD_OK;
}

//  The top-level map's "id" (bin 16) as far as the bytes can be read: entries before the
//  first malformed one count; a second "id" makes it ambiguous.
hd_err_t
hd_codec_peek_id (const void *data, size_t size, hd_id_t *out)
{
    s_cursor_t cur = { data, (const uint8_t *) data + size };
    s_head_t map, key, value;
    bool found = false;
    if (!size || size > HD_MAX_ENVELOPE || !s_read_head (&cur, &map) || map.kind != S_MAP)
        return HD_ENOTFOUND;
    for (uint64_t i = 0; i < map.u && s_read_head (&cur, &key); i++) {
        bool is_id = key.kind == S_STR && key.u == 2 && memcmp (key.body, "id", 2) == 0;
        if (!is_id) {
            if (!s_skip_value (&cur, 1))
                break;
            continue;
        }
        if (found || !s_read_head (&cur, &value) || value.kind != S_BIN || value.u != HD_ID_BYTES)
            return HD_ENOTFOUND;
        memcpy (out->b, value.body, HD_ID_BYTES);
        found = true;
    }
    return found ? HD_OK : HD_ENOTFOUND;
}

//  --- field readers: check one item against what a field accepts ----------------------------

//  A C string destination of `size` bytes: too long is HD_ETOOBIG (the peer may answer
//  TOO_LARGE), an embedded NUL is HD_EPROTO (it would silently truncate the text).
static hd_err_t
s_get_str (const s_head_t *h, uint8_t *dst, size_t size)
{
    if (h->kind != S_STR)
        return HD_EPROTO;
    if (h->u > size - 1)
        return HD_ETOOBIG;
    if (memchr (h->body, 0, (size_t) h->u))
        return HD_EPROTO;
    memcpy (dst, h->body, (size_t) h->u);
    dst[h->u] = 0;
    return HD_OK;
}

static hd_err_t
s_get_fn (const s_head_t *h, uint8_t *dst)
{
    hd_err_t rc = s_get_str (h, dst, HD_MAX_FN + 1);
    if (rc != HD_OK)
        return rc;
    return hd_codec_fn_is_valid ((const char *) dst) ? HD_OK : HD_EPROTO;
}

static hd_err_t
s_get_id (const s_head_t *h, uint8_t *dst)
{
    if (h->kind != S_BIN || h->u != HD_ID_BYTES)
        return HD_EPROTO;
    memcpy (dst, h->body, HD_ID_BYTES);
    return HD_OK;
}

static hd_err_t
s_get_uint (const s_head_t *h, uint8_t *dst)
{
    if (h->kind != S_UINT || h->u > UINT32_MAX)
        return HD_EPROTO;
    uint32_t v = (uint32_t) h->u;
    memcpy (dst, &v, sizeof v);
    return HD_OK;
}

//  Priority is clamped rather than refused so a client with a wider scale still gets served.
static hd_err_t
s_get_pri (const s_head_t *h, uint8_t *dst)
{
    int32_t v;
    if (h->kind == S_UINT)
        v = h->u > 1000 ? 1000 : (int32_t) h->u;
    else if (h->kind == S_INT)
        v = h->i < -1000 ? -1000 : (int32_t) h->i;
    else
        return HD_EPROTO;
    memcpy (dst, &v, sizeof v);
    return HD_OK;
}

//  A score feeds the scheduler's arithmetic: NaN, infinities and negatives are refused, and -0.0
//  becomes 0.0 so decode(encode(x)) == x holds (the encoder omits a zero score).
static hd_err_t
s_get_score (const s_head_t *h, uint8_t *dst)
{
    double v;
    if (h->kind == S_FLOAT)
        v = h->f;
    else if (h->kind == S_UINT)
        v = (double) h->u;
    else
        return HD_EPROTO;
    if (!isfinite (v) || v < 0)
        return HD_EPROTO;
    if (v == 0)
        v = 0;
    memcpy (dst, &v, sizeof v);
    return HD_OK;
}

static hd_err_t
s_get_bool (const s_head_t *h, uint8_t *dst)
{
    if (h->kind != S_BOOL)
        return HD_EPROTO;
    bool v = h->u != 0;
    memcpy (dst, &v, sizeof v);
    return HD_OK;
}

//  --- field tables: one per envelope ----------------------------------------------------------

typedef enum { F_ID, F_FN, F_STR, F_UINT, F_PRI, F_SCORE, F_BOOL } s_ftype_t;

typedef struct {
    const char *key;
    uint8_t type;  //  s_ftype_t of the value, or of each element when max > 0
    bool required;
    uint32_t max;  //  > 0: an array of at most `max` elements, count stored at count_off
    size_t size;   //  bytes of one destination (strings: including the NUL)
    size_t off;    //  destination offset in the output struct
    size_t count_off;
} s_field_t;

#define S_ONE(T, key, type, req, m)                                                                \
    {                                                                                              \
        (key), (type), (req), 0, sizeof (((T *) 0)->m), offsetof (T, m), 0                         \
    }
//  The list's limit is its destination array's length, so the two cannot drift apart.
#define S_LIST(T, key, type, req, m, count)                                                        \
    {                                                                                              \
        (key), (type), (req), sizeof (((T *) 0)->m) / sizeof (((T *) 0)->m[0]),                    \
            sizeof (((T *) 0)->m[0]), offsetof (T, m), offsetof (T, count)                         \
    }
#define S_NELEM(table) (sizeof (table) / sizeof (table)[0])

static hd_err_t
s_read_value (s_cursor_t *cur, const s_field_t *f, uint8_t *dst)
{
    s_head_t h;
    if (!s_read_head (cur, &h))
        return HD_EPROTO;
    switch ((s_ftype_t) f->type) {
    case F_ID:
        return s_get_id (&h, dst);
    case F_FN:
        return s_get_fn (&h, dst);
    case F_STR:
        return s_get_str (&h, dst, f->size);
    case F_UINT:
        return s_get_uint (&h, dst);
    case F_PRI:
        return s_get_pri (&h, dst);
    case F_SCORE:
        return s_get_score (&h, dst);
    case F_BOOL:
        return s_get_bool (&h, dst);
    }
    return HD_EPROTO;
}

static hd_err_t
s_read_field (s_cursor_t *cur, const s_field_t *f, uint8_t *base)
{
    if (f->max == 0)
        return s_read_value (cur, f, base + f->off);
    s_head_t h;
    if (!s_read_head (cur, &h) || h.kind != S_ARRAY)
        return HD_EPROTO;
    if (h.u > f->max)
        return HD_ETOOBIG;
    uint32_t count = (uint32_t) h.u;
    for (uint32_t i = 0; i < count; i++) {
        hd_err_t rc = s_read_value (cur, f, base + f->off + i * f->size);
        if (rc != HD_OK)
            return rc;
    }
    memcpy (base + f->count_off, &count, sizeof count);
    return HD_OK;
}

static const s_field_t *
s_find_field (const s_field_t *fields, size_t nfields, const uint8_t *key, size_t len)
{
    for (size_t i = 0; i < nfields; i++)
        if (strlen (fields[i].key) == len && memcmp (fields[i].key, key, len) == 0)
            return &fields[i];
    return NULL;
}

//  One key/value pair. Unknown keys are skipped (forward compatibility); a known key twice is
//  refused, since which copy wins would differ between implementations.
static hd_err_t
s_read_entry (s_cursor_t *cur, const s_field_t *fields, size_t nfields, uint32_t *seen,
              uint8_t *base)
{
    s_head_t key;
    if (!s_read_head (cur, &key) || key.kind != S_STR)
        return HD_EPROTO;
    const s_field_t *f = s_find_field (fields, nfields, key.body, (size_t) key.u);
    if (!f)
        return s_skip_value (cur, 1) ? HD_OK : HD_EPROTO;
    uint32_t bit = (uint32_t) 1 << (f - fields);
    if (*seen & bit)
        return HD_EPROTO;
    *seen |= bit;
    return s_read_field (cur, f, base);
}

//  Decode a top-level map through `fields` into `out` (zeroed first). *seen_p (optional) gets
//  one bit per field present, in table order.
static hd_err_t
s_decode (const void *data, size_t size, const s_field_t *fields, size_t nfields, void *out,
          size_t out_size, uint32_t *seen_p)
{
    assert (data || size == 0);
    if (out)
        memset (out, 0, out_size);
    if (size > HD_MAX_ENVELOPE)
        return HD_ETOOBIG;
    if (hd_codec_validate (data, size) != HD_OK)
        return HD_EPROTO;
    s_cursor_t cur = { data, (const uint8_t *) data + size };
    s_head_t map;
    if (!s_read_head (&cur, &map) || map.kind != S_MAP)
        return HD_EPROTO;
    uint32_t seen = 0;
    for (uint64_t i = 0; i < map.u; i++) {
        hd_err_t rc = s_read_entry (&cur, fields, nfields, &seen, out);
        if (rc != HD_OK)
            return rc;
    }
    for (size_t i = 0; i < nfields; i++)
        if (fields[i].required && !(seen & ((uint32_t) 1 << i)))
            return HD_EPROTO;
    if (seen_p)
        *seen_p = seen;
    return HD_OK;
}

static const s_field_t s_submit_fields[] = {
    S_ONE (hd_submit_t, "id", F_ID, true, id),
    S_ONE (hd_submit_t, "fn", F_FN, true, fn),
    S_ONE (hd_submit_t, "pri", F_PRI, false, priority),
    S_ONE (hd_submit_t, "timeout", F_UINT, false, timeout_ms),
    S_ONE (hd_submit_t, "attempts", F_UINT, false, max_attempts),
    S_LIST (hd_submit_t, "tags", F_STR, false, tags, ntags),
    S_ONE (hd_submit_t, "mem", F_UINT, false, min_mem_mb),
    S_ONE (hd_submit_t, "node", F_STR, false, node),
    S_ONE (hd_submit_t, "seal", F_UINT, false, seal),
};

static const s_field_t s_task_fields[] = {
    S_ONE (hd_task_t, "id", F_ID, true, id),
    S_ONE (hd_task_t, "fn", F_FN, true, fn),
    S_ONE (hd_task_t, "attempt", F_UINT, true, attempt),
    S_ONE (hd_task_t, "timeout", F_UINT, false, timeout_ms),
    S_ONE (hd_task_t, "seal", F_UINT, false, seal),
};

static const s_field_t s_result_fields[] = {
    S_ONE (hd_result_t, "id", F_ID, true, id),
    S_ONE (hd_result_t, "attempt", F_UINT, true, attempt),
    S_ONE (hd_result_t, "status", F_UINT, true, status),
    S_ONE (hd_result_t, "node", F_STR, false, node),
    S_ONE (hd_result_t, "error", F_STR, false, error),
    S_ONE (hd_result_t, "ms", F_UINT, false, elapsed_ms),
};

static const s_field_t s_reject_fields[] = {
    S_ONE (hd_reject_t, "id", F_ID, false, id),  //  first: bit 0 sets has_id
    S_ONE (hd_reject_t, "code", F_UINT, true, code),
    S_ONE (hd_reject_t, "reason", F_STR, true, reason),
    S_ONE (hd_reject_t, "retry", F_UINT, false, retry_ms),
};

static const s_field_t s_hello_fields[] = {
    S_ONE (hd_hello_t, "name", F_STR, true, name),
    S_ONE (hd_hello_t, "slots", F_UINT, true, slots),
    S_ONE (hd_hello_t, "queue", F_UINT, false, queue),
    S_ONE (hd_hello_t, "cores", F_UINT, false, cores),
    S_ONE (hd_hello_t, "arch", F_STR, false, arch),
    S_LIST (hd_hello_t, "fns", F_FN, true, fns, nfns),
    S_LIST (hd_hello_t, "tags", F_STR, false, tags, ntags),
    S_ONE (hd_hello_t, "score", F_SCORE, false, score),
    S_ONE (hd_hello_t, "pack", F_BOOL, false, pack),
};

static const s_field_t s_welcome_fields[] = {
    S_ONE (hd_welcome_t, "hb", F_UINT, true, heartbeat_ms),
    S_ONE (hd_welcome_t, "maxpay", F_UINT, false, max_payload),
    S_ONE (hd_welcome_t, "mport", F_UINT, false, metrics_port),
    S_ONE (hd_welcome_t, "pack", F_BOOL, false, pack),
    S_LIST (hd_welcome_t, "grants", F_STR, false, grants, ngrants),
};

static const s_field_t s_error_fields[] = {
    S_ONE (hd_error_t, "code", F_UINT, true, code),
    S_ONE (hd_error_t, "reason", F_STR, true, reason),
};

static const s_field_t s_ids_fields[] = {
    S_LIST (hd_idlist_t, "ids", F_ID, true, ids, count),
};

static const s_field_t s_credit_fields[] = { { "n", F_UINT, true, 0, sizeof (uint32_t), 0, 0 } };
static const s_field_t s_drain_fields[] = { { "on", F_BOOL, true, 0, sizeof (bool), 0, 0 } };

hd_err_t
hd_codec_decode_submit (const void *data, size_t size, hd_submit_t *out)
{
    return s_decode (data, size, s_submit_fields, S_NELEM (s_submit_fields), out, sizeof *out,
                     NULL);
}

hd_err_t
hd_codec_decode_task (const void *data, size_t size, hd_task_t *out)
{
    return s_decode (data, size, s_task_fields, S_NELEM (s_task_fields), out, sizeof *out, NULL);
}

hd_err_t
hd_codec_decode_result (const void *data, size_t size, hd_result_t *out)
{
    return s_decode (data, size, s_result_fields, S_NELEM (s_result_fields), out, sizeof *out,
                     NULL);
}

hd_err_t
hd_codec_decode_reject (const void *data, size_t size, hd_reject_t *out)
{
    uint32_t seen = 0;
    hd_err_t rc =
        s_decode (data, size, s_reject_fields, S_NELEM (s_reject_fields), out, sizeof *out, &seen);
    out->has_id = rc == HD_OK && (seen & 1);
    return rc;
}

//  A node needs a name to be told apart, and at least one slot to be given work.
hd_err_t
hd_codec_decode_hello (const void *data, size_t size, hd_hello_t *out)
{
    hd_err_t rc =
        s_decode (data, size, s_hello_fields, S_NELEM (s_hello_fields), out, sizeof *out, NULL);
    if (rc == HD_OK && (out->slots < 1 || out->name[0] == 0))
        rc = HD_EPROTO;
    return rc;
}

hd_err_t
hd_codec_decode_welcome (const void *data, size_t size, hd_welcome_t *out)
{
    return s_decode (data, size, s_welcome_fields, S_NELEM (s_welcome_fields), out, sizeof *out,
                     NULL);
}

hd_err_t
hd_codec_decode_error (const void *data, size_t size, hd_error_t *out)
{
    return s_decode (data, size, s_error_fields, S_NELEM (s_error_fields), out, sizeof *out, NULL);
}

hd_err_t
hd_codec_decode_ids (const void *data, size_t size, hd_idlist_t *out)
{
    //  Only the count is zeroed first, not the 16 KB of ids: that memset was 15% of the
    //  broker's instructions per task at window 1 (one ACK per task). Readers stop at count.
    return s_decode (data, size, s_ids_fields, S_NELEM (s_ids_fields), out,
                     offsetof (hd_idlist_t, ids), NULL);
}

hd_err_t
hd_codec_decode_credit (const void *data, size_t size, uint32_t *out)
{
    return s_decode (data, size, s_credit_fields, S_NELEM (s_credit_fields), out, sizeof *out,
                     NULL);
}

hd_err_t
hd_codec_decode_empty (const void *data, size_t size)
{
    return s_decode (data, size, NULL, 0, NULL, 0, NULL);
}

static const s_field_t s_ping_fields[] = { { "resend", F_BOOL, false, 0, sizeof (bool), 0, 0 } };

hd_err_t
hd_codec_decode_ping (const void *data, size_t size, bool *resend)
{
    *resend = false;
    return s_decode (data, size, s_ping_fields, S_NELEM (s_ping_fields), resend, sizeof *resend,
                     NULL);
}

hd_err_t
hd_codec_decode_drain (const void *data, size_t size, bool *out)
{
    return s_decode (data, size, s_drain_fields, S_NELEM (s_drain_fields), out, sizeof *out, NULL);
}
