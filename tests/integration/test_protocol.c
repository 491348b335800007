/*  Integration: docs/PROTOCOL.md and the broker agree (issue 12, item 11), one test per point,
    with a raw DEALER client written from the document alone (CURVE keys read from the key
    files by the format section 12 states, messages built by hand or with the codec) against a
    real heddle-broker (--max-payload 4096) and one heddle-worker on 127.0.0.1:
    - the client's opening message: none is needed, a SUBMIT may come first; PONG tells maxpay;
    - a packed SUBMIT with garbage after valid pairs: the pairs stand, the rest is refused;
    - an ACK or CANCEL of 1,025 ids: TOO_LARGE;
    - a task whose envelope does not decode: refused with its id when the id is readable;
    - the key file format: a certificate and an allowlist line written by hand are accepted;
    - the built-in functions' inputs and outputs, pi's draw recomputed from its description.  */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <czmq.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hd_codec.h"
#include "hd_transport.h"
#include "hd_codec_nodes.h"
#include "hd_pack.h"
#include "hd_testcli.h"
#include "hd_testenv.h"

#define S_WAIT_MS 10000

static hd_testenv_t s_env;
static char s_hand_cert[400];  //  a client certificate written by hand (section 12)

// --- key files, read and written as section 12 says ------------------------------------------

//  The value of `NAME = "..."` in a certificate file: 40 Z85 characters.
static void
s_cert_value (const char *path, const char *name, char out[41])
{
    char *text = hd_testcli_read_file (path, NULL);
    assert_non_null (text);
    char pattern[64];
    snprintf (pattern, sizeof pattern, "%s = \"", name);
    const char *at = strstr (text, pattern);
    if (!at)
        fail_msg ("%s: no '%s' line", path, name);
    at += strlen (pattern);
    assert_true (strlen (at) > 40 && at[40] == '"');
    memcpy (out, at, 40);
    out[40] = 0;
    uint8_t raw[32];
    assert_non_null (zmq_z85_decode (raw, out));
    free (text);
}

//  A fresh key pair as a secret certificate, and its public key on clients.keys with a comment:
//  written before the broker starts, which reads the allowlists then.
static void
s_write_hand_keys (void)
{
    uint8_t pub[32], sec[32];
    char pub_z[41], sec_z[41];
    crypto_box_keypair (pub, sec);
    zmq_z85_encode (pub_z, pub, 32);
    zmq_z85_encode (sec_z, sec, 32);
    char text[512];
    int n = snprintf (text, sizeof text,
                      "#   written by hand, as docs/PROTOCOL.md section 12 says\n"
                      "metadata\n    role = \"client\"\ncurve\n    public-key = \"%s\"\n"
                      "    secret-key = \"%s\"\n", pub_z, sec_z);
    snprintf (s_hand_cert, sizeof s_hand_cert, "%s/hand.cert_secret", s_env.dir);
    hd_testcli_write_file (s_hand_cert, text, (size_t) n);
    chmod (s_hand_cert, 0600);
    char path[400];
    snprintf (path, sizeof path, "%s/clients.keys", s_env.keys);
    FILE *f = fopen (path, "a");
    assert_non_null (f);
    fprintf (f, "\n# a comment line\n%s   # written by hand\n", pub_z);
    fclose (f);
}

// --- a raw client ---------------------------------------------------------------------------

static zsock_t *
s_raw_connect (void)
{
    char path[400], pub[41], sec[41], server[41];
    snprintf (path, sizeof path, "%s/client.cert_secret", s_env.keys);
    s_cert_value (path, "public-key", pub);
    s_cert_value (path, "secret-key", sec);
    snprintf (path, sizeof path, "%s/broker.cert", s_env.keys);
    s_cert_value (path, "public-key", server);
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    assert_non_null (sock);
    zsock_set_curve_publickey (sock, pub);
    zsock_set_curve_secretkey (sock, sec);
    zsock_set_curve_serverkey (sock, server);
    zsock_set_rcvtimeo (sock, 200);
    zsock_set_linger (sock, 0);
    char rid[HD_CLIENT_RID_TEXT], err[256];
    hd_transport_client_rid (rid);
    zsock_set_identity (sock, rid);
    assert_int_equal (hd_transport_claim (sock, "raw-protocol", err, sizeof err), HD_OK);
    assert_int_equal (zsock_connect (sock, "%s", s_env.clients_ep), 0);
    return sock;
}

//  [header cmd] then the given frames.
static void
s_send (zsock_t *sock, uint8_t cmd, int nframes, const void *const *data, const size_t *sizes)
{
    uint8_t header[HD_HEADER_BYTES];
    hd_codec_header (header, (hd_cmd_t) cmd);
    zmsg_t *msg = zmsg_new ();
    zmsg_addmem (msg, header, sizeof header);
    for (int i = 0; i < nframes; i++)
        zmsg_addmem (msg, data[i], sizes[i]);
    assert_int_equal (zmsg_send (&msg, sock), 0);
}

static void
s_send_env (zsock_t *sock, uint8_t cmd, const hd_buf_t *env)
{
    const void *data[] = { env->data };
    size_t sizes[] = { env->size };
    s_send (sock, cmd, 1, data, sizes);
}

//  What came back, gathered until the test has seen what it waits for.
typedef struct {
    hd_id_t accepted[64], results[64], rejected_ids[64];
    uint32_t naccepted, nresults, nrejected_ids;
    hd_reject_t rejects[16];  //  REJECTED without id
    uint32_t nrejects;
    uint32_t reject_codes[64];  //  of rejected_ids
    uint32_t maxpay;
    bool pong;
} s_seen_t;

static void
s_on_reply (zmsg_t *msg, s_seen_t *seen)
{
    zframe_t *h = zmsg_first (msg);
    uint8_t version, cmd;
    assert_int_equal (hd_codec_parse_header (zframe_data (h), zframe_size (h), &version, &cmd),
                      HD_OK);
    zframe_t *env = zmsg_next (msg);
    assert_non_null (env);
    if (cmd == HD_CMD_ACCEPTED) {
        hd_idlist_t *ids = malloc (sizeof *ids);
        assert_int_equal (hd_codec_decode_ids (zframe_data (env), zframe_size (env), ids), HD_OK);
        for (uint32_t i = 0; i < ids->count && seen->naccepted < 64; i++)
            seen->accepted[seen->naccepted++] = ids->ids[i];
        free (ids);
    }
    else if (cmd == HD_CMD_RESULT && zmsg_size (msg) == 3) {
        hd_result_t r;
        assert_int_equal (hd_codec_decode_result (zframe_data (env), zframe_size (env), &r), HD_OK);
        if (seen->nresults < 64)
            seen->results[seen->nresults++] = r.id;
    }
    else if (cmd == HD_CMD_RESULT) {  //  packed: [header][pack]
        hd_pack_reader_t rd;
        hd_pack_reader_init (&rd, zframe_data (env), zframe_size (env));
        const void *e, *p;
        size_t es, ps;
        while (hd_pack_next (&rd, &e, &es, &p, &ps) == 1 && seen->nresults < 64) {
            hd_result_t r;
            assert_int_equal (hd_codec_decode_result (e, es, &r), HD_OK);
            seen->results[seen->nresults++] = r.id;
        }
    }
    else if (cmd == HD_CMD_REJECTED) {
        hd_reject_t r;
        assert_int_equal (hd_codec_decode_reject (zframe_data (env), zframe_size (env), &r), HD_OK);
        if (r.has_id && seen->nrejected_ids < 64) {
            seen->reject_codes[seen->nrejected_ids] = r.code;
            seen->rejected_ids[seen->nrejected_ids++] = r.id;
        }
        else if (!r.has_id && seen->nrejects < 16)
            seen->rejects[seen->nrejects++] = r;
    }
    else if (cmd == HD_CMD_PONG) {
        assert_int_equal (hd_codec_decode_pong (zframe_data (env), zframe_size (env),
                                                &seen->maxpay), HD_OK);
        seen->pong = true;
    }
}

static bool
s_has (const hd_id_t *ids, uint32_t n, const hd_id_t *id)
{
    for (uint32_t i = 0; i < n; i++)
        if (hd_id_eq (&ids[i], id))
            return true;
    return false;
}

//  Receive until done (seen) or S_WAIT_MS.
static void
s_collect (zsock_t *sock, s_seen_t *seen, bool (*done) (const s_seen_t *, const void *),
           const void *arg)
{
    int64_t end = zclock_mono () + S_WAIT_MS;
    while (!done (seen, arg) && zclock_mono () < end) {
        zmsg_t *msg = zmsg_recv (sock);
        if (msg)
            s_on_reply (msg, seen);
        zmsg_destroy (&msg);
    }
}

static void
s_submit_env (const hd_id_t *id, const char *fn, hd_buf_t *env)
{
    hd_submit_t s = { .id = *id };
    snprintf (s.fn, sizeof s.fn, "%s", fn);
    assert_int_equal (hd_codec_encode_submit (env, &s), HD_OK);
}

// --- the tests --------------------------------------------------------------------------------

typedef struct {
    const hd_id_t *ids;
    uint32_t n;
    uint32_t rejects;  //  REJECTED without id expected
} s_want_t;

static bool
s_done_tasks (const s_seen_t *seen, const void *arg)
{
    const s_want_t *w = arg;
    for (uint32_t i = 0; i < w->n; i++)
        if (!s_has (seen->accepted, seen->naccepted, &w->ids[i])
            || !s_has (seen->results, seen->nresults, &w->ids[i]))
            return false;
    return seen->nrejects >= w->rejects;
}

static bool
s_done_pong (const s_seen_t *seen, const void *arg)
{
    (void) arg;
    return seen->pong;
}

//  No opening message: a SUBMIT first is ACCEPTED and answered; PONG says maxpay.
static void
test_protocol_opening_and_maxpay (void **state)
{
    (void) state;
    zsock_t *sock = s_raw_connect ();
    hd_id_t id;
    hd_id_random (&id);
    hd_buf_t env;
    hd_buf_init (&env);
    s_submit_env (&id, "echo", &env);
    const void *data[] = { env.data, "hi" };
    size_t sizes[] = { env.size, 2 };
    s_send (sock, HD_CMD_SUBMIT, 2, data, sizes);
    s_seen_t seen = { 0 };
    s_want_t want = { &id, 1, 0 };
    s_collect (sock, &seen, s_done_tasks, &want);
    assert_true (s_done_tasks (&seen, &want));
    assert_int_equal (seen.nrejects, 0);
    assert_int_equal (hd_codec_encode_empty (&env), HD_OK);
    s_send_env (sock, HD_CMD_PING, &env);
    s_collect (sock, &seen, s_done_pong, NULL);
    assert_true (seen.pong);
    assert_int_equal (seen.maxpay, 4096);  //  the broker's --max-payload
    hd_buf_fini (&env);
    zsock_destroy (&sock);
    //  The library learns it too.
    hd_client_t *client = hd_testenv_client (&s_env, 1);
    assert_int_equal (hd_client_max_payload (client), 4096);
    hd_client_destroy (&client);
}

//  Packed: two valid pairs, then bytes that are no bin header: the two run, the rest is
//  refused with one REJECTED MALFORMED without id.
static void
test_protocol_packed_garbage_after_pairs (void **state)
{
    (void) state;
    zsock_t *sock = s_raw_connect ();
    hd_id_t ids[2];
    hd_buf_t env, pack;
    hd_buf_init (&env);
    hd_buf_init (&pack);
    for (int i = 0; i < 2; i++) {
        hd_id_random (&ids[i]);
        s_submit_env (&ids[i], "echo", &env);
        assert_int_equal (hd_pack_add (&pack, env.data, env.size, "x", 1), HD_OK);
    }
    assert_int_equal (hd_buf_append (&pack, "\xff\x00garbage", 9), HD_OK);
    s_send_env (sock, HD_CMD_SUBMIT, &pack);
    s_seen_t seen = { 0 };
    s_want_t want = { ids, 2, 1 };
    s_collect (sock, &seen, s_done_tasks, &want);
    if (!s_done_tasks (&seen, &want))
        fail_msg ("accepted %u, results %u, refusals %u", seen.naccepted, seen.nresults,
                  seen.nrejects);
    assert_int_equal (seen.nrejects, 1);
    assert_int_equal (seen.rejects[0].code, HD_ST_MALFORMED);
    assert_non_null (strstr (seen.rejects[0].reason, "after 2 tasks"));
    hd_buf_fini (&env);
    hd_buf_fini (&pack);
    zsock_destroy (&sock);
}

static bool
s_done_rejects (const s_seen_t *seen, const void *arg)
{
    return seen->nrejects >= *(const uint32_t *) arg;
}

//  ACK and CANCEL of HD_MAX_BATCH + 1 ids: TOO_LARGE, as any list over its limit.
static void
test_protocol_ack_and_cancel_over_the_batch_are_too_large (void **state)
{
    (void) state;
    zsock_t *sock = s_raw_connect ();
    hd_buf_t env;
    hd_buf_init (&env);
    //  {ids: [1025 x bin 16]} by hand: the encoder refuses to write it.
    uint8_t head[] = { 0x81, 0xa3, 'i', 'd', 's', 0xdc, 0x04, 0x01 };
    assert_int_equal (hd_buf_append (&env, head, sizeof head), HD_OK);
    for (int i = 0; i < HD_MAX_BATCH + 1; i++) {
        hd_id_t id;
        hd_id_random (&id);
        uint8_t bin[2] = { 0xc4, 16 };
        assert_int_equal (hd_buf_append (&env, bin, 2), HD_OK);
        assert_int_equal (hd_buf_append (&env, id.b, 16), HD_OK);
    }
    s_send_env (sock, HD_CMD_ACK, &env);
    s_send_env (sock, HD_CMD_CANCEL, &env);
    s_seen_t seen = { 0 };
    uint32_t two = 2;
    s_collect (sock, &seen, s_done_rejects, &two);
    assert_int_equal (seen.nrejects, 2);
    for (int i = 0; i < 2; i++)
        if (seen.rejects[i].code != HD_ST_TOO_LARGE)
            fail_msg ("want TOO_LARGE, got %u: %s", seen.rejects[i].code, seen.rejects[i].reason);
    hd_buf_fini (&env);
    zsock_destroy (&sock);
}

static bool
s_done_refusals (const s_seen_t *seen, const void *arg)
{
    (void) arg;
    return seen->nrejected_ids >= 2 && seen->nrejects >= 1;
}

//  Envelopes that do not decode: refused with the id when it can be read, without it when not.
static void
test_protocol_undecodable_task_refusal_names_its_id (void **state)
{
    (void) state;
    zsock_t *sock = s_raw_connect ();
    hd_id_t a, b;
    hd_id_random (&a);
    hd_id_random (&b);
    uint8_t bad_fn[64], bad_pri[64];
    //  {id: a, fn: "bad name!"}: a function name out of its alphabet.
    size_t n1 = 0;
    memcpy (bad_fn, "\x82\xa2id\xc4\x10", 6);
    memcpy (bad_fn + 6, a.b, 16);
    memcpy (bad_fn + 22, "\xa2" "fn" "\xa9" "bad name!", 13);
    n1 = 35;
    //  {fn: "echo", pri: "high", id: b}: a wrong type before the id.
    size_t n2 = 0;
    memcpy (bad_pri, "\x83\xa2" "fn" "\xa4" "echo" "\xa3" "pri" "\xa4" "high" "\xa2" "id" "\xc4\x10",
            23);
    memcpy (bad_pri + 23, b.b, 16);
    n2 = 39;
    const char nothing[] = "\x81\xa2" "fn";  //  cut short: no id to read
    const void *data[] = { bad_fn, "", bad_pri, "", nothing, "" };
    size_t sizes[] = { n1, 0, n2, 0, sizeof nothing - 1, 0 };
    s_send (sock, HD_CMD_SUBMIT, 6, data, sizes);
    s_seen_t seen = { 0 };
    s_collect (sock, &seen, s_done_refusals, NULL);
    assert_int_equal (seen.nrejected_ids, 2);
    assert_true (s_has (seen.rejected_ids, 2, &a));
    assert_true (s_has (seen.rejected_ids, 2, &b));
    assert_int_equal (seen.reject_codes[0], HD_ST_MALFORMED);
    assert_int_equal (seen.reject_codes[1], HD_ST_MALFORMED);
    assert_int_equal (seen.nrejects, 1);  //  the third, without id
    assert_int_equal (seen.rejects[0].code, HD_ST_MALFORMED);
    zsock_destroy (&sock);
}

//  A certificate and an allowlist line written by hand from section 12 are accepted.
static void
test_protocol_key_files_as_documented (void **state)
{
    (void) state;
    char broker_cert[400], server[41];
    snprintf (broker_cert, sizeof broker_cert, "%s/broker.cert", s_env.keys);
    s_cert_value (broker_cert, "public-key", server);
    hd_client_config_t cfg = { .endpoint = s_env.clients_ep, .cert_path = s_hand_cert,
                               .broker_key = server };
    hd_client_t *client = NULL;
    char err[512] = "";
    if (hd_client_connect_verbose (&cfg, &client, err, sizeof err) != HD_OK)
        fail_msg ("hand-written key refused: %s", err);
    hd_reply_t *r = NULL;
    assert_int_equal (hd_client_call (client, "echo", "ok", 2, NULL, &r), HD_OK);
    assert_int_equal (r->status, 0);
    hd_reply_destroy (&r);
    hd_client_destroy (&client);
}

//  pi's draw exactly as section 13 describes it.
static uint64_t
s_pi_hits (uint64_t samples, uint64_t seed)
{
    uint64_t z = seed + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    uint64_t state = z ^ (z >> 31), hits = 0;
    if (!state)
        state = 0x9E3779B97F4A7C15ull;
    for (uint64_t i = 0; i < samples; i++) {
        double xy[2];
        for (int k = 0; k < 2; k++) {
            uint64_t x = state;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            state = x;
            xy[k] = (double) ((x * 0x2545F4914F6CDD1Dull) >> 11) * 0x1.0p-53;
        }
        hits += xy[0] * xy[0] + xy[1] * xy[1] <= 1.0;
    }
    return hits;
}

static void
s_expect_call (hd_client_t *client, const char *fn, const char *input, uint32_t status,
               const char *want)
{
    hd_reply_t *r = NULL;
    assert_int_equal (hd_client_call (client, fn, input, strlen (input), NULL, &r), HD_OK);
    if (r->status != status || (want && (r->size != strlen (want) || memcmp (r->data, want,
                                                                             r->size) != 0)))
        fail_msg ("%s(%s): status %u, output '%.*s' (%s); want status %u, '%s'", fn, input,
                  r->status, (int) r->size, (char *) r->data, r->error, status, want ? want : "");
    hd_reply_destroy (&r);
}

static void
test_protocol_builtins_as_documented (void **state)
{
    (void) state;
    hd_client_t *client = hd_testenv_client (&s_env, 1);
    s_expect_call (client, "echo", "any bytes", 0, "any bytes");
    s_expect_call (client, "sleep", " 5 ", 0, "5");
    s_expect_call (client, "sleep", "3600001", 1, NULL);
    s_expect_call (client, "sha256", "abc",
                   0, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    s_expect_call (client, "wordcount", "one two\n three\n", 0, "2 3 15");
    char want[64];
    snprintf (want, sizeof want, "%llu 20000", (unsigned long long) s_pi_hits (20000, 7));
    s_expect_call (client, "pi", " 20000  7 ", 0, want);
    snprintf (want, sizeof want, "%llu 1000", (unsigned long long) s_pi_hits (1000, 1));
    s_expect_call (client, "pi", "1000", 0, want);
    s_expect_call (client, "pi", "0", 1, NULL);
    hd_client_destroy (&client);
}

static int
s_setup (void **state)
{
    (void) state;
    assert_true (sodium_init () >= 0);
    hd_testenv_init (&s_env);
    s_write_hand_keys ();
    const char *extra[] = { "--max-payload", "4096", NULL };
    hd_testenv_start_broker (&s_env, extra);
    hd_testenv_start_worker (&s_env, "w1", 2, NULL);
    hd_client_t *client = hd_testenv_client (&s_env, 1);
    hd_client_destroy (&client);
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    hd_testenv_stop (&s_env);
    return 0;
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_protocol_opening_and_maxpay),
        cmocka_unit_test (test_protocol_packed_garbage_after_pairs),
        cmocka_unit_test (test_protocol_ack_and_cancel_over_the_batch_are_too_large),
        cmocka_unit_test (test_protocol_undecodable_task_refusal_names_its_id),
        cmocka_unit_test (test_protocol_key_files_as_documented),
        cmocka_unit_test (test_protocol_builtins_as_documented),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
