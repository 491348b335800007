/*  fuzz_entry: the one place that feeds an input to every hd_codec entry point. Shared by the
    libFuzzer target (tests/fuzz/fuzz_codec.c) and the replay test
    (tests/unit/lib/test_codec_regressions.c) so a saved crash replays through the same logic.
    Input layout: byte 0 selects a decoder, the rest is the envelope. Header parsing and
    validation see the whole input. Anything that decodes must encode and decode back to the
    same struct: a mismatch is a codec bug, reported as -1.  */
#ifndef HD_FUZZ_ENTRY_H
#define HD_FUZZ_ENTRY_H

#include <stdlib.h>
#include <string.h>

#include "hd_codec.h"
#include "hd_codec_jobs.h"
#include "hd_codec_metrics.h"
#include "hd_codec_nodes.h"
#include "hd_pack.h"

//  One envelope type behind uniform signatures (casting the real functions' pointers would be
//  undefined behaviour).
typedef struct {
    hd_err_t (*decode) (const void *data, size_t size, void *out);
    hd_err_t (*encode) (hd_buf_t *buf, const void *msg);
    size_t size;  //  bytes of the decoded struct
} hd_fuzz_codec_t;

#define HD_FUZZ_WRAP(name, T)                                                                      \
    static inline hd_err_t hd_fuzz_decode_##name (const void *data, size_t size, void *out)        \
    {                                                                                              \
        return hd_codec_decode_##name (data, size, (T *) out);                                     \
    }                                                                                              \
    static inline hd_err_t hd_fuzz_encode_##name (hd_buf_t *buf, const void *msg)                  \
    {                                                                                              \
        return hd_codec_encode_##name (buf, (const T *) msg);                                      \
    }

HD_FUZZ_WRAP (submit, hd_submit_t)
HD_FUZZ_WRAP (task, hd_task_t)
HD_FUZZ_WRAP (result, hd_result_t)
HD_FUZZ_WRAP (reject, hd_reject_t)
HD_FUZZ_WRAP (hello, hd_hello_t)
HD_FUZZ_WRAP (welcome, hd_welcome_t)
HD_FUZZ_WRAP (error, hd_error_t)
HD_FUZZ_WRAP (notice, hd_notice_t)
HD_FUZZ_WRAP (admin, hd_admin_t)
HD_FUZZ_WRAP (metrics, hd_metrics_t)
HD_FUZZ_WRAP (event, hd_event_t)
HD_FUZZ_WRAP (jobopen, hd_jobopen_t)
HD_FUZZ_WRAP (jobref, hd_jobref_t)
HD_FUZZ_WRAP (jobfetch, hd_jobfetch_t)
HD_FUZZ_WRAP (jobinfo, hd_jobinfo_t)
HD_FUZZ_WRAP (joblist, hd_joblist_t)
HD_FUZZ_WRAP (jobdata, hd_jobdata_t)

static inline hd_err_t
hd_fuzz_decode_credit (const void *data, size_t size, void *out)
{
    return hd_codec_decode_credit (data, size, (uint32_t *) out);
}

static inline hd_err_t
hd_fuzz_encode_credit (hd_buf_t *buf, const void *msg)
{
    return hd_codec_encode_credit (buf, *(const uint32_t *) msg);
}

static inline hd_err_t
hd_fuzz_decode_ids (const void *data, size_t size, void *out)
{
    return hd_codec_decode_ids (data, size, (hd_idlist_t *) out);
}

static inline hd_err_t
hd_fuzz_encode_ids (hd_buf_t *buf, const void *msg)
{
    const hd_idlist_t *list = msg;
    return hd_codec_encode_ids (buf, list->ids, list->count);
}

static inline hd_err_t
hd_fuzz_decode_drain (const void *data, size_t size, void *out)
{
    return hd_codec_decode_drain (data, size, (bool *) out);
}

static inline hd_err_t
hd_fuzz_encode_drain (hd_buf_t *buf, const void *msg)
{
    return hd_codec_encode_drain (buf, *(const bool *) msg);
}

static inline hd_err_t
hd_fuzz_decode_empty (const void *data, size_t size, void *out)
{
    (void) out;
    return hd_codec_decode_empty (data, size);
}

static inline hd_err_t
hd_fuzz_encode_empty (hd_buf_t *buf, const void *msg)
{
    (void) msg;
    return hd_codec_encode_empty (buf);
}

//  FUNCTIONS_REPLY decodes to an array: the round trip compares up to 4 entries held inline.
typedef struct {
    uint32_t count;
    hd_fninfo_t fns[4];
} hd_fuzz_fns_t;

static inline hd_err_t
hd_fuzz_decode_functions (const void *data, size_t size, void *out)
{
    hd_fninfo_t *fns = NULL;
    uint32_t count = 0;
    hd_err_t rc = hd_codec_decode_functions (data, size, &fns, &count);
    hd_fuzz_fns_t *f = out;
    memset (f, 0, sizeof *f);
    if (rc == HD_OK && count > 4)
        rc = HD_ETOOBIG;  //  decoded and checked; too many to compare inline
    if (rc == HD_OK) {
        f->count = count;
        memcpy (f->fns, fns, count * sizeof *fns);
    }
    free (fns);
    return rc;
}

static inline hd_err_t
hd_fuzz_encode_functions (hd_buf_t *buf, const void *msg)
{
    const hd_fuzz_fns_t *f = msg;
    return hd_codec_encode_functions (buf, f->fns, f->count);
}

//  NODES_REPLY decodes to an array too: the same, up to 4 entries.
typedef struct {
    uint32_t count;
    hd_nodeinfo_t nodes[4];
} hd_fuzz_nodes_t;

static inline hd_err_t
hd_fuzz_decode_nodes (const void *data, size_t size, void *out)
{
    hd_nodeinfo_t *nodes = NULL;
    uint32_t count = 0;
    hd_err_t rc = hd_codec_decode_nodes (data, size, &nodes, &count);
    hd_fuzz_nodes_t *n = out;
    memset (n, 0, sizeof *n);
    if (rc == HD_OK && count > 4)
        rc = HD_ETOOBIG;
    if (rc == HD_OK) {
        n->count = count;
        if (count)
            memcpy (n->nodes, nodes, count * sizeof *nodes);
    }
    free (nodes);
    return rc;
}

static inline hd_err_t
hd_fuzz_encode_nodes (hd_buf_t *buf, const void *msg)
{
    const hd_fuzz_nodes_t *n = msg;
    return hd_codec_encode_nodes (buf, n->nodes, n->count);
}

//  Selector values (byte 0 modulo the count): the seed corpus is written in this order.
static const hd_fuzz_codec_t hd_fuzz_codecs[] = {
    { hd_fuzz_decode_submit, hd_fuzz_encode_submit, sizeof (hd_submit_t) },
    { hd_fuzz_decode_task, hd_fuzz_encode_task, sizeof (hd_task_t) },
    { hd_fuzz_decode_result, hd_fuzz_encode_result, sizeof (hd_result_t) },
    { hd_fuzz_decode_reject, hd_fuzz_encode_reject, sizeof (hd_reject_t) },
    { hd_fuzz_decode_hello, hd_fuzz_encode_hello, sizeof (hd_hello_t) },
    { hd_fuzz_decode_welcome, hd_fuzz_encode_welcome, sizeof (hd_welcome_t) },
    { hd_fuzz_decode_error, hd_fuzz_encode_error, sizeof (hd_error_t) },
    { hd_fuzz_decode_ids, hd_fuzz_encode_ids, sizeof (hd_idlist_t) },
    { hd_fuzz_decode_credit, hd_fuzz_encode_credit, sizeof (uint32_t) },
    { hd_fuzz_decode_empty, hd_fuzz_encode_empty, 1 },
    { hd_fuzz_decode_drain, hd_fuzz_encode_drain, sizeof (bool) },
    { hd_fuzz_decode_notice, hd_fuzz_encode_notice, sizeof (hd_notice_t) },
    { hd_fuzz_decode_functions, hd_fuzz_encode_functions, sizeof (hd_fuzz_fns_t) },
    { hd_fuzz_decode_admin, hd_fuzz_encode_admin, sizeof (hd_admin_t) },
    { hd_fuzz_decode_metrics, hd_fuzz_encode_metrics, sizeof (hd_metrics_t) },
    { hd_fuzz_decode_nodes, hd_fuzz_encode_nodes, sizeof (hd_fuzz_nodes_t) },
    { hd_fuzz_decode_event, hd_fuzz_encode_event, sizeof (hd_event_t) },
    //  detached jobs (hd_codec_jobs): JOB_OPEN; JOBS, JOB_CANCEL, JOB_RELEASE; JOB_FETCH;
    //  JOB_INFO; JOBS_REPLY; JOB_DATA
    { hd_fuzz_decode_jobopen, hd_fuzz_encode_jobopen, sizeof (hd_jobopen_t) },
    { hd_fuzz_decode_jobref, hd_fuzz_encode_jobref, sizeof (hd_jobref_t) },
    { hd_fuzz_decode_jobfetch, hd_fuzz_encode_jobfetch, sizeof (hd_jobfetch_t) },
    { hd_fuzz_decode_jobinfo, hd_fuzz_encode_jobinfo, sizeof (hd_jobinfo_t) },
    { hd_fuzz_decode_joblist, hd_fuzz_encode_joblist, sizeof (hd_joblist_t) },
    { hd_fuzz_decode_jobdata, hd_fuzz_encode_jobdata, sizeof (hd_jobdata_t) },
};
#define HD_FUZZ_NCODECS (sizeof hd_fuzz_codecs / sizeof hd_fuzz_codecs[0])

//  Decode; when that succeeds, encode and decode again and compare. Structs are zeroed by the
//  decoder, so equal messages compare equal byte for byte. 0 or -1 (round trip broken).
static inline int
hd_fuzz_roundtrip (const hd_fuzz_codec_t *codec, const uint8_t *data, size_t size)
{
    void *first = calloc (1, codec->size);
    void *second = calloc (1, codec->size);
    hd_buf_t buf;
    hd_buf_init (&buf);
    int rc = 0;
    if (!first || !second)
        abort ();  //  the fuzzer must not mistake a failed allocation for a pass
    if (codec->decode (data, size, first) == HD_OK) {
        if (codec->encode (&buf, first) != HD_OK ||
            codec->decode (buf.data, buf.size, second) != HD_OK ||
            memcmp (first, second, codec->size) != 0)
            rc = -1;
    }
    hd_buf_fini (&buf);
    free (first);
    free (second);
    return rc;
}

//  The input as a packed frame (hd_pack): every pair read, packed again and read back the same.
static inline int
hd_fuzz_pack (const uint8_t *data, size_t size)
{
    hd_pack_reader_t r, again;
    hd_buf_t buf;
    hd_buf_init (&buf);
    hd_pack_reader_init (&r, data, size);
    const void *e, *p, *e2, *p2;
    size_t es, ps, es2, ps2;
    int rc = 0, n = 0;
    while (hd_pack_next (&r, &e, &es, &p, &ps) == 1 && rc == 0) {
        rc = hd_pack_add (&buf, e, es, p, ps) == HD_OK ? 0 : -1;
        n++;
    }
    hd_pack_reader_init (&r, data, size);
    hd_pack_reader_init (&again, buf.data, buf.size);
    for (int k = 0; k < n && rc == 0; k++) {
        hd_pack_next (&r, &e, &es, &p, &ps);
        if (hd_pack_next (&again, &e2, &es2, &p2, &ps2) != 1 || es != es2 || ps != ps2
            || (es && memcmp (e, e2, es) != 0) || (ps && memcmp (p, p2, ps) != 0))
            rc = -1;
    }
    hd_buf_fini (&buf);
    return rc;
}

//  The entry point. 0, or -1 when a round trip broke.
static inline int
hd_fuzz_entry (const uint8_t *data, size_t size)
{
    if (hd_fuzz_pack (data, size) != 0)
        return -1;
    uint8_t version, cmd;
    if (hd_codec_parse_header (data, size, &version, &cmd) == HD_OK)
        (void) hd_codec_cmd_has_payload (cmd);
    if (size >= HD_HEADER_BYTES)
        (void) hd_codec_parse_header (data, HD_HEADER_BYTES, &version, &cmd);
    (void) hd_codec_validate (data, size);
    if (size == 0)
        return 0;
    (void) hd_codec_validate (data + 1, size - 1);
    return hd_fuzz_roundtrip (&hd_fuzz_codecs[data[0] % HD_FUZZ_NCODECS], data + 1, size - 1);
}

#endif
