/*  hd_testenv: fixtures for integration tests that run the real programs as processes on
    127.0.0.1 with CURVE: a throwaway keys directory, a broker on ephemeral ports (learned
    through its --print-endpoints line, not by guessing), workers, and a connected client.
    Every process started here is stopped (SIGTERM, then SIGKILL) by hd_testenv_stop.  */
#ifndef HD_TESTENV_H
#define HD_TESTENV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "hd_client.h"

#define HD_TESTENV_MAX_PROCS 256

typedef struct {
    char dir[256];            //  temporary directory (keys in dir/keys)
    char keys[300];
    char clients_ep[128], workers_ep[128], metrics_ep[128], events_ep[128];
    char http_ep[128];        //  the broker's web endpoint HOST:PORT; "none" when off
    pid_t pids[HD_TESTENV_MAX_PROCS];
    int nprocs;
    pid_t broker;
    const char *broker_bin;   //  program started as the broker; NULL: heddle-broker
    unsigned long nofile;     //  > 0: programs spawned from now on run under this open-files
                              //  limit (soft = hard, set in the child before exec)
    const char *stderr_path;  //  not NULL: programs spawned from now on append their standard
                              //  error to this file (a test that reads what they log)
} hd_testenv_t;

//  Make the temp dir and keys. Fails the test (cmocka) on error.
void hd_testenv_init (hd_testenv_t *env);
//  Start heddle-broker with extra args (NULL-terminated list, may be NULL); fills endpoints.
void hd_testenv_start_broker (hd_testenv_t *env, const char *const *extra);
//  Start the broker again on the same endpoints and journal (after a kill); returns its pid.
pid_t hd_testenv_restart_broker (hd_testenv_t *env, const char *const *extra);
//  Start heddle-worker --name NAME --slots SLOTS with extra args; returns its pid.
pid_t hd_testenv_start_worker (hd_testenv_t *env, const char *name, int slots,
                               const char *const *extra);
//  Spawn any program (path, argv NULL-terminated). When out_fd != NULL, the program's stdout
//  (or its stderr, when from_stderr) goes to a pipe whose read end is returned there.
pid_t hd_testenv_spawn (hd_testenv_t *env, const char *const *argv, int *out_fd);
pid_t hd_testenv_spawn_fd (hd_testenv_t *env, const char *const *argv, int *out_fd,
                           bool from_stderr);
//  Read from fd until a line containing `needle` arrives (true) or timeout_ms passes (false).
bool hd_testenv_wait_text (int fd, const char *needle, int timeout_ms);
//  Connect a client with the env's keys (or a given cert) and wait for `nodes` workers.
hd_client_t *hd_testenv_client (hd_testenv_t *env, uint32_t nodes);
//  Signal one process; wait for it to exit (up to 5 s, then SIGKILL). Returns its exit status.
int hd_testenv_kill (hd_testenv_t *env, pid_t pid, int sig);
//  Stop every process and remove the directory.
void hd_testenv_stop (hd_testenv_t *env);
//  Task counts of the fault suite: base, or base x N with HD_SOAK=N in the environment (the
//  long soak mode: scripts/test --soak N).
uint64_t hd_testenv_scale (uint64_t base);
//  Path of a built program: HD_BIN_DIR "/" name.
const char *hd_testenv_bin (const char *name, char *out, size_t len);

#endif
