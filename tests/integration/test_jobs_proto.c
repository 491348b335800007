/*  Detached jobs at the protocol level (docs/PROTOCOL.md section 15), with a raw ZeroMQ + CURVE
    client (tests/support/hd_hostile) against the real broker and a real worker on 127.0.0.1:
    a job is opened, its tasks submitted with derived ids (a foreign id is DENIED), results
    fetched with long polls until all are in; another key can neither see, fetch, cancel nor
    release it; after kill -9 and a restart the store reads back byte for byte; a stored index
    submitted again is ACCEPTED and never runs twice; release removes the files. Then the
    bounds: the results budget (STORAGE with its reason), the jobs per key (BUSY), malformed
    opens, fetch clamps, TTL, cancel (a cancelled and released job never runs again after
    crashes), and a broker that keeps no jobs.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hd_codec_jobs.h"
#include "hd_hostile.h"
#include "hd_pack.h"

#define S_TOTAL 20

typedef struct {
    hd_testenv_t env;
    char job[HD_JOB_ID_LEN + 1];
} s_ctx_t;

static void
s_start (s_ctx_t *ctx, const char *const *extra, int slots)
{
    hd_testenv_init (&ctx->env);
    hd_hostile_make_key (&ctx->env, "mallory");
    hd_testenv_start_broker (&ctx->env, extra);
    hd_testenv_start_worker (&ctx->env, "w1", slots, NULL);
    hd_client_t *c = hd_testenv_client (&ctx->env, 1);  //  waits for the worker
    hd_client_destroy (&c);
    assert_int_equal (hd_job_id_new (ctx->job), HD_OK);
}

//  --- sending ----------------------------------------------------------------------------------

static void
s_send (hd_hostile_t *h, uint8_t cmd, const hd_buf_t *env)
{
    const void *frames[] = { env->data };
    size_t sizes[] = { env->size };
    hd_hostile_send (h, cmd, frames, sizes, 1);
}

static void
s_open (hd_hostile_t *h, const char *job, uint32_t total, uint32_t ttl)
{
    hd_jobopen_t m = { .total = total, .ttl_s = ttl };
    snprintf (m.job, sizeof m.job, "%s", job);
    snprintf (m.name, sizeof m.name, "proto test");
    hd_buf_t env;
    hd_buf_init (&env);
    assert_int_equal (hd_codec_encode_jobopen (&env, &m), HD_OK);
    s_send (h, HD_CMD_JOB_OPEN, &env);
    hd_buf_fini (&env);
}

static void
s_ref (hd_hostile_t *h, uint8_t cmd, const char *job)
{
    hd_jobref_t r;
    snprintf (r.job, sizeof r.job, "%s", job);
    hd_buf_t env;
    hd_buf_init (&env);
    assert_int_equal (hd_codec_encode_jobref (&env, &r), HD_OK);
    s_send (h, cmd, &env);
    hd_buf_fini (&env);
}

static void
s_fetch (hd_hostile_t *h, const char *job, uint64_t off, uint32_t max, uint32_t wait)
{
    hd_jobfetch_t f;
    memset (&f, 0, sizeof f);
    snprintf (f.job, sizeof f.job, "%s", job);
    f.off = off, f.max = max, f.wait_ms = wait;
    hd_buf_t env;
    hd_buf_init (&env);
    assert_int_equal (hd_codec_encode_jobfetch (&env, &f), HD_OK);
    s_send (h, HD_CMD_JOB_FETCH, &env);
    hd_buf_fini (&env);
}

static void
s_submit_index (hd_hostile_t *h, const char *job, uint64_t index, const char *fn,
                const char *input)
{
    hd_id_t id;
    hd_job_task_id (job, index, id.b);
    hd_hostile_submit (h, &id, fn, input);
}

//  --- receiving --------------------------------------------------------------------------------

//  The next message of command `cmd` (others skipped and counted in *accepted when ACCEPTED);
//  fails the test after timeout_ms. Caller destroys.
static zmsg_t *
s_expect (hd_hostile_t *h, int cmd, int timeout_ms, uint32_t *accepted)
{
    int64_t end = zclock_mono () + timeout_ms;
    while (zclock_mono () < end) {
        zmsg_t *msg = hd_hostile_recv (h, (int) (end - zclock_mono ()));
        if (!msg)
            break;
        int got = hd_hostile_cmd (msg);
        if (got == cmd)
            return msg;
        if (got == HD_CMD_ACCEPTED && accepted) {
            zframe_t *f = zmsg_last (msg);
            static hd_idlist_t ids;
            assert_int_equal (hd_codec_decode_ids (zframe_data (f), zframe_size (f), &ids), HD_OK);
            *accepted += ids.count;
        }
        assert_int_not_equal (got, HD_CMD_RESULT);  //  a job's results are never sent so
        zmsg_destroy (&msg);
    }
    fail_msg ("no message 0x%02x within %d ms", cmd, timeout_ms);
    return NULL;
}

static hd_reject_t
s_expect_reject (hd_hostile_t *h)
{
    zmsg_t *msg = s_expect (h, HD_CMD_REJECTED, 5000, NULL);
    zframe_t *f = zmsg_last (msg);
    hd_reject_t r;
    assert_int_equal (hd_codec_decode_reject (zframe_data (f), zframe_size (f), &r), HD_OK);
    zmsg_destroy (&msg);
    return r;
}

static void
s_expect_code (hd_hostile_t *h, uint32_t code, const char *text)
{
    hd_reject_t r = s_expect_reject (h);
    if (r.code != code || !strstr (r.reason, text))
        fail_msg ("expected REJECTED %u '%s', got %u '%s'", code, text, r.code, r.reason);
}

static hd_jobinfo_t
s_expect_info (hd_hostile_t *h)
{
    zmsg_t *msg = s_expect (h, HD_CMD_JOB_INFO, 5000, NULL);
    zframe_t *f = zmsg_last (msg);
    hd_jobinfo_t i;
    assert_int_equal (hd_codec_decode_jobinfo (zframe_data (f), zframe_size (f), &i), HD_OK);
    zmsg_destroy (&msg);
    return i;
}

static hd_joblist_t *
s_expect_list (hd_hostile_t *h)
{
    zmsg_t *msg = s_expect (h, HD_CMD_JOBS_REPLY, 5000, NULL);
    zframe_t *f = zmsg_last (msg);
    hd_joblist_t *l = malloc (sizeof *l);
    assert_non_null (l);
    assert_int_equal (hd_codec_decode_joblist (zframe_data (f), zframe_size (f), l), HD_OK);
    zmsg_destroy (&msg);
    return l;
}

static const char *s_fixed_out;  //  the output every result must have; NULL: "in-INDEX"

//  One JOB_DATA: its envelope in *d, its pairs appended to `all` (may be NULL); each pair's
//  index noted in seen[] (a second sight of one fails the test), outputs checked.
static void
s_expect_data (hd_hostile_t *h, hd_jobdata_t *d, hd_buf_t *all, bool *seen, uint32_t *accepted)
{
    zmsg_t *msg = s_expect (h, HD_CMD_JOB_DATA, 40000, accepted);
    assert_int_equal (zmsg_size (msg), 3);
    zframe_t *env = zmsg_next (msg), *pairs = zmsg_next (msg);
    assert_int_equal (hd_codec_decode_jobdata (zframe_data (env), zframe_size (env), d), HD_OK);
    assert_true (d->next - d->off == zframe_size (pairs));
    hd_pack_reader_t r;
    hd_pack_reader_init (&r, zframe_data (pairs), zframe_size (pairs));
    const void *e, *p;
    size_t es, ps;
    uint32_t n = 0;
    while (hd_pack_next (&r, &e, &es, &p, &ps) == 1) {
        hd_result_t res;
        uint64_t index;
        assert_int_equal (hd_codec_decode_result (e, es, &res), HD_OK);
        assert_true (hd_job_task_index (d->job, res.id.b, &index));
        if (seen) {
            assert_true (index < S_TOTAL);
            assert_false (seen[index]);
            seen[index] = true;
            char want[32];
            snprintf (want, sizeof want, "%s", s_fixed_out ? s_fixed_out : "");
            if (!s_fixed_out)
                snprintf (want, sizeof want, "in-%u", (unsigned) index);
            assert_int_equal (res.status, HD_ST_OK);
            assert_int_equal (ps, strlen (want));
            assert_memory_equal (p, want, ps);
        }
        n++;
    }
    assert_int_equal (n, d->count);
    if (all)
        assert_int_equal (hd_buf_append (all, zframe_data (pairs), zframe_size (pairs)), HD_OK);
    zmsg_destroy (&msg);
}

//  One JOB_DATA whose every result has status `status` (else the test fails, saying which).
static void
s_expect_data_statuses (hd_hostile_t *h, hd_jobdata_t *d, uint32_t status)
{
    zmsg_t *msg = s_expect (h, HD_CMD_JOB_DATA, 10000, NULL);
    zframe_t *env = zmsg_next (msg), *pairs = zmsg_next (msg);
    assert_int_equal (hd_codec_decode_jobdata (zframe_data (env), zframe_size (env), d), HD_OK);
    hd_pack_reader_t r;
    hd_pack_reader_init (&r, zframe_data (pairs), zframe_size (pairs));
    const void *e, *p;
    size_t es, ps;
    while (hd_pack_next (&r, &e, &es, &p, &ps) == 1) {
        hd_result_t res;
        assert_int_equal (hd_codec_decode_result (e, es, &res), HD_OK);
        if (res.status != status)
            fail_msg ("a result has status %u (%s), not %u", res.status, res.error, status);
    }
    zmsg_destroy (&msg);
}

//  Fetch with long polls from 0 until every result is in; the pairs in `all`.
static void
s_fetch_all (hd_hostile_t *h, const char *job, hd_buf_t *all, uint32_t *accepted)
{
    bool seen[S_TOTAL] = { false };
    uint64_t off = 0;
    static hd_jobdata_t d;
    for (int round = 0; round < 200; round++) {
        s_fetch (h, job, off, 1024, 5000);  //  small max: several rounds, cursor = next
        s_expect_data (h, &d, all, seen, accepted);
        assert_true (d.off == off);
        off = d.next;
        if (d.info.stored == S_TOTAL && off == d.size)
            break;
    }
    assert_int_equal (d.info.stored, S_TOTAL);
    assert_string_equal (d.info.state, "done");
    assert_int_equal (d.info.ok, S_TOTAL);
    for (int i = 0; i < S_TOTAL; i++)
        assert_true (seen[i]);
}

static bool
s_file_exists (s_ctx_t *ctx, const char *ext)
{
    char path[512];
    struct stat st;
    snprintf (path, sizeof path, "%s/journal/jobs/%s%s", ctx->env.dir, ctx->job, ext);
    return stat (path, &st) == 0;
}

//  --- tests ------------------------------------------------------------------------------------

//  Another key (mallory) can neither see, fetch, cancel nor release the job, nor speak on its
//  session; the texts are those of a job that does not exist.
static void
s_check_foreign_key (s_ctx_t *ctx)
{
    hd_hostile_t *m = hd_hostile_connect (&ctx->env, "mallory", "mallory-1", 0);
    s_ref (m, HD_CMD_JOBS, ctx->job);
    s_expect_code (m, HD_ST_DENIED, "no job");
    s_fetch (m, ctx->job, 0, 65536, 0);
    s_expect_code (m, HD_ST_DENIED, "no job");
    s_ref (m, HD_CMD_JOB_CANCEL, ctx->job);
    s_expect_code (m, HD_ST_DENIED, "no job");
    s_ref (m, HD_CMD_JOB_RELEASE, ctx->job);
    s_expect_code (m, HD_ST_DENIED, "no job");
    s_ref (m, HD_CMD_JOBS, "j-0000000000000000");  //  one that does not exist: the same text
    s_expect_code (m, HD_ST_DENIED, "no job");
    s_ref (m, HD_CMD_JOBS, "");
    hd_joblist_t *l = s_expect_list (m);
    assert_int_equal (l->count, 0);
    free (l);
    hd_hostile_destroy (&m);
    m = hd_hostile_connect (&ctx->env, "mallory", ctx->job, 0);  //  on the job's session id
    s_ref (m, HD_CMD_JOBS, "");
    s_expect_code (m, HD_ST_DENIED, "session id in use by another key");
    hd_hostile_destroy (&m);
}

static void
test_job_open_submit_fetch_restart_release (void **state)
{
    s_ctx_t *ctx = *state;
    s_start (ctx, NULL, 2);
    hd_hostile_t *h = hd_hostile_connect (&ctx->env, "client", ctx->job, 0);
    s_open (h, ctx->job, S_TOTAL, 0);
    hd_jobinfo_t info = s_expect_info (h);
    assert_string_equal (info.job, ctx->job);
    assert_string_equal (info.state, "running");
    assert_int_equal (info.total, S_TOTAL);
    assert_true (info.expires_ms - info.created_ms == 7 * 86400 * 1000ll);  //  --job-ttl default
    assert_true (s_file_exists (ctx, ".meta") && s_file_exists (ctx, ".results"));
    s_open (h, ctx->job, S_TOTAL, 0);  //  idempotent
    assert_string_equal (s_expect_info (h).job, ctx->job);
    s_open (h, ctx->job, S_TOTAL + 1, 0);  //  another total: refused
    s_expect_code (h, HD_ST_MALFORMED, "was opened with total");

    uint32_t accepted = 0;
    for (uint64_t i = 0; i < S_TOTAL; i++) {
        char input[32];
        snprintf (input, sizeof input, "in-%u", (unsigned) i);
        s_submit_index (h, ctx->job, i, "echo", input);
    }
    hd_id_t foreign = hd_hostile_id ();
    hd_hostile_submit (h, &foreign, "echo", "x");
    s_expect_code (h, HD_ST_DENIED, "is not one of job");
    s_submit_index (h, ctx->job, S_TOTAL, "echo", "x");  //  index == total
    s_expect_code (h, HD_ST_DENIED, "index < 20");

    hd_buf_t first, again;
    hd_buf_init (&first);
    hd_buf_init (&again);
    s_fetch_all (h, ctx->job, &first, &accepted);
    s_check_foreign_key (ctx);

    //  kill -9 and restart: the same bytes from 0, the job restored under its owner
    hd_testenv_kill (&ctx->env, ctx->env.broker, SIGKILL);
    hd_testenv_restart_broker (&ctx->env, NULL);
    hd_hostile_destroy (&h);
    h = hd_hostile_connect (&ctx->env, "client", "another-session", 0);
    s_ref (h, HD_CMD_JOBS, "");
    hd_joblist_t *l = s_expect_list (h);
    assert_int_equal (l->count, 1);
    assert_string_equal (l->jobs[0].job, ctx->job);
    assert_int_equal (l->jobs[0].stored, S_TOTAL);
    free (l);
    static hd_jobdata_t d;
    s_fetch (h, ctx->job, 0, HD_JOB_FETCH_MAX, 0);
    s_expect_data (h, &d, &again, NULL, NULL);
    assert_int_equal (d.count, S_TOTAL);
    assert_int_equal (again.size, first.size);
    assert_memory_equal (again.data, first.data, first.size);

    //  a stored index submitted again: ACCEPTED, never run twice (the store does not grow)
    hd_hostile_t *j = hd_hostile_connect (&ctx->env, "client", ctx->job, 0);
    accepted = 0;
    s_submit_index (j, ctx->job, 3, "echo", "in-3");
    s_fetch (j, ctx->job, 0, 1024, 1500);  //  answered at once: data is there
    s_expect_data (j, &d, NULL, NULL, &accepted);
    hd_hostile_seen_t seen;
    hd_hostile_watch (j, 1500, NULL, false, NULL, &seen);
    assert_int_equal (accepted + seen.accepted, 1);
    s_fetch (j, ctx->job, 0, HD_JOB_FETCH_MAX, 0);
    s_expect_data (j, &d, NULL, NULL, NULL);
    assert_int_equal (d.info.stored, S_TOTAL);
    assert_true (d.size == first.size);

    //  release: JOB_INFO "released", files gone, no job listed
    s_ref (h, HD_CMD_JOB_RELEASE, ctx->job);
    info = s_expect_info (h);
    assert_string_equal (info.state, "released");
    assert_false (s_file_exists (ctx, ".meta"));
    assert_false (s_file_exists (ctx, ".results"));
    s_ref (h, HD_CMD_JOBS, "");
    l = s_expect_list (h);
    assert_int_equal (l->count, 0);
    free (l);
    s_fetch (h, ctx->job, 0, 1024, 0);
    s_expect_code (h, HD_ST_DENIED, "no job");
    hd_buf_fini (&first);
    hd_buf_fini (&again);
    hd_hostile_destroy (&j);
    hd_hostile_destroy (&h);
}

//  kill -9 while tasks run: after the restart the unfinished ones come back from the journal
//  and end in the same store; the client resubmits every index (as a resumed client does) and
//  none runs twice: each index is stored exactly once.
static void
test_job_survives_kill_while_running (void **state)
{
    s_ctx_t *ctx = *state;
    s_start (ctx, NULL, 2);
    hd_hostile_t *h = hd_hostile_connect (&ctx->env, "client", ctx->job, 0);
    s_open (h, ctx->job, S_TOTAL, 0);
    s_expect_info (h);
    for (uint64_t i = 0; i < S_TOTAL; i++)
        s_submit_index (h, ctx->job, i, "sleep", "150");
    s_fixed_out = "150";
    bool seen[S_TOTAL] = { false };
    static hd_jobdata_t d;
    uint64_t off = 0;
    for (int i = 0; i < 50 && d.info.stored < 4; i++) {
        s_fetch (h, ctx->job, off, 1024, 5000);
        s_expect_data (h, &d, NULL, seen, NULL);
        off = d.next;
    }
    assert_true (d.info.stored >= 4 && d.info.stored < S_TOTAL);
    hd_testenv_kill (&ctx->env, ctx->env.broker, SIGKILL);
    hd_testenv_restart_broker (&ctx->env, NULL);
    hd_hostile_destroy (&h);
    h = hd_hostile_connect (&ctx->env, "client", ctx->job, 0);
    for (uint64_t i = 0; i < S_TOTAL; i++)  //  resume: everything again
        s_submit_index (h, ctx->job, i, "sleep", "150");
    uint32_t accepted = 0;
    for (int i = 0; i < 100 && !(d.info.stored == S_TOTAL && off == d.size); i++) {
        s_fetch (h, ctx->job, off, 1024, 5000);
        s_expect_data (h, &d, NULL, seen, &accepted);
        assert_true (d.off <= d.size);  //  nothing was cut: the store was synced
        off = d.next;
    }
    s_fixed_out = NULL;
    assert_int_equal (d.info.stored, S_TOTAL);
    for (int i = 0; i < S_TOTAL; i++)
        assert_true (seen[i]);
    hd_hostile_seen_t rest;
    hd_hostile_watch (h, 1000, NULL, false, NULL, &rest);
    assert_int_equal (accepted + rest.accepted, S_TOTAL);  //  every resubmission: ACCEPTED
    assert_int_equal (rest.rejected, 0);
    hd_hostile_destroy (&h);
}

//  Runs one task of the job and waits until it is stored.
static void
s_one_result (hd_hostile_t *h, const char *job)
{
    s_submit_index (h, job, 0, "echo", "in-0");
    static hd_jobdata_t d;
    for (int i = 0; i < 20; i++) {
        s_fetch (h, job, 0, 1024, 2000);
        s_expect_data (h, &d, NULL, NULL, NULL);
        if (d.info.stored)
            return;
    }
    fail_msg ("job %s: no result stored", job);
}

static void
test_job_bounds_budget_and_ttl (void **state)
{
    s_ctx_t *ctx = *state;
    const char *extra[] = { "--results-max-bytes", "1", "--max-key-jobs", "1", NULL };
    s_start (ctx, extra, 1);
    hd_hostile_t *h = hd_hostile_connect (&ctx->env, "client", ctx->job, 0);
    //  malformed opens: bad id, total 0, too many tasks, not on the job's session
    hd_buf_t env;
    hd_buf_init (&env);
    hd_jobopen_t m = { .job = "", .total = 1 };
    snprintf (m.job, sizeof m.job, "%s", ctx->job);
    m.total = 200001;  //  over --max-key-tasks (200000)
    assert_int_equal (hd_codec_encode_jobopen (&env, &m), HD_OK);
    s_send (h, HD_CMD_JOB_OPEN, &env);
    s_expect_code (h, HD_ST_TOO_LARGE, "over this broker's bound");
    uint8_t raw[] = { 0x82, 0xa3, 'j', 'o', 'b', 0xa5, 'j', '-', 'X', 'Y', 'Z', 0xa5, 't', 'o',
                      't', 'a', 'l', 0x01 };
    hd_buf_reset (&env);
    hd_buf_append (&env, raw, sizeof raw);
    s_send (h, HD_CMD_JOB_OPEN, &env);
    s_expect_code (h, HD_ST_MALFORMED, "malformed JOB_OPEN");
    //  total 0, with a good id
    uint8_t zero[40];
    size_t n = 0;
    zero[n++] = 0x82, zero[n++] = 0xa3, memcpy (zero + n, "job", 3), n += 3;
    zero[n++] = 0xb2, memcpy (zero + n, ctx->job, 18), n += 18;
    zero[n++] = 0xa5, memcpy (zero + n, "total", 5), n += 5, zero[n++] = 0x00;
    hd_buf_reset (&env);
    hd_buf_append (&env, zero, n);
    s_send (h, HD_CMD_JOB_OPEN, &env);
    s_expect_code (h, HD_ST_MALFORMED, "malformed JOB_OPEN");
    char other[HD_JOB_ID_LEN + 1];
    hd_job_id_new (other);
    s_open (h, other, 5, 0);
    s_expect_code (h, HD_ST_MALFORMED, "own session");
    hd_buf_fini (&env);

    //  the job; one result makes the budget (1 byte) full
    s_open (h, ctx->job, 5, 2);  //  ttl 2 s
    hd_jobinfo_t info = s_expect_info (h);
    assert_true (info.expires_ms - info.created_ms == 2000);
    s_one_result (h, ctx->job);
    //  fetch clamps: max 1 still gives the one pair; wait over 30 s is clamped (not waited here)
    static hd_jobdata_t d;
    s_fetch (h, ctx->job, 0, 1, 0);
    s_expect_data (h, &d, NULL, NULL, NULL);
    assert_int_equal (d.count, 1);
    s_fetch (h, ctx->job, d.next, UINT32_MAX, 1);  //  nothing new: zero pairs after 1 ms
    s_expect_data (h, &d, NULL, NULL, NULL);
    assert_int_equal (d.count, 0);
    s_fetch (h, ctx->job, d.size + 100, 1024, 0);  //  past the end: off > size, zero pairs
    s_expect_data (h, &d, NULL, NULL, NULL);
    assert_true (d.off > d.size && d.count == 0);

    //  the same key: at its --max-key-jobs; another key: the budget is full
    char second[HD_JOB_ID_LEN + 1];
    hd_job_id_new (second);
    hd_hostile_t *h2 = hd_hostile_connect (&ctx->env, "client", second, 0);
    s_open (h2, second, 5, 0);
    s_expect_code (h2, HD_ST_BUSY, "1 jobs open for this key (max 1): release some");
    char third[HD_JOB_ID_LEN + 1];
    hd_job_id_new (third);
    hd_hostile_t *m2 = hd_hostile_connect (&ctx->env, "mallory", third, 0);
    s_open (m2, third, 5, 0);
    hd_reject_t r = s_expect_reject (m2);
    assert_int_equal (r.code, HD_ST_STORAGE);
    assert_int_equal (r.retry_ms, 0);
    assert_non_null (strstr (r.reason, "results budget full ("));
    assert_non_null (strstr (r.reason, " of 1 bytes used by 1 jobs): release jobs with 'heddle "
                                       "release JOB'"));
    hd_hostile_destroy (&m2);

    //  TTL: 2 s after it was opened the job is released (the beat checks once a second)
    hd_joblist_t *l = NULL;
    for (int i = 0; i < 50; i++) {
        usleep (200 * 1000);
        s_ref (h2, HD_CMD_JOBS, "");
        free (l);
        l = s_expect_list (h2);
        if (!l->count)
            break;
    }
    assert_int_equal (l->count, 0);
    free (l);
    assert_false (s_file_exists (ctx, ".meta"));
    s_open (h2, second, 5, 0);  //  room again (the key's count and the budget)
    assert_string_equal (s_expect_info (h2).state, "running");
    hd_hostile_destroy (&h2);
    hd_hostile_destroy (&h);
}

static void
test_job_cancel (void **state)
{
    s_ctx_t *ctx = *state;
    s_start (ctx, NULL, 1);
    hd_hostile_t *h = hd_hostile_connect (&ctx->env, "client", ctx->job, 0);
    s_open (h, ctx->job, 4, 0);
    s_expect_info (h);
    for (uint64_t i = 0; i < 4; i++)
        s_submit_index (h, ctx->job, i, "sleep", "20000");
    hd_hostile_seen_t seen;
    hd_hostile_watch (h, 1000, NULL, false, NULL, &seen);  //  accepted, one running
    assert_int_equal (seen.accepted, 4);
    hd_hostile_t *other = hd_hostile_connect (&ctx->env, "client", "same-key-other-session", 0);
    s_ref (other, HD_CMD_JOB_CANCEL, ctx->job);  //  any session of the owner key
    assert_string_equal (s_expect_info (other).state, "cancelled");
    static hd_jobdata_t d;
    uint64_t off = 0;
    for (int i = 0; i < 20; i++) {  //  long polls with the cursor until all 4 are stored
        s_fetch (other, ctx->job, off, HD_JOB_FETCH_MAX, 5000);
        s_expect_data (other, &d, NULL, NULL, NULL);
        off = d.next;
        if (d.info.stored == 4)
            break;
    }
    assert_int_equal (d.info.stored, 4);
    s_fetch (other, ctx->job, 0, HD_JOB_FETCH_MAX, 0);
    s_expect_data_statuses (other, &d, HD_ST_CANCELLED);
    assert_int_equal (d.count, 4);
    assert_int_equal (d.info.cancelled, 4);
    assert_string_equal (d.info.state, "cancelled");
    s_submit_index (h, ctx->job, 2, "sleep", "1");  //  stored: ACCEPTED again, not run
    s_fetch (h, ctx->job, 0, 1024, 0);
    s_expect_data (h, &d, NULL, NULL, NULL);
    assert_int_equal (d.info.stored, 4);
    hd_hostile_destroy (&other);
    hd_hostile_destroy (&h);
}

//  Tasks of the "sleep" function the broker holds (queued or running) and has run since it
//  started, seen through FUNCTIONS.
static void
s_sleep_counts (s_ctx_t *ctx, uint32_t *held, uint64_t *done)
{
    hd_client_t *c = hd_testenv_client (&ctx->env, 1);
    hd_function_info_t *f = NULL;
    uint32_t n = 0;
    assert_int_equal (hd_client_functions (c, &f, &n), HD_OK);
    *held = 0, *done = 0;
    for (uint32_t i = 0; i < n; i++)
        if (strcmp (f[i].name, "sleep") == 0)
            *held += f[i].queued + f[i].running, *done += f[i].done;
    free (f);
    hd_client_destroy (&c);
}

static void
s_kill_restart (s_ctx_t *ctx, hd_hostile_t **h, const char *session)
{
    hd_hostile_destroy (h);
    hd_testenv_kill (&ctx->env, ctx->env.broker, SIGKILL);
    hd_testenv_restart_broker (&ctx->env, NULL);
    *h = session ? hd_hostile_connect (&ctx->env, "client", session, 0) : NULL;
}

static void
s_expect_no_sleep (s_ctx_t *ctx, const char *when)
{
    uint32_t held;
    uint64_t done;
    s_sleep_counts (ctx, &held, &done);
    if (held || done)
        fail_msg ("%s: the broker holds %u sleep tasks and ran %" PRIu64 " (expected none)",
                  when, held, done);
}

//  A cancelled, then released job's tasks never come back. The worker dies with a task running
//  (its abort is never answered), the job is cancelled (queued tasks stored as CANCELLED), the
//  broker is killed and restarted: the task that was running ends CANCELLED, nothing runs;
//  release, kill -9 and restart: no task of the job is queued, running or run, and one sent
//  again on its session is refused (DENIED): it would run as a plain session's. And a crash
//  after a release removed the job's files but before its journal records were durable
//  (simulated: the files removed while the broker is down, its tasks still live in the
//  journal): they do not come back as a plain session's.
static void
test_job_released_tasks_never_return (void **state)
{
    s_ctx_t *ctx = *state;
    hd_testenv_init (&ctx->env);
    hd_testenv_start_broker (&ctx->env, NULL);
    pid_t worker = hd_testenv_start_worker (&ctx->env, "w1", 1, NULL);
    hd_client_t *c = hd_testenv_client (&ctx->env, 1);
    hd_client_destroy (&c);
    assert_int_equal (hd_job_id_new (ctx->job), HD_OK);
    hd_hostile_t *h = hd_hostile_connect (&ctx->env, "client", ctx->job, 0);
    s_open (h, ctx->job, 8, 0);
    s_expect_info (h);
    for (uint64_t i = 0; i < 8; i++)
        s_submit_index (h, ctx->job, i, "sleep", "20000");
    hd_hostile_seen_t seen;
    hd_hostile_watch (h, 1000, NULL, false, NULL, &seen);  //  accepted, one running
    assert_int_equal (seen.accepted, 8);
    hd_testenv_kill (&ctx->env, worker, SIGKILL);
    s_ref (h, HD_CMD_JOB_CANCEL, ctx->job);
    assert_string_equal (s_expect_info (h).state, "cancelled");
    s_kill_restart (ctx, &h, ctx->job);
    hd_testenv_start_worker (&ctx->env, "w1", 1, NULL);
    s_expect_no_sleep (ctx, "cancelled job, after a restart");
    static hd_jobdata_t d;
    s_fetch (h, ctx->job, 0, HD_JOB_FETCH_MAX, 0);
    s_expect_data_statuses (h, &d, HD_ST_CANCELLED);
    assert_int_equal (d.info.stored, 8);  //  the running one too, at the restart
    assert_int_equal (d.info.cancelled, 8);
    s_ref (h, HD_CMD_JOB_RELEASE, ctx->job);
    assert_string_equal (s_expect_info (h).state, "released");
    s_kill_restart (ctx, &h, ctx->job);
    s_expect_no_sleep (ctx, "released job, after a restart");
    s_submit_index (h, ctx->job, 3, "sleep", "20000");  //  its ids on its session: refused
    s_expect_code (h, HD_ST_DENIED, "released or expired");
    s_expect_no_sleep (ctx, "released job, a task sent again");
    hd_hostile_destroy (&h);
    //  The crash window of a release: the files gone, the tasks' records not forgotten.
    char job[HD_JOB_ID_LEN + 1];
    assert_int_equal (hd_job_id_new (job), HD_OK);
    h = hd_hostile_connect (&ctx->env, "client", job, 0);
    s_open (h, job, 4, 0);
    s_expect_info (h);
    for (uint64_t i = 0; i < 4; i++)
        s_submit_index (h, job, i, "sleep", "20000");
    hd_hostile_watch (h, 1000, NULL, false, NULL, &seen);
    assert_int_equal (seen.accepted, 4);
    hd_hostile_destroy (&h);
    hd_testenv_kill (&ctx->env, ctx->env.broker, SIGKILL);
    char path[512];
    snprintf (path, sizeof path, "%s/journal/jobs/%s.meta", ctx->env.dir, job);
    assert_int_equal (unlink (path), 0);
    snprintf (path, sizeof path, "%s/journal/jobs/%s.results", ctx->env.dir, job);
    (void) unlink (path);  //  may not exist: nothing stored yet
    hd_testenv_restart_broker (&ctx->env, NULL);
    s_expect_no_sleep (ctx, "job whose files a release removed, after a crash");
}

//  Records of `type` in the journal whose task id is one of `job`'s (read from the file: the
//  format of docs/JOURNAL.md; the broker is stopped or killed, so the file is still).
static uint32_t
s_journal_records (s_ctx_t *ctx, const char *job, uint8_t type)
{
    char path[512];
    snprintf (path, sizeof path, "%s/journal/journal.log", ctx->env.dir);
    FILE *f = fopen (path, "rb");
    assert_non_null (f);
    uint8_t nonce[16], head[8 + 17];
    hd_job_task_id (job, 0, nonce);
    uint32_t n = 0;
    long at = 24;  //  the file header
    while (fseek (f, at, SEEK_SET) == 0 && fread (head, 1, sizeof head, f) == sizeof head) {
        uint32_t len = head[0] | head[1] << 8 | head[2] << 16 | (uint32_t) head[3] << 24;
        n += head[8] == type && memcmp (head + 9, nonce, 8) == 0;
        at += 8 + (long) len;
    }
    fclose (f);
    return n;
}

static void
s_echo_counts (s_ctx_t *ctx, uint32_t *held, uint64_t *done)
{
    hd_client_t *c = hd_testenv_client (&ctx->env, 1);
    hd_function_info_t *f = NULL;
    uint32_t n = 0;
    assert_int_equal (hd_client_functions (c, &f, &n), HD_OK);
    *held = 0, *done = 0;
    for (uint32_t i = 0; i < n; i++)
        if (strcmp (f[i].name, "echo") == 0)
            *held += f[i].queued + f[i].running, *done += f[i].done;
    free (f);
    hd_client_destroy (&c);
}

//  The DROP records of stored tasks are deferred until a sync of the stores covers them
//  (docs/JOURNAL.md; here --jobs-sync 600000, so none is written while the test runs). A
//  kill -9 with every result stored and no DROP in the journal: after the restart each task
//  has its one result, byte for byte, and none ran again (the broker's count); resubmitted,
//  none runs either. A clean stop then writes the DROPs (after syncing the stores), and a
//  restart after it brings nothing back either.
static void
test_job_deferred_drops_survive_kill (void **state)
{
    s_ctx_t *ctx = *state;
    const char *extra[] = { "--jobs-sync", "600000", NULL };
    s_start (ctx, extra, 2);
    hd_hostile_t *h = hd_hostile_connect (&ctx->env, "client", ctx->job, 0);
    s_open (h, ctx->job, S_TOTAL, 0);
    s_expect_info (h);
    for (uint64_t i = 0; i < S_TOTAL; i++) {
        char input[32];
        snprintf (input, sizeof input, "in-%u", (unsigned) i);
        s_submit_index (h, ctx->job, i, "echo", input);
    }
    hd_buf_t first, again;
    hd_buf_init (&first);
    hd_buf_init (&again);
    uint32_t accepted = 0;
    s_fetch_all (h, ctx->job, &first, &accepted);
    uint32_t held;
    uint64_t done;
    s_echo_counts (ctx, &held, &done);
    assert_int_equal (held, 0);
    assert_int_equal (done, S_TOTAL);
    hd_hostile_destroy (&h);

    hd_testenv_kill (&ctx->env, ctx->env.broker, SIGKILL);
    assert_int_equal (s_journal_records (ctx, ctx->job, 1), S_TOTAL);  //  every ACCEPT
    assert_int_equal (s_journal_records (ctx, ctx->job, 5), 0);  //  no DROP: all deferred
    hd_testenv_restart_broker (&ctx->env, extra);
    s_echo_counts (ctx, &held, &done);
    if (held || done)
        fail_msg ("after kill -9 with the DROPs deferred: %u echo tasks held, %" PRIu64 " run "
                  "again (expected none)", held, done);
    h = hd_hostile_connect (&ctx->env, "client", ctx->job, 0);
    static hd_jobdata_t d;
    s_fetch (h, ctx->job, 0, HD_JOB_FETCH_MAX, 0);
    s_expect_data (h, &d, &again, NULL, NULL);
    assert_int_equal (d.info.stored, S_TOTAL);
    assert_int_equal (d.count, S_TOTAL);
    assert_int_equal (again.size, first.size);
    assert_memory_equal (again.data, first.data, first.size);
    for (uint64_t i = 0; i < S_TOTAL; i++)  //  a resumed client sends everything again
        s_submit_index (h, ctx->job, i, "echo", "again");
    hd_hostile_seen_t seen;
    hd_hostile_watch (h, 1500, NULL, false, NULL, &seen);
    assert_int_equal (seen.accepted, S_TOTAL);
    hd_hostile_destroy (&h);
    s_echo_counts (ctx, &held, &done);
    assert_int_equal (held + done, 0);

    //  A clean stop: the stores synced, then the DROP records of every stored task.
    assert_int_equal (hd_testenv_kill (&ctx->env, ctx->env.broker, SIGTERM), 0);
    assert_int_equal (s_journal_records (ctx, ctx->job, 5), S_TOTAL);
    hd_testenv_restart_broker (&ctx->env, NULL);
    s_echo_counts (ctx, &held, &done);
    assert_int_equal (held + done, 0);
    hd_buf_fini (&first);
    hd_buf_fini (&again);
}

//  A job's task the broker refuses for good (over the payload limit; a function no worker
//  offers, with --worker-wait 0; a malformed envelope whose id is readable would be the same)
//  gets one outcome, stored as its result, so the job ends: ACCEPTED, never REJECTED.
static void
test_job_task_refused_for_good_is_stored (void **state)
{
    s_ctx_t *ctx = *state;
    const char *extra[] = { "--max-payload", "64", "--worker-wait", "0", NULL };
    s_start (ctx, extra, 1);
    hd_hostile_t *h = hd_hostile_connect (&ctx->env, "client", ctx->job, 0);
    s_open (h, ctx->job, 3, 0);
    s_expect_info (h);
    char big[100];
    memset (big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    s_submit_index (h, ctx->job, 0, "echo", "fine");
    s_submit_index (h, ctx->job, 1, "echo", big);
    s_submit_index (h, ctx->job, 2, "no-such-function", "x");
    hd_hostile_seen_t seen;
    hd_hostile_watch (h, 1500, NULL, false, NULL, &seen);
    assert_int_equal (seen.accepted, 3);
    assert_int_equal (seen.rejected, 0);
    static hd_jobdata_t d;
    uint32_t status[3] = { 99, 99, 99 };
    for (int round = 0; round < 20 && d.info.stored < 3; round++) {
        s_fetch (h, ctx->job, 0, HD_JOB_FETCH_MAX, 5000);
        zmsg_t *msg = s_expect (h, HD_CMD_JOB_DATA, 10000, NULL);
        zframe_t *env = zmsg_next (msg), *pairs = zmsg_next (msg);
        assert_int_equal (hd_codec_decode_jobdata (zframe_data (env), zframe_size (env), &d),
                          HD_OK);
        hd_pack_reader_t r;
        hd_pack_reader_init (&r, zframe_data (pairs), zframe_size (pairs));
        const void *e, *p;
        size_t es, ps;
        while (hd_pack_next (&r, &e, &es, &p, &ps) == 1) {
            hd_result_t res;
            uint64_t index;
            assert_int_equal (hd_codec_decode_result (e, es, &res), HD_OK);
            assert_true (hd_job_task_index (ctx->job, res.id.b, &index) && index < 3);
            status[index] = res.status;
            if (index == 1)
                assert_non_null (strstr (res.error, "over the broker's limit"));
        }
        zmsg_destroy (&msg);
    }
    assert_int_equal (status[0], HD_ST_OK);
    assert_int_equal (status[1], HD_ST_TOO_LARGE);
    assert_int_equal (status[2], HD_ST_UNKNOWN_FN);
    assert_string_equal (d.info.state, "done");
    assert_int_equal (d.info.failed, 2);
    //  Sent again, a stored refusal is ACCEPTED again and stored once.
    s_submit_index (h, ctx->job, 1, "echo", big);
    hd_hostile_watch (h, 500, NULL, false, NULL, &seen);
    assert_int_equal (seen.accepted, 1);
    assert_int_equal (seen.rejected, 0);
    s_fetch (h, ctx->job, 0, HD_JOB_FETCH_MAX, 0);
    s_expect_data (h, &d, NULL, NULL, NULL);
    assert_int_equal (d.info.stored, 3);
    assert_int_equal (d.count, 3);
    hd_hostile_destroy (&h);
}

static void
test_job_refused_without_results_budget (void **state)
{
    s_ctx_t *ctx = *state;
    const char *extra[] = { "--results-max-bytes", "0", NULL };
    s_start (ctx, extra, 1);
    hd_hostile_t *h = hd_hostile_connect (&ctx->env, "client", ctx->job, 0);
    s_open (h, ctx->job, 3, 0);
    s_expect_code (h, HD_ST_STORAGE, "keeps no detached jobs (--results-max-bytes 0)");
    //  opens, cancels and releases are at most 64 a second (each may fsync on the loop)
    for (int i = 0; i < 80; i++)
        s_open (h, ctx->job, 3, 0);
    uint32_t busy = 0, storage = 0;
    for (int i = 0; i < 80; i++) {
        hd_reject_t r = s_expect_reject (h);
        busy += r.code == HD_ST_BUSY && strstr (r.reason, "job opens, cancels and releases");
        storage += r.code == HD_ST_STORAGE;
    }
    assert_int_equal (busy + storage, 80);
    assert_true (busy >= 1);  //  80 - 63 unless a second began during the burst
    hd_hostile_destroy (&h);
}

static void
test_job_refused_without_journal (void **state)
{
    s_ctx_t *ctx = *state;
    const char *extra[] = { "--journal", "none", NULL };
    s_start (ctx, extra, 1);
    hd_hostile_t *h = hd_hostile_connect (&ctx->env, "client", ctx->job, 0);
    s_open (h, ctx->job, 3, 0);
    s_expect_code (h, HD_ST_STORAGE, "keeps no detached jobs (journal none)");
    s_ref (h, HD_CMD_JOBS, "");
    s_expect_code (h, HD_ST_STORAGE, "keeps no detached jobs (journal none)");
    hd_hostile_destroy (&h);
}

static int
s_setup (void **state)
{
    *state = calloc (1, sizeof (s_ctx_t));
    return *state ? 0 : -1;
}

static int
s_teardown (void **state)
{
    s_ctx_t *ctx = *state;
    if (ctx->env.dir[0])
        hd_testenv_stop (&ctx->env);
    free (ctx);
    return 0;
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_job_open_submit_fetch_restart_release, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_job_survives_kill_while_running, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_job_bounds_budget_and_ttl, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_job_cancel, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_job_released_tasks_never_return, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_job_deferred_drops_survive_kill, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_job_task_refused_for_good_is_stored, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_job_refused_without_results_budget, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_job_refused_without_journal, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
