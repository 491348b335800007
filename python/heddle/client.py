"""The heddle client: one DEALER to the broker's clients endpoint, owned by one I/O thread.

Callers (any thread) encode their tasks and hand them to the I/O thread through a deque and a
wake-up pipe; the I/O thread batches them into SUBMIT messages (packed by default), matches
RESULTs to futures or to map() streams, ACKs results in batches, pings while tasks are in flight
(so the broker resends results lost with a connection) and resends SUBMITs not ACCEPTED within
3 s (same id: the broker recognises it), as docs/PROTOCOL.md section 9 asks.
"""
import collections
import logging
import os
import threading
import weakref

import zmq
import zmq.utils.monitor

from . import _proto as P
from . import errors
from . import keys as K
from . import jobs as _jobs
from . import seal as _seal
from ._io import _IO
from .futures import Future

log = logging.getLogger("heddle")

MAX_TIMEOUT_MS = 86400000


# --- task options -----------------------------------------------------------------------------

def _encode_options(timeout=None, priority=0, tags=None, node=None, attempts=None, mem=None):
    """The optional SUBMIT keys as (count, bytes). timeout is in seconds."""
    items = []
    if priority:
        pri = int(priority)
        items.append(("pri", max(-1000, min(1000, pri))))
    if timeout:
        ms = int(round(float(timeout) * 1000))
        if not 1 <= ms <= MAX_TIMEOUT_MS:
            raise ValueError("timeout %r s: want 0.001 .. 86400 seconds" % (timeout,))
        items.append(("timeout", ms))
    if attempts:
        if not 1 <= int(attempts) <= 1000:
            raise ValueError("attempts %r: want 1 .. 1000" % (attempts,))
        items.append(("attempts", int(attempts)))
    if tags:
        if isinstance(tags, str):
            tags = [t for t in tags.split(",") if t]
        tags = [P.check_name(t, "tag") for t in tags]
        if len(tags) > P.MAX_TAGS:
            raise ValueError("%d tags: at most %d" % (len(tags), P.MAX_TAGS))
        items.append(("tags", tags))
    if mem:
        if not 0 <= int(mem) < 1 << 24:
            raise ValueError("mem %r MB out of range" % (mem,))
        items.append(("mem", int(mem)))
    if node:
        items.append(("node", P.check_name(node, "node name")))
    return len(items), b"".join(P.pack(k) + P.pack(v) for k, v in items)


class _Template:
    """The SUBMIT envelope of one function and option set, as head + id + tail."""
    __slots__ = ("head", "tail", "fn")

    def __init__(self, fn, opts, sealer=None):
        raw = P.check_fn(fn)
        if sealer is not None:  # sealed (heddle.seal): the payload key's tag, and seal: 1
            opts = _seal.template_tags(opts, sealer.tag)
        n, extra = _encode_options(**opts)
        if sealer is not None:
            n, extra = n + 1, extra + b"\xa4seal\x01"
        self.fn = raw.decode()
        self.head = bytes((0x80 | (2 + n),)) + b"\xa2id\xc4\x10"
        self.tail = b"\xa2fn" + P.pack(self.fn) + extra


def _payload(data):
    if isinstance(data, bytes):
        return data
    if isinstance(data, str):
        return data.encode()
    if data is None:
        return b""
    return bytes(data)


class _Ids:
    """Task ids: 16 bytes from the OS's CSPRNG, drawn 256 at a time."""

    def __init__(self):
        self._lock = threading.Lock()
        self._pool = b""
        self._at = 0

    def take(self, n=1):
        with self._lock:
            need = 16 * n
            if self._at + need > len(self._pool):
                self._pool = os.urandom(max(4096, need))
                self._at = 0
            chunk = self._pool[self._at:self._at + need]
            self._at += need
        return [chunk[i:i + 16] for i in range(0, need, 16)] if n > 1 else [chunk]


# --- map streams ------------------------------------------------------------------------------

class _Stream:
    """Where the I/O thread puts a map()'s results: (seq, status, payload, env, reason)."""
    __slots__ = ("ready", "cond", "__weakref__")

    def __init__(self):
        self.ready = collections.deque()
        self.cond = threading.Condition(threading.Lock())


class Results:
    """The results of Client.map(), streamed: iterate to get each output (bytes) in input
    order (or completion order with ordered=False). At most `window` tasks are in flight or
    waiting to be yielded, so memory stays bounded whatever the input's length. A failed task
    raises its typed exception when its turn comes (return_exceptions=True yields the exception
    instead). repr() (and list()) wait for every remaining result. close() cancels what is
    left."""

    def __init__(self, client, template, iterable, window, ordered, return_exceptions):
        if window < 1:
            raise ValueError("window must be at least 1")
        self._client = client
        self._tpl = template
        self._source = iter(iterable)
        self._window = int(window)
        self._ordered = ordered
        self._return_exceptions = return_exceptions
        self._stream = _Stream()
        self._pending = {}           # seq -> task id, in flight
        self._done = {}              # seq -> (status, payload, env, reason), ordered mode
        self._done_list = collections.deque()  # unordered mode
        self._next_submit = 0
        self._next_yield = 0
        self._exhausted = False
        self._closed = False
        self._materialized = None
        self._refill()  # the first window goes out now, as Dask's map does

    def __iter__(self):
        return self

    def __next__(self):
        if self._materialized is not None:
            if not self._materialized:
                raise StopIteration
            return self._value(self._materialized.popleft())
        item = self._next_raw()
        return self._value(item)

    def _value(self, item):
        status, payload, env, reason = item
        if status == P.OK:
            return payload
        exc = errors.for_status(status, reason if reason is not None else env.get("error", ""),
                                env.get("node", ""), env.get("id"))
        if self._return_exceptions:
            return exc
        raise exc

    def _next_raw(self):
        while True:
            if self._ordered:
                item = self._done.pop(self._next_yield, None)
                if item is not None:
                    self._next_yield += 1
                    return item
            elif self._done_list:
                self._next_yield += 1
                return self._done_list.popleft()
            if self._closed:
                raise StopIteration
            self._refill()
            if not self._pending:
                self._closed = True
                raise StopIteration
            self._collect()

    def _refill(self):
        if self._exhausted:
            return
        if self._ordered:
            room = self._window - (self._next_submit - self._next_yield)
        else:
            room = self._window - len(self._pending) - len(self._done_list)
        if room <= 0:
            return
        items = []
        src = self._source
        for _ in range(room):
            try:
                items.append(_payload(next(src)))
            except StopIteration:
                self._exhausted = True
                break
        if not items:
            return
        ids = self._client._ids.take(len(items))
        sealer = self._client._sealer
        if sealer is not None:
            fn = self._tpl.fn
            items = [sealer.seal_task(tid, fn, data) for tid, data in zip(ids, items)]
        head, tail = self._tpl.head, self._tpl.tail
        stream = self._stream
        seq = self._next_submit
        pending = self._pending
        ops = []
        for tid, data in zip(ids, items):
            ops.append((tid, head + tid + tail, data, stream, seq))
            pending[seq] = tid
            seq += 1
        self._next_submit = seq
        self._client._post_many(ops)

    def _collect(self):
        stream = self._stream
        client = self._client
        with stream.cond:
            while not stream.ready:
                if client._dead is not None:
                    raise client._dead
                stream.cond.wait(1.0)
        ready = stream.ready
        pending = self._pending
        while ready:
            seq, status, payload, env, reason = ready.popleft()
            if pending.pop(seq, None) is None:
                continue
            if self._ordered:
                self._done[seq] = (status, payload, env, reason)
            else:
                self._done_list.append((status, payload, env, reason))

    def close(self):
        """Cancel the tasks still in flight and stop."""
        if self._pending and self._client._thread is not None:
            self._client._post(("C", list(self._pending.values())))
        self._pending.clear()
        self._exhausted = True
        self._closed = True

    def __del__(self):
        try:
            if self._pending:
                self.close()
        except Exception:
            pass

    def _materialize(self):
        if self._materialized is None:
            out = collections.deque()
            try:
                while True:
                    out.append(self._next_raw())
            except StopIteration:
                pass
            self._materialized = out
        return self._materialized

    def __repr__(self):
        items = self._materialize()
        return repr([self._value(i) for i in items])


# --- the client -------------------------------------------------------------------------------

class Client:
    """A connection to a heddle broker. Make one with heddle.connect(). Thread-safe: submit(),
    call() and map() may be used from any number of threads."""

    def __init__(self, endpoint, *, cert=None, server_key=None, insecure=False, session=None,
                 pack=True, connect_timeout=5.0, cluster=None, retry_busy=60.0, adopt=(),
                 keys_dir=None, plain_payloads=None):
        self.endpoint = endpoint
        self.cluster = cluster
        self.pack = bool(pack)
        self.connect_timeout = float(connect_timeout)
        self.session = P.check_session(session) if session else "c-" + os.urandom(8).hex()
        # Sealed payloads (docs/PROTOCOL.md section 14): on for a TCP broker when keys_dir
        # holds payload.cert, unless plain_payloads (default $HEDDLE_PLAIN_PAYLOADS).
        self._sealer = None if insecure else _seal.client_sender(
            endpoint, keys_dir, cert, self.session, plain_payloads)
        self.sealed = self._sealer is not None
        self._keys_dir = keys_dir
        self._cert = cert
        self._curve = None
        self._jobs = weakref.WeakSet()       # heddle.Job objects (their own connections)
        self._jobs_channel = None            # JOBS lists, made at first use
        self._named_session = bool(session)
        self._ids = _Ids()
        self._ctx = zmq.Context.instance()
        self._out = collections.deque()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._woken = False
        self._dead = None
        self._thread = None
        self._templates = {}
        self._tlock = threading.Lock()
        self.retry_busy = float(retry_busy or 0)
        self.notices = collections.deque(maxlen=100)
        self.stats = {"submitted": 0, "results": 0, "resubmitted": 0, "duplicates": 0,
                      "retried": 0, "tampered": 0}
        # Resuming a named session: the tasks whose results this process still expects are
        # known before anything is read, so a result kept by the broker reaches its future.
        self.adopted = {bytes(t): Future(self, bytes(t), "") for t in adopt}
        sock = self._ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDHWM, 100000)
        sock.setsockopt(zmq.RCVHWM, 100000)
        P.claim_session(sock, self.session)
        if not insecure and endpoint.startswith("tcp://"):
            public, secret = cert
            sock.curve_publickey = public.encode()
            sock.curve_secretkey = secret.encode()
            sock.curve_serverkey = server_key.encode()
            self._curve = (public.encode(), secret.encode(), server_key.encode())
        self._monitor = sock.get_monitor_socket(
            zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
            | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)
        sock.connect(endpoint)
        self._sock = sock
        self._auth_error = None
        self._thread = threading.Thread(target=self._run, name="heddle-io", daemon=True)
        self._thread.start()
        self._finalizer = weakref.finalize(self, Client._finalize, self._out, self._wake_w,
                                           cluster)
        try:
            self.ping(connect_timeout)
        except BaseException:
            self.close()
            raise

    # --- public API ---------------------------------------------------------------------------

    def submit(self, fn, data=b"", **opts):
        """Submit one task; returns a Future whose result() is the output bytes. Options:
        timeout (seconds per attempt), priority (-1000..1000), tags (list or "a,b"), node,
        attempts, mem (MB free on the worker)."""
        tpl = self._template(fn, opts)
        tid = self._ids.take()[0]
        fut = Future(self, tid, tpl.fn)
        data = _payload(data)
        if self._sealer is not None:
            data = self._sealer.seal_task(tid, tpl.fn, data)
        self._post((tid, tpl.head + tid + tpl.tail, data, fut, 0))
        return fut

    async def acall(self, fn, data=b"", **opts):
        """call() for asyncio: await the task's output without blocking the event loop."""
        import asyncio
        return await asyncio.wrap_future(self.submit(fn, data, **opts))

    def call(self, fn, data=b"", wait=None, **opts):
        """Run one task and return its output, or raise its typed exception. `wait` bounds how
        long to wait (seconds; concurrent.futures.TimeoutError, the task goes on)."""
        return self.submit(fn, data, **opts).result(wait)

    def map(self, fn, iterable, window=1000, ordered=True, return_exceptions=False, **opts):
        """Run fn on every item of iterable (bytes or str each); returns a Results iterator of
        the outputs, streamed with at most `window` tasks in flight."""
        return Results(self, self._template(fn, opts), iterable, window, ordered,
                       return_exceptions)

    def cancel(self, futures):
        """Cancel several futures (or task ids) in one message."""
        ids = [f.id if isinstance(f, Future) else bytes(f) for f in futures]
        for i in range(0, len(ids), P.MAX_BATCH):
            self._post(("C", ids[i:i + P.MAX_BATCH]))

    def nodes(self, timeout=5.0):
        """The broker's list of workers (NODES): one dict per node, keys as in
        docs/PROTOCOL.md (name, arch, state, slots, busy, cores, capacity, done, failed, ...)."""
        reply = self._request("N", None, timeout, "NODES")
        return reply.get("nodes", [])

    def functions(self, timeout=5.0):
        """The broker's list of functions (FUNCTIONS): one dict per function some worker
        offered since the broker started or with tasks queued or running: name, nodes (how many
        offer it), names (the first 16), queued, running, done, ms (mean run time), sorted by
        name."""
        reply = self._request("F", None, timeout, "FUNCTIONS")
        return sorted(reply.get("fns", []), key=lambda f: f.get("name", ""))

    def ping(self, timeout=5.0):
        """Round trip to the broker (PING/PONG); raises ConnectError when it does not answer."""
        self._request("P", None, timeout, "PING")

    def admin(self, op, node, timeout=5.0):
        """ADMIN op (drain, resume, pending, approve, reject) on node; returns the broker's
        reason text, raises the typed error when refused (needs the admin key)."""
        code, reason = self._request("A", (op, node), timeout, "ADMIN")
        if code != P.OK:
            raise errors.for_status(code, reason)
        if op == "approve" and self._keys_dir:  # as `heddle nodes approve`: grant payload keys
            key = reason.split(" ", 1)[0]
            if K.is_z85_key(key):
                self.grant_payload(key, timeout)
        return reason

    def grant_payload(self, worker_key, timeout=5.0):
        """Seal every payload secret key of this client's keys directory to a worker's CURVE
        public key (Z85) and have the broker hand them to it in WELCOME (it cannot open them).
        Returns how many were granted (0 when the keys directory holds none)."""
        n = 0
        for grant in _seal.grants_for(self._keys_dir, worker_key):
            code, reason = self._request("A", (("grant", worker_key, grant)), timeout, "ADMIN")
            if code != P.OK:
                raise errors.for_status(code, "payload key grant: " + reason)
            n += 1
        return n

    # --- detached jobs (heddle.jobs) -----------------------------------------------------------

    def submit_job(self, fn, inputs, name=None, ttl=None, **opts):
        """Submit a detached job: fn on every item of inputs (a sequence, or any iterable, read
        whole first: a job declares its size). Returns a heddle.Job once every task is ACCEPTED
        (durable at the broker); its results are kept at the broker, whatever happens to this
        program, until job.release() or the TTL (seconds or a timedelta; default the broker's
        --job-ttl, 7 days). `job.id` finds it again: client.job(ID). name: shown by `heddle
        jobs` (default fn). Task options as submit(). Refused tasks: see Job.submit()."""
        inputs = _jobs._as_sequence(inputs)
        job = self.open_job(len(inputs), fn if name is None else name, ttl)
        job.submit(fn, enumerate(inputs), **opts)
        return job

    def open_job(self, total, name="", ttl=None, job_id=None, timeout=None):
        """Open a detached job of `total` inputs (JOB_OPEN) without submitting anything: then
        job.submit(fn, [(index, data), ...]) as the inputs come. job_id: open that id again
        (idempotent for the same key and total). Raises heddle.Storage when the broker's result
        budget is full, heddle.Busy when this key has too many jobs open."""
        total = int(total)
        if not 1 <= total < 1 << 32:
            raise ValueError("a job has 1 .. 2^32-1 inputs, not %d" % total)
        name = _jobs._check_job_name(name)
        ttl = _jobs._ttl_seconds(ttl)
        job = _jobs.Job(self, job_id or P.job_id_new())
        job._open(total, name, ttl, self.connect_timeout * 6 if timeout is None else timeout)
        return job

    def job(self, job_id, timeout=10.0):
        """Attach to the detached job job_id (this client's key must own it): a heddle.Job,
        whose results() iterates its results. heddle.Denied when the broker has no such job
        for this key."""
        job = _jobs.Job(self, job_id)
        job.info(timeout)
        return job

    def jobs(self, timeout=10.0):
        """This client key's detached jobs at the broker, newest first (at most 256): a list of
        heddle.JobInfo."""
        if self._jobs_channel is None:
            with self._tlock:
                if self._jobs_channel is None:
                    self._jobs_channel = _jobs._Channel(self, "c-" + os.urandom(8).hex())
        ch = self._jobs_channel
        with ch.lock:
            reply, _ = ch.request(P.JOBS, {"job": ""}, P.JOBS_REPLY, timeout, "JOBS")
        return [_jobs.JobInfo(j) for j in reply.get("jobs", ()) if isinstance(j, dict)]

    def close(self):
        """Stop: tasks still in flight are cancelled (unless the session is named, to be
        resumed), their futures fail with heddle.Closed, an embedded cluster is stopped.
        Detached jobs stay at the broker (only this object's connections close)."""
        for job in list(self._jobs):
            job.close()
        if self._jobs_channel is not None:
            self._jobs_channel.close()
        if self._thread is not None:
            self._post(("X", None))
            self._thread.join()
            self._thread = None
        self._finalizer()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- plumbing from callers to the I/O thread ---------------------------------------------

    @staticmethod
    def _finalize(out, wake_w, cluster):
        try:
            os.close(wake_w)
        except OSError:
            pass
        if cluster is not None:
            cluster.stop()

    def _template(self, fn, opts):
        key = (fn, tuple(sorted((k, tuple(v) if isinstance(v, list) else v)
                                for k, v in opts.items()))) if opts else fn
        tpl = self._templates.get(key)
        if tpl is None:
            tpl = _Template(fn, opts, self._sealer)
            with self._tlock:
                if len(self._templates) > 1000:
                    self._templates.clear()
                self._templates[key] = tpl
        return tpl

    def _post(self, op):
        if self._dead is not None:
            raise self._dead
        self._out.append(op)
        if not self._woken:
            self._woken = True
            os.write(self._wake_w, b"w")

    def _post_many(self, ops):
        if self._dead is not None:
            raise self._dead
        self._out.extend(ops)
        if not self._woken:
            self._woken = True
            os.write(self._wake_w, b"w")

    def _request(self, kind, arg, timeout, what):
        box = {"event": threading.Event()}
        self._post((kind, (arg, box)))
        if not box["event"].wait(timeout):
            reason = self._auth_error or "no answer within %.1f s" % timeout
            raise errors.ConnectError("%s to %s: %s" % (what, self.endpoint, reason))
        if "error" in box:
            raise box["error"]
        return box.get("reply")

    # --- the I/O thread -----------------------------------------------------------------------

    def _run(self):
        try:
            _IO(self).loop()
        except BaseException as e:  # a bug: fail every caller instead of hanging them
            log.exception("heddle client I/O thread failed")
            self._dead = errors.Closed("client I/O thread failed: %r" % (e,))
        finally:
            try:
                # Stop the monitor before its reader goes: libzmq sends monitor events with a
                # blocking send from its I/O thread, which waits for ever once the reader is
                # closed (docs/DECISIONS.md, "monitors").
                self._sock.disable_monitor()
                self._monitor.close(0)
                self._sock.close(0)
            except Exception:
                pass
            os.close(self._wake_r)


