/*  hd_codec_jobs: the envelopes of detached jobs (docs/PROTOCOL.md section 15): JOB_OPEN
    (jobopen), JOBS / JOB_CANCEL / JOB_RELEASE (jobref), JOB_FETCH (jobfetch), JOB_INFO (jobinfo),
    JOBS_REPLY (joblist) and JOB_DATA (jobdata; its pairs frame is hd_pack's encoding and never
    passes through here), and the job id helpers.
    A job id is "j-" + 16 lowercase hex digits; the 8 bytes those digits spell are the job's
    nonce, and the id of the job's task of input index i is nonce (8 bytes) + i (big-endian
    uint64). Decoders bound every field (job ids by their form, strings by length, the list by
    HD_MAX_JOBS_LIST) and return HD_EPROTO on anything else (HD_ETOOBIG for a list or string
    over its limit); encoders reset `buf` and write every key, HD_EINVAL (buf empty) for a
    message the decoder would refuse. Part of the codec module (uses msgpack).  */
#ifndef HD_CODEC_JOBS_H
#define HD_CODEC_JOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hd_buf.h"
#include "hd_err.h"
#include "hd_proto.h"

#define HD_JOB_ID_LEN 18
#define HD_MAX_JOB_NAME 64
#define HD_MAX_JOBS_LIST 256
#define HD_JOB_FETCH_MAX (4u << 20)
#define HD_JOB_FETCH_MIN 1024u
#define HD_JOB_WAIT_MAX 30000u

//  JOB_OPEN {job, name, total, ttl}: job (required, a valid id), name (<= 64 bytes, no control
//  bytes, may be ""), total (required, >= 1), ttl (seconds, 0: the broker's default).
typedef struct {
    char job[HD_JOB_ID_LEN + 1];
    char name[HD_MAX_JOB_NAME + 1];
    uint32_t total, ttl_s;
} hd_jobopen_t;

//  JOBS / JOB_CANCEL / JOB_RELEASE {job}: a valid id, or "" (or absent) = all (JOBS only).
typedef struct {
    char job[HD_JOB_ID_LEN + 1];
} hd_jobref_t;

//  JOB_FETCH {job, off, max, wait}: job required; off (byte offset in the store), max (bytes),
//  wait (ms) optional, 0 when absent. The broker clamps max to [HD_JOB_FETCH_MIN,
//  HD_JOB_FETCH_MAX] and wait to HD_JOB_WAIT_MAX; the codec does not.
typedef struct {
    char job[HD_JOB_ID_LEN + 1];
    uint64_t off;
    uint32_t max, wait_ms;
} hd_jobfetch_t;

//  JOB_INFO {job, name, state, total, queued, running, ok, failed, cancelled, stored, bytes,
//  created, expires, rate}: job and state required, the rest 0 / "" when absent.
typedef struct {
    char job[HD_JOB_ID_LEN + 1];
    char name[HD_MAX_JOB_NAME + 1];
    char state[16];       //  running | done | cancelled | released
    uint32_t total, queued, running, ok, failed, cancelled, stored;
    uint64_t bytes;       //  store bytes
    int64_t created_ms, expires_ms;  //  ms since the epoch
    double rate;          //  results per second over about the last minute (finite, >= 0)
} hd_jobinfo_t;

//  JOBS_REPLY {jobs: [jobinfo, ...]}: at most HD_MAX_JOBS_LIST entries; the envelope may be up
//  to HD_JOBS_REPLY_MAX bytes (256 full entries pass HD_MAX_ENVELOPE), every other one of this
//  file up to HD_MAX_ENVELOPE.
#define HD_JOBS_REPLY_MAX (4u * HD_MAX_ENVELOPE)
typedef struct {
    uint32_t count;
    hd_jobinfo_t jobs[HD_MAX_JOBS_LIST];
} hd_joblist_t;

//  JOB_DATA {job, off, next, size, count, info} + one frame of `count` hd_pack pairs, the store's
//  bytes [off, next). size: the store's size now; off > size: the store was shortened (fetch
//  again from 0). All keys required.
typedef struct {
    char job[HD_JOB_ID_LEN + 1];
    uint64_t off, next, size;
    uint32_t count;
    hd_jobinfo_t info;
} hd_jobdata_t;

hd_err_t hd_codec_encode_jobopen (hd_buf_t *buf, const hd_jobopen_t *m);
hd_err_t hd_codec_decode_jobopen (const void *data, size_t size, hd_jobopen_t *out);
hd_err_t hd_codec_encode_jobref (hd_buf_t *buf, const hd_jobref_t *m);
hd_err_t hd_codec_decode_jobref (const void *data, size_t size, hd_jobref_t *out);
hd_err_t hd_codec_encode_jobfetch (hd_buf_t *buf, const hd_jobfetch_t *m);
hd_err_t hd_codec_decode_jobfetch (const void *data, size_t size, hd_jobfetch_t *out);
hd_err_t hd_codec_encode_jobinfo (hd_buf_t *buf, const hd_jobinfo_t *m);
hd_err_t hd_codec_decode_jobinfo (const void *data, size_t size, hd_jobinfo_t *out);
hd_err_t hd_codec_encode_joblist (hd_buf_t *buf, const hd_joblist_t *m);
hd_err_t hd_codec_decode_joblist (const void *data, size_t size, hd_joblist_t *out);
hd_err_t hd_codec_encode_jobdata (hd_buf_t *buf, const hd_jobdata_t *m);
hd_err_t hd_codec_decode_jobdata (const void *data, size_t size, hd_jobdata_t *out);

//  Whether `job` is "j-" + 16 lowercase hex digits (NUL-terminated).
bool hd_job_id_valid (const char *job);
//  A fresh random job id (libsodium). HD_OK.
hd_err_t hd_job_id_new (char out[HD_JOB_ID_LEN + 1]);
//  The job's nonce (the 8 bytes its hex digits spell); false when `job` is not a valid id.
bool hd_job_nonce (const char *job, uint8_t out[8]);
//  The id of the job's task of input `index`: nonce + big-endian index. `job` must be valid
//  (else `out` is all zero).
void hd_job_task_id (const char *job, uint64_t index, uint8_t out[16]);
//  Whether `id` is one of the job's task ids (its first 8 bytes are the nonce); *index then set.
//  The caller checks index < total.
bool hd_job_task_index (const char *job, const uint8_t id[16], uint64_t *index);

#endif
