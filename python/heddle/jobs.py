"""Detached jobs (docs/PROTOCOL.md section 15): tasks whose results the broker keeps in a
result store until the job is released or expires, so that the program that submitted them may
exit and any program with the same client key may come back for them.

A job is a client session: its id (`j-` + 16 hex digits) is the session id of the connection
that opened it (JOB_OPEN) and submits its tasks, and the id of its task of input index i is the
job's 8-byte nonce + i (big-endian). Results are read with JOB_FETCH from a byte cursor in the
store (long polls), from any session of the owner key: a Job object holds a connection of its
own for that (so that each request has one answer, and a held fetch blocks nobody else).
"""
import collections
import datetime
import logging
import os
import random
import threading
import time
import weakref

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


class JobInfo(dict):
    """A job's JOB_INFO (docs/PROTOCOL.md section 15), a dict whose keys are also attributes:
    job, name, state ("running", "done", "cancelled", "released"), total, queued, running, ok,
    failed, cancelled, stored (results stored), bytes (store size), created and expires (ms
    since the epoch), rate (results per second over about the last minute)."""

    _INT = ("total", "queued", "running", "ok", "failed", "cancelled", "stored", "bytes",
            "created", "expires")

    def __init__(self, env):
        super().__init__()
        env = env if isinstance(env, dict) else {}
        self["job"] = str(env.get("job", ""))
        self["name"] = str(env.get("name", ""))
        self["state"] = str(env.get("state", ""))
        for k in self._INT:
            v = env.get(k, 0)
            self[k] = v if isinstance(v, int) and not isinstance(v, bool) else 0
        rate = env.get("rate", 0.0)
        self["rate"] = float(rate) if isinstance(rate, (int, float)) else 0.0

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def done(self):
        """Results stored (ok + failed + cancelled)."""
        return self["stored"]


def _check_job_id(job):
    if not P.job_id_valid(job):
        raise ValueError("job id %r: want j- and 16 lowercase hex digits (as `heddle submit` "
                         "prints)" % (job,))
    return job


def _ttl_seconds(ttl):
    if ttl is None:
        return 0
    if isinstance(ttl, datetime.timedelta):
        ttl = ttl.total_seconds()
    s = int(round(float(ttl)))
    if not 0 <= s <= P.MAX_JOB_TTL:
        raise ValueError("ttl %r: want 0 (the broker's default) .. 90 days in seconds" % (ttl,))
    return s


def _check_job_name(name):
    raw = (name or "").encode() if isinstance(name or "", str) else bytes(name)
    if len(raw) > P.MAX_JOB_NAME or any(b < 0x20 or b == 0x7f for b in raw):
        raise ValueError("job name %r: want at most 64 bytes, no control characters" % (name,))
    return raw.decode("utf-8", "replace")


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
            s.setsockopt(zmq.ROUTING_ID, self.session.encode())
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
        raises its typed error; no answer within timeout: ConnectError."""
        self.send([P.HEADERS[cmd], P.pack(env)])
        deadline = time.monotonic() + timeout
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
                if rej.get("id") is None:
                    raise errors.for_status(rej.get("code", P.INTERNAL),
                                            rej.get("reason", ""), retry=rej.get("retry", 0))
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


# --- a job --------------------------------------------------------------------------------------

class Job:
    """A detached job. Make one with Client.submit_job() or Client.open_job(), or attach to an
    existing one with Client.job(JOB_ID). `id` is the job id; info() asks the broker for its
    state, results() iterates its results, resume() submits the inputs not stored yet, cancel()
    stops what still runs, release() deletes the job and its results at the broker. A Job may be
    used from several threads (its requests take turns); each results() iterator by one."""

    def __init__(self, client, job_id, info=None):
        self.id = _check_job_id(job_id)
        self.nonce = P.job_nonce(self.id)
        self._client = client
        self._info = info
        self._control = _Channel(client, "c-" + os.urandom(8).hex())
        self._session = _Channel(client, self.id)  # the job's own session: JOB_OPEN, SUBMIT
        self._sender = None
        self.stats = {"submitted": 0, "resubmitted": 0, "retried": 0}
        self._finalizer = weakref.finalize(self, _close_channels,
                                           (self._control, self._session))
        client._jobs.add(self)

    def __repr__(self):
        i = self._info
        if i is None:
            return "<heddle.Job %s>" % self.id
        return "<heddle.Job %s %r %s %d/%d>" % (self.id, i.name, i.state, i.stored, i.total)

    @property
    def total(self):
        """The number of inputs (tasks) declared when the job was opened."""
        if self._info is None:
            self.info()
        return self._info.total

    @property
    def name(self):
        if self._info is None:
            self.info()
        return self._info.name

    # --- requests -------------------------------------------------------------------------------

    def _request(self, cmd, env, want, timeout, what):
        with self._control.lock:
            return self._control.request(cmd, env, want, timeout, what)

    def info(self, timeout=10.0):
        """The job's JobInfo now (JOBS {job}); heddle.Denied when the broker has no job of that
        id for this key (released, expired, or another key's)."""
        reply, _ = self._request(P.JOBS, {"job": self.id}, P.JOBS_REPLY, timeout, "JOBS")
        for j in reply.get("jobs", ()):
            if isinstance(j, dict) and j.get("job") == self.id:
                self._info = JobInfo(j)
                return self._info
        raise errors.Denied("no job %s for this key" % self.id)

    def cancel(self, timeout=10.0):
        """Cancel the tasks still queued or running (each is stored as CANCELLED, or with its
        real result when it finished first); the job and its results stay until released.
        Returns the JobInfo after the act."""
        reply, _ = self._request(P.JOB_CANCEL, {"job": self.id}, P.JOB_INFO, timeout,
                                 "JOB_CANCEL")
        self._info = JobInfo(reply)
        return self._info

    def release(self, timeout=10.0):
        """Cancel what still runs and delete the job and its stored results at the broker.
        Returns the last JobInfo (state "released")."""
        reply, _ = self._request(P.JOB_RELEASE, {"job": self.id}, P.JOB_INFO, timeout,
                                 "JOB_RELEASE")
        self._info = JobInfo(reply)
        self.close()
        return self._info

    def fetch(self, off=0, max_bytes=FETCH_BYTES, wait=0.0, timeout=None):
        """One JOB_FETCH: (jobdata envelope, [(env, payload), ...]) of the whole results stored
        from byte offset `off` on, at most about max_bytes (at least one), waiting up to `wait`
        seconds for one when there is none yet. The building block of results()."""
        wait_ms = max(0, min(P.JOB_WAIT_MAX, int(wait * 1000)))
        env = {"job": self.id, "off": int(off),
               "max": max(P.JOB_FETCH_MIN, min(P.JOB_FETCH_MAX, int(max_bytes))),
               "wait": wait_ms}
        if timeout is None:
            timeout = wait_ms / 1000.0 + REQUEST_SLACK
        reply, frames = self._request(P.JOB_FETCH, env, P.JOB_DATA, timeout, "JOB_FETCH")
        pairs = list(P.iter_packed(frames[2])) if len(frames) > 2 else []
        count = reply.get("count", 0)
        if len(pairs) != count or reply.get("job") != self.id:
            raise errors.Malformed("JOB_DATA of %s: %d pairs read, %r announced"
                                   % (self.id, len(pairs), count))
        self._info = JobInfo(reply.get("info"))
        return reply, pairs

    # --- results --------------------------------------------------------------------------------

    def results(self, ordered=True, wait=True, return_exceptions=False, indexed=False,
                timeout=None):
        """Iterate the job's results: each output (bytes) in input order (ordered=False: in the
        order they were stored). A failed task raises its typed exception when its turn comes
        (return_exceptions=True yields it instead; its `.index` is the input index).
        indexed=True yields (index, output) pairs. wait=True (default) waits for every result,
        or until the job is cancelled and nothing of it runs any more; wait=False yields what is
        stored now. Results stay at the broker: iterate again as often as wanted until the job
        is released. Ordered iteration holds results that arrived ahead of their turn in memory
        (ordered=False holds nothing). timeout: seconds without an answer from the broker before
        heddle.ConnectError (None: keep asking, e.g. while the broker restarts)."""
        return JobResults(self, ordered, wait, return_exceptions, indexed, timeout)

    def __iter__(self):
        return iter(self.results())

    def _job_sender(self):
        """The sealer of this job's tasks: the client's job key derived from its secret key and
        the job id (the session), so any process with the same key opens the results."""
        c = self._client
        if c._sealer is None:
            return None
        if self._sender is None:
            secret = _seal._raw(c._cert[1]) if c._cert else None
            self._sender = _seal.Sender(_seal.load_payload_public(c._keys_dir),
                                        _seal.job_key(secret, self.id))
        return self._sender

    # --- submitting -----------------------------------------------------------------------------

    def _open(self, total, name, ttl, timeout):
        """JOB_OPEN on the job's own session (idempotent: the same key opening it again gets
        its JobInfo). Sent again every 3 s until answered, for up to timeout seconds."""
        env = {"job": self.id, "name": name, "total": int(total), "ttl": ttl}
        deadline = time.monotonic() + timeout
        with self._session.lock:
            while True:
                left = deadline - time.monotonic()
                try:
                    reply, _ = self._session.request(P.JOB_OPEN, env, P.JOB_INFO,
                                                     max(0.1, min(OPEN_RESEND, left)),
                                                     "JOB_OPEN")
                    break
                except errors.ConnectError:
                    if time.monotonic() >= deadline:
                        raise
        self._info = JobInfo(reply)
        if self._info.total != total:
            raise errors.Malformed("job %s has %d inputs, not %d" % (self.id, self._info.total,
                                                                      total))
        return self._info

    def submit(self, fn, items, retry_busy=None, **opts):
        """Submit tasks of this job: items is an iterable of (index, data), index < total.
        Returns the number submitted once every one is ACCEPTED (durable at the broker). Tasks
        the broker refuses (other than BUSY/STORAGE, which are retried for retry_busy seconds,
        default the client's) raise the first one's typed exception at the end, with
        `.job` (this Job) and `.rejected` ({index: exception}); the others stand."""
        total = self.total
        tpl = self._client._template(fn, opts)
        sender = self._job_sender()
        retry_busy = self._client.retry_busy if retry_busy is None else float(retry_busy)

        def tasks():
            for index, data in items:
                index = int(index)
                if not 0 <= index < total:
                    raise ValueError("index %d: job %s has inputs 0..%d" % (index, self.id,
                                                                            total - 1))
                tid = P.job_task_id(self.nonce, index)
                payload = _payload(data)
                if sender is not None:
                    payload = sender.seal_task(tid, tpl.fn, payload)
                yield index, tid, tpl.head + tid + tpl.tail, payload

        with self._session.lock:
            run = _Submit(self, tasks(), retry_busy)
            n, rejected = run.loop()
        if rejected:
            first = min(rejected)
            e = rejected[first]
            exc = errors.for_status(e.status, "job %s: %d of %d tasks refused; input %d: %s"
                                    % (self.id, len(rejected), n, first, e.reason),
                                    retry=e.retry)
            exc.job = self
            exc.rejected = rejected
            raise exc
        return n

    def stored_indices(self, timeout=None):
        """The set of input indices whose result is stored now (reads the whole store)."""
        seen = set()
        it = JobResults(self, False, False, True, True, timeout)
        it._sender = None  # indices only: nothing to open
        for index, _ in it:
            seen.add(index)
        return seen

    def resume(self, fn, inputs, **opts):
        """Submit the inputs whose result is not stored yet (those still queued or running are
        answered ACCEPTED again by the broker and not run twice): what to do after the program
        that submitted the job died before every task was ACCEPTED. inputs must be the job's
        whole input sequence (len() == total). Returns the number of inputs submitted."""
        inputs = _as_sequence(inputs)
        info = self._open(len(inputs), self.name, 0, self._client.connect_timeout * 6)
        if info.state == "cancelled":
            raise errors.Cancelled("job %s was cancelled: nothing to resume (release it)"
                                   % self.id)
        stored = self.stored_indices()
        todo = ((i, x) for i, x in enumerate(inputs) if i not in stored)
        return self.submit(fn, todo, **opts)

    def close(self):
        """Close this object's connections (the job itself stays at the broker)."""
        self._control.close()
        self._session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _payload(data):
    if isinstance(data, bytes):
        return data
    if isinstance(data, str):
        return data.encode()
    if data is None:
        return b""
    return bytes(data)


def _as_sequence(inputs):
    try:
        len(inputs)
        return inputs
    except TypeError:
        return list(inputs)


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
