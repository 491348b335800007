"""The heddle client: one DEALER to the broker's clients endpoint, owned by one I/O thread.

Callers (any thread) encode their tasks and hand them to the I/O thread through a deque and a
wake-up pipe; the I/O thread batches them into SUBMIT messages (packed by default), matches
RESULTs to futures or to map() streams, ACKs results in batches, pings while tasks are in flight
(so the broker resends results lost with a connection) and resends SUBMITs not ACCEPTED within
3 s (same id: the broker recognises it), as docs/PROTOCOL.md section 9 asks.
"""
import collections
import concurrent.futures
import logging
import os
import threading
import time
import weakref

import msgpack
import zmq
import zmq.utils.monitor

from . import _proto as P
from . import errors
from . import keys as K
from . import seal as _seal

log = logging.getLogger("heddle")

ACK_DELAY = 0.020       # ACKs wait at most this long ...
ACK_BATCH = 256         # ... or until this many are due
PING_EVERY = 1.0        # PING {resend} while tasks are in flight
RESUBMIT_AFTER = 3.0    # a SUBMIT not ACCEPTED by then is sent again
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


# --- futures ----------------------------------------------------------------------------------

class Future(concurrent.futures.Future):
    """One task's result: a concurrent.futures.Future (so concurrent.futures.wait and
    as_completed work on it) whose result() is the output bytes, or raises the typed exception
    of the task's status (heddle.Failed, heddle.Timeout, ...). `id` is the task id; once done,
    `node`, `ms` (run time on the worker) and `attempt` say where and how it ran. Callbacks run
    on the client's I/O thread: keep them short."""

    def __init__(self, client, task_id, fn):
        super().__init__()
        self.id = task_id
        self.fn = fn
        self.node = ""
        self.ms = 0
        self.attempt = 0
        self._client = client

    def cancel(self):
        """Ask the broker to cancel the task. True when asked (the task may still finish
        first: then its real result arrives); False when it is already done."""
        if self.done():
            return False
        self._client._post(("C", [self.id]))
        return True

    def cancelled(self):
        return self.done() and isinstance(self.exception(0), errors.Cancelled)

    def _settle(self, status, payload, env, reason=None, retry=0):
        self.node = env.get("node", "")
        self.ms = env.get("ms", 0)
        self.attempt = env.get("attempt", 0)
        if status == P.OK:
            self.set_result(payload)
        else:
            self.set_exception(errors.for_status(
                status, reason if reason is not None else env.get("error", ""), self.node,
                self.id, retry))


def as_completed(futures, timeout=None):
    """Yield the futures as they finish (concurrent.futures.as_completed)."""
    return concurrent.futures.as_completed(futures, timeout)


def wait(futures, timeout=None, return_when=concurrent.futures.ALL_COMPLETED):
    return concurrent.futures.wait(futures, timeout, return_when)


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
        self.session = session or "c-" + os.urandom(8).hex()
        # Sealed payloads (docs/PROTOCOL.md section 14): on for a TCP broker when keys_dir
        # holds payload.cert, unless plain_payloads (default $HEDDLE_PLAIN_PAYLOADS).
        self._sealer = None if insecure else _seal.client_sender(
            endpoint, keys_dir, cert, self.session, plain_payloads)
        self.sealed = self._sealer is not None
        self._keys_dir = keys_dir
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
        sock.setsockopt(zmq.ROUTING_ID, self.session.encode())
        if not insecure and endpoint.startswith("tcp://"):
            public, secret = cert
            sock.curve_publickey = public.encode()
            sock.curve_secretkey = secret.encode()
            sock.curve_serverkey = server_key.encode()
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

    def close(self):
        """Stop: tasks still in flight are cancelled (unless the session is named, to be
        resumed), their futures fail with heddle.Closed, an embedded cluster is stopped."""
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
                self._monitor.close(0)
                self._sock.close(0)
            except Exception:
                pass
            os.close(self._wake_r)


class _IO:
    """State owned by the I/O thread."""

    def __init__(self, client):
        self.c = client
        self.sock = client._sock
        self.inflight = {}       # id -> Future or (stream, seq)
        self.unaccepted = {}     # id -> [env, payload, t_sent]
        self.acks = []
        self.acks_since = 0.0
        self.last_ping = 0.0
        self.backlog = collections.deque()
        self.waiters = {"P": [], "N": [], "A": [], "F": []}
        self.inflight.update(client.adopted)
        self.stop = False
        self.touched = set()

    def loop(self):
        c = self.c
        poller = zmq.Poller()
        poller.register(self.sock, zmq.POLLIN)
        poller.register(c._monitor, zmq.POLLIN)
        poller.register(c._wake_r, zmq.POLLIN)
        while not self.stop:
            timeout = self._timeout()
            events = dict(poller.poll(timeout))
            if c._wake_r in events:
                try:
                    os.read(c._wake_r, 4096)
                except BlockingIOError:
                    pass
                c._woken = False
            if c._monitor in events:
                self._on_monitor()
            if self.sock in events:
                self._receive()
            self._drain_ops()
            self._timers()
        self._shutdown()

    def _timeout(self):
        if self.backlog or self.c._out:
            return 0
        now = time.monotonic()
        t = None
        if self.inflight:
            t = max(0.0, self.last_ping + PING_EVERY - now)
        if self.acks:
            due = max(0.0, self.acks_since + ACK_DELAY - now)
            t = due if t is None else min(t, due)
        return None if t is None else int(t * 1000) + 1

    # --- sending -----------------------------------------------------------------------------

    def _send(self, msg):
        if self.backlog:
            self.backlog.append(msg)
            return
        try:
            self.sock.send_multipart(msg, zmq.NOBLOCK)
        except zmq.Again:
            self.backlog.append(msg)

    def _flush_backlog(self):
        while self.backlog:
            try:
                self.sock.send_multipart(self.backlog[0], zmq.NOBLOCK)
            except zmq.Again:
                return
            self.backlog.popleft()

    def _send_acks(self):
        acks = self.acks
        for i in range(0, len(acks), P.MAX_BATCH):
            self._send([P.HEADERS[P.ACK], P.ids_env(acks[i:i + P.MAX_BATCH])])
        self.acks = []

    def _drain_ops(self):
        out = self.c._out
        if not out:
            return
        batch = P.Batcher(P.SUBMIT, self.c.pack)
        inflight = self.inflight
        unaccepted = self.unaccepted
        now = time.monotonic()
        n = 0
        popleft = out.popleft
        while out:
            op = popleft()
            if len(op) == 5:
                tid, env, payload, sink, seq = op
                inflight[tid] = sink if sink.__class__ is Future else (sink, seq)
                unaccepted[tid] = [env, payload, now]
                batch.add(env, payload)
                n += 1
            else:
                self._control(*op)
        if n:
            if self.acks:
                self._send_acks()
            self.c.stats["submitted"] += n
            for msg in batch.messages():
                self._send(msg)
            if not self.last_ping:
                self.last_ping = now

    def _control(self, kind, arg):
        if kind == "C":
            self._send([P.HEADERS[P.CANCEL], P.ids_env(arg)])
        elif kind == "P":
            self.waiters["P"].append(arg[1])
            self._send([P.HEADERS[P.PING], P.pack({})])
        elif kind == "N":
            self.waiters["N"].append(arg[1])
            self._send([P.HEADERS[P.NODES], P.pack({})])
        elif kind == "F":
            self.waiters["F"].append(arg[1])
            self._send([P.HEADERS[P.FUNCTIONS], P.pack({})])
        elif kind == "A":
            req, box = arg
            self.waiters["A"].append(box)
            env = {"op": req[0], "node": req[1]}
            if len(req) > 2:
                env["grant"] = req[2]
            self._send([P.HEADERS[P.ADMIN], P.pack(env)])
        elif kind == "X":
            self.stop = True

    def _timers(self):
        self._flush_backlog()
        now = time.monotonic()
        if self.acks and (len(self.acks) >= ACK_BATCH or now - self.acks_since >= ACK_DELAY):
            self._send_acks()
        if self.inflight and now - self.last_ping >= PING_EVERY:
            self.last_ping = now
            self._send([P.HEADERS[P.PING], b"\x81\xa6resend\xc3"])
            self._resubmit(now)

    def _resubmit(self, now):
        batch = P.Batcher(P.SUBMIT, self.c.pack)
        n = 0
        for entry in self.unaccepted.values():
            if now - entry[2] >= RESUBMIT_AFTER:
                batch.add(entry[0], entry[1])
                entry[2] = now
                n += 1
        if n:
            self.c.stats["resubmitted"] += n
            for msg in batch.messages():
                self._send(msg)

    # --- receiving ---------------------------------------------------------------------------

    def _receive(self):
        sock = self.sock
        for _ in range(1024):
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            if len(frames) < 2:
                continue
            hdr = P.parse_header(frames[0])
            if hdr is None:
                continue
            cmd = hdr[1]
            if cmd == P.RESULT:
                self._on_results(frames)
            elif cmd == P.ACCEPTED:
                env = P.unpack_env(frames[1])
                if env:
                    for tid in env.get("ids", ()):
                        self.unaccepted.pop(tid, None)
            elif cmd == P.REJECTED:
                self._on_rejected(frames[1])
            elif cmd == P.PONG:
                self._answer("P", None)
            elif cmd == P.NODES_REPLY or cmd == P.FUNCTIONS_REPLY:
                env = P.unpack_env(frames[1]) or {}
                self._answer("N" if cmd == P.NODES_REPLY else "F", env)
            elif cmd == P.NOTICE:
                env = P.unpack_env(frames[1]) or {}
                self.c.notices.append(env)
                log.info("broker: %s", env.get("reason") or env)
        touched = self.touched
        if touched:
            for stream in touched:
                with stream.cond:
                    stream.cond.notify()
            touched.clear()
        if self.acks and not self.acks_since:
            self.acks_since = time.monotonic()

    def _answer(self, kind, reply, error=None):
        if self.waiters[kind]:
            box = self.waiters[kind].pop(0)
            box["reply"] = reply
            if error is not None:
                box["error"] = error
            box["event"].set()

    def _on_results(self, frames):
        inflight = self.inflight
        unaccepted = self.unaccepted
        acks = self.acks
        unpackb = msgpack.unpackb
        sealer = self.c._sealer
        n = 0
        for env_bytes, payload in P.pairs(frames):
            try:
                env = unpackb(env_bytes, raw=False)
                tid = env["id"]
                status = env["status"]
            except Exception:
                continue
            if not acks:
                self.acks_since = time.monotonic()
            acks.append(tid)
            sink = inflight.pop(tid, None)
            if sink is None:
                self.c.stats["duplicates"] += 1
                continue
            unaccepted.pop(tid, None)
            n += 1
            reason = None
            if sealer is not None:
                status, payload, reason = _seal.verify_result(sealer, tid, status, payload)
                if reason is not None:
                    self.c.stats["tampered"] += 1
            self._deliver(sink, status, payload, env, reason)
        self.c.stats["results"] += n

    def _deliver(self, sink, status, payload, env, reason, retry=0):
        if sink.__class__ is tuple:
            stream, seq = sink
            stream.ready.append((seq, status, payload, env, reason))
            self.touched.add(stream)
        else:
            sink._settle(status, payload, env, reason, retry)

    def _on_rejected(self, frame):
        env = P.unpack_env(frame) or {}
        code = env.get("code", P.INTERNAL)
        reason = env.get("reason", "")
        tid = env.get("id")
        if tid is not None:
            if self._retry_later(tid, code, env.get("retry", 0)):
                return
            sink = self.inflight.pop(tid, None)
            self.unaccepted.pop(tid, None)
            if sink is not None:
                self._deliver(sink, code, b"", {"id": tid}, reason, env.get("retry", 0))
            return
        if self.waiters["A"]:
            self._answer("A", (code, reason))
            return
        log.warning("broker rejected a message: %s (%s)", reason, P.status_name(code))
        if code == P.VERSION_ERR:
            for kind in ("P", "N"):
                while self.waiters[kind]:
                    self._answer(kind, None, errors.VersionMismatch(reason))

    def _retry_later(self, tid, code, retry_ms):
        """A task refused BUSY or STORAGE with a retry hint is sent again (same id) after that
        long, for up to retry_busy seconds after its first refusal (as the C library does)."""
        if code not in (P.BUSY, P.STORAGE) or not retry_ms or not self.c.retry_busy:
            return False
        entry = self.unaccepted.get(tid)
        if entry is None or tid not in self.inflight:
            return False
        now = time.monotonic()
        if len(entry) < 4:
            entry.append(now)
        elif now - entry[3] > self.c.retry_busy:
            return False
        entry[2] = now + retry_ms / 1000.0 - RESUBMIT_AFTER  # the resubmit timer sends it
        self.c.stats["retried"] += 1
        return True

    def _on_monitor(self):
        try:
            while True:
                event = zmq.utils.monitor.recv_monitor_message(self.c._monitor, zmq.NOBLOCK)
                ev = event["event"]
                if ev == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                    self.c._auth_error = ("the broker refused this client's key (it is not on "
                                          "the broker's clients.keys or admins.keys)")
                else:
                    self.c._auth_error = ("CURVE handshake failed: wrong broker key, or the "
                                          "broker runs --insecure?")
                log.warning("%s: %s (event %s value %s)", self.c.endpoint, self.c._auth_error, ev, event.get("value"))
        except zmq.Again:
            pass

    def _shutdown(self):
        c = self.c
        # What callers posted before close() still goes out (CANCELs in particular).
        while c._out:
            op = c._out.popleft()
            if len(op) != 5:
                self._control(*op)
        if self.inflight and not c._named_session:
            ids = list(self.inflight)
            for i in range(0, len(ids), P.MAX_BATCH):
                self._send([P.HEADERS[P.CANCEL], P.ids_env(ids[i:i + P.MAX_BATCH])])
        if self.acks:
            self._send_acks()
        self._flush_backlog()
        c._dead = errors.Closed("the client is closed")
        for sink in list(self.inflight.values()):
            self._deliver(sink, P.CLOSED, b"", {}, "the client was closed before its result came")
        for stream in self.touched:
            with stream.cond:
                stream.cond.notify()
        for kind, boxes in self.waiters.items():
            for box in boxes:
                box["error"] = c._dead
                box["event"].set()
        # Let the last messages leave before the socket closes (LINGER is 0).
        deadline = time.monotonic() + 0.2
        while self.backlog and time.monotonic() < deadline:
            time.sleep(0.005)
            self._flush_backlog()
        time.sleep(0.01)
