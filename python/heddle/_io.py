"""The client's I/O thread: owns the DEALER socket, batches SUBMITs, matches RESULTs to futures
and map() streams, ACKs, pings, resends and resubmits (docs/PROTOCOL.md section 9)."""
import collections
import logging
import os
import time

import msgpack
import zmq
import zmq.utils.monitor

from . import _proto as P
from . import errors
from . import seal as _seal
from .futures import Future

log = logging.getLogger("heddle")

ACK_DELAY = 0.020       # ACKs wait at most this long ...
ACK_BATCH = 256         # ... or until this many are due
PING_EVERY = 1.0        # PING {resend} while tasks are in flight
RESUBMIT_AFTER = 3.0    # a SUBMIT not ACCEPTED by then is sent again


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
