"""Python workers (python3 -m heddle.worker) against the real C broker, beside C workers and the C
CLI, CURVE on."""
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

import heddle
from heddle.worker import _system
from conftest import make_cluster

HERE = os.path.dirname(os.path.abspath(__file__))
PYPATH = os.pathsep.join([os.path.dirname(HERE), HERE])


def sha(data):
    return hashlib.sha256(data).hexdigest().encode()


def start_py_worker(cluster, name, *extra, keys=None):
    """python3 -m heddle.worker --module pytasks (python/tests/pytasks.py) on this cluster."""
    env = dict(os.environ, PYTHONPATH=PYPATH, PYTHONDONTWRITEBYTECODE="1")
    argv = [sys.executable, "-m", "heddle.worker", "--module", "pytasks", "--broker",
            cluster.workers_endpoint, "--keys", keys or cluster.keys, "--name", name,
            "--log-level", "warn", "--capacity", "1000"] + list(extra)
    p = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL)
    cluster.procs.append(p)
    return p


def wait_nodes(h, names, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        up = {n["name"] for n in h.nodes() if n["state"] != "down"}
        if set(names) <= up:
            return
        time.sleep(0.05)
    pytest.fail("nodes %s did not join (up: %s)" % (names, up))


@pytest.fixture(scope="module")
def pycluster():
    """A broker (max payload 200000), one Python worker (2 process slots) and nothing else."""
    c = make_cluster(workers=0, broker_args=["--heartbeat", "200", "--max-payload", "200000",
                                             "--worker-wait", "0"])
    start_py_worker(c, "py1", "--slots", "2")
    with c.client() as h:
        wait_nodes(h, ["py1"])
    yield c
    c.stop()


@pytest.fixture(params=[True, False], ids=["packed", "unpacked"])
def h(request, pycluster):
    with pycluster.client(pack=request.param) as client:
        yield client


def test_python_worker_serves(h):
    assert h.call("pysha", b"a") == sha(b"a")
    assert h.call("echo", b"") == b""
    big = os.urandom(100 * 1024)
    assert h.call("echo", big) == big
    items = [b"%d" % i for i in range(2000)]
    assert list(h.map("pysha", items)) == [sha(x) for x in items]
    assert h.call("text", b"abc") == b"ABC"  # a str result is encoded


def test_python_worker_statuses(h):
    with pytest.raises(heddle.Failed) as e:
        h.call("boom", b"x")
    assert "ValueError: boom" in e.value.reason and e.value.node == "py1"
    with pytest.raises(heddle.Timeout):
        h.call("nap", b"10", timeout=0.3)  # the slot process is killed at the deadline
    with pytest.raises(heddle.TooLarge):
        h.call("grow", b"300000")  # an output over the broker's max payload
    fut = h.submit("nap", b"10")
    time.sleep(0.3)
    fut.cancel()
    with pytest.raises(heddle.Cancelled):
        fut.result(5)
    assert h.call("pysha", b"still serving", wait=10) == sha(b"still serving")


def test_python_worker_metrics_and_functions(h):
    deadline = time.monotonic() + 5
    node = {}
    while time.monotonic() < deadline:
        node = next(n for n in h.nodes() if n["name"] == "py1")
        if "mem_total" in node and "cpu" in node:
            break
        time.sleep(0.1)
    assert node["mem_total"] > 0 and 0 <= node["cpu"] <= 1 and node["score"] == 1000
    fns = {f["name"] for f in h.functions()}
    assert {"pysha", "echo", "boom", "nap"} <= fns


def test_threads_mode_and_current_task(pycluster):
    p = start_py_worker(pycluster, "pyt", "--threads", "--slots", "3")
    with pycluster.client() as h:
        wait_nodes(h, ["pyt"])
        assert h.call("whoami", b"", node="pyt") == b"whoami"
        fut = h.submit("cooperative", b"", node="pyt")
        time.sleep(0.3)
        fut.cancel()
        with pytest.raises(heddle.Cancelled):
            fut.result(5)
    p.terminate()
    p.wait()


def test_python_and_c_worker_share_a_job():
    """The same function name on a C worker (built-in sha256) and a Python worker (pytasks'
    sha256): one job, both serve it, every result right."""
    c = make_cluster(workers=0, broker_args=["--heartbeat", "200"])
    try:
        c.add_worker("cw", 1, ["--capacity", "1000"])
        start_py_worker(c, "pw", "--slots", "1")
        with c.client() as h:
            wait_nodes(h, ["cw", "pw"])
            futs = [h.submit("sha256", b"%d" % i) for i in range(3000)]
            assert [f.result(60) for f in futs] == [sha(b"%d" % i) for i in range(3000)]
            by = {f.node for f in futs}
            assert by == {"cw", "pw"}
    finally:
        c.stop()


def test_python_worker_killed_mid_job():
    """SIGKILL a Python worker running tasks: its leases are requeued on the other one."""
    c = make_cluster(workers=0, broker_args=["--heartbeat", "100"])
    try:
        victim = start_py_worker(c, "victim", "--slots", "2")
        start_py_worker(c, "other", "--slots", "2")
        with c.client() as h:
            wait_nodes(h, ["victim", "other"])
            futs = [h.submit("nap", b"0.2", node="") for _ in range(20)]
            time.sleep(0.5)
            victim.send_signal(signal.SIGKILL)
            assert [f.result(30) for f in futs] == [b"slept"] * 20
            assert any(f.attempt > 1 for f in futs)  # some ran again after the kill
    finally:
        c.stop()


def test_c_cli_map_on_a_python_worker(pycluster, tmp_path):
    """`heddle map` (C) served by a Python worker (plain payloads: this worker holds no
    payload key; test_sealed.py covers sealed ones)."""
    src = tmp_path / "in.txt"
    src.write_text("".join("line %d\n" % i for i in range(200)))
    r = subprocess.run([os.path.join(pycluster.bin_dir, "heddle"), "map", "-q", "--plain-payloads", "--broker",
                        pycluster.clients, "--keys", pycluster.keys, "pysha", str(src)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:200] == [sha(b"line %d" % i).decode() for i in range(200)]


def test_enrollment_pending_until_approved(pycluster, tmp_path):
    """No worker.cert_secret: the worker makes its own pair in its state directory, is refused
    (pending) until an admin approves it, then serves."""
    keys = tmp_path / "keys"
    keys.mkdir()
    shutil.copy(os.path.join(pycluster.keys, "broker.cert"), keys / "broker.cert")
    state = tmp_path / "state"
    p = start_py_worker(pycluster, "fresh", "--state-dir", str(state), keys=str(keys))
    admin_cert = os.path.join(pycluster.keys, "admin.cert_secret")
    with heddle.connect(pycluster.clients, keys=pycluster.keys, cert=admin_cert) as admin:
        deadline = time.monotonic() + 15
        pending = ""
        while time.monotonic() < deadline:
            pending = admin.admin("pending", "*")
            if pending:
                break
            time.sleep(0.1)
        public = heddle.keys.read_cert(str(state / "worker.cert"))["public-key"]
        assert pending.startswith(public)
        assert "fresh" not in {n["name"] for n in admin.nodes()}
        assert "approved" in admin.admin("approve", public[:8])
        wait_nodes(admin, ["fresh"])
        # approve also granted the payload key (sealed tasks): it comes with WELCOME, and the
        # worker says HELLO again with its seal- tag; until then a sealed task cannot go there.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not any(
                n["name"] == "fresh" and any(t.startswith("seal-") for t in n.get("tags", []))
                for n in admin.nodes()):
            time.sleep(0.05)
        assert admin.call("pysha", b"z", node="fresh") == sha(b"z")
    assert heddle.keys.read_pin(str(state)) == heddle.keys.read_cert(
        os.path.join(pycluster.keys, "broker.cert"))["public-key"]
    p.terminate()
    p.wait()


def test_beacon_parsing_and_discovery():
    key = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
    assert _system.parse_beacon(("HEDDLE1 heddle * 7701 " + key).encode()) == \
        ("heddle", "*", 7701, key)
    assert _system.parse_beacon(b"HEDDLE1 heddle 10.0.0.2 7701 -") == \
        ("heddle", "10.0.0.2", 7701, None)
    for bad in [b"HEDDLE2 heddle * 7701 -", b"HEDDLE1 heddle * 07701 -",
                b"HEDDLE1 heddle  * 7701 -", b"HEDDLE1 heddle * 7701 - ", b"HEDDLE1 h * 0 -",
                b"HEDDLE1 heddle * 7701 short", b"HEDDLE1 he\0ddle * 7701 -", b"x" * 300]:
        assert _system.parse_beacon(bad) is None, bad
    assert heddle.keys.fingerprint(key) == "ebb3:af4d:d99c:eff3:6e9f:90b5:db3e:450e"
    # A real datagram on a free UDP port: another cluster's and an untrusted key are ignored.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    import threading

    def send():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for _ in range(20):
                s.sendto(b"HEDDLE1 other * 7701 " + key.encode(), ("127.0.0.1", port))
                s.sendto(b"HEDDLE1 heddle * 7701 -", ("127.0.0.1", port))
                s.sendto(b"HEDDLE1 heddle * 7702 " + key.encode(), ("127.0.0.1", port))
                time.sleep(0.05)

    t = threading.Thread(target=send)
    t.start()
    endpoint, got = _system.listen_beacon("heddle", port, lambda k: None if k else "insecure",
                                          timeout=5, interface_addr="127.0.0.1")
    t.join()
    assert (endpoint, got) == ("tcp://127.0.0.1:7702", key)


def test_worker_cli_help():
    env = dict(os.environ, PYTHONPATH=PYPATH)
    r = subprocess.run([sys.executable, "-m", "heddle.worker", "--help"], env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0 and "--module" in r.stdout and "HEDDLE_FUNCTIONS" in r.stdout
    r = subprocess.run([sys.executable, "-m", "heddle.worker", "--module", "no_such_module_x",
                        "--broker", "127.0.0.1", "--insecure"], env=env, capture_output=True,
                       text=True)
    assert r.returncode == 2 and "cannot import no_such_module_x" in r.stderr
