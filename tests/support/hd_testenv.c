/*  hd_testenv: process fixtures for integration tests (see the header).  */
#include "hd_testenv.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>

extern char **environ;

uint64_t
hd_testenv_scale (uint64_t base)
{
    const char *soak = getenv ("HD_SOAK");
    unsigned long n = soak ? strtoul (soak, NULL, 10) : 1;
    return base * (n ? n : 1);
}

const char *
hd_testenv_bin (const char *name, char *out, size_t len)
{
    snprintf (out, len, "%s/%s", HD_BIN_DIR, name);
    if (access (out, X_OK) != 0)
        fail_msg ("%s is missing: build the project first", out);
    return out;
}

//  HD_TEST_LOG=debug makes the programs under test verbose.
static const char *
s_log_level (void)
{
    const char *level = getenv ("HD_TEST_LOG");
    return level ? level : "warn";
}

void
hd_testenv_init (hd_testenv_t *env)
{
    memset (env, 0, sizeof *env);
    snprintf (env->dir, sizeof env->dir, "/tmp/heddle-test-XXXXXX");
    if (!mkdtemp (env->dir))
        fail_msg ("mkdtemp: %s", strerror (errno));
    snprintf (env->keys, sizeof env->keys, "%s/keys", env->dir);
    char err[512] = "";
    if (hd_keys_init_dir (env->keys, false, err, sizeof err) != HD_OK)
        fail_msg ("keys init: %s", err);
}

pid_t
hd_testenv_spawn (hd_testenv_t *env, const char *const *argv, int *out_fd)
{
    return hd_testenv_spawn_fd (env, argv, out_fd, false);
}

//  fork + setrlimit + exec: posix_spawn cannot set a limit in the child only. The child calls
//  async-signal-safe functions only.
static pid_t
s_spawn_limited (unsigned long nofile, const char *const *argv, int out, int unused, int to,
                 int err)
{
    pid_t pid = fork ();
    if (pid != 0)
        return pid;
    struct rlimit rl = { nofile, nofile };
    if (err >= 0 && dup2 (err, 2) < 0)
        _exit (126);
    if (out >= 0 && (dup2 (out, to) < 0 || close (unused) != 0))
        _exit (126);
    if (setrlimit (RLIMIT_NOFILE, &rl) != 0)
        _exit (126);
    execve (argv[0], (char *const *) argv, environ);
    _exit (127);
}

pid_t
hd_testenv_spawn_fd (hd_testenv_t *env, const char *const *argv, int *out_fd, bool from_stderr)
{
    if (env->nofile) {
        int pipefd[2] = { -1, -1 };
        if (out_fd && pipe (pipefd) != 0)
            fail_msg ("pipe: %s", strerror (errno));
        int err = env->stderr_path
                      ? open (env->stderr_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)
                      : -1;
        pid_t pid = s_spawn_limited (env->nofile, argv, pipefd[1], pipefd[0], from_stderr ? 2 : 1,
                                     err);
        if (err >= 0)
            close (err);
        if (pid < 0)
            fail_msg ("cannot start %s: %s", argv[0], strerror (errno));
        if (out_fd) {
            close (pipefd[1]);
            *out_fd = pipefd[0];
        }
        if (env->nprocs < HD_TESTENV_MAX_PROCS)
            env->pids[env->nprocs++] = pid;
        return pid;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init (&fa);
    if (env->stderr_path)
        posix_spawn_file_actions_addopen (&fa, 2, env->stderr_path, O_WRONLY | O_CREAT | O_APPEND,
                                          0644);
    int pipefd[2] = { -1, -1 };
    if (out_fd) {
        if (pipe (pipefd) != 0)
            fail_msg ("pipe: %s", strerror (errno));
        posix_spawn_file_actions_adddup2 (&fa, pipefd[1], from_stderr ? 2 : 1);
        posix_spawn_file_actions_addclose (&fa, pipefd[0]);
    }
    pid_t pid;
    int rc = posix_spawn (&pid, argv[0], &fa, NULL, (char *const *) argv, environ);
    posix_spawn_file_actions_destroy (&fa);
    if (rc != 0)
        fail_msg ("cannot start %s: %s", argv[0], strerror (rc));
    if (out_fd) {
        close (pipefd[1]);
        *out_fd = pipefd[0];
    }
    if (env->nprocs < HD_TESTENV_MAX_PROCS)
        env->pids[env->nprocs++] = pid;
    return pid;
}

//  Read one line from fd within timeout_ms; false on timeout or EOF.
static bool
s_read_line (int fd, char *line, size_t len, int timeout_ms)
{
    size_t n = 0;
    while (n + 1 < len) {
        struct pollfd p = { fd, POLLIN, 0 };
        if (poll (&p, 1, timeout_ms) <= 0 || read (fd, line + n, 1) != 1)
            return false;
        if (line[n] == '\n')
            break;
        n++;
    }
    line[n] = 0;
    return true;
}

bool
hd_testenv_wait_text (int fd, const char *needle, int timeout_ms)
{
    struct timespec start, now;
    clock_gettime (CLOCK_MONOTONIC, &start);
    char line[2048];
    for (;;) {
        clock_gettime (CLOCK_MONOTONIC, &now);
        long left = timeout_ms - ((now.tv_sec - start.tv_sec) * 1000
                                  + (now.tv_nsec - start.tv_nsec) / 1000000);
        if (left <= 0 || !s_read_line (fd, line, sizeof line, (int) left))
            return false;
        if (strstr (line, needle))
            return true;
    }
}

//  Random ports above Linux's ephemeral range (czmq's '![61000-]'), not the first free one ('*',
//  which czmq takes counting up from 49152): with '*' a broker killed and restarted on its old
//  ports found them taken, by the next test's broker given the same first free port, or by a
//  client reconnecting to the dead port that got it as its own source port (the kernel hands
//  out 32768..60999). Fault tests failed that way.
void
hd_testenv_start_broker (hd_testenv_t *env, const char *const *extra)
{
    char bin[512], journal[320];
    snprintf (journal, sizeof journal, "%s/journal", env->dir);
    const char *argv[32] = { hd_testenv_bin (env->broker_bin ? env->broker_bin : "heddle-broker", bin, sizeof bin), "--keys",
                             env->keys, "--clients", "tcp://127.0.0.1:![61000-]", "--workers",
                             "tcp://127.0.0.1:![61000-]", "--metrics", "tcp://127.0.0.1:![61000-]", "--events",
                             "tcp://127.0.0.1:![61000-]", "--print-endpoints", "--log-level",
                             s_log_level (), "--journal-dir", journal };
    int n = 16;
    for (int i = 0; extra && extra[i] && n < 31; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    int fd;
    env->broker = hd_testenv_spawn (env, argv, &fd);
    char line[512];
    if (!s_read_line (fd, line, sizeof line, 10000))
        fail_msg ("the broker did not report its endpoints within 10 s");
    close (fd);
    if (sscanf (line, "clients=%127s workers=%127s metrics=%127s events=%127s", env->clients_ep,
                env->workers_ep, env->metrics_ep, env->events_ep) != 4)
        fail_msg ("unexpected broker line: %s", line);
    const char *http = strstr (line, " http=");
    snprintf (env->http_ep, sizeof env->http_ep, "%s", http ? http + 6 : "none");
    env->http_ep[strcspn (env->http_ep, " \n")] = 0;
}

pid_t
hd_testenv_restart_broker (hd_testenv_t *env, const char *const *extra)
{
    char bin[512], journal[320];
    snprintf (journal, sizeof journal, "%s/journal", env->dir);
    const char *argv[32] = { hd_testenv_bin (env->broker_bin ? env->broker_bin : "heddle-broker", bin, sizeof bin), "--keys",
                             env->keys, "--clients", env->clients_ep, "--workers",
                             env->workers_ep, "--metrics", env->metrics_ep, "--events",
                             env->events_ep, "--log-level", s_log_level (), "--journal-dir",
                             journal, "--print-endpoints" };
    int n = 16;
    for (int i = 0; extra && extra[i] && n < 31; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    int fd;
    env->broker = hd_testenv_spawn (env, argv, &fd);
    //  Bound, or failed: a test that went on with no broker would wait for ever. The usual
    //  failure is another program having taken the killed broker's port meanwhile (tests run
    //  in parallel, each binding port *).
    char line[512];
    bool up = s_read_line (fd, line, sizeof line, 10000);
    close (fd);
    if (!up)
        fail_msg ("the broker did not come back on %s / %s within 10 s (port taken by another "
                  "process? see its log above)", env->clients_ep, env->workers_ep);
    return env->broker;
}

pid_t
hd_testenv_start_worker (hd_testenv_t *env, const char *name, int slots, const char *const *extra)
{
    char bin[512], slots_text[16];
    snprintf (slots_text, sizeof slots_text, "%d", slots);
    const char *argv[32] = { hd_testenv_bin ("heddle-worker", bin, sizeof bin), "--broker",
                             env->workers_ep, "--keys", env->keys, "--name", name, "--slots",
                             slots_text, "--log-level", s_log_level () };
    int n = 11;
    for (int i = 0; extra && extra[i] && n < 31; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    return hd_testenv_spawn (env, argv, NULL);
}

hd_client_t *
hd_testenv_client (hd_testenv_t *env, uint32_t nodes)
{
    hd_client_config_t cfg = { .endpoint = env->clients_ep, .keys_dir = env->keys };
    hd_client_t *c = NULL;
    char err[512] = "";
    if (hd_client_connect_verbose (&cfg, &c, err, sizeof err) != HD_OK)
        fail_msg ("client connect: %s", err);
    if (nodes && hd_client_wait_nodes (c, nodes, 15000) != HD_OK)
        fail_msg ("workers did not join: %s", hd_client_last_error (c));
    return c;
}

int
hd_testenv_kill (hd_testenv_t *env, pid_t pid, int sig)
{
    (void) env;
    int status = 0;
    kill (pid, sig);
    for (int i = 0; i < 500; i++) {
        pid_t r = waitpid (pid, &status, WNOHANG);
        if (r == pid || r < 0)
            return status;
        struct timespec ts = { 0, 10 * 1000000 };  //  bounded reap loop, not synchronisation
        nanosleep (&ts, NULL);
    }
    kill (pid, SIGKILL);
    waitpid (pid, &status, 0);
    return status;
}

void
hd_testenv_stop (hd_testenv_t *env)
{
    for (int i = env->nprocs - 1; i >= 0; i--)
        if (env->pids[i] > 0 && waitpid (env->pids[i], NULL, WNOHANG) == 0)
            hd_testenv_kill (env, env->pids[i], SIGTERM);
    env->nprocs = 0;
    char cmd[600];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", env->dir);
    if (system (cmd) != 0)
        fprintf (stderr, "could not remove %s\n", env->dir);
}
