/*  The connection errors that need a network, not just 127.0.0.1 (issue 12, item 5): `heddle
    nodes` run inside a private namespace (hd_testnet: a veth pair whose 10.79.N.0/24 addresses
    exist only inside the two namespaces the test makes) says "no route" when its namespace has
    an unreachable route to the broker's address, and "no answer" when the broker's side drops
    the packets (iptables in that namespace only). Needs root, ip netns and iptables (scripts/
    install-deps test); without them it fails and says so.  */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hd_testenv.h"
#include "hd_testnet.h"

enum { S_A = 0, S_B = 1 };
static hd_testenv_t s_env;
static hd_testnet_t s_net;

static int
s_setup (void **state)
{
    (void) state;
    hd_testenv_init (&s_env);
    hd_testnet_init (&s_net);
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    hd_testnet_fini (&s_net);
    hd_testenv_stop (&s_env);
    return 0;
}

//  Run a command inside a namespace; fail the test with its stderr when it fails.
static void
s_in (int side, const char *const *argv)
{
    char err[1024] = "";
    int rc = hd_testnet_run (&s_net, side, argv, NULL, 0, err, sizeof err, 10000);
    if (rc != 0)
        fail_msg ("in %s: %s ... exited %d: %s", s_net.ns[side], argv[0], rc, err);
}

//  `heddle nodes --broker HOST:PORT` inside namespace A: exit 1 and `want` on stderr.
static void
s_expect (const char *port, const char *want)
{
    char bin[512], broker[64], err[4096] = "";
    snprintf (broker, sizeof broker, "%s:%s", s_net.addr[S_B], port);
    const char *argv[] = { hd_testenv_bin ("heddle", bin, sizeof bin), "nodes", "--broker", broker,
                           "--keys", s_env.keys, "--connect-timeout", "1500", NULL };
    int rc = hd_testnet_run (&s_net, S_A, argv, NULL, 0, err, sizeof err, 30000);
    if (rc != 1 || !strstr (err, want))
        fail_msg ("heddle nodes --broker %s in %s: exit %d, stderr (want '%s'):\n%s", broker,
                  s_net.ns[S_A], rc, want, err);
}

static void
test_cli_netns_no_route_says_no_route (void **state)
{
    (void) state;
    char host[48];
    snprintf (host, sizeof host, "%s/32", s_net.addr[S_B]);
    const char *add[] = { "ip", "route", "add", "unreachable", host, NULL };
    s_in (S_A, add);
    char want[96];
    snprintf (want, sizeof want, "no route to %s", s_net.addr[S_B]);
    s_expect ("7700", want);
    const char *del[] = { "ip", "route", "del", "unreachable", host, NULL };
    s_in (S_A, del);
}

static void
test_cli_netns_dropped_packets_say_no_answer (void **state)
{
    (void) state;
    if (access ("/usr/sbin/iptables", X_OK) != 0 && access ("/sbin/iptables", X_OK) != 0)
        fail_msg ("iptables is missing: run scripts/install-deps test");
    const char *drop[] = { "iptables", "-A", "INPUT", "-p", "tcp", "--dport", "7700", "-j", "DROP",
                           NULL };
    s_in (S_B, drop);
    char want[96];
    snprintf (want, sizeof want, "no answer from %s port 7700", s_net.addr[S_B]);
    s_expect ("7700", want);
    //  The same address, another port, not dropped: nothing listens there.
    snprintf (want, sizeof want, "nothing is listening on %s port 7701", s_net.addr[S_B]);
    s_expect ("7701", want);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_cli_netns_no_route_says_no_route),
        cmocka_unit_test (test_cli_netns_dropped_packets_say_no_answer),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
