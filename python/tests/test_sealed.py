"""Sealed payloads (docs/PROTOCOL.md section 14) from Python, against the real C broker with
CURVE on: the Python client against C workers, the C CLI against a Python worker, both Python,
a broker that never sees plaintext (journal and the test broker's payload log), a broker that
alters results or tasks (TAMPERED, never data), and a payload key granted to an enrolled
Python worker. The broker is heddle-broker-testhooks (HEDDLE_TEST_PAYLOAD_LOG records every
payload byte it holds, HEDDLE_TEST_TAMPER flips one)."""
import hashlib
import os
import subprocess
import sys
import time

import pytest

import heddle
from heddle import seal
from conftest import bin_dir

HERE = os.path.dirname(os.path.abspath(__file__))
PYPATH = os.pathsep.join([os.path.dirname(HERE), HERE])


def sha(data):
    return hashlib.sha256(data).hexdigest().encode()


class HookCluster(heddle.Cluster):
    """heddle.Cluster with the test-hooks broker, journal on, and no workers of its own."""

    def __init__(self, tamper=None, **kw):
        self._tamper = tamper
        self.payload_log = None
        super().__init__(workers=0, bin_dir=bin_dir(), journal="batch",
                         broker_args=["--heartbeat", "200", "--worker-wait", "0"], **kw)

    def _bin(self, name):
        if name == "heddle-broker":
            name = "heddle-broker-testhooks"
            path = os.path.join(self.bin_dir, name)
            if not os.access(path, os.X_OK):
                pytest.fail("%s is missing: build the project first" % path)
        return os.path.join(self.bin_dir, name)

    def _start_broker(self, *a, **kw):
        self.payload_log = os.path.join(self.dir, "payloads.log")
        saved = dict(os.environ)
        os.environ["HEDDLE_TEST_PAYLOAD_LOG"] = self.payload_log
        if self._tamper:
            os.environ["HEDDLE_TEST_TAMPER"] = self._tamper
        try:
            super()._start_broker(*a, **kw)
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def py_worker(self, name, *extra, keys=True):
        """python3 -m heddle.worker --module pytasks on this cluster, state in DIR/state-NAME."""
        env = dict(os.environ, PYTHONPATH=PYPATH, PYTHONDONTWRITEBYTECODE="1")
        argv = [sys.executable, "-m", "heddle.worker", "--module", "pytasks", "--broker",
                self.workers_endpoint, "--name", name, "--slots", "2", "--threads",
                "--log-level", "warn", "--capacity", "1000",
                "--state-dir", os.path.join(self.dir, "state-" + name)] + list(extra)
        if keys:
            argv += ["--keys", self.keys]
        p = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL)
        self.procs.append(p)
        return p

    def grep(self, needle):
        """Files under the cluster's journal directory and the broker's payload log holding
        needle."""
        hits = []
        paths = [self.payload_log]
        for root, _, files in os.walk(os.path.join(self.dir, "journal")):
            paths += [os.path.join(root, f) for f in files]
        for path in paths:
            try:
                with open(path, "rb") as f:
                    if needle in f.read():
                        hits.append(path)
            except OSError:
                pass
        return hits


def wait_tags(h, names, tag=seal.TAG_PREFIX, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        keyed = {n["name"] for n in h.nodes() if n.get("state") != "down"
                 and any(t.startswith(tag) for t in n.get("tags", []))}
        if set(names) <= keyed:
            return
        time.sleep(0.05)
    pytest.fail("nodes %s never offered a %s tag (keyed: %s)" % (names, tag, keyed))


def cli(c, *args, stdin=b""):
    r = subprocess.run([os.path.join(c.bin_dir, "heddle"), "--broker", c.clients, "--keys",
                        c.keys] + list(args) if args[0] != "map" else
                       [os.path.join(c.bin_dir, "heddle"), args[0], "--broker", c.clients,
                        "--keys", c.keys] + list(args[1:]),
                       input=stdin, capture_output=True, timeout=30)
    assert r.returncode == 0, (r.stdout, r.stderr)
    return r.stdout


def test_formats_match_the_c_keys(tmp_path):
    """The tag of KEYS/payload.cert as `heddle keys init` made it, computed in Python, is the
    one heddle-worker offers; a sealed task round-trips through Python's keyring."""
    c = HookCluster()
    try:
        c.add_worker("c1", 1)
        with c.client() as h:
            assert h.sealed
            pub = seal.load_payload_public(c.keys)
            tag = seal.key_tag(pub)
            wait_tags(h, ["c1"], tag)
            ring = seal.worker_keyring(c.keys, None)
            assert ring.tags() == [tag]
            tid = os.urandom(16)
            plain, key = ring.open_task(tid, "echo", h._sealer.seal_task(tid, "echo", b"abc"))
            assert plain == b"abc"
            assert h._sealer.open_result(tid, 0, seal.seal_result(key, tid, 0, b"xyz")) == b"xyz"
            with pytest.raises(seal.Tampered):
                ring.open_task(tid, "sha256", h._sealer.seal_task(tid, "echo", b"abc"))
            with pytest.raises(ValueError):  # the seal tag takes the 8th place
                h.submit("echo", b"x", tags=["t%d" % i for i in range(8)])
        os.environ["HEDDLE_PLAIN_PAYLOADS"] = "1"
        try:
            with c.client() as h:
                assert not h.sealed and h.call("echo", b"plain") == b"plain"
        finally:
            del os.environ["HEDDLE_PLAIN_PAYLOADS"]
    finally:
        c.stop()


def test_python_client_sealed_c_workers_broker_sees_no_plaintext():
    c = HookCluster()
    try:
        c.add_worker("c1", 2)
        c.add_worker("c2", 2)
        items = [b"plain-secret-%d" % i for i in range(2000)]
        with c.client() as h:
            wait_tags(h, ["c1", "c2"])
            assert list(h.map("echo", items)) == items
            assert list(h.map("sha256", items[:500])) == [sha(x) for x in items[:500]]
            assert h.call("echo", b"") == b""
            big = os.urandom(100 * 1024) + b"plain-secret-big"
            assert h.submit("echo", big).result(20) == big
            assert h.stats["tampered"] == 0
        with c.client(plain_payloads=True) as h:  # control: the grep finds what it should
            assert not h.sealed
            assert h.call("echo", b"control-plain") == b"control-plain"
        c.kill_broker(15)  # SIGTERM: the journal is flushed and closed
        assert c.grep(b"plain-secret") == []
        assert c.grep(b"control-plain") != []
    finally:
        c.stop()


def test_cli_map_and_python_client_served_by_python_worker():
    c = HookCluster()
    try:
        c.py_worker("py1")
        with c.client() as h:
            wait_tags(h, ["py1"])
            lines = [b"plain-line-%d" % i for i in range(300)]
            out = cli(c, "map", "-q", "pysha", stdin=b"\n".join(lines) + b"\n")
            assert out.splitlines() == [sha(x) for x in lines]
            items = [b"plain-py-%d" % i for i in range(1000)]
            assert list(h.map("pysha", items)) == [sha(x) for x in items]
            assert h.call("echo", b"") == b""
            assert h.call("text", b"abc") == b"ABC"
            with pytest.raises(heddle.Failed) as e:  # FAILED: the error text is not sealed
                h.call("boom", b"plain-boom")
            assert "ValueError: boom" in e.value.reason and e.value.node == "py1"
            with pytest.raises(heddle.UnknownFunction):
                h.call("nothere", b"x")
            assert h.stats["tampered"] == 0
        c.kill_broker(15)
        assert c.grep(b"plain-line") == [] and c.grep(b"plain-py") == []
    finally:
        c.stop()


def test_tampered_result_and_task_never_give_data():
    c = HookCluster(tamper="result")
    try:
        c.add_worker("c1", 2)
        with c.client() as h:
            wait_tags(h, ["c1"])
            with pytest.raises(heddle.Tampered):
                h.call("echo", b"x" * 64)
            got = list(h.map("echo", [b"a%d" % i for i in range(50)], return_exceptions=True))
            assert all(isinstance(e, heddle.Tampered) for e in got)
            assert h.stats["tampered"] == 51
    finally:
        c.stop()
    c = HookCluster(tamper="task")
    try:
        c.py_worker("py1")
        with c.client() as h:
            wait_tags(h, ["py1"])
            with pytest.raises(heddle.Tampered) as e:  # the Python worker refuses to run it
                h.call("echo", b"y" * 64)
            assert "failed verification" in e.value.reason and e.value.node == "py1"
    finally:
        c.stop()


def test_enrolled_python_worker_gets_payload_key_by_grant():
    c = HookCluster()
    try:
        state = os.path.join(c.dir, "state-fresh")
        c.py_worker("fresh", "--broker-key", os.path.join(c.keys, "broker.cert"), keys=False)
        cert = os.path.join(state, "worker.cert")
        deadline = time.monotonic() + 15
        while not os.path.exists(cert) and time.monotonic() < deadline:
            time.sleep(0.05)
        key = heddle.keys.read_cert(cert)["public-key"]
        while key.encode() not in cli(c, "nodes", "pending") and time.monotonic() < deadline:
            time.sleep(0.1)
        cli(c, "nodes", "approve", "--", key)
        with c.client() as h:
            wait_tags(h, ["fresh"])
            items = [b"granted-%d" % i for i in range(200)]
            assert list(h.map("pysha", items)) == [sha(x) for x in items]
        saved = [n for n in os.listdir(state) if n.startswith("payload-")]
        assert len(saved) == 1 and saved[0].endswith(".cert_secret")
        assert os.stat(os.path.join(state, saved[0])).st_mode & 0o777 == 0o600
        assert seal.payload_secrets(state) == seal.payload_secrets(c.keys)
    finally:
        c.stop()
