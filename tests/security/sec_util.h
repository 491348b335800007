/*  sec_util: helpers shared by the tests/security/ suite (included, not compiled alone): node
    lookups through NODES, bounded waits for a process to exit, and the broker's RSS bound.  */
#ifndef SEC_UTIL_H
#define SEC_UTIL_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hd_hostile_worker.h"
#include "hd_testenv.h"

#define SEC_RSS_LIMIT_KB (64 * 1024)
#define SEC_MAX 8

//  What a test started, released by sec_teardown whether the test passed or failed (a failed
//  assertion leaves the test function at once: its processes must not outlive it).
static hd_testenv_t sec_env;
static hd_client_t *sec_client;
static hd_hostile_worker_t *sec_peers[SEC_MAX];
static zcert_t *sec_certs[SEC_MAX];
static zsock_t *sec_pubs[SEC_MAX];

static inline hd_hostile_worker_t *
sec_peer (zcert_t *cert, const char *rid)
{
    for (int i = 0; i < SEC_MAX; i++)
        if (!sec_peers[i])
            return sec_peers[i] = hd_hostile_worker_new (&sec_env, cert, rid);
    fail_msg ("too many hostile peers");
    return NULL;
}

static inline zcert_t *
sec_cert (void)
{
    for (int i = 0; i < SEC_MAX; i++)
        if (!sec_certs[i])
            return sec_certs[i] = hd_hostile_cert ();
    fail_msg ("too many certificates");
    return NULL;
}

static inline zsock_t *
sec_pub (zcert_t *cert)
{
    for (int i = 0; i < SEC_MAX; i++)
        if (!sec_pubs[i])
            return sec_pubs[i] = hd_hostile_metrics_new (&sec_env, cert);
    fail_msg ("too many publishers");
    return NULL;
}

static inline int
sec_teardown (void **state)
{
    (void) state;
    for (int i = 0; i < SEC_MAX; i++) {
        hd_hostile_worker_destroy (&sec_peers[i]);
        zsock_destroy (&sec_pubs[i]);
        zcert_destroy (&sec_certs[i]);
    }
    hd_client_destroy (&sec_client);
    hd_testenv_stop (&sec_env);
    return 0;
}

static inline void
sec_nap (int ms)  //  pacing of a hostile peer's sends, never synchronisation
{
    struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
    nanosleep (&ts, NULL);
}

//  Number of NODES entries named `name` in state `state` (NULL: any state but down/conflict).
static inline int
sec_count_nodes (hd_client_t *c, const char *name, const char *state, hd_node_info_t *copy)
{
    hd_node_info_t *nodes = NULL;
    uint32_t n = 0;
    if (hd_client_nodes (c, &nodes, &n) != HD_OK)
        return -1;
    int found = 0;
    for (uint32_t i = 0; i < n; i++) {
        bool live = strcmp (nodes[i].state, "down") && strcmp (nodes[i].state, "conflict");
        if (strcmp (nodes[i].name, name) == 0 && (state ? !strcmp (nodes[i].state, state) : live)) {
            if (copy)
                *copy = nodes[i];
            found++;
        }
    }
    free (nodes);
    return found;
}

//  Wait until node `name` has `busy` tasks running (true), up to timeout_ms.
static inline bool
sec_wait_busy (hd_client_t *c, const char *name, uint32_t busy, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 50) {
        hd_node_info_t info;
        if (sec_count_nodes (c, name, NULL, &info) == 1 && info.busy == busy)
            return true;
        sec_nap (50);
    }
    return false;
}

//  Wait for a child to exit, up to timeout_ms: true with its wait status in *status.
static inline bool
sec_wait_exit (pid_t pid, int timeout_ms, int *status)
{
    for (int waited = 0; waited < timeout_ms; waited += 20) {
        if (waitpid (pid, status, WNOHANG) == pid)
            return true;
        sec_nap (20);
    }
    return false;
}

//  The broker is alive and its resident set stays under the bound; the figure is printed for
//  the report.
static inline void
sec_check_broker (hd_testenv_t *env, const char *test)
{
    assert_true (hd_hostile_alive (env->broker));
    long kb = hd_hostile_rss_kb (env->broker);
    printf ("[ RSS      ] %s: broker VmRSS %ld kB\n", test, kb);
    assert_true (kb > 0 && kb < SEC_RSS_LIMIT_KB);
}

//  One task of `fn` answered OK within timeout_ms; its reply (caller destroys) in *out.
static inline void
sec_call_ok (hd_client_t *c, const char *fn, const char *input, int timeout_ms, hd_reply_t **out)
{
    assert_int_equal (hd_client_submit (c, fn, input, strlen (input), NULL, 0, NULL), HD_OK);
    assert_int_equal (hd_client_flush (c), HD_OK);
    hd_reply_t *r = NULL;
    hd_err_t rc = hd_client_next (c, timeout_ms, &r);
    if (rc != HD_OK)
        fail_msg ("no answer to %s(%s) within %d ms: %s", fn, input, timeout_ms,
                  hd_strerror (rc));
    if (r->status != HD_ST_OK)
        fail_msg ("%s(%s) answered %s: %s", fn, input, hd_status_str (r->status), r->error);
    *out = r;
}

#endif
