/*  Security: a client that never reads and repeats PING {resend: true} cannot grow the broker.
    It holds 8,000 unacknowledged results of 1,000 bytes (8 MB the broker must keep), then
    pings with resend every 20 ms for 12 s without reading anything. Asserted: the broker's
    resident memory (VmRSS) stays under 64 MB and grows by less than 16 MB during the flood
    (under AddressSanitizer, whose shadow memory inflates every figure, only the growth), and a
    legitimate client is served meanwhile. (Before the resend bounds, each resend queued every
    result again: +8 MB every 2 s.)  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "hd_hostile.h"

#define S_TASKS 8000
#define S_OUTPUT 1000
#define S_FLOOD_MS 12000
#define S_RSS_LIMIT_KB (64 * 1024)
#define S_GROWTH_LIMIT_KB (16 * 1024)
#if defined(__SANITIZE_ADDRESS__)
#define S_ASAN 1
#else
#define S_ASAN 0
#endif

//  Completed tasks of the only node, from NODES.
static uint64_t
s_done (hd_client_t *client)
{
    hd_node_info_t *nodes = NULL;
    uint32_t n = 0;
    assert_int_equal (hd_client_nodes (client, &nodes, &n), HD_OK);
    uint64_t done = n ? nodes[0].done : 0;
    free (nodes);
    return done;
}

static void
test_client_resend_flood_keeps_broker_bounded (void **state)
{
    hd_testenv_t *env = *state;
    hd_testenv_init (env);
    hd_testenv_start_broker (env, NULL);
    hd_testenv_start_worker (env, "w1", 4, NULL);
    hd_client_t *client = hd_testenv_client (env, 1);

    hd_hostile_t *flooder = hd_hostile_connect (env, "client", "flooder", 10);
    char input[S_OUTPUT + 1];
    memset (input, 'x', S_OUTPUT);
    input[S_OUTPUT] = 0;
    for (int i = 0; i < S_TASKS; i++) {
        hd_id_t id = hd_hostile_id ();
        hd_hostile_submit (flooder, &id, "echo", input);
    }
    for (int i = 0; i < 600 && s_done (client) < S_TASKS; i++)
        zclock_sleep (100);
    assert_int_equal (s_done (client), S_TASKS);
    long before = hd_hostile_rss_kb (env->broker), peak = before;

    int64_t end = zclock_mono () + S_FLOOD_MS;
    for (int n = 0; zclock_mono () < end; n++) {
        hd_hostile_ping (flooder, true);
        zclock_sleep (20);
        if (n % 50 == 0) {
            long rss = hd_hostile_rss_kb (env->broker);
            peak = rss > peak ? rss : peak;
        }
    }
    long after = hd_hostile_rss_kb (env->broker);
    peak = after > peak ? after : peak;
    print_message ("broker VmRSS: %ld kB with the results kept, %ld kB peak during the flood, "
                   "%ld kB after it (limit %d kB)\n",
                   before, peak, after, S_RSS_LIMIT_KB);
    assert_true (peak - before < S_GROWTH_LIMIT_KB);
    if (!S_ASAN)
        assert_true (peak < S_RSS_LIMIT_KB);

    hd_reply_t *reply = NULL;
    assert_int_equal (hd_client_call (client, "echo", "still here", 10, NULL, &reply), HD_OK);
    assert_int_equal (reply->status, 0);
    assert_int_equal (reply->size, 10);
    assert_memory_equal (reply->data, "still here", 10);
    hd_reply_destroy (&reply);
    hd_hostile_destroy (&flooder);
    hd_client_destroy (&client);
}

static int
s_setup (void **state)
{
    *state = calloc (1, sizeof (hd_testenv_t));
    return *state ? 0 : -1;
}

static int
s_teardown (void **state)
{
    hd_testenv_t *env = *state;
    if (env->dir[0])
        hd_testenv_stop (env);
    free (env);
    return 0;
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_client_resend_flood_keeps_broker_bounded, s_setup,
                                         s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
