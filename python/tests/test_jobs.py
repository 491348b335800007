"""Detached jobs from Python (heddle.Job) against the real C broker and workers, CURVE on:
submit, attach from another client, results in input order and as stored, info, list, cancel,
release, resume, the broker's refusals, a broker killed -9 and restarted, the submitting process
gone."""
import hashlib
import os
import subprocess
import sys
import threading
import time

import pytest

import heddle
from heddle import _proto as P
from conftest import make_cluster

HERE = os.path.dirname(os.path.abspath(__file__))


def sha(data):
    return hashlib.sha256(data).hexdigest().encode()


@pytest.fixture(scope="module")
def jc():
    """A broker with a journal (the result stores live beside it; max payload 200000) and one C
    worker, 2 slots."""
    c = make_cluster(slots=2, journal="sync", broker_args=["--heartbeat", "200",
                                                           "--worker-wait", "0",
                                                           "--max-payload", "200000"])
    with c.client() as h:
        heddle._wait_workers(h, 1, 10)
    yield c
    c.stop()


def wait_for(cond, what, limit=30.0):
    deadline = time.monotonic() + limit
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail("gave up waiting for %s after %.0f s" % (what, limit))
        time.sleep(0.02)


def fn_counts(h, fn):
    """(done, queued, running) of a function, as the broker counts them."""
    for f in h.functions():
        if f["name"] == fn:
            return f.get("done", 0), f.get("queued", 0), f.get("running", 0)
    return 0, 0, 0


def test_submit_attach_results_release(jc):
    items = [b"%d" % i for i in range(600)]
    with jc.client() as h:
        job = h.submit_job("sha256", items, name="digests", ttl=3600)
        assert P.job_id_valid(job.id) and job.stats["submitted"] == 600
        jid = job.id
    # The submitting client is gone; another one (same key) attaches by id.
    with jc.client() as h2:
        job = h2.job(jid)
        assert list(job.results()) == [sha(x) for x in items]
        assert set(job.results(ordered=False)) == {sha(x) for x in items}
        got = list(job.results(ordered=False, indexed=True))
        assert sorted(i for i, _ in got) == list(range(600))
        assert all(out == sha(items[i]) for i, out in got)
        info = job.info()
        assert (info.job, info.name, info.state) == (jid, "digests", "done")
        assert (info.total, info.stored, info.ok, info.failed) == (600, 600, 600, 0)
        assert info.queued == info.running == 0 and info.bytes > 600 * 64
        assert info.expires - info.created == 3600 * 1000
        assert jid in [j.job for j in h2.jobs()]
        # The store holds the derived task ids: nonce + big-endian input index.
        reply, pairs = job.fetch(0, max_bytes=1024)
        assert reply["off"] == 0 and 0 < reply["count"] == len(pairs) < 600
        for env_bytes, _ in pairs:
            tid = P.unpack_env(env_bytes)["id"]
            assert tid[:8] == bytes.fromhex(jid[2:]) and int.from_bytes(tid[8:], "big") < 600
        assert job.release().state == "released"
        with pytest.raises(heddle.Denied):
            job.info()
        with pytest.raises(heddle.Denied):
            h2.job(jid)
        assert jid not in [j.job for j in h2.jobs()]


def test_failures_are_results(jc):
    with jc.client() as h:
        job = h.submit_job("sleep", [b"1", b"not a number", b"2"])
        assert job.name == "sleep"
        got = list(job.results(return_exceptions=True))
        assert got[0] == b"1" and got[2] == b"2"
        assert isinstance(got[1], heddle.Failed) and got[1].index == 1
        it = job.results()
        assert next(it) == b"1"
        with pytest.raises(heddle.Failed):
            next(it)
        info = job.info()
        assert (info.state, info.ok, info.failed, info.stored) == ("done", 2, 1, 3)
        job.release()


def test_resume_submits_only_what_is_not_stored(jc):
    inputs = [b"%d" % (i % 3) for i in range(40)]
    with jc.client() as h:
        job = h.open_job(len(inputs), "resume")
        # A submitter that died after sending inputs 0..9 and 30: wait until they are stored.
        assert job.submit("sleep", [(i, inputs[i]) for i in list(range(10)) + [30]]) == 11
        wait_for(lambda: job.info().stored == 11, "11 results stored")
        part = list(job.results(wait=False, indexed=True))
        assert [i for i, _ in part] == list(range(10)) + [30]
        before = fn_counts(h, "sleep")[0]
        assert job.resume("sleep", inputs) == 29
        assert list(job.results()) == inputs
        info = job.info()
        assert (info.state, info.stored, info.ok) == ("done", 40, 40)
        assert fn_counts(h, "sleep") == (before + 29, 0, 0)
        assert job.resume("sleep", inputs) == 0  # all stored: nothing to submit
        job.release()


def test_resume_while_tasks_run_runs_none_twice(jc):
    inputs = [b"1500", b"1", b"2", b"3"]
    with jc.client() as h:
        job = h.open_job(len(inputs), "live")
        before = fn_counts(h, "sleep")[0]
        job.submit("sleep", [(0, inputs[0])])
        wait_for(lambda: job.info().running == 1, "input 0 running")
        # Input 0 is live (running, not stored): it is submitted again, ACCEPTED, not run again
        # (a second run would start after the first and still be running or queued below).
        assert job.resume("sleep", inputs) == 4
        results = job.results()
        assert list(results) == inputs
        assert results.stats["pairs"] == 4 and results.stats["duplicates"] == 0
        assert job.info().ok == 4
        assert fn_counts(h, "sleep") == (before + 4, 0, 0)
        job.release()


def test_cancel(jc):
    with jc.client() as h:
        job = h.submit_job("sleep", [b"20000"] * 6, name="long")
        wait_for(lambda: job.info().running >= 2, "two tasks leased")
        info = job.cancel()
        assert info.state == "cancelled"
        got = list(job.results(return_exceptions=True))
        assert len(got) == 6 and all(isinstance(e, heddle.Cancelled) for e in got)
        info = job.info()
        assert (info.state, info.cancelled, info.stored) == ("cancelled", 6, 6)
        with pytest.raises(heddle.Cancelled):
            job.resume("sleep", [b"1"] * 6)
        job.release()


def test_refusals_and_bad_arguments(jc):
    with jc.client() as h:
        for bad in ("bogus", "j-0123", "j-0123456789ABCDEF", "x-0123456789abcdef"):
            with pytest.raises(ValueError):
                h.job(bad)
        with pytest.raises(heddle.Denied):
            h.job("j-0123456789abcdef")  # no such job
        for args in ((0,), (1, "n" * 65), (1, "tab\there"), (1, "", 91 * 86400), (1, "", -1)):
            with pytest.raises(ValueError):
                h.open_job(*args)
        job = h.submit_job("echo", [b"a", b"b"])
        with pytest.raises(heddle.Malformed):
            job.resume("echo", [b"a", b"b", b"c"])  # not the job's total
        with pytest.raises(ValueError):
            job.submit("echo", [(2, b"c")])  # index past the total
        # Another key (the admin's) does not see the job: same answer as for no job.
        with heddle.connect(jc.clients, keys=jc.keys,
                            cert=jc.keys + "/admin.cert_secret") as other:
            with pytest.raises(heddle.Denied):
                other.job(job.id)
            assert job.id not in [j.job for j in other.jobs()]
            with pytest.raises(heddle.Denied):
                heddle.Job(other, job.id).release()
        assert list(job.results()) == [b"a", b"b"]
        job.release()
        # A task the broker refuses for good (over --max-payload) gets one outcome, stored as
        # its result: the job ends, and the failure comes back at its index.
        job = h.submit_job("echo", [b"a", b"x" * 300000, b"c"])
        out = list(job.results(return_exceptions=True))
        assert out[0] == b"a" and out[2] == b"c"
        assert isinstance(out[1], heddle.TooLarge) and "over the broker's limit" in str(out[1])
        info = job.info()
        assert info.state == "done" and info.failed == 1
        job.release()


def test_broker_limits():
    """--results-max-bytes: no new job once the stores hold that much (STORAGE, never a result
    dropped), 0: none at all, nor with --journal none; --max-key-jobs: BUSY past it; more inputs than --max-key-tasks:
    TOO_LARGE."""
    c = make_cluster(slots=1, journal="sync", broker_args=["--results-max-bytes", "100",
                                                           "--max-key-jobs", "2",
                                                           "--max-key-tasks", "10"])
    try:
        with c.client() as h:
            heddle._wait_workers(h, 1, 10)
            with pytest.raises(heddle.TooLarge):
                h.open_job(11, "more inputs than --max-key-tasks")
            job = h.submit_job("echo", [b"x" * 1000] * 3)  # opened under the budget: all kept
            assert list(job.results()) == [b"x" * 1000] * 3
            with pytest.raises(heddle.Storage, match="release"):
                h.open_job(1, "over budget")
            job.release()  # frees the budget
            first, second = h.open_job(1, "1"), h.open_job(1, "2")
            with pytest.raises(heddle.Busy):
                h.open_job(1, "3")  # a third job for this key
            first.release()
            second.release()
    finally:
        c.stop()
    for journal, args in (("sync", ["--results-max-bytes", "0"]), ("none", [])):
        c = make_cluster(workers=0, journal=journal, broker_args=args)
        try:
            with c.client() as h:
                with pytest.raises(heddle.Storage, match="keeps no detached jobs"):
                    h.open_job(1, "x")
        finally:
            c.stop()


def test_job_commands_past_the_broker_rate_are_retried():
    """The broker takes at most 64 JOB_OPEN/CANCEL/RELEASE a second (each fsyncs) and answers
    the others BUSY with a retry hint: 100 opens and 100 releases in a row all succeed."""
    c = make_cluster(workers=0, journal="sync", broker_args=["--max-key-jobs", "256"])
    try:
        with c.client() as h:
            jobs = [h.open_job(1, "j%d" % i) for i in range(100)]
            assert sorted(j.job for j in h.jobs()) == sorted(j.id for j in jobs)
            assert all(j.release().state == "released" for j in jobs)
            assert h.jobs() == []
    finally:
        c.stop()


SUBMITTER = r"""
import sys
sys.path.insert(0, sys.argv[1])
import heddle
with heddle.connect(sys.argv[2], keys=sys.argv[3]) as h:
    job = h.submit_job("sleep", sys.argv[4].split(","), name="detached")
    print(job.id, flush=True)
"""


def test_survives_client_exit_and_broker_kill():
    """A job submitted by a process that then exits; the broker killed -9 while the job runs,
    and again while a reader's fetch waits at it for the last result; every result read twice,
    identical, each input once."""
    n = 1000
    items = [b"%d" % (i % 3) for i in range(n - 1)] + [b"3000"]  # the last one runs 3 s
    c = make_cluster(slots=2, journal="sync", broker_args=["--heartbeat", "200"],
                     fixed_ports=True)
    try:
        out = subprocess.run([sys.executable, "-c", SUBMITTER, os.path.dirname(HERE),
                              c.clients, c.keys, b",".join(items).decode()],
                             stdout=subprocess.PIPE, text=True, timeout=60, check=True)
        jid = out.stdout.strip()
        assert P.job_id_valid(jid)
        c.kill_broker()
        c.restart_broker()
        with c.client() as h:
            job = h.job(jid)
            assert job.total == n and job.info().state == "running"
            got = []

            def crash_while_held():
                wait_for(lambda: len(got) >= n - 1, "all but the last result")
                time.sleep(0.5)  # the reader's next fetch is held at the broker by now
                c.kill_broker()
                c.restart_broker()

            t = threading.Thread(target=crash_while_held)
            t.start()
            it = job.results(indexed=True)
            for pair in it:
                got.append(pair)
            t.join()
            assert got == list(enumerate(items))
            assert it.stats["duplicates"] == 0 and it.stats["pairs"] == n
            assert sorted(job.results(ordered=False, indexed=True)) == got
            info = job.info()
            assert (info.state, info.ok, info.stored) == ("done", n, n)
            job.release()
    finally:
        c.stop()


def test_results_long_poll_follows_the_job(jc):
    """Iterating while the job runs: each result as it is stored, the iteration ends with the
    last one; a second reader at the same time sees the same."""
    inputs = [b"%d" % (5 * (i % 4)) for i in range(60)]
    with jc.client() as h:
        job = h.submit_job("sleep", inputs, name="follow")
        other = []
        t = threading.Thread(target=lambda: other.extend(
            h.job(job.id).results(ordered=False, indexed=True)))
        t.start()
        assert list(job.results()) == inputs
        t.join(60)
        assert sorted(other) == list(enumerate(inputs))
        job.release()


def cli(c, *args, stdin=None):
    r = subprocess.run([os.path.join(c.bin_dir, "heddle"), *args, "--broker", c.clients,
                        "--keys", c.keys], input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    assert r.returncode == 0, "heddle %s: %s" % (" ".join(args), r.stderr.decode())
    return r.stdout


def test_cli_and_python_share_jobs(jc, tmp_path):
    """A job submitted by the C CLI (`heddle submit`) read from Python, and one submitted from
    Python read by `heddle results`: both the same as `heddle map`'s output."""
    lines = [b"line %d" % i for i in range(300)]
    path = tmp_path / "input.txt"
    path.write_bytes(b"".join(x + b"\n" for x in lines))
    mapped = cli(jc, "map", "sha256", str(path))
    assert mapped == b"".join(sha(x) + b"\n" for x in lines)
    jid = cli(jc, "submit", "-q", "sha256", str(path)).decode().strip()
    assert P.job_id_valid(jid)
    with jc.client() as h:
        job = h.job(jid)
        assert job.total == 300
        assert b"".join(x + b"\n" for x in job.results()) == mapped
        job.release()
        assert jid.encode() not in cli(jc, "jobs")
        job = h.submit_job("sha256", lines, name="from python")
        listing = cli(jc, "jobs")
        assert job.id.encode() in listing and b"from python" in listing
        assert cli(jc, "results", "-q", "--wait", job.id) == mapped
        assert sorted(cli(jc, "results", "-q", "--unordered", job.id).splitlines()) == sorted(
            mapped.splitlines())
        cli(jc, "release", job.id)
        with pytest.raises(heddle.Denied):
            job.info()
