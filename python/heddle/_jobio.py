"""The I/O of detached jobs (heddle.jobs): a connection of a Job's own (_Channel), the SUBMIT
loop on the job's session (_Submit), and the JOB_FETCH reader (JobResults). Each is used by one
thread at a time."""
import collections
import logging
import random
import threading
import time

import zmq

from . import _proto as P
from . import errors
from . import seal as _seal

log = logging.getLogger("heddle")

RESUBMIT_AFTER = 3.0       # a SUBMIT not ACCEPTED by then is sent again (same id)
OPEN_RESEND = 3.0          # a JOB_OPEN not answered by then is sent again (idempotent)
SUBMIT_WINDOW = 4096       # tasks sent and not yet ACCEPTED, at most ...
SUBMIT_WINDOW_BYTES = 64 << 20  # ... and their payload bytes
FETCH_BYTES = 1 << 20      # JOB_FETCH max
FETCH_WAIT_MS = 2000       # long poll (short: a request lost with a broker restart is
REQUEST_SLACK = 3.0        # sent again after this much more, on a new connection)


# --- a connection of one's own ------------------------------------------------------------------

class _Channel:
    """A DEALER to the broker's clients endpoint with the client's key and a routing id (the
    session) of its own, used by one thread at a time (callers hold `lock`). request() sends one
    command and waits for its answer; a request that times out closes the connection (so a late
    answer cannot be taken for the next request's) and a new one is made at the next use."""

    def __init__(self, client, session):
        self.client = client
        self.session = session
        self.lock = threading.RLock()
        self.sock = None
        self.poller = None

    def socket(self):
        if self.sock is None:
            c = self.client
            s = zmq.Context.instance().socket(zmq.DEALER)
            s.setsockopt(zmq.LINGER, 0)
            s.setsockopt(zmq.SNDHWM, 100000)
            s.setsockopt(zmq.RCVHWM, 100000)
            P.claim_session(s, self.session)
            if c._curve is not None:
                s.curve_publickey, s.curve_secretkey, s.curve_serverkey = c._curve
            s.connect(c.endpoint)
            self.sock = s
            self.poller = zmq.Poller()
            self.poller.register(s, zmq.POLLIN)
        return self.sock

    def send(self, msg):
        self.socket().send_multipart(msg)

    def recv(self, timeout):
        """The next message (list of frames, header parsed) or None after timeout seconds."""
        sock = self.socket()
        if not self.poller.poll(max(0, int(timeout * 1000))):
            return None
        frames = sock.recv_multipart()
        if len(frames) < 2:
            return None
        hdr = P.parse_header(frames[0])
        if hdr is None:
            return None
        return hdr[1], frames

    def request(self, cmd, env, want, timeout, what):
        """Send cmd {env}; return (env, frames) of the answer `want`. A REJECTED without id
        raises its typed error (BUSY and STORAGE with a retry hint are sent again after it, for
        up to the client's retry_busy seconds); no answer within timeout: ConnectError."""
        msg = [P.HEADERS[cmd], P.pack(env)]
        self.send(msg)
        deadline = time.monotonic() + timeout
        first_refused = None
        while True:
            got = self.recv(deadline - time.monotonic())
            if got is None:
                if time.monotonic() >= deadline:
                    self.reset()
                    raise errors.ConnectError("%s to %s: no answer within %.1f s"
                                              % (what, self.client.endpoint, timeout))
                continue
            code, frames = got
            if code == want:
                reply = P.unpack_env(frames[1])
                if reply is None:
                    raise errors.Malformed("%s: the broker's answer does not decode" % what)
                return reply, frames
            if code == P.REJECTED:
                rej = P.unpack_env(frames[1]) or {}
                if rej.get("id") is not None:
                    continue
                code, retry = rej.get("code", P.INTERNAL), rej.get("retry", 0)
                now = time.monotonic()
                first_refused = first_refused or now
                if (code in (P.BUSY, P.STORAGE) and retry
                        and now - first_refused < self.client.retry_busy):
                    self.client.stats["retried"] += 1
                    time.sleep(min(retry / 1000.0, 5.0))  # e.g. too many JOB_OPENs a second
                    self.send(msg)
                    deadline = time.monotonic() + timeout
                    continue
                raise errors.for_status(code, rej.get("reason", ""), retry=retry)
            elif code == P.NOTICE:
                self.client.notices.append(P.unpack_env(frames[1]) or {})
            # anything else (a late ACCEPTED, ...) is not this request's answer

    def reset(self):
        if self.sock is not None:
            self.sock.close(0)
            self.sock = None
            self.poller = None

    def close(self):
        with self.lock:
            self.reset()


def _close_channels(channels):
    for ch in channels:
        try:
            ch.reset()
        except Exception:
            pass


class _Submit:
    """The SUBMIT loop of one Job.submit() on the job's session: at most SUBMIT_WINDOW tasks
    (SUBMIT_WINDOW_BYTES) not yet ACCEPTED; a SUBMIT not ACCEPTED within 3 s is sent again
    (a broker restart loses nothing); BUSY/STORAGE with a retry hint are sent again after it."""

    def __init__(self, job, tasks, retry_busy):
        self.job = job
        self.ch = job._session
        self.tasks = tasks
        self.retry_busy = retry_busy
        self.pack = job._client.pack
        self.pending = {}       # tid -> [index, env, payload, t_due, first_refused]
        self.pending_bytes = 0
        self.rejected = {}
        self.count = 0
        self.exhausted = False

    def loop(self):
        while True:
            self._fill()
            if not self.pending:
                return self.count, self.rejected
            got = self.ch.recv(0.25)
            while got is not None:
                self._on(*got)
                got = self.ch.recv(0)
            self._resend()

    def _fill(self):
        if self.exhausted:
            return
        batch = P.Batcher(P.SUBMIT, self.pack)
        now = time.monotonic()
        n = 0
        while len(self.pending) < SUBMIT_WINDOW and self.pending_bytes < SUBMIT_WINDOW_BYTES:
            try:
                index, tid, env, payload = next(self.tasks)
            except StopIteration:
                self.exhausted = True
                break
            if tid in self.pending:
                continue
            self.pending[tid] = [index, env, payload, now + RESUBMIT_AFTER, None]
            self.pending_bytes += len(payload)
            self.count += 1
            n += 1
            batch.add(env, payload)
        self.job.stats["submitted"] += n
        for msg in batch.messages():
            self.ch.send(msg)

    def _done(self, tid):
        entry = self.pending.pop(tid, None)
        if entry is not None:
            self.pending_bytes -= len(entry[2])
        return entry

    def _on(self, code, frames):
        if code == P.ACCEPTED:
            env = P.unpack_env(frames[1]) or {}
            for tid in env.get("ids", ()):
                self._done(tid)
        elif code == P.REJECTED:
            env = P.unpack_env(frames[1]) or {}
            status = env.get("code", P.INTERNAL)
            reason = env.get("reason", "")
            tid = env.get("id")
            if tid is None:  # the whole message: the session itself is refused
                raise errors.for_status(status, "job %s: %s" % (self.job.id, reason),
                                        retry=env.get("retry", 0))
            entry = self.pending.get(tid)
            if entry is None:
                return
            retry = env.get("retry", 0)
            now = time.monotonic()
            if status in (P.BUSY, P.STORAGE) and retry and self.retry_busy:
                if entry[4] is None:
                    entry[4] = now
                if now - entry[4] <= self.retry_busy:
                    entry[3] = now + retry / 1000.0
                    self.job.stats["retried"] += 1
                    return
            self._done(tid)
            e = errors.for_status(status, reason, task_id=tid, retry=retry)
            e.index = entry[0]
            self.rejected[entry[0]] = e
        elif code == P.NOTICE:
            self.job._client.notices.append(P.unpack_env(frames[1]) or {})

    def _resend(self):
        now = time.monotonic()
        batch = P.Batcher(P.SUBMIT, self.pack)
        n = 0
        for entry in self.pending.values():
            if entry[3] <= now:
                batch.add(entry[1], entry[2])
                entry[3] = now + RESUBMIT_AFTER
                n += 1
        if n:
            self.job.stats["resubmitted"] += n
            for msg in batch.messages():
                self.ch.send(msg)


# --- reading results ----------------------------------------------------------------------------

class JobResults:
    """The iterator Job.results() returns (see there). `info` is the job's JobInfo as of the
    last fetch; `stats` counts pairs read and duplicates dropped."""

    def __init__(self, job, ordered, wait, return_exceptions, indexed, timeout):
        self.job = job
        self._ordered = ordered
        self._wait = wait
        self._return_exceptions = return_exceptions
        self._indexed = indexed
        self._timeout = timeout
        self._sender = job._job_sender()
        self._cursor = 0
        self._size = None
        self._total = None
        self._seen = None       # bytearray, one bit per input index
        self._nseen = 0
        self._ready = collections.deque()  # (index, item): unordered, or ordered and due
        self._held = {}         # ordered: index -> item, ahead of its turn
        self._next = 0          # ordered: the next index to yield
        self._finished = False
        self.info = None
        self.stats = {"pairs": 0, "duplicates": 0, "foreign": 0, "truncated": 0}

    def __iter__(self):
        return self

    def __next__(self):
        while not self._ready:
            if self._finished:
                raise StopIteration
            if self._is_complete():
                self._finish()
            else:
                self._fetch()
        index, item = self._ready.popleft()
        value = self._value(index, item)
        return (index, value) if self._indexed else value

    def _value(self, index, item):
        status, payload, env, reason = item
        if status == P.OK:
            return payload
        exc = errors.for_status(status, reason if reason is not None else env.get("error", ""),
                                env.get("node", ""), env.get("id"))
        exc.index = index
        if self._return_exceptions:
            return exc
        raise exc

    def _is_complete(self):
        if self._size is None:
            return False
        if self._total is not None and self._nseen >= self._total:
            return True
        if self._cursor < self._size:
            return False  # more is stored: read it
        if not self._wait:
            return True
        info = self.info
        if info.state == "cancelled" and info.queued + info.running == 0:
            return True
        return info.state == "done"

    def _finish(self):
        self._finished = True
        for index in sorted(self._held):
            self._ready.append((index, self._held[index]))
        self._held.clear()

    def _fetch(self):
        wait = FETCH_WAIT_MS / 1000.0 if self._wait else 0.0
        deadline = None if self._timeout is None else time.monotonic() + self._timeout
        while True:
            try:
                t0 = time.monotonic()
                reply, pairs = self.job.fetch(self._cursor, FETCH_BYTES, wait)
                break
            except errors.ConnectError as e:
                if deadline is not None and time.monotonic() >= deadline:
                    raise
                log.warning("job %s: %s; asking again", self.job.id, e)
        self.info = self.job._info
        if self._total is None:
            self._total = self.info.total
            if not 1 <= self._total < 1 << 32:
                raise errors.Malformed("job %s: %d inputs, want 1 .. 2^32-1"
                                       % (self.job.id, self._total))
            self._seen = bytearray((self._total + 7) // 8)
        off, nxt, size = reply.get("off", 0), reply.get("next", 0), reply.get("size", 0)
        if off > size:  # the store was shortened (torn tail after a power loss): again from 0
            self.stats["truncated"] += 1
            self._cursor, self._size = 0, size
            return
        self._take(pairs)
        if off <= self._cursor:
            self._cursor = max(self._cursor, nxt)
        self._size = size
        if (wait and not pairs and time.monotonic() - t0 < wait / 2
                and not self._is_complete()):
            # Answered early with nothing: another reader's fetch replaced this one (the broker
            # holds one per job). Let that one be held a while instead of taking turns at once.
            time.sleep(random.uniform(0.1, 0.3))

    def _take(self, pairs):
        nonce, seen, total = self.job.nonce, self._seen, self._total
        sender = self._sender
        for env_bytes, payload in pairs:
            self.stats["pairs"] += 1
            env = P.unpack_env(env_bytes)
            tid = env.get("id") if env else None
            status = env.get("status") if env else None
            index = P.job_task_index(nonce, tid) if isinstance(tid, bytes) else None
            if index is None or index >= total or not isinstance(status, int):
                self.stats["foreign"] += 1
                continue
            bit = 1 << (index & 7)
            if seen[index >> 3] & bit:
                self.stats["duplicates"] += 1
                continue
            seen[index >> 3] |= bit
            self._nseen += 1
            reason = None
            if sender is not None:
                status, payload, reason = _seal.verify_result(sender, tid, status, payload)
            item = (status, payload, env, reason)
            if not self._ordered:
                self._ready.append((index, item))
            elif index == self._next:
                self._ready.append((index, item))
                self._next += 1
                while self._next in self._held:
                    self._ready.append((self._next, self._held.pop(self._next)))
                    self._next += 1
            else:
                self._held[index] = item
