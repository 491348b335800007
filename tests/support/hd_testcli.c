/*  hd_testcli: spawn-and-capture for the `heddle` tool (see the header). One poll loop feeds
    stdin and drains stdout and stderr together, so a child that writes a lot before reading all
    of its input cannot deadlock against the test.  */
#include "hd_testcli.h"

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
#include <time.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>

#define S_MAX_ARGS 64
#define S_READ_CHUNK 65536

extern char **environ;

typedef struct {
    int fd;  //  -1 once closed
    char *data;
    size_t size, cap;
} s_capture_t;

typedef struct {
    int fd;  //  write end of the child's stdin; -1 once closed
    const char *data;
    size_t size, done;
} s_feed_t;

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void
s_close (int *fd)
{
    if (*fd >= 0)
        close (*fd);
    *fd = -1;
}

//  Both ends close on exec: only the dup2'd copies reach the child, so no other child (or this
//  one) holds a stray write end that would keep a capture from seeing EOF.
static void
s_pipe (int fds[2])
{
    if (pipe (fds) != 0)
        fail_msg ("pipe: %s", strerror (errno));
    fcntl (fds[0], F_SETFD, FD_CLOEXEC);
    fcntl (fds[1], F_SETFD, FD_CLOEXEC);
}

//  The test's environment without the variables that would point heddle at another broker.
static char **
s_child_env (void)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc (n + 1, sizeof *env);
    assert_non_null (env);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp (environ[i], "HEDDLE_BROKER=", 14) != 0 &&
            strncmp (environ[i], "HEDDLE_KEYS=", 12) != 0)
            env[kept++] = environ[i];
    return env;
}

//  A write to a child that has stopped reading must fail with EPIPE, not kill the test; the
//  child itself gets SIGPIPE's default action back.
static void
s_spawn_attr (posix_spawnattr_t *attr)
{
    struct sigaction ignore = { .sa_handler = SIG_IGN };
    sigaction (SIGPIPE, &ignore, NULL);
    sigset_t defaults;
    sigemptyset (&defaults);
    sigaddset (&defaults, SIGPIPE);
    posix_spawnattr_init (attr);
    posix_spawnattr_setsigdefault (attr, &defaults);
    posix_spawnattr_setflags (attr, POSIX_SPAWN_SETSIGDEF);
}

//  Start heddle with in/out/err on fresh pipes; leaves the parent's ends in fds[0..2].
static pid_t
s_spawn (const char *const *args, int fds[3])
{
    const char *argv[S_MAX_ARGS + 2] = { HD_BIN_DIR "/heddle" };
    size_t n = 1;
    for (size_t i = 0; args[i]; i++) {
        assert_true (n < S_MAX_ARGS);
        argv[n++] = args[i];
    }
    int in[2], out[2], err[2];
    s_pipe (in);
    s_pipe (out);
    s_pipe (err);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init (&fa);
    posix_spawn_file_actions_adddup2 (&fa, in[0], 0);
    posix_spawn_file_actions_adddup2 (&fa, out[1], 1);
    posix_spawn_file_actions_adddup2 (&fa, err[1], 2);
    posix_spawnattr_t attr;
    s_spawn_attr (&attr);
    char **env = s_child_env ();
    pid_t pid;
    int rc = posix_spawn (&pid, argv[0], &fa, &attr, (char *const *) argv, env);
    free (env);
    posix_spawn_file_actions_destroy (&fa);
    posix_spawnattr_destroy (&attr);
    close (in[0]);
    close (out[1]);
    close (err[1]);
    if (rc != 0)
        fail_msg ("cannot start %s: %s", argv[0], strerror (rc));
    fds[0] = in[1];
    fds[1] = out[0];
    fds[2] = err[0];
    return pid;
}

static void
s_capture_read (s_capture_t *self)
{
    if (self->cap - self->size < S_READ_CHUNK + 1) {
        self->cap = self->cap * 2 + S_READ_CHUNK + 1;
        self->data = realloc (self->data, self->cap);
        assert_non_null (self->data);
    }
    ssize_t n = read (self->fd, self->data + self->size, S_READ_CHUNK);
    if (n > 0)
        self->size += (size_t) n;
    else if (n == 0 || (errno != EINTR && errno != EAGAIN))
        s_close (&self->fd);
}

static void
s_feed_write (s_feed_t *self)
{
    ssize_t n = write (self->fd, self->data + self->done, self->size - self->done);
    if (n > 0)
        self->done += (size_t) n;
    else if (errno != EINTR && errno != EAGAIN)
        s_close (&self->fd);  //  EPIPE: the child does not want the rest
    if (self->done == self->size)
        s_close (&self->fd);
}

//  Feed and drain until both captures reach EOF or the deadline passes. False on timeout.
static bool
s_pump (s_feed_t *feed, s_capture_t cap[2], double deadline)
{
    while (cap[0].fd >= 0 || cap[1].fd >= 0) {
        double left = deadline - s_now ();
        if (left <= 0)
            return false;
        struct pollfd p[3] = { { cap[0].fd, POLLIN, 0 },
                               { cap[1].fd, POLLIN, 0 },
                               { feed->fd, POLLOUT, 0 } };
        if (poll (p, 3, (int) (left * 1000) + 1) < 0 && errno != EINTR)
            fail_msg ("poll: %s", strerror (errno));
        for (int i = 0; i < 2; i++)
            if (p[i].revents & (POLLIN | POLLHUP | POLLERR))
                s_capture_read (&cap[i]);
        if (p[2].revents & (POLLOUT | POLLERR | POLLHUP))
            s_feed_write (feed);
    }
    return true;
}

//  Wait for the exit until the deadline, then kill. The exit code, or -1 after a signal.
static int
s_reap (pid_t pid, double deadline, bool *timed_out)
{
    int status = 0;
    pid_t r;
    while ((r = waitpid (pid, &status, WNOHANG)) == 0 && s_now () < deadline) {
        struct timespec ts = { 0, 5 * 1000000 };  //  bounded reap loop, not synchronisation
        nanosleep (&ts, NULL);
    }
    if (r == 0) {
        *timed_out = true;
        kill (pid, SIGKILL);
        waitpid (pid, &status, 0);
    }
    return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

void
hd_testcli_run (hd_testcli_t *self, const char *const *args, const void *input, size_t input_size,
                int timeout_ms)
{
    memset (self, 0, sizeof *self);
    double start = s_now (), deadline = start + timeout_ms / 1000.0;
    int fds[3];
    pid_t pid = s_spawn (args, fds);
    fcntl (fds[0], F_SETFL, O_NONBLOCK);
    s_feed_t feed = { fds[0], input, input ? input_size : 0, 0 };
    if (feed.size == 0)
        s_close (&feed.fd);
    s_capture_t cap[2] = { { fds[1], NULL, 0, 0 }, { fds[2], NULL, 0, 0 } };
    if (!s_pump (&feed, cap, deadline)) {
        self->timed_out = true;
        kill (pid, SIGKILL);
    }
    self->code = s_reap (pid, deadline, &self->timed_out);
    self->seconds = s_now () - start;
    s_close (&feed.fd);
    for (int i = 0; i < 2; i++) {
        s_close (&cap[i].fd);
        if (!cap[i].data)
            cap[i].data = calloc (1, 1);
        assert_non_null (cap[i].data);
        cap[i].data[cap[i].size] = 0;
    }
    self->out = cap[0].data;
    self->out_size = cap[0].size;
    self->err = cap[1].data;
    self->err_size = cap[1].size;
}

void
hd_testcli_fini (hd_testcli_t *self)
{
    free (self->out);
    free (self->err);
    memset (self, 0, sizeof *self);
}

size_t
hd_testcli_count (const char *text, const char *needle)
{
    size_t n = 0, len = strlen (needle);
    for (const char *p = text; len && (p = strstr (p, needle)) != NULL; p += len)
        n++;
    return n;
}

void
hd_testcli_write_file (const char *path, const void *data, size_t size)
{
    FILE *file = fopen (path, "wb");
    if (!file)
        fail_msg ("cannot write %s: %s", path, strerror (errno));
    assert_int_equal (fwrite (data, 1, size, file), size);
    assert_int_equal (fclose (file), 0);
}

char *
hd_testcli_read_file (const char *path, size_t *size)
{
    FILE *file = fopen (path, "rb");
    if (!file)
        return NULL;
    char *data = NULL;
    size_t n = 0, cap = 0;
    do {
        cap = cap * 2 + 4096;
        data = realloc (data, cap + 1);
        assert_non_null (data);
        n += fread (data + n, 1, cap - n, file);
    } while (n == cap);
    fclose (file);
    data[n] = 0;
    if (size)
        *size = n;
    return data;
}
