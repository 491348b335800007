/*  hd_testnet: namespaces and processes inside them (see the header). Every command that
    changes the network names one of this test's namespaces: `ip link add ... netns A ... peer
    ... netns B` makes the veth pair inside them, never in the host's namespace.  */
#include "hd_testnet.h"

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
#include <sys/wait.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>

#define S_MAX_ARGS 64

extern char **environ;

static const char *
s_ip (void)
{
    static const char *paths[] = { "/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip" };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        if (access (paths[i], X_OK) == 0)
            return paths[i];
    return NULL;
}

static int s_sh (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));

static int
s_sh (const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (cmd, sizeof cmd, fmt, ap);
    va_end (ap);
    return system (cmd);
}

void
hd_testnet_init (hd_testnet_t *net)
{
    memset (net, 0, sizeof *net);
    int pid = (int) getpid (), n = pid % 200 + 20;
    if (geteuid () != 0)
        fail_msg ("this test builds network namespaces (ip netns, veth) and needs root: run it "
                  "as root (it is not skipped, so that a run without it cannot pass unseen)");
    const char *ip = s_ip ();
    if (!ip)
        fail_msg ("this test needs the `ip` tool (iproute2) to build network namespaces");
    for (int i = 0; i < 2; i++) {
        snprintf (net->ns[i], sizeof net->ns[i], "hd%c-%d", 'A' + i, pid);
        snprintf (net->ifname[i], sizeof net->ifname[i], "hdv%c%d", 'a' + i, pid);
        snprintf (net->addr[i], sizeof net->addr[i], "10.79.%d.%d", n, i + 1);
    }
    net->made = true;
    int rc = s_sh ("%s netns add %s && %s netns add %s", ip, net->ns[0], ip, net->ns[1]);
    if (rc == 0)
        rc = s_sh ("%s link add %s netns %s type veth peer name %s netns %s", ip, net->ifname[0],
                   net->ns[0], net->ifname[1], net->ns[1]);
    for (int i = 0; i < 2 && rc == 0; i++)
        rc = s_sh ("%s -n %s addr add %s/24 dev %s && %s -n %s link set %s up && "
                   "%s -n %s link set lo up",
                   ip, net->ns[i], net->addr[i], net->ifname[i], ip, net->ns[i], net->ifname[i], ip,
                   net->ns[i]);
    if (rc != 0) {
        hd_testnet_fini (net);
        fail_msg ("cannot build the test network (ip netns add %s, veth, addresses): this test "
                  "needs root and network namespaces",
                  net->ns[0]);
    }
}

void
hd_testnet_fini (hd_testnet_t *net)
{
    const char *ip = s_ip ();
    if (!net->made || !ip)
        return;
    for (int i = 0; i < 2; i++)
        if (s_sh ("%s netns del %s 2>/dev/null", ip, net->ns[i]) != 0)
            fprintf (stderr, "note: network namespace %s was not there to delete\n", net->ns[i]);
    net->made = false;
}

//  "ip netns exec NS argv..." into out (S_MAX_ARGS entries).
static void
s_argv (hd_testnet_t *net, int side, const char *const *argv, const char **out)
{
    int n = 0;
    out[n++] = s_ip ();
    out[n++] = "netns";
    out[n++] = "exec";
    out[n++] = net->ns[side];
    for (int i = 0; argv[i] && n < S_MAX_ARGS - 1; i++)
        out[n++] = argv[i];
    out[n] = NULL;
}

static pid_t
s_spawn (hd_testnet_t *net, int side, const char *const *argv, const char *out_path,
         const char *err_path)
{
    const char *full[S_MAX_ARGS];
    s_argv (net, side, argv, full);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init (&fa);
    posix_spawn_file_actions_addopen (&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen (&fa, 1, out_path ? out_path : "/dev/null",
                                      O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (err_path && out_path && strcmp (err_path, out_path) == 0)
        posix_spawn_file_actions_adddup2 (&fa, 1, 2);
    else
        posix_spawn_file_actions_addopen (&fa, 2, err_path ? err_path : "/dev/null",
                                          O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid;
    int rc = posix_spawn (&pid, full[0], &fa, NULL, (char *const *) full, environ);
    posix_spawn_file_actions_destroy (&fa);
    if (rc != 0)
        fail_msg ("cannot start %s in %s: %s", argv[0], net->ns[side], strerror (rc));
    return pid;
}

pid_t
hd_testnet_spawn (hd_testnet_t *net, hd_testenv_t *env, int side, const char *const *argv,
                  const char *log_path)
{
    pid_t pid = s_spawn (net, side, argv, log_path, log_path);
    if (env->nprocs < HD_TESTENV_MAX_PROCS)
        env->pids[env->nprocs++] = pid;
    return pid;
}

//  The whole file into out (NUL-terminated, truncated to fit), then remove it.
static void
s_slurp (const char *path, char *out, size_t outlen)
{
    FILE *f = fopen (path, "r");
    size_t n = f && out ? fread (out, 1, outlen - 1, f) : 0;
    if (out)
        out[n] = '\0';
    if (f)
        fclose (f);
    unlink (path);
}

int
hd_testnet_run (hd_testnet_t *net, int side, const char *const *argv, char *out, size_t outlen,
                char *err, size_t errlen, int timeout_ms)
{
    char out_path[] = "/tmp/hd-testnet-out-XXXXXX", err_path[] = "/tmp/hd-testnet-err-XXXXXX";
    int fo = mkstemp (out_path), fe = mkstemp (err_path);
    if (fo < 0 || fe < 0)
        fail_msg ("mkstemp: %s", strerror (errno));
    close (fo);
    close (fe);
    pid_t pid = s_spawn (net, side, argv, out_path, err_path);
    int status = 0, waited = 0;
    pid_t r;
    while ((r = waitpid (pid, &status, WNOHANG)) == 0 && waited < timeout_ms) {
        poll (NULL, 0, 10);  //  bounded reap loop of our own child, not synchronisation
        waited += 10;
    }
    if (r == 0) {
        kill (pid, SIGKILL);
        waitpid (pid, &status, 0);
    }
    s_slurp (out_path, out, outlen);
    s_slurp (err_path, err, errlen);
    return r == pid && WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

bool
hd_testnet_wait_file (const char *path, const char *needle, int timeout_ms)
{
    static char text[1 << 20];
    for (int waited = 0;; waited += 50) {
        FILE *f = fopen (path, "r");
        size_t n = f ? fread (text, 1, sizeof text - 1, f) : 0;
        if (f)
            fclose (f);
        text[n] = '\0';
        if (strstr (text, needle))
            return true;
        if (waited >= timeout_ms)
            return false;
        poll (NULL, 0, 50);
    }
}
