"""heddle workers in Python: task functions written as `bytes -> bytes` Python functions, served
to a heddle broker on the same wire protocol as heddle-worker (docs/PROTOCOL.md section 9).

    import heddle
    worker = heddle.Worker()                    # broker and keys as heddle-worker finds them
    @worker.function("resize")
    def resize(data: bytes) -> bytes: ...
    worker.run()

or `python3 -m heddle.worker --module mytasks` (docs/PYTHON.md).
"""
import logging
import os
import platform
import signal
import socket
import threading
import time

import zmq
import zmq.utils.monitor

from .. import _proto as P
from .. import keys as K
from .. import seal as _seal
from ._slots import ProcessSlots, ThreadSlots, TaskContext, current_task

__all__ = ["Worker", "WorkerError", "TaskContext", "current_task"]
from . import _system

log = logging.getLogger("heddle.worker")

QUEUE_PER_SLOT = 257  # as heddle-worker: a deep queue lets the broker batch short tasks


class WorkerError(RuntimeError):
    pass


def _default_state_dir():
    d = "/var/lib/heddle"
    if os.access(d, os.W_OK) or (not os.path.exists(d) and os.access("/var/lib", os.W_OK)):
        return d
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local",
                                                            "state")
    return os.path.join(base, "heddle")


class Worker:
    """A worker node. broker: the workers endpoint (tcp://host:7701, host:port or host); None:
    $HEDDLE_WORKER_BROKER, else the [worker] section of the config file, else the discovery
    beacon. keys: a directory holding worker.cert_secret and broker.cert (default $HEDDLE_KEYS);
    without worker.cert_secret the worker makes its own key pair in state_dir on first start
    and waits until an admin approves it (`heddle nodes approve KEY`). slots: tasks at once
    (default: cores); mode: "process" (default; CPU-bound Python, killable at deadlines and on
    cancel) or "thread"."""

    def __init__(self, broker=None, keys=None, *, name=None, slots=None, mode="process",
                 tags=(), cert=None, broker_key=None, broker_fingerprint=None, state_dir=None,
                 insecure=False, cluster="heddle", beacon_port=7709, discover_timeout=None,
                 metrics_interval=1.0, misses=5, capacity=None, work_dir="."):
        conf = K.read_config_section("worker")
        self.broker = broker or os.environ.get("HEDDLE_WORKER_BROKER") or conf.get("broker")
        self.keys = keys or os.environ.get("HEDDLE_KEYS") or conf.get("keys")
        self.name = P.check_name(name or socket.gethostname().split(".")[0] + "-py", "name")
        self.slots = int(slots or _system.cores())
        if mode not in ("process", "thread"):
            raise ValueError("mode: 'process' or 'thread'")
        self.mode = mode
        self.tags = [P.check_name(t, "tag") for t in tags]
        self.cert = cert
        self.broker_key = broker_key
        self.fingerprint = K.parse_fingerprint(broker_fingerprint) if broker_fingerprint else None
        self.state_dir = state_dir or _default_state_dir()
        self.insecure = insecure
        self.cluster = cluster
        self.beacon_port = beacon_port
        self.discover_timeout = discover_timeout
        self.metrics_interval = float(metrics_interval)
        self.misses = int(misses)
        self.capacity = capacity
        self.work_dir = work_dir
        self.functions = {}
        self.queue = min(P.MAX_BATCH, max(self.slots, self.slots * QUEUE_PER_SLOT))
        self.stats = {"done": 0, "failed": 0}
        self._stop = threading.Event()
        self._thread = None

    # --- registering functions ------------------------------------------------------------------

    def function(self, name=None):
        """Decorator: offer a Python function `bytes -> bytes` (str is encoded, None is empty)
        under `name` (default: its own name). An exception is the task's FAILED result."""
        def register(fn):
            self.add(name or fn.__name__, fn)
            return fn
        if callable(name):
            fn, name = name, None
            return register(fn)
        return register

    def add(self, name, fn):
        P.check_fn(name)
        if len(self.functions) >= P.MAX_FNS and name not in self.functions:
            raise ValueError("at most %d functions per worker" % P.MAX_FNS)
        self.functions[name] = fn

    def add_module(self, module):
        """Offer every function a module lists in HEDDLE_FUNCTIONS ({name: fn} or [fn]), else
        every public function defined in it (the `--module` of python3 -m heddle.worker)."""
        table = getattr(module, "HEDDLE_FUNCTIONS", None)
        if isinstance(table, dict):
            items = table.items()
        elif table is not None:
            items = ((f.__name__, f) for f in table)
        else:
            items = ((n, f) for n, f in vars(module).items()
                     if callable(f) and not n.startswith("_") and not isinstance(f, type)
                     and getattr(f, "__module__", None) == module.__name__)
        for n, f in items:
            self.add(n, f)

    # --- running --------------------------------------------------------------------------------

    def run(self):
        """Serve tasks until stop() (or SIGTERM/SIGINT when run on the main thread)."""
        if not self.functions:
            raise WorkerError("no functions: register some with @worker.function()")
        # Slot processes are forked before any ZeroMQ socket exists in this process.
        slots = (ProcessSlots if self.mode == "process" else ThreadSlots)(self.functions,
                                                                          self.slots)
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: self._stop.set())
        try:
            if self.capacity is None:
                self.capacity = _system.score()
            _Session(self, slots).run()
        finally:
            slots.close()

    def start(self):
        """run() on a background thread; returns at once."""
        self._thread = threading.Thread(target=self.run, name="heddle-worker", daemon=True)
        self._thread.start()
        return self

    def stop(self, wait=True):
        self._stop.set()
        if wait and self._thread is not None:
            self._thread.join()

    # --- keys and the broker's address --------------------------------------------------------

    def _own_key(self):
        """(public, secret, uses_state_dir)."""
        if self.cert:
            return K.load_secret(self.cert) + (False,)
        if self.keys and os.path.exists(os.path.join(self.keys, "worker.cert_secret")):
            return K.load_secret(os.path.join(self.keys, "worker.cert_secret")) + (False,)
        public, secret, made = K.load_or_make(self.state_dir, "worker", "worker")
        if made:
            log.warning("made a new key pair in %s; public key %s: an admin enrolls it with "
                        "`heddle nodes approve %s`", self.state_dir, public, public[:8])
        return public, secret, True

    def _expected_broker_key(self, own_state):
        if self.broker_key:
            return K.load_public(self.broker_key)
        if self.keys and os.path.exists(os.path.join(self.keys, "broker.cert")):
            return K.read_cert(os.path.join(self.keys, "broker.cert"))["public-key"]
        return K.read_pin(self.state_dir) if own_state else None

    def _resolve(self):
        """(endpoint, own public, own secret, broker key or None)."""
        public = secret = None
        own_state = False
        if not self.insecure:
            public, secret, own_state = self._own_key()
        want = None if self.insecure else self._expected_broker_key(own_state)
        endpoint = K.endpoint(self.broker, 7701) if self.broker and self.broker != "auto" else None
        if endpoint is None:
            endpoint, want = self._discover(want)
        if not self.insecure:
            if want is None:
                raise WorkerError("no broker key (broker_key=KEY, keys=DIR holding broker.cert), "
                                  "or run with insecure=True")
            if self.fingerprint and K.fingerprint(want) != self.fingerprint:
                raise WorkerError("the broker key %s has fingerprint %s, not %s: refusing it"
                                  % (want, K.fingerprint(want), self.fingerprint))
            if own_state:
                K.pin(self.state_dir, want)
        return endpoint, public, secret, want

    def _discover(self, want):
        def accept(key):
            if self.insecure:
                return None if key is None else "it runs CURVE and this worker is insecure"
            if key is None:
                return "it runs --insecure"
            if self.fingerprint and K.fingerprint(key) != self.fingerprint:
                return "its key's fingerprint is not %s" % self.fingerprint
            if want and key != want:
                return "its key is not the configured or pinned one (%s)" % want
            return None
        log.info("looking for a broker of cluster '%s' (UDP %d)", self.cluster, self.beacon_port)
        endpoint, key = _system.listen_beacon(self.cluster, self.beacon_port, accept,
                                              self.discover_timeout, log.warning)
        if endpoint is None:
            raise WorkerError("no broker of cluster '%s' found within %s s"
                              % (self.cluster, self.discover_timeout))
        log.info("found the broker at %s", endpoint)
        return endpoint, key


class _Session:
    """The conversation with the broker (docs/PROTOCOL.md section 9, Worker)."""

    def __init__(self, worker, slots):
        self.w = worker
        self.slots = slots
        self.ctx = zmq.Context()
        self.sock = None
        self.monitor = None
        self.pub = None
        self.welcomed = False
        self.hb = 1.0
        self.maxpay = P.DEFAULT_MAX_PAYLOAD
        self.pack = False
        self.leases = {}          # key -> (id, attempt) of tasks held here
        self.keyseq = 0
        self.last_sent = self.last_heard = time.monotonic()
        self.backoff = 0.25
        self.retry_at = 0.0
        self.said_pending = False
        self.seq = 0
        self.sampler = _system.Sampler(worker.work_dir)
        self.next_metrics = 0.0
        self.done_buf = []
        # Sealed tasks (heddle.seal): payload secret keys, and the job key of each sealed lease.
        self.ring = _seal.worker_keyring(worker.keys, worker.state_dir, log.warning)
        self.jobkeys = {}
        if len(self.ring):
            log.info("%d payload key(s): sealed tasks are opened here (%s)", len(self.ring),
                     self.ring.tags()[0])

    # --- connection ----------------------------------------------------------------------------

    def run(self):
        w = self.w
        self.endpoint, self.public, self.secret, self.server_key = w._resolve()
        self._connect()
        poller = zmq.Poller()
        for fd in self.slots.fds():
            poller.register(fd, zmq.POLLIN)
        registered = set(self.slots.fds())
        try:
            while not w._stop.is_set():
                self._register(poller, registered)
                events = dict(poller.poll(self._timeout()))
                now = time.monotonic()
                if self.monitor is not None and self.monitor in events:
                    self._on_monitor()
                if self.sock is not None and self.sock in events:
                    self._receive()
                for fd in list(registered):
                    if fd in events:
                        self._results(self.slots.collect(fd))
                self._results(self.slots.expired(now))
                self._flush_done()
                self._timers(now)
        finally:
            self._flush_done()
            if self.sock is not None and self.welcomed:
                self._send([P.HEADERS[P.BYE], b"\x80"])
            self._close_socket()
            if self.pub is not None:
                self.pub.close(0)
            self.ctx.term()

    def _register(self, poller, registered):
        fds = set(self.slots.fds())  # a replaced slot process has a new pipe
        for fd in registered - fds:
            poller.unregister(fd)
        for fd in fds - registered:
            poller.register(fd, zmq.POLLIN)
        registered.clear()
        registered.update(fds)
        for s in (self.sock, self.monitor):
            if s is not None and s not in poller._map:
                poller.register(s, zmq.POLLIN)
        for s in list(poller._map):
            if isinstance(s, zmq.Socket) and s not in (self.sock, self.monitor):
                poller.unregister(s)

    def _connect(self):
        s = self.ctx.socket(zmq.DEALER)
        s.linger = 0
        s.sndhwm = s.rcvhwm = 100000
        if not self.w.insecure and self.endpoint.startswith("tcp://"):
            s.curve_publickey = self.public.encode()
            s.curve_secretkey = self.secret.encode()
            s.curve_serverkey = self.server_key.encode()
        self.monitor = s.get_monitor_socket(zmq.EVENT_HANDSHAKE_FAILED_AUTH
                                            | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
                                            | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
                                            | zmq.EVENT_HANDSHAKE_SUCCEEDED)
        s.connect(self.endpoint)
        self.sock = s
        self.welcomed = False
        self.last_heard = time.monotonic()
        self._hello()

    def _close_socket(self):
        if self.monitor is not None:
            try:
                self.sock.disable_monitor()
            except zmq.ZMQError:
                pass
            self.monitor.close(0)
            self.monitor = None
        if self.sock is not None:
            self.sock.close(0)
            self.sock = None

    def _reconnect(self, delay):
        self._close_socket()
        self.retry_at = time.monotonic() + delay

    def _hello(self):
        w = self.w
        env = {"name": w.name, "slots": w.slots, "queue": w.queue, "cores": _system.cores(),
               "arch": platform.machine()[:63], "fns": sorted(w.functions), "pack": True}
        tags = _seal.hello_tags(w.tags, self.ring)
        if tags:
            env["tags"] = tags
        if w.capacity:
            env["score"] = float(w.capacity)
        self._send([P.HEADERS[P.HELLO], P.pack(env)])

    def _send(self, msg):
        if self.sock is None:
            return False
        try:
            self.sock.send_multipart(msg, zmq.NOBLOCK)
        except zmq.Again:
            return False
        self.last_sent = time.monotonic()
        return True

    def _on_monitor(self):
        try:
            while True:
                ev = zmq.utils.monitor.recv_monitor_message(self.monitor, zmq.NOBLOCK)["event"]
                if ev == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                    self.backoff = 0.25
                    continue
                if ev == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                    if not self.said_pending:
                        log.warning("the broker refused this worker's key %s: waiting for an "
                                    "admin to approve it (`heddle nodes approve %s`)",
                                    self.public, (self.public or "")[:8])
                        self.said_pending = True
                else:
                    log.error("CURVE handshake with %s failed: wrong broker key, or the broker "
                              "runs --insecure? (retrying)", self.endpoint)
                # libzmq does not retry a connection ZAP refused: reconnect, 250 ms doubling to 4 s.
                self._reconnect(self.backoff)
                self.backoff = min(4.0, self.backoff * 2)
                return
        except (zmq.Again, zmq.ZMQError):
            pass

    # --- receiving -----------------------------------------------------------------------------

    def _receive(self):
        for _ in range(256):
            if self.sock is None:
                return
            try:
                frames = self.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            self.last_heard = time.monotonic()
            hdr = P.parse_header(frames[0]) if frames else None
            if hdr is None or len(frames) < 2:
                continue
            cmd = hdr[1]
            if cmd == P.TASK:
                self._on_tasks(frames)
            elif cmd == P.WELCOME:
                self._on_welcome(P.unpack_env(frames[1]) or {})
            elif cmd == P.ABORT:
                env = P.unpack_env(frames[1]) or {}
                self._on_abort(env.get("ids", ()))
            elif cmd == P.ERROR:
                self._on_error(P.unpack_env(frames[1]) or {})
            elif cmd == P.DRAIN:
                env = P.unpack_env(frames[1]) or {}
                log.info("broker: drain %s", "on" if env.get("on") else "off")

    def _on_welcome(self, env):
        self.welcomed = True
        self.said_pending = False
        self.hb = max(0.05, env.get("hb", 1000) / 1000.0)
        self.maxpay = env.get("maxpay") or P.DEFAULT_MAX_PAYLOAD
        self.pack = bool(env.get("pack"))
        log.info("joined %s as %s (%d slots, %s)", self.endpoint, self.w.name, self.w.slots,
                 self.w.mode)
        if env.get("grants") and not self.w.insecure and _seal.take_grants(
                self.ring, env["grants"], self.public, self.secret, self.w.state_dir,
                log.warning):
            log.info("payload key(s) granted: sealed tasks are opened here")
            self._hello()  # the new seal- tags: sealed tasks may now come here
        mport = env.get("mport")
        if self.pub is not None:
            self.pub.close(0)
            self.pub = None
        if mport:
            host = self.endpoint.rsplit(":", 1)[0]
            pub = self.ctx.socket(zmq.PUB)
            pub.linger = 0
            if not self.w.insecure and self.endpoint.startswith("tcp://"):
                pub.curve_publickey = self.public.encode()
                pub.curve_secretkey = self.secret.encode()
                pub.curve_serverkey = self.server_key.encode()
            pub.connect("%s:%d" % (host, mport))
            self.pub = pub
            self.next_metrics = 0.0

    def _on_error(self, env):
        code, reason = env.get("code"), env.get("reason", "")
        if code == P.DENIED and "pending" in reason:
            if not self.said_pending:
                log.warning("broker: %s: waiting for `heddle nodes approve %s`", reason,
                            (self.public or "")[:8])
                self.said_pending = True
            self._reconnect(5.0)
        elif code == P.DENIED:
            self.welcomed = False
            self._hello()  # "unknown worker: send HELLO" (a broker restart, or we were lost)
        else:
            log.warning("broker error: %s (%s)", reason, P.status_name(code))

    def _on_tasks(self, frames):
        held = len(self.leases)
        accepted = []
        for env_bytes, payload in P.pairs(frames):
            env = P.unpack_env(env_bytes)
            if env is None or "id" not in env:
                continue
            tid, attempt, fn = env["id"], env.get("attempt", 0), env.get("fn", "")
            if fn not in self.w.functions:
                self.done_buf.append((tid, attempt, P.UNKNOWN_FN, b"",
                                      "this worker has no function '%s'" % fn, 0))
                continue
            if held >= self.w.queue:
                self.done_buf.append((tid, attempt, P.BUSY, b"", "queue full", 0))
                continue
            jobkey = None
            if env.get("seal"):
                status, payload, jobkey, error = _seal.open_for_run(self.ring, tid, fn,
                                                                    env["seal"], payload)
                if status != P.OK:
                    self.done_buf.append((tid, attempt, status, b"", error, 0))
                    continue
            self.keyseq += 1
            key = self.keyseq
            if jobkey is not None:
                self.jobkeys[key] = jobkey
            self.leases[key] = (tid, attempt)
            held += 1
            accepted.append((key, fn, payload, env.get("timeout", 0)))
        if accepted:
            self.slots.submit(accepted)

    def _on_abort(self, ids):
        wanted = set(ids)
        for key, (tid, _) in list(self.leases.items()):
            if tid in wanted:
                self._results(self.slots.cancel(key))

    # --- results -------------------------------------------------------------------------------

    def _results(self, results):
        for key, status, out, error, ms in results:
            lease = self.leases.pop(key, None)
            jobkey = self.jobkeys.pop(key, None)
            if lease is None:
                continue
            if status == P.OK and len(out) > self.maxpay:
                status, out, error = P.TOO_LARGE, b"", "output of %d bytes is over the broker's " \
                    "limit of %d" % (len(out), self.maxpay)
            if jobkey is not None:  # every result of a sealed task is sealed, even an empty one
                out = _seal.seal_result(jobkey, lease[0], status,
                                        out if status in (P.OK, P.FAILED) else b"")
            if status == P.OK:
                self.w.stats["done"] += 1
            else:
                self.w.stats["failed"] += 1
            self.done_buf.append((lease[0], lease[1], status, out, error, ms))

    def _flush_done(self):
        if not self.done_buf or self.sock is None or not self.welcomed:
            return
        batch = P.Batcher(P.DONE, self.pack)
        name = self.w.name
        for tid, attempt, status, out, error, ms in self.done_buf:
            env = {"id": tid, "attempt": attempt, "status": status, "node": name}
            if error:
                env["error"] = error
            if ms:
                env["ms"] = ms
            batch.add(P.pack(env), out)
        self.done_buf = []
        for msg in batch.messages():
            self._send(msg)

    # --- timers --------------------------------------------------------------------------------

    def _timeout(self):
        if self.done_buf and self.welcomed:
            return 0
        t = 0.25 if self.leases else 1.0
        return int(min(t, self.hb / 2) * 1000)

    def _timers(self, now):
        if self.sock is None:
            if now >= self.retry_at:
                self._connect()
            return
        if self.welcomed and now - self.last_sent >= self.hb:
            self._send([P.HEADERS[P.HEARTBEAT], b"\x80"])
        if now - self.last_heard > self.w.misses * self.hb:
            log.warning("broker at %s silent for %d ms: reconnecting", self.endpoint,
                        (now - self.last_heard) * 1000)
            self._reconnect(0)
            return
        if self.pub is not None and now >= self.next_metrics:
            self.next_metrics = now + self.w.metrics_interval
            self._publish()

    def _publish(self):
        w = self.w
        self.seq += 1
        env = {"name": w.name, "seq": self.seq, "slots": w.slots, "busy": self.slots.busy(),
               "interval": int(w.metrics_interval * 1000), "done": w.stats["done"],
               "failed": w.stats["failed"]}
        if w.capacity:
            env["score"] = float(w.capacity)
        env.update(self.sampler.sample())
        try:
            self.pub.send_multipart([P.HEADERS[P.METRICS], P.pack(env)], zmq.NOBLOCK)
        except zmq.Again:
            pass
