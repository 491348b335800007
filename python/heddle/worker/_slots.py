"""Where a Python worker runs its tasks: slots as child processes (default: CPU-bound Python needs
them, and a process can be killed at a task's deadline or on cancel) or as threads (cheap, for
I/O-bound functions; a running thread cannot be stopped, only told through heddle.current_task()).

The worker's main loop owns the sockets; executors hand it results through file descriptors it
polls. A task is (key, fn, payload, timeout_ms); a result is (key, status, output, error, ms).
"""
import collections
import multiprocessing
import os
import signal
import threading
import time

import msgpack

from .. import _proto as P

MAX_ERROR = P.MAX_ERROR


class TaskContext:
    """What a running function may ask about its task (heddle.current_task())."""
    __slots__ = ("key", "fn", "deadline", "cancelled")

    def __init__(self, key, fn, timeout_ms):
        self.key = key
        self.fn = fn
        self.deadline = time.monotonic() + timeout_ms / 1000.0 if timeout_ms else None
        self.cancelled = False

    def should_stop(self):
        """True once the task is cancelled or past its deadline: return (or raise) soon."""
        return self.cancelled or (self.deadline is not None and time.monotonic() > self.deadline)


_current = threading.local()


def current_task():
    """The TaskContext of the task running on this thread (None outside a task)."""
    return getattr(_current, "ctx", None)


def _error_text(exc):
    text = "%s: %s" % (type(exc).__name__, exc)
    raw = text.encode("utf-8", "replace")[:MAX_ERROR]
    return raw.decode("utf-8", "ignore")


def run_one(functions, ctx, payload):
    """Run a task's function: (status, output bytes, error text, ms)."""
    fn = functions.get(ctx.fn)
    if fn is None:
        return P.UNKNOWN_FN, b"", "this worker has no function '%s'" % ctx.fn, 0
    _current.ctx = ctx
    t0 = time.perf_counter()
    try:
        out = fn(payload)
        if out is None:
            out = b""
        elif isinstance(out, str):
            out = out.encode()
        elif not isinstance(out, bytes):
            out = bytes(out)
        status, error = P.OK, ""
    except Exception as e:  # the function's failure is the task's FAILED result
        out, status, error = b"", P.FAILED, _error_text(e)
    finally:
        _current.ctx = None
    ms = int((time.perf_counter() - t0) * 1000)
    if ctx.cancelled:
        return P.CANCELLED, b"", "cancelled", ms
    if ctx.deadline is not None and time.monotonic() > ctx.deadline:
        return P.TIMEOUT, b"", "past its timeout", ms
    return status, out, error, ms


# --- threads ----------------------------------------------------------------------------------

class ThreadSlots:
    """n threads taking tasks from one queue. Results come back through a pipe the worker polls."""

    def __init__(self, functions, n):
        self.functions = functions
        self.n = n
        self.queue = collections.deque()
        self.cond = threading.Condition()
        self.results = collections.deque()
        self.running = {}  # key -> TaskContext
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)
        self._signalled = False
        self._stop = False
        self.threads = [threading.Thread(target=self._loop, daemon=True, name="heddle-slot-%d" % i)
                        for i in range(n)]
        for t in self.threads:
            t.start()

    def fds(self):
        return [self._r]

    def free(self):
        return self.n - len(self.running) - len(self.queue)

    def busy(self):
        return len(self.running)

    def submit(self, tasks):
        with self.cond:
            self.queue.extend(tasks)
            self.cond.notify(len(tasks))

    def _loop(self):
        functions = self.functions
        while True:
            with self.cond:
                while not self.queue and not self._stop:
                    self.cond.wait()
                if self._stop:
                    return
                key, fn, payload, timeout_ms = self.queue.popleft()
                ctx = TaskContext(key, fn, timeout_ms)
                self.running[key] = ctx
            status, out, error, ms = run_one(functions, ctx, payload)
            with self.cond:
                self.running.pop(key, None)
            self.results.append((key, status, out, error, ms))
            if not self._signalled:
                self._signalled = True
                os.write(self._w, b"r")

    def collect(self, fd):
        try:
            os.read(self._r, 4096)
        except BlockingIOError:
            pass
        self._signalled = False
        out = []
        while self.results:
            out.append(self.results.popleft())
        return out

    def cancel(self, key):
        """Stop a task: a queued one at once (its result returned); a running thread is only
        told (its context's should_stop()), and its own result says CANCELLED."""
        with self.cond:
            for i, t in enumerate(self.queue):
                if t[0] == key:
                    del self.queue[i]
                    return [(key, P.CANCELLED, b"", "cancelled", 0)]
            ctx = self.running.get(key)
            if ctx is not None:
                ctx.cancelled = True
        return []

    def expired(self, now):
        return []  # threads are told through their context; their own result says TIMEOUT

    def close(self):
        with self.cond:
            self._stop = True
            self.cond.notify_all()
        os.close(self._w)
        os.close(self._r)


# --- processes --------------------------------------------------------------------------------

def _die_with_parent():
    """A slot process ends with its worker, even one killed with SIGKILL (Linux's
    PR_SET_PDEATHSIG): forked children inherit both ends of their pipe, so they never saw EOF
    and lived on, orphans holding the worker's sockets."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() == 1:  # the parent died before prctl took effect
            os._exit(0)
    except (OSError, AttributeError):
        pass


def _child_main(conn, functions):
    """A slot process: run batches of tasks, send results back, flushing at least every 2 ms."""
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    packb, unpackb = msgpack.packb, msgpack.unpackb
    while True:
        try:
            batch = unpackb(conn.recv_bytes(), raw=False)
        except (EOFError, OSError):
            return
        out = []
        last = time.monotonic()
        for key, fn, payload, timeout_ms in batch:
            ctx = TaskContext(key, fn, timeout_ms)
            status, output, error, ms = run_one(functions, ctx, payload)
            out.append((key, status, output, error, ms))
            now = time.monotonic()
            if now - last > 0.002:
                conn.send_bytes(packb(out, use_bin_type=True))
                out = []
                last = now
        if out:
            conn.send_bytes(packb(out, use_bin_type=True))


class _Child:
    __slots__ = ("proc", "conn", "fd", "outstanding", "deadline")

    def __init__(self, proc, conn):
        self.proc = proc
        self.conn = conn
        self.fd = conn.fileno()
        self.outstanding = collections.OrderedDict()  # key -> task, in the order it runs them
        self.deadline = None


class ProcessSlots:
    """n child processes forked from the worker. A task with a timeout goes alone to an idle
    child, which is killed (and replaced) at the deadline; a cancelled running task kills its
    child too. Short tasks travel many per message; a function whose tasks take over 5 ms goes
    one task at a time per child, so the work spreads evenly."""

    LONG_MS = 5.0
    BATCH = 64

    def __init__(self, functions, n):
        self.functions = functions
        self.n = n
        self.ctx = multiprocessing.get_context("fork")
        self.children = [self._spawn() for _ in range(n)]
        self.queue = collections.deque()
        self.mean_ms = {}

    def _spawn(self):
        parent, child = self.ctx.Pipe(duplex=True)
        proc = self.ctx.Process(target=_child_main, args=(child, self.functions), daemon=True)
        proc.start()
        child.close()
        return _Child(proc, parent)

    def fds(self):
        return [c.fd for c in self.children]

    def busy(self):
        return sum(1 for c in self.children if c.outstanding)

    def free(self):
        return sum(1 for c in self.children if not c.outstanding) - len(self.queue)

    def submit(self, tasks):
        self.queue.extend(tasks)
        self._dispatch()

    def _is_long(self, fn):
        return self.mean_ms.get(fn, 0.0) > self.LONG_MS

    def _dispatch(self):
        queue = self.queue
        if not queue:
            return
        idle = [c for c in self.children if not c.outstanding]
        for c in idle:
            if not queue:
                return
            self._send(c, self._take(len(idle)))
        # Short tasks may also queue behind a busy child's batch (never behind a deadline).
        for c in self.children:
            if not queue:
                return
            if (c.deadline is None and len(c.outstanding) < self.BATCH
                    and not self._is_long(queue[0][1]) and not queue[0][3]
                    and not any(self._is_long(t[1]) for t in c.outstanding.values())):
                self._send(c, self._take(len(self.children)))

    def _take(self, nchildren):
        queue = self.queue
        first = queue.popleft()
        batch = [first]
        if first[3] or self._is_long(first[1]):
            return batch
        limit = min(self.BATCH, max(1, (len(queue) + 1) // max(1, nchildren)))
        while queue and len(batch) < limit and not queue[0][3] and not self._is_long(queue[0][1]):
            batch.append(queue.popleft())
        return batch

    def _send(self, child, batch):
        for t in batch:
            child.outstanding[t[0]] = t
        if len(batch) == 1 and batch[0][3]:
            child.deadline = time.monotonic() + batch[0][3] / 1000.0
        child.conn.send_bytes(msgpack.packb(batch, use_bin_type=True))

    def collect(self, fd):
        child = next((c for c in self.children if c.fd == fd), None)
        if child is None:
            return []
        try:
            results = msgpack.unpackb(child.conn.recv_bytes(), raw=False)
        except (EOFError, OSError):
            return self._replace(child, P.FAILED, "the slot process died (exit %s)"
                                 % self._exitcode(child))
        out = []
        for key, status, output, error, ms in results:
            task = child.outstanding.pop(key, None)
            if task is None:
                continue  # cancelled while it ran: its result was sent already
            fn = task[1]
            m = self.mean_ms.get(fn)
            self.mean_ms[fn] = ms if m is None else 0.8 * m + 0.2 * ms
            out.append((key, status, output, error, ms))
        if not child.outstanding:
            child.deadline = None
        self._dispatch()
        return out

    @staticmethod
    def _exitcode(child):
        child.proc.join(0.5)
        return child.proc.exitcode

    def _replace(self, child, status, error, only=None):
        """Kill a child and start another; its running task ends with status (or only that
        key's does), the tasks waiting behind it go back to the queue."""
        if child.proc.is_alive():
            child.proc.kill()
        child.proc.join()
        child.conn.close()
        out = []
        items = list(child.outstanding.values())
        if items:
            running = items[0]
            out.append((running[0], status, b"", error, 0))
            self.queue.extendleft(reversed(items[1:]))
        i = self.children.index(child)
        self.children[i] = self._spawn()
        self._dispatch()
        return out

    def cancel(self, key):
        """Stop a task: results to send now (a queued task, or a running one whose child is
        killed and replaced); a task waiting in a child's batch runs there, its result
        dropped."""
        for i, t in enumerate(self.queue):
            if t[0] == key:
                del self.queue[i]
                return [(key, P.CANCELLED, b"", "cancelled", 0)]
        for c in self.children:
            if key in c.outstanding:
                if next(iter(c.outstanding)) == key:  # running now: stop it
                    return self._replace(c, P.CANCELLED, "cancelled")
                c.outstanding.pop(key)
                return [(key, P.CANCELLED, b"", "cancelled", 0)]
        return []

    def expired(self, now):
        out = []
        for c in list(self.children):
            if c.deadline is not None and now > c.deadline and c.outstanding:
                out.extend(self._replace(c, P.TIMEOUT, "stopped at its timeout"))
        return out

    def close(self):
        for c in self.children:
            c.conn.close()
        for c in self.children:
            c.proc.join(1.0)
            if c.proc.is_alive():
                c.proc.kill()
                c.proc.join()
