/*  File descriptors (issue 11, item 5): a peer that opens more idle TCP connections than the
    broker's open-files limit must not stop it serving. The broker runs under a limit of 256
    (soft = hard, so it cannot raise it); 1,100 raw connections that never say a word go to its
    clients port. Then a client connected before is still served, a new client is served once
    the idle connections' handshake timeout frees their places (the broker closes at once every
    connection over its cap, so none waits behind them), and the broker's peak RSS stays under
    64 MB. Before, libzmq spun on accept() (EMFILE) at 100 % CPU and no new client got an
    answer until the idle connections' 30 s handshake timeout, batch after batch.  */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hd_client.h"
#include "hd_testenv.h"

#define S_LIMIT 256     //  the broker's open-files limit
#define S_RAW 1100      //  idle connections opened by the test
#define S_RSS_MAX_KB (64 * 1024)
#if defined(__SANITIZE_ADDRESS__)
#define S_ASAN 1
#else
#define S_ASAN 0
#endif

static hd_testenv_t s_env;

static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
s_port_of (const char *endpoint)
{
    const char *colon = strrchr (endpoint, ':');
    return colon ? atoi (colon + 1) : 0;
}

//  The broker's peak resident set (VmHWM), in kB; -1 when unreadable.
static long
s_peak_rss_kb (pid_t pid)
{
    char path[64], line[256];
    snprintf (path, sizeof path, "/proc/%d/status", (int) pid);
    FILE *f = fopen (path, "r");
    long kb = -1;
    while (f && fgets (line, sizeof line, f))
        if (sscanf (line, "VmHWM: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose (f);
    return kb;
}

static void
s_assert_echo (hd_client_t *client, const char *text)
{
    hd_task_opts_t opts = { .timeout_ms = 10000 };
    hd_reply_t *r = NULL;
    hd_err_t rc = hd_client_call (client, "echo", text, strlen (text), &opts, &r);
    if (rc != HD_OK)
        fail_msg ("echo '%s': %s (%s)", text, hd_strerror (rc), hd_client_last_error (client));
    assert_int_equal (r->status, 0);
    assert_int_equal (r->size, strlen (text));
    assert_memory_equal (r->data, text, r->size);
    hd_reply_destroy (&r);
}

static void
s_assert_broker_alive (void)
{
    assert_int_equal (waitpid (s_env.broker, NULL, WNOHANG), 0);
    assert_int_equal (kill (s_env.broker, 0), 0);
}

//  Open n non-blocking connections to port and wait (a bounded while) until each has
//  connected or failed. Returns how many connected; fds[] holds every socket (-1: none).
static int
s_open_idle (int port, int *fds, int n)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
    inet_pton (AF_INET, "127.0.0.1", &sa.sin_addr);
    for (int i = 0; i < n; i++) {
        fds[i] = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (fds[i] < 0)
            fail_msg ("socket %d: %s (the test needs %d files)", i, strerror (errno), n + 64);
        if (connect (fds[i], (struct sockaddr *) &sa, sizeof sa) != 0 && errno != EINPROGRESS) {
            close (fds[i]);
            fds[i] = -1;
        }
    }
    int connected = 0;
    int64_t until = s_now_ms () + 5000;
    for (int i = 0; i < n; i++) {
        struct pollfd p = { fds[i], POLLOUT, 0 };
        int64_t left = until - s_now_ms ();
        int err = 0;
        socklen_t len = sizeof err;
        if (fds[i] >= 0 && poll (&p, 1, left > 0 ? (int) left : 0) == 1
            && getsockopt (fds[i], SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
            connected++;
    }
    return connected;
}

static int
setup (void **state)
{
    (void) state;
    struct rlimit rl;
    getrlimit (RLIMIT_NOFILE, &rl);
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < S_RAW + 256)
        fail_msg ("this test opens %d connections: it needs an open-files hard limit of %d "
                  "(ulimit -Hn is %lu)", S_RAW, S_RAW + 256, (unsigned long) rl.rlim_max);
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? 65536 : rl.rlim_max;
    assert_int_equal (setrlimit (RLIMIT_NOFILE, &rl), 0);
    hd_testenv_init (&s_env);
    s_env.nofile = S_LIMIT;
    hd_testenv_start_broker (&s_env, (const char *[]) { "--handshake-timeout", "3000", NULL });
    hd_testenv_start_worker (&s_env, "w1", 2, NULL);
    return 0;
}

static int
teardown (void **state)
{
    (void) state;
    hd_testenv_stop (&s_env);
    return 0;
}

static void
test_fd_exhaustion_idle_connections_leave_the_broker_serving (void **state)
{
    (void) state;
    hd_client_t *before = hd_testenv_client (&s_env, 1);
    s_assert_echo (before, "before the flood");

    static int fds[S_RAW];
    int connected = s_open_idle (s_port_of (s_env.clients_ep), fds, S_RAW);
    printf ("# %d of %d idle connections connected (broker limit %d files)\n", connected, S_RAW,
            S_LIMIT);
    assert_true (connected > S_LIMIT);  //  the attack did reach the limit

    //  A client connected before is served while the idle connections are held.
    s_assert_echo (before, "during the flood, connected before");
    s_assert_broker_alive ();

    //  A new client, while the test still holds every idle socket: it is served once the
    //  handshake timeout (3 s) has closed the idle ones; the bound is that plus a margin.
    hd_client_config_t cfg = { .endpoint = s_env.clients_ep, .keys_dir = s_env.keys,
                               .timeout_ms = 2000 };
    hd_client_t *after = NULL;
    char err[512] = "";
    int64_t start = s_now_ms ();
    while (hd_client_connect_verbose (&cfg, &after, err, sizeof err) != HD_OK) {
        if (s_now_ms () - start > 20000)
            fail_msg ("no new client got in within 20 s of the flood: %s", err);
    }
    printf ("# a new client connected after %.1f s\n", (s_now_ms () - start) / 1000.0);
    s_assert_echo (after, "during the flood, connected after");
    s_assert_echo (before, "still served");
    s_assert_broker_alive ();

    long rss = s_peak_rss_kb (s_env.broker);
    printf ("# broker peak RSS (VmHWM) %ld kB\n", rss);
    assert_true (rss > 0);
    if (!S_ASAN)  //  ASan's shadow memory and quarantine are no measure of the broker's own
        assert_true (rss < S_RSS_MAX_KB);
    for (int i = 0; i < S_RAW; i++)
        if (fds[i] >= 0)
            close (fds[i]);
    hd_client_destroy (&after);
    hd_client_destroy (&before);
}

int
main (void)
{
    signal (SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (
            test_fd_exhaustion_idle_connections_leave_the_broker_serving, setup, teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
