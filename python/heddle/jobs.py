"""Detached jobs (docs/PROTOCOL.md section 15): tasks whose results the broker keeps in a
result store until the job is released or expires, so that the program that submitted them may
exit and any program with the same client key may come back for them.

A job is a client session: its id (`j-` + 16 hex digits) is the session id of the connection
that opened it (JOB_OPEN) and submits its tasks, and the id of its task of input index i is the
job's 8-byte nonce + i (big-endian). Results are read with JOB_FETCH from a byte cursor in the
store (long polls), from any session of the owner key: a Job object holds a connection of its
own for that (so that each request has one answer, and a held fetch blocks nobody else).
"""
import datetime
import os
import time
import weakref

from . import _proto as P
from . import errors
from . import seal as _seal
from ._jobio import (FETCH_BYTES, OPEN_RESEND, REQUEST_SLACK, JobResults, _Channel,
                     _close_channels, _Submit)


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
