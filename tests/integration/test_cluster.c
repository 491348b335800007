/*  Integration: a real heddle-broker and two heddle-workers as processes on 127.0.0.1 with
    CURVE, driven through libheddle. Checks every result byte for byte, the built-ins against
    values computed here, and each clear error (unknown function, oversize payload, refused
    keys, malformed frames) while the broker keeps serving.  */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <czmq.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <poll.h>
#include <pthread.h>

#include "hd_codec.h"
#include "hd_worker.h"
#include "hd_testenv.h"
#include "hd_transport.h"

#define S_MAX_PAYLOAD 4096

static hd_testenv_t s_env;
static hd_client_t *s_client;

static int
s_setup (void **state)
{
    (void) state;
    hd_testenv_init (&s_env);
    //  A short wait for workers: the unknown-function test waits it out (test_wait has more).
    const char *extra[] = { "--max-payload", "4096", "--worker-wait", "1000", NULL };
    hd_testenv_start_broker (&s_env, extra);
    hd_testenv_start_worker (&s_env, "w1", 2, NULL);
    hd_testenv_start_worker (&s_env, "w2", 2, NULL);
    s_client = hd_testenv_client (&s_env, 2);
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    hd_client_destroy (&s_client);
    hd_testenv_stop (&s_env);
    return 0;
}

typedef struct {
    uint64_t count, wrong, failed, w1, w2;
    uint64_t next;  //  ordered gather: next expected index
} s_check_t;

static void
s_echo_input (uint64_t i, char *buf, size_t len)
{
    snprintf (buf, len, "task %llu payload \x01\x02 %llx", (unsigned long long) i,
              (unsigned long long) (i * 0x9E3779B97F4A7C15ULL));
}

static void
s_check_echo (const hd_reply_t *r, void *arg)
{
    s_check_t *c = arg;
    char want[128];
    s_echo_input (r->seq, want, sizeof want);
    if (r->status != 0)
        c->failed++;
    else if (r->size != strlen (want) || memcmp (r->data, want, r->size) != 0 || r->seq != c->next)
        c->wrong++;
    c->next++;
    c->count++;
    if (strcmp (r->node, "w1") == 0)
        c->w1++;
    if (strcmp (r->node, "w2") == 0)
        c->w2++;
}

static void
test_cluster_runs_10000_echo_tasks_byte_for_byte (void **state)
{
    (void) state;
    hd_client_job_t *job = hd_client_job_new (s_client, "echo", NULL);
    char in[128];
    for (uint64_t i = 0; i < 10000; i++) {
        s_echo_input (i, in, sizeof in);
        assert_int_equal (hd_client_job_add (job, in, strlen (in)), HD_OK);
    }
    s_check_t c = { 0 };
    assert_int_equal (hd_client_job_run (job, HD_GATHER_ORDERED, s_check_echo, NULL, &c), HD_OK);
    assert_int_equal (c.count, 10000);
    assert_int_equal (c.wrong, 0);
    assert_int_equal (c.failed, 0);
    assert_true (c.w1 > 0 && c.w2 > 0);  //  both workers took part
    assert_int_equal (c.w1 + c.w2, 10000);
    hd_client_job_destroy (&job);
}

//  Sizes around the packing limit (hd_pack: up to 1024 bytes travel packed, larger ones in
//  frames of their own), mixed in one job: every result comes back whole, in order.
static size_t
s_mixed_size (uint64_t i)
{
    static const size_t sizes[] = { 0, 1, 64, 1023, 1024, 1025, 2000, 4096, 300 };
    return sizes[i % (sizeof sizes / sizeof sizes[0])];
}

static void
s_mixed_fill (uint64_t i, uint8_t *buf, size_t size)
{
    for (size_t k = 0; k < size; k++)
        buf[k] = (uint8_t) (i * 31 + k * 7);
}

static void
s_check_mixed (const hd_reply_t *r, void *arg)
{
    s_check_t *c = arg;
    size_t size = s_mixed_size (r->seq);
    static uint8_t want[4096];
    s_mixed_fill (r->seq, want, size);
    if (r->status != 0)
        c->failed++;
    else if (r->size != size || (size && memcmp (r->data, want, size) != 0) || r->seq != c->next)
        c->wrong++;
    c->next++;
    c->count++;
}

static void
test_cluster_packed_and_framed_tasks_mix (void **state)
{
    (void) state;
    hd_client_job_t *job = hd_client_job_new (s_client, "echo", NULL);
    static uint8_t in[4096];
    for (uint64_t i = 0; i < 900; i++) {
        s_mixed_fill (i, in, s_mixed_size (i));
        assert_int_equal (hd_client_job_add (job, in, s_mixed_size (i)), HD_OK);
    }
    s_check_t c = { 0 };
    assert_int_equal (hd_client_job_run (job, HD_GATHER_ORDERED, s_check_mixed, NULL, &c), HD_OK);
    assert_int_equal (c.count, 900);
    assert_int_equal (c.wrong, 0);
    assert_int_equal (c.failed, 0);
    hd_client_job_destroy (&job);
}

//  Every accepted task gets its ACCEPTED, also when results come first (ACCEPTED replies are
//  gathered) and with every journal mode: with `none` nothing is ever committed, and replies
//  once waited for a commit that never came (clients then resent every task after 3 s).
static void
s_all_accepted (hd_client_t *client, uint32_t tasks)
{
    //  Tasks that would run for a minute: no RESULT can stand in for their ACCEPTED. Once all
    //  are accepted (a generous bound, not a timing assertion) they are cancelled.
    uint8_t ids[8][16];
    assert_true (tasks <= 8);
    for (uint32_t i = 0; i < tasks; i++)
        assert_int_equal (hd_client_submit (client, "sleep", "60000", 5, NULL, i, ids[i]), HD_OK);
    assert_int_equal (hd_client_flush (client), HD_OK);
    for (int k = 0; k < 1000 && hd_client_unaccepted (client) > 0; k++)
        hd_client_process (client, 10, NULL);
    assert_int_equal (hd_client_unaccepted (client), 0);
    for (uint32_t i = 0; i < tasks; i++)
        assert_int_equal (hd_client_cancel (client, ids[i]), HD_OK);
    uint32_t results = 0;
    for (int k = 0; k < 1000 && results < tasks; k++) {
        hd_reply_t *reply = NULL;
        while (hd_client_next (client, 10, &reply) == HD_OK && reply) {
            assert_int_equal (reply->status, HD_ST_CANCELLED);
            results++;
            hd_reply_destroy (&reply);
        }
    }
    assert_int_equal (results, tasks);
}

static void
test_cluster_every_task_is_accepted_in_every_journal_mode (void **state)
{
    (void) state;
    s_all_accepted (s_client, 4);  //  the shared broker: journal sync
    const char *modes[] = { "none", "batch" };
    for (int m = 0; m < 2; m++) {
        hd_testenv_t env;
        hd_testenv_init (&env);
        const char *extra[] = { "--journal", modes[m], NULL };
        hd_testenv_start_broker (&env, extra);
        hd_testenv_start_worker (&env, "j1", 2, NULL);
        hd_client_t *client = hd_testenv_client (&env, 1);
        s_all_accepted (client, 2);
        hd_client_destroy (&client);
        hd_testenv_stop (&env);
    }
}

static void
test_cluster_sha256_matches_libsodium (void **state)
{
    (void) state;
    const char *inputs[] = { "", "abc", "heddle: a task fabric for small machines" };
    for (size_t i = 0; i < 3; i++) {
        unsigned char digest[crypto_hash_sha256_BYTES];
        crypto_hash_sha256 (digest, (const unsigned char *) inputs[i], strlen (inputs[i]));
        char want[65];
        sodium_bin2hex (want, sizeof want, digest, sizeof digest);
        hd_reply_t *r = NULL;
        assert_int_equal (hd_client_call (s_client, "sha256", inputs[i], strlen (inputs[i]), NULL,
                                          &r), HD_OK);
        assert_int_equal (r->status, 0);
        assert_string_equal ((char *) r->data, want);
        hd_reply_destroy (&r);
    }
}

//  The pi built-in's generator (worker/hd_builtins.c documents it): splitmix64 once, then
//  xorshift64*, X then Y, hit when X*X + Y*Y <= 1.
static uint64_t
s_pi_hits (uint64_t samples, uint64_t seed)
{
    uint64_t z = seed + 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    uint64_t x = z ^ (z >> 31), hits = 0;
    if (!x)
        x = 0x9E3779B97F4A7C15ULL;
    for (uint64_t i = 0; i < samples; i++) {
        double u[2];
        for (int k = 0; k < 2; k++) {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            u[k] = (double) ((x * 0x2545F4914F6CDD1DULL) >> 11) * 0x1.0p-53;
        }
        hits += u[0] * u[0] + u[1] * u[1] <= 1.0;
    }
    return hits;
}

static void
test_cluster_pi_matches_local_computation (void **state)
{
    (void) state;
    hd_reply_t *r = NULL;
    assert_int_equal (hd_client_call (s_client, "pi", "200000 7", 8, NULL, &r), HD_OK);
    assert_int_equal (r->status, 0);
    char want[64];
    snprintf (want, sizeof want, "%llu 200000", (unsigned long long) s_pi_hits (200000, 7));
    assert_string_equal ((char *) r->data, want);
    hd_reply_destroy (&r);
}

static void
test_cluster_unknown_function_is_rejected (void **state)
{
    (void) state;
    hd_reply_t *r = NULL;
    assert_int_equal (hd_client_call (s_client, "no-such-fn", "x", 1, NULL, &r), HD_OK);
    assert_int_equal (r->status, 2);  //  UNKNOWN_FN
    assert_non_null (strstr (r->error, "no-such-fn"));
    hd_reply_destroy (&r);
}

static void
test_cluster_oversize_payload_is_rejected_and_broker_serves_on (void **state)
{
    (void) state;
    static char big[S_MAX_PAYLOAD + 1];
    memset (big, 'x', sizeof big);
    hd_reply_t *r = NULL;
    assert_int_equal (hd_client_call (s_client, "echo", big, sizeof big, NULL, &r), HD_OK);
    assert_int_equal (r->status, 3);  //  TOO_LARGE
    assert_non_null (strstr (r->error, "4096"));
    hd_reply_destroy (&r);
    assert_int_equal (hd_client_call (s_client, "echo", big, S_MAX_PAYLOAD, NULL, &r), HD_OK);
    assert_int_equal (r->status, 0);
    assert_int_equal (r->size, S_MAX_PAYLOAD);
    hd_reply_destroy (&r);
}

static void
s_expect_denied (const char *cert_path)
{
    hd_client_config_t cfg = { .endpoint = s_env.clients_ep, .keys_dir = s_env.keys,
                               .cert_path = cert_path, .timeout_ms = 5000 };
    hd_client_t *c = NULL;
    char err[512] = "";
    assert_int_equal (hd_client_connect_verbose (&cfg, &c, err, sizeof err), HD_EDENIED);
    assert_null (c);
    assert_non_null (strstr (err, "refused"));
}

static void
test_cluster_unknown_client_key_is_refused_clearly (void **state)
{
    (void) state;
    char path[400];
    snprintf (path, sizeof path, "%s/stranger.cert", s_env.dir);
    zcert_t *cert = zcert_new ();
    assert_int_equal (zcert_save (cert, path), 0);
    zcert_destroy (&cert);
    strcat (path, "_secret");
    s_expect_denied (path);
}

static void
test_cluster_worker_key_cannot_join_as_client (void **state)
{
    (void) state;
    char path[400];
    snprintf (path, sizeof path, "%s/worker.cert_secret", s_env.keys);
    s_expect_denied (path);
}

static void
test_cluster_client_key_cannot_join_as_worker (void **state)
{
    (void) state;
    char bin[512], cert[400];
    snprintf (cert, sizeof cert, "%s/client.cert_secret", s_env.keys);
    const char *argv[] = { hd_testenv_bin ("heddle-worker", bin, sizeof bin), "--broker",
                           s_env.workers_ep, "--keys", s_env.keys, "--cert", cert, "--name",
                           "impostor", NULL };
    int fd;
    pid_t pid = hd_testenv_spawn_fd (&s_env, argv, &fd, true);
    assert_true (hd_testenv_wait_text (fd, "refused this worker's key", 10000));
    close (fd);
    hd_testenv_kill (&s_env, pid, SIGTERM);
    hd_node_info_t *nodes;
    uint32_t n;
    assert_int_equal (hd_client_nodes (s_client, &nodes, &n), HD_OK);
    assert_int_equal (n, 2);
    free (nodes);
}

//  A raw DEALER with a valid client key sends hostile frames; each is answered with
//  REJECTED MALFORMED / VERSION, and real work still completes.
static void
s_expect_rejected (zsock_t *sock, uint32_t code)
{
    zsock_set_rcvtimeo (sock, 5000);
    zmsg_t *msg = zmsg_recv (sock);
    assert_non_null (msg);
    zframe_t *hdr = zmsg_first (msg);
    assert_int_equal (zframe_data (hdr)[3], HD_CMD_REJECTED);
    zframe_t *env = zmsg_next (msg);
    hd_reject_t r;
    assert_int_equal (hd_codec_decode_reject (zframe_data (env), zframe_size (env), &r), HD_OK);
    assert_int_equal (r.code, code);
    zmsg_destroy (&msg);
}

static void
test_cluster_hostile_frames_are_answered_and_work_continues (void **state)
{
    (void) state;
    char path[400], err[256];
    snprintf (path, sizeof path, "%s/client.cert_secret", s_env.keys);
    hd_sockopts_t o = { 0 };
    assert_int_equal (hd_keys_load_secret (path, &o.cert, err, sizeof err), HD_OK);
    snprintf (path, sizeof path, "%s/broker.cert", s_env.keys);
    assert_int_equal (hd_keys_load_public (path, o.server_key, err, sizeof err), HD_OK);
    char rid[HD_CLIENT_RID_TEXT];
    hd_transport_client_rid (rid);
    o.routing_id = rid;
    o.session = "raw-client";
    zsock_t *sock;
    assert_int_equal (hd_transport_connect (&sock, ZMQ_DEALER, s_env.clients_ep, &o, err,
                                            sizeof err), HD_OK);
    zstr_sendm (sock, "garbage header");
    zstr_send (sock, "x");
    s_expect_rejected (sock, 5);
    uint8_t v9[4] = { 'H', 'D', 9, HD_CMD_PING };
    zsock_send (sock, "bs", v9, (size_t) 4, "");
    s_expect_rejected (sock, 6);  //  VERSION
    uint8_t submit[4] = { 'H', 'D', 1, HD_CMD_SUBMIT };
    uint8_t hostile_env[] = { 0xdd, 0xff, 0xff, 0xff, 0xff };  //  array32 of 4G elements
    zsock_send (sock, "bbb", submit, (size_t) 4, hostile_env, sizeof hostile_env, "", (size_t) 0);
    s_expect_rejected (sock, 5);
    zsock_send (sock, "bb", submit, (size_t) 4, "\x80", (size_t) 1);  //  env without payload
    s_expect_rejected (sock, 5);
    zsock_destroy (&sock);
    zcert_destroy (&o.cert);
    hd_reply_t *r = NULL;
    assert_int_equal (hd_client_call (s_client, "echo", "still here", 10, NULL, &r), HD_OK);
    assert_int_equal (r->status, 0);
    assert_string_equal ((char *) r->data, "still here");
    hd_reply_destroy (&r);
}

typedef struct {
    hd_client_job_t *job;
    uint64_t results, cancelled;
} s_cancel_t;

static void
s_cancel_on_first (const hd_reply_t *r, void *arg)
{
    s_cancel_t *c = arg;
    c->results++;
    c->cancelled += r->status == 8;
    hd_client_job_cancel (c->job);  //  from inside the callback
}

static void
test_cluster_job_cancelled_from_its_callback_stops_early (void **state)
{
    (void) state;
    hd_client_job_t *job = hd_client_job_new (s_client, "sleep", NULL);
    for (int i = 0; i < 500; i++)
        assert_int_equal (hd_client_job_add (job, "20", 2), HD_OK);
    s_cancel_t c = { .job = job };
    assert_int_equal (hd_client_job_run (job, HD_GATHER_COMPLETED, s_cancel_on_first, NULL, &c),
                      HD_OK);
    hd_job_stats_t st;
    hd_client_job_stats (job, &st);
    assert_true (st.cancelled + c.results == 500);  //  every task accounted for
    assert_true (st.cancelled + c.cancelled > 400);  //  most never ran
    hd_client_job_destroy (&job);
}

//  The asynchronous API in an ordinary poll() loop: submit, wait on hd_client_fd, process.
static void
s_count_reply (hd_client_t *c, hd_reply_t *r, void *arg)
{
    (void) c;
    uint32_t *ok = arg;
    *ok += r->status == 0 && r->size == 4 && memcmp (r->data, "ping", 4) == 0;
    hd_reply_destroy (&r);
}

static void
test_cluster_async_submit_fits_a_poll_loop (void **state)
{
    (void) state;
    uint32_t ok = 0;
    hd_client_set_handler (s_client, s_count_reply, &ok);
    for (int i = 0; i < 50; i++)
        assert_int_equal (hd_client_submit (s_client, "echo", "ping", 4, NULL, i, NULL), HD_OK);
    assert_int_equal (hd_client_flush (s_client), HD_OK);
    struct pollfd p = { hd_client_fd (s_client), POLLIN, 0 };
    assert_true (p.fd >= 0);
    for (int rounds = 0; rounds < 200 && hd_client_in_flight (s_client); rounds++) {
        poll (&p, 1, 100);  //  edge-style: after a wake-up, process until nothing is handled
        uint32_t handled;
        do
            assert_int_equal (hd_client_process (s_client, 0, &handled), HD_OK);
        while (handled);
    }
    hd_client_set_handler (s_client, NULL, NULL);
    assert_int_equal (ok, 50);
}

//  A program embeds a worker with its own function (worker/hd_worker.h) and joins the real
//  broker over CURVE; a client then calls that function.
static int
s_triple (heddle_task_t *task, const void *input, size_t size, void *arg)
{
    (void) arg;
    char in[32], out[64];
    snprintf (in, sizeof in, "%.*s", (int) size, (const char *) input);  //  not NUL-terminated
    int n = snprintf (out, sizeof out, "%ld", 3 * strtol (in, NULL, 10));
    return hd_worker_host ()->output (task, out, (size_t) n);
}

static void *
s_run_worker (void *arg)
{
    hd_worker_run (arg);
    return NULL;
}

static void
test_cluster_embedded_worker_serves_its_own_function (void **state)
{
    (void) state;
    hd_worker_config_t wc;
    hd_worker_config_defaults (&wc);
    wc.endpoint = s_env.workers_ep;
    wc.keys_dir = s_env.keys;
    wc.name = "embedded";
    wc.slots = 1;
    wc.capacity = 1.0;
    wc.no_builtins = true;
    hd_worker_t *w = NULL;
    char err[256] = "";
    assert_int_equal (hd_worker_new (&wc, &w, err, sizeof err), HD_OK);
    assert_int_equal (hd_worker_add_fn (w, "triple", s_triple, NULL), HD_OK);
    pthread_t thread;
    assert_int_equal (pthread_create (&thread, NULL, s_run_worker, w), 0);
    assert_int_equal (hd_client_wait_nodes (s_client, 3, 10000), HD_OK);
    hd_reply_t *r = NULL;
    assert_int_equal (hd_client_call (s_client, "triple", "14", 2, NULL, &r), HD_OK);
    assert_int_equal (r->status, 0);
    assert_string_equal ((char *) r->data, "42");
    assert_string_equal (r->node, "embedded");
    hd_reply_destroy (&r);
    hd_worker_stop (w);
    pthread_join (thread, NULL);
    hd_worker_destroy (&w);
}

//  A raw client resubmits the id of a task that finished but whose result it did not ACK: the
//  broker answers ACCEPTED again and resends the kept result, without running it again (this
//  once crashed the broker).
static zsock_t *
s_raw_client (void)
{
    char path[400], err[256];
    hd_sockopts_t o = { 0 };
    snprintf (path, sizeof path, "%s/client.cert_secret", s_env.keys);
    assert_int_equal (hd_keys_load_secret (path, &o.cert, err, sizeof err), HD_OK);
    snprintf (path, sizeof path, "%s/broker.cert", s_env.keys);
    assert_int_equal (hd_keys_load_public (path, o.server_key, err, sizeof err), HD_OK);
    char rid[HD_CLIENT_RID_TEXT];
    hd_transport_client_rid (rid);
    o.routing_id = rid;
    o.session = "raw-client";
    zsock_t *sock;
    assert_int_equal (hd_transport_connect (&sock, ZMQ_DEALER, s_env.clients_ep, &o, err,
                                            sizeof err), HD_OK);
    zcert_destroy (&o.cert);
    zsock_set_rcvtimeo (sock, 5000);
    return sock;
}

//  Receive messages until one with command `cmd`; returns it (caller destroys).
static zmsg_t *
s_recv_cmd (zsock_t *sock, uint8_t cmd)
{
    for (int k = 0; k < 10; k++) {
        zmsg_t *msg = zmsg_recv (sock);
        assert_non_null (msg);
        if (zframe_data (zmsg_first (msg))[3] == cmd)
            return msg;
        zmsg_destroy (&msg);
    }
    fail_msg ("no message 0x%02x", cmd);
    return NULL;
}

static void
test_cluster_resubmitted_finished_id_gets_its_result_again (void **state)
{
    (void) state;
    zsock_t *sock = s_raw_client ();
    hd_submit_t sub = { .fn = "sha256" };
    hd_id_random (&sub.id);
    hd_buf_t env;
    hd_buf_init (&env);
    assert_int_equal (hd_codec_encode_submit (&env, &sub), HD_OK);
    uint8_t hdr[4];
    hd_codec_header (hdr, HD_CMD_SUBMIT);
    for (int round = 0; round < 2; round++) {
        zsock_send (sock, "bbb", hdr, (size_t) 4, env.data, env.size, "abc", (size_t) 3);
        zmsg_t *res = s_recv_cmd (sock, HD_CMD_RESULT);
        zframe_t *renv = zmsg_next (res), *data = zmsg_next (res);
        hd_result_t r;
        assert_int_equal (hd_codec_decode_result (zframe_data (renv), zframe_size (renv), &r),
                          HD_OK);
        assert_true (hd_id_eq (&r.id, &sub.id));
        assert_int_equal (r.attempt, 1);  //  the resent result, not a second run
        assert_int_equal (zframe_size (data), 64);
        zmsg_destroy (&res);
    }
    hd_buf_fini (&env);
    zsock_destroy (&sock);
    hd_reply_t *reply = NULL;
    assert_int_equal (hd_client_call (s_client, "echo", "alive", 5, NULL, &reply), HD_OK);
    assert_int_equal (reply->status, 0);
    hd_reply_destroy (&reply);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_cluster_runs_10000_echo_tasks_byte_for_byte),
        cmocka_unit_test (test_cluster_packed_and_framed_tasks_mix),
        cmocka_unit_test (test_cluster_every_task_is_accepted_in_every_journal_mode),
        cmocka_unit_test (test_cluster_sha256_matches_libsodium),
        cmocka_unit_test (test_cluster_pi_matches_local_computation),
        cmocka_unit_test (test_cluster_unknown_function_is_rejected),
        cmocka_unit_test (test_cluster_oversize_payload_is_rejected_and_broker_serves_on),
        cmocka_unit_test (test_cluster_unknown_client_key_is_refused_clearly),
        cmocka_unit_test (test_cluster_worker_key_cannot_join_as_client),
        cmocka_unit_test (test_cluster_client_key_cannot_join_as_worker),
        cmocka_unit_test (test_cluster_hostile_frames_are_answered_and_work_continues),
        cmocka_unit_test (test_cluster_job_cancelled_from_its_callback_stops_early),
        cmocka_unit_test (test_cluster_async_submit_fits_a_poll_loop),
        cmocka_unit_test (test_cluster_embedded_worker_serves_its_own_function),
        cmocka_unit_test (test_cluster_resubmitted_finished_id_gets_its_result_again),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
