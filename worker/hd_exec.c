/*  hd_exec: the `exec` built-in. fork + execvp of a caller-given argv, no shell, in a new
    process group so a timeout or cancel can kill everything the command started. The child's
    exec error comes back through a close-on-exec pipe. Knows the task context (hd_task.h) and
    POSIX processes; nothing of sockets or of who asked for the command.  */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE  //  pipe2: see s_pipe
#endif
#include "hd_exec.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hd_task.h"

#define HD_EXEC_STEP_MS 10         //  longest wait between cancel and deadline checks
#define HD_EXEC_READ_BYTES 16384   //  one read from the output pipe
#define HD_EXEC_READS_PER_STEP 64  //  reads between checks, so a chatty command cannot starve them

typedef struct {
    char *buf;    //  the input with a NUL after it
    char **argv;  //  NULL-terminated, pointing into buf
} hd_argv_t;

typedef enum {
    HD_CHILD_EXITED,     //  reaped; status is valid
    HD_CHILD_TIMED_OUT,  //  deadline or the default limit passed
    HD_CHILD_CANCELLED,  //  the runner set task->cancel
    HD_CHILD_LOST,       //  waitpid failed (someone else reaped it, or SIGCHLD is ignored)
} hd_child_end_t;

typedef struct {
    pid_t pid;
    int out_fd;        //  read end of the stdout+stderr pipe, non-blocking
    int64_t limit_ms;  //  hd_now_ms time at which the command is killed
    size_t base;       //  task->out.size before the command ran
    size_t cap;        //  output bytes accepted, note included
    bool truncated;    //  output passed cap and was cut
    bool eof;          //  every writer of the pipe has closed it
    int eof_waits;     //  waits for the exit after EOF
    int status;        //  from waitpid, once HD_CHILD_EXITED
} hd_child_t;

//  --- argv ------------------------------------------------------------------------------------

static void
s_argv_fini (hd_argv_t *self)
{
    free (self->argv);
    free (self->buf);
    self->argv = NULL;
    self->buf = NULL;
}

//  "a\0b\0" and "a\0b" give { "a", "b" }; "a\0\0b" gives { "a", "", "b" }.
//  HD_EINVAL for an empty argv[0], HD_ENOMEM.
static hd_err_t
s_argv_parse (hd_argv_t *self, const void *input, size_t size)
{
    const char *in = input;
    self->buf = NULL;
    self->argv = NULL;
    if (size && in[size - 1] == '\0')
        size--;
    if (size == 0 || in[0] == '\0')
        return HD_EINVAL;
    size_t argc = 1;
    for (size_t i = 0; i < size; i++)
        argc += in[i] == '\0';
    self->buf = malloc (size + 1);
    self->argv = calloc (argc + 1, sizeof (char *));
    if (!self->buf || !self->argv) {
        s_argv_fini (self);
        return HD_ENOMEM;
    }
    memcpy (self->buf, in, size);
    self->buf[size] = '\0';
    char *arg = self->buf;
    for (size_t i = 0; i < argc; i++) {
        self->argv[i] = arg;
        arg += strlen (arg) + 1;
    }
    return HD_OK;
}

//  --- child side: runs between fork and exec, async-signal-safe calls only ---------------------

//  The worker's stdio may be closed, so a pipe can land on 0..2; dup2 onto stdio would then
//  clobber it, or (same fd) leave close-on-exec set.
static int
s_fd_above_stdio (int fd)
{
    return fd > 2 ? fd : fcntl (fd, F_DUPFD_CLOEXEC, 3);
}

static int
s_child_stdio (int out_fd)
{
    int null_fd = open ("/dev/null", O_RDONLY);
    if (null_fd < 0)
        return -1;
    if (null_fd != 0) {
        if (dup2 (null_fd, 0) < 0)
            return -1;
        if (null_fd > 2)
            close (null_fd);
    }
    return dup2 (out_fd, 1) < 0 || dup2 (out_fd, 2) < 0 ? -1 : 0;
}

//  Signal mask and ignored signals survive exec: undo what the worker's threads set.
static void
s_child_reset_signals (void)
{
    sigset_t none;
    sigemptyset (&none);
    sigprocmask (SIG_SETMASK, &none, NULL);
    struct sigaction dfl;
    memset (&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction (SIGPIPE, &dfl, NULL);
}

static void
s_child_exec (char **argv, int out_fd, int err_fd)
{
    err_fd = s_fd_above_stdio (err_fd);
    out_fd = s_fd_above_stdio (out_fd);
    s_child_reset_signals ();
    setpgid (0, 0);
    if (out_fd >= 0 && s_child_stdio (out_fd) == 0)
        execvp (argv[0], argv);
    int err = errno;
    ssize_t n = write (err_fd, &err, sizeof err);
    (void) n;
    _exit (127);
}

//  --- parent side: start ----------------------------------------------------------------------

//  Other slots may fork at any moment: a pipe end without close-on-exec set atomically could
//  leak into their command and hold our pipe open after our command exits.
static int
s_pipe (int fds[2])
{
    return pipe2 (fds, O_CLOEXEC);
}

//  The child's exec errno, or 0 when the pipe closed because exec succeeded.
static int
s_read_exec_errno (int fd)
{
    int err = 0;
    ssize_t n;
    do
        n = read (fd, &err, sizeof err);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t) sizeof err ? (err ? err : EIO) : 0;
}

static void
s_close_pair (int fds[2])
{
    close (fds[0]);
    close (fds[1]);
}

//  0 with child->pid and child->out_fd set, or an errno value: the child's from exec (the
//  child is reaped) or ours from pipe or fork.
static int
s_spawn (char **argv, hd_child_t *child)
{
    int out[2], err[2];
    if (s_pipe (out) != 0)
        return errno;
    if (s_pipe (err) != 0) {
        int pipe_err = errno;
        s_close_pair (out);
        return pipe_err;
    }
    pid_t pid = fork ();
    if (pid == 0)
        s_child_exec (argv, out[1], err[1]);
    int fork_err = errno;
    close (out[1]);
    close (err[1]);
    if (pid < 0) {
        close (out[0]);
        close (err[0]);
        return fork_err;
    }
    setpgid (pid, pid);  //  the child does it too; whichever runs first closes the race with kill
    int exec_err = s_read_exec_errno (err[0]);
    close (err[0]);
    child->pid = pid;
    child->out_fd = out[0];
    if (exec_err) {
        close (out[0]);
        waitpid (pid, &child->status, 0);
        return exec_err;
    }
    fcntl (out[0], F_SETFL, O_NONBLOCK);
    return 0;
}

//  --- parent side: supervise ------------------------------------------------------------------

static void
s_keep (heddle_task_t *task, hd_child_t *child, const char *data, size_t size)
{
    size_t kept = task->out.size - child->base;
    size_t room = child->cap > kept ? child->cap - kept : 0;
    if (size > room) {
        child->truncated = true;
        size = room;
    }
    //  Out of memory: keep what we have and say so, the command still ran.
    if (size && hd_task_output (task, data, size) != 0)
        child->truncated = true;
}

//  Reads what the pipe holds now. Past the cap we keep reading and discard, so the command
//  never blocks on a full pipe.
static void
s_read_some (heddle_task_t *task, hd_child_t *child)
{
    char buf[HD_EXEC_READ_BYTES];
    for (int i = 0; i < HD_EXEC_READS_PER_STEP; i++) {
        ssize_t n = read (child->out_fd, buf, sizeof buf);
        if (n > 0) {
            s_keep (task, child, buf, (size_t) n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
            child->eof = true;
        return;
    }
}

static void
s_wait_output (heddle_task_t *task, hd_child_t *child, int timeout_ms)
{
    if (child->eof) {
        //  Usually EOF means the command is exiting: look again soon, then settle to the step.
        poll (NULL, 0, child->eof_waits++ < 10 ? 1 : timeout_ms);
        return;
    }
    struct pollfd pfd = { .fd = child->out_fd, .events = POLLIN, .revents = 0 };
    if (poll (&pfd, 1, timeout_ms) > 0)
        s_read_some (task, child);
}

//  1 when the child has ended (status set), 0 while it runs, -1 when it cannot be waited for.
static int
s_reap (hd_child_t *child, int flags)
{
    for (;;) {
        pid_t pid = waitpid (child->pid, &child->status, flags);
        if (pid == child->pid)
            return 1;
        if (pid == 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

//  A cancel from the runner wins over the clock; the deadline itself is a timeout.
static bool
s_must_stop (heddle_task_t *task, int64_t limit_ms, hd_child_end_t *end)
{
    if (atomic_load (&task->cancel) != 0)
        *end = HD_CHILD_CANCELLED;
    else if (hd_now_ms () >= limit_ms || hd_task_cancelled (task))
        *end = HD_CHILD_TIMED_OUT;
    else
        return false;
    return true;
}

static hd_child_end_t
s_supervise (heddle_task_t *task, hd_child_t *child)
{
    hd_child_end_t end;
    while (!s_must_stop (task, child->limit_ms, &end)) {
        int64_t left = child->limit_ms - hd_now_ms ();
        int step = left < HD_EXEC_STEP_MS ? (int) (left > 0 ? left : 0) : HD_EXEC_STEP_MS;
        s_wait_output (task, child, step);
        int rc = s_reap (child, WNOHANG);
        if (rc != 0) {
            //  What it wrote just before exiting; grandchildren holding the pipe are not waited
            //  for.
            if (!child->eof)
                s_read_some (task, child);
            return rc > 0 ? HD_CHILD_EXITED : HD_CHILD_LOST;
        }
    }
    return end;
}

static void
s_kill (hd_child_t *child)
{
    kill (-child->pid, SIGKILL);
    kill (child->pid, SIGKILL);  //  in case it never got its own process group
    s_reap (child, 0);
}

//  --- results ---------------------------------------------------------------------------------

static size_t
s_output_cap (const heddle_task_t *task)
{
    size_t cap = HD_EXEC_MAX_OUTPUT;
    if (task->max_output) {
        size_t room = task->max_output > task->out.size ? task->max_output - task->out.size : 0;
        cap = room < cap ? room : cap;
    }
    return cap;
}

//  Cut a truncated output so that it and the note fit within the cap together.
static void
s_finish_output (heddle_task_t *task, const hd_child_t *child)
{
    if (!child->truncated)
        return;
    size_t note = strlen (HD_EXEC_TRUNCATED_NOTE);
    size_t keep = child->cap > note ? child->cap - note : 0;
    if (task->out.size - child->base > keep)
        task->out.size = child->base + keep;
    hd_task_output (task, HD_EXEC_TRUNCATED_NOTE, note);  //  dropped if even that cannot fit
}

static int
s_report (heddle_task_t *task, const hd_child_t *child, hd_child_end_t end)
{
    s_finish_output (task, child);
    switch (end) {
        case HD_CHILD_CANCELLED: hd_task_fail (task, "cancelled"); return -1;
        case HD_CHILD_TIMED_OUT: hd_task_fail (task, "exec: timed out"); return -1;
        case HD_CHILD_LOST: hd_task_fail (task, "exec: lost the command's exit status"); return -1;
        case HD_CHILD_EXITED: break;
    }
    if (WIFEXITED (child->status) && WEXITSTATUS (child->status) == 0)
        return 0;
    if (WIFSIGNALED (child->status))
        hd_task_fail (task, "killed by signal %d", WTERMSIG (child->status));
    else
        hd_task_fail (task, "exit status %d", WEXITSTATUS (child->status));
    return -1;
}

static const char *
s_errtext (int err, char *buf, size_t len)
{
#if defined(__GLIBC__)
    return strerror_r (err, buf, len);  //  the GNU variant: _GNU_SOURCE is defined
#else
    return strerror_r (err, buf, len) == 0 ? buf : "unknown error";
#endif
}

//  --- the task function ----------------------------------------------------------------------

static int
s_start (heddle_task_t *task, hd_child_t *child, const void *input, size_t size)
{
    hd_argv_t args;
    hd_err_t rc = s_argv_parse (&args, input, size);
    if (rc != HD_OK) {
        if (rc == HD_ENOMEM)
            hd_task_fail (task, "exec: out of memory");
        else
            hd_task_fail (task, "exec: expected argv as NUL-separated strings, got an empty "
                                "command");
        return -1;
    }
    int err = s_spawn (args.argv, child);
    if (err) {
        char text[128];
        hd_task_fail (task, "exec: cannot run '%s': %s", args.argv[0],
                      s_errtext (err, text, sizeof text));
    }
    s_argv_fini (&args);
    return err ? -1 : 0;
}

int
hd_exec_run (heddle_task_t *task, const void *input, size_t size, void *arg)
{
    (void) arg;
    hd_child_t child;
    memset (&child, 0, sizeof child);
    child.base = task->out.size;
    child.cap = s_output_cap (task);
    child.limit_ms =
        task->deadline_ms ? task->deadline_ms : hd_now_ms () + HD_EXEC_DEFAULT_LIMIT_MS;
    hd_child_end_t end;
    if (s_must_stop (task, child.limit_ms, &end))
        return s_report (task, &child, end);
    if (s_start (task, &child, input, size) != 0)
        return -1;
    end = s_supervise (task, &child);
    if (end == HD_CHILD_CANCELLED || end == HD_CHILD_TIMED_OUT)
        s_kill (&child);
    close (child.out_fd);
    return s_report (task, &child, end);
}
