/*  hd_testnet: a small private LAN for integration tests that need one (UDP broadcast
    discovery): two network namespaces, hdA-PID and hdB-PID, joined by a veth pair whose ends
    are created directly inside them, with the addresses 10.79.N.1/24 and 10.79.N.2/24 (N from
    the PID) that exist only there. The host's interfaces, routes and addresses are never
    touched. Needs root (ip netns); without it the test fails and says why. Programs run inside
    a namespace through `ip netns exec`, which execs them: the pid returned is the program's.  */
#ifndef HD_TESTNET_H
#define HD_TESTNET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "hd_testenv.h"

typedef struct {
    char ns[2][32];      //  namespace names: [0] hdA-PID, [1] hdB-PID
    char ifname[2][16];  //  the veth end inside each
    char addr[2][32];    //  its IPv4 address (/24)
    bool made;           //  namespaces exist (fini deletes them)
} hd_testnet_t;

//  Make both namespaces, the veth pair, the addresses, and bring lo up in each. Fails the test
//  (cmocka) with a clear message when not root or when ip netns cannot do it (after deleting
//  whatever it made).
void hd_testnet_init (hd_testnet_t *net);
//  Delete both namespaces (the veth pair goes with them). Idempotent; safe from atexit.
void hd_testnet_fini (hd_testnet_t *net);
//  Start argv (argv[0] a path) inside namespace `side` (0 or 1) as one of env's processes, so
//  hd_testenv_stop stops it. Its stdout and stderr go to log_path (created or truncated; NULL:
//  /dev/null). Returns its pid; fails the test when it cannot be started.
pid_t hd_testnet_spawn (hd_testnet_t *net, hd_testenv_t *env, int side, const char *const *argv,
                        const char *log_path);
//  Run argv inside namespace `side` until it exits, at most timeout_ms (then SIGKILL). Its
//  stdout goes to out and its stderr to err (NUL-terminated, truncated to fit; either may be
//  NULL). Returns its exit status, or -1 when a signal or the timeout ended it.
int hd_testnet_run (hd_testnet_t *net, int side, const char *const *argv, char *out, size_t outlen,
                    char *err, size_t errlen, int timeout_ms);
//  Whether the file at path contains needle, polled until timeout_ms have passed.
bool hd_testnet_wait_file (const char *path, const char *needle, int timeout_ms);

#endif
