"""The Python client against the real C broker and C workers, CURVE on."""
import hashlib
import subprocess
import threading
import time

import pytest
import zmq

import heddle
from heddle import _proto as P
from conftest import make_cluster


def sha(data):
    return hashlib.sha256(data).hexdigest().encode()


def test_call_and_payload_sizes(client):
    assert client.call("echo", b"hi") == b"hi"
    assert client.call("echo", b"") == b""
    big = bytes(range(256)) * 400  # 100 KiB: a frame pair of its own even when packed
    assert client.call("echo", big) == big
    assert client.call("sha256", big) == sha(big)
    assert client.call("echo", "text") == b"text"


def test_map_ordered_and_unordered(client):
    items = [b"%d" % i for i in range(3000)]
    assert list(client.map("sha256", items)) == [sha(x) for x in items]
    got = set(client.map("sha256", items, window=64, ordered=False))
    assert got == {sha(x) for x in items}


def test_map_mixed_sizes(client):
    items = [b"x" * n for n in (0, 1, 1024, 1025, 5000, 0, 100000, 7)]
    assert list(client.map("echo", items, window=3)) == items


def test_map_streams_with_bounded_memory(client):
    pulled = [0]

    def source():
        for i in range(2000):
            pulled[0] += 1
            yield b"%d" % i

    results = client.map("echo", source(), window=50)
    for i, out in enumerate(results):
        assert out == b"%d" % i
        assert pulled[0] <= i + 1 + 50  # never more than the window ahead of the consumer
    assert pulled[0] == 2000


def test_repr_shows_the_results(client):
    assert repr(client.map("sha256", [b"a", b"b"])) == repr([sha(b"a"), sha(b"b")])


def test_futures_and_as_completed(client):
    futs = [client.submit("sha256", b"%d" % i) for i in range(500)]
    done = list(heddle.as_completed(futs, timeout=30))
    assert len(done) == 500
    assert [f.result() for f in futs] == [sha(b"%d" % i) for i in range(500)]
    assert futs[0].node.startswith("local-") and futs[0].attempt == 1


def test_thread_safe_submit(client):
    out = {}

    def run(k):
        futs = [client.submit("echo", b"%d-%d" % (k, i)) for i in range(300)]
        out[k] = [f.result(30) for f in futs]

    threads = [threading.Thread(target=run, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(8):
        assert out[k] == [b"%d-%d" % (k, i) for i in range(300)]


def test_functions(client):
    fns = {f["name"]: f for f in client.functions()}
    assert {"echo", "sha256", "sleep"} <= set(fns)
    assert fns["echo"]["nodes"] == 1 and fns["echo"]["names"] == ["local-1"]


def test_nodes(client):
    nodes = client.nodes()
    assert [n["name"] for n in nodes] == ["local-1"]
    assert nodes[0]["slots"] == 2 and nodes[0]["state"] in ("idle", "busy")


# --- every status code -----------------------------------------------------------------------

def test_failed(client):
    with pytest.raises(heddle.Failed) as e:
        client.call("sleep", b"not a number")
    assert e.value.status == P.FAILED and e.value.node == "local-1" and e.value.reason


def test_unknown_function(client):
    with pytest.raises(heddle.UnknownFunction):
        client.call("no-such-function", b"")


def test_too_large(client):
    with pytest.raises(heddle.TooLarge):
        client.call("echo", b"x" * 200001)  # the fixture's broker: --max-payload 200000


def test_timeout(client):
    with pytest.raises(heddle.Timeout):
        client.call("sleep", b"5000", timeout=0.2)


def test_cancel_future(client):
    fut = client.submit("sleep", b"10000")
    time.sleep(0.2)
    assert fut.cancel()
    with pytest.raises(heddle.Cancelled):
        fut.result(10)
    assert fut.cancelled()


def test_cancel_map(client):
    results = client.map("sleep", [b"10000"] * 2, window=2)  # both slots, running
    time.sleep(0.3)
    results.close()
    assert list(results) == []
    assert client.call("echo", b"free", wait=5) == b"free"  # the slots were freed
    client.cancel([])  # nothing to cancel: no error


def test_unsatisfiable(client):
    with pytest.raises(heddle.Unsatisfiable):
        client.call("echo", b"", node="no-such-node")
    with pytest.raises(heddle.Unsatisfiable):
        client.call("echo", b"", tags=["gpu"])


def test_denied(client):
    with pytest.raises(heddle.Denied):
        client.admin("drain", "local-1")  # the client key is not an admin key


def test_admin_key(cluster):
    with heddle.connect(cluster.clients, cert=cluster.keys + "/admin.cert_secret",
                        keys=cluster.keys) as admin:
        assert admin.admin("pending", "*") == ""
        with pytest.raises(heddle.Unsatisfiable):
            admin.admin("drain", "no-such-node")


def test_options_travel(client):
    assert client.call("echo", b"o", priority=5, timeout=10, attempts=2, tags=[], mem=0,
                       node="local-1") == b"o"
    with pytest.raises(ValueError):
        client.submit("bad name!", b"")
    with pytest.raises(ValueError):
        client.submit("echo", b"", tags=["a"] * 9)


def raw_socket(cluster, session="raw-py"):
    """A DEALER with the client key, to send what the library never sends. session None: no
    X-Session property and libzmq's own routing id."""
    pub, sec = heddle.keys.load_secret(cluster.keys + "/client.cert_secret")
    s = zmq.Context.instance().socket(zmq.DEALER)
    s.linger = 0
    if session is not None:
        P.claim_session(s, session)
    s.curve_publickey, s.curve_secretkey = pub.encode(), sec.encode()
    s.curve_serverkey = heddle.keys.load_public(cluster.keys + "/broker.cert").encode()
    s.rcvtimeo = 5000
    s.connect(cluster.clients)
    return s


def rejected(sock, frames):
    sock.send_multipart(frames)
    hdr, env = sock.recv_multipart()
    assert hdr[3] == P.REJECTED
    env = P.unpack_env(env)
    return heddle.errors.for_status(env["code"], env["reason"])


def test_malformed_and_version(cluster):
    s = raw_socket(cluster)
    try:
        e = rejected(s, [P.HEADERS[P.PING], b"\xc1"])
        assert isinstance(e, heddle.Malformed)
        e = rejected(s, [bytes((0x48, 0x44, 9, P.PING)), b"\x80"])
        assert isinstance(e, heddle.VersionMismatch) and e.reason.endswith("1..1")
    finally:
        s.close()


def test_session_is_claimed_on_the_connection(cluster):
    """A connection without the X-Session property is refused with the reason; the library
    checks a session id before it connects."""
    s = raw_socket(cluster, session=None)
    try:
        e = rejected(s, [P.HEADERS[P.PING], b"\x80"])
        assert isinstance(e, heddle.Denied) and "X-Session" in e.reason
    finally:
        s.close()
    for bad in ("has space", "", "x" * 256, "caf\u00e9"):
        with pytest.raises(ValueError):
            P.check_session(bad)
    with pytest.raises(ValueError):
        heddle.Client(cluster.clients, insecure=True, session="two words")


def test_status_mapping():
    for code, cls in [(1, heddle.Failed), (2, heddle.UnknownFunction), (3, heddle.TooLarge),
                      (4, heddle.Busy), (5, heddle.Malformed), (6, heddle.VersionMismatch),
                      (7, heddle.Timeout), (8, heddle.Cancelled), (9, heddle.Denied),
                      (10, heddle.Storage), (11, heddle.Lost), (12, heddle.Internal),
                      (13, heddle.Unsatisfiable)]:
        e = heddle.errors.for_status(code, "why", "n1")
        assert type(e) is cls and e.status == code and "why" in str(e)
        assert isinstance(e, heddle.HeddleError)
    assert type(heddle.errors.for_status(99, "new")) is heddle.HeddleError


def test_busy_and_lost():
    """BUSY past --max-client-tasks; LOST when the only worker dies running a task."""
    c = make_cluster(slots=1, broker_args=["--heartbeat", "100", "--max-client-tasks", "3"])
    try:
        with c.client(retry_busy=0) as h:
            heddle._wait_workers(h, 1, 10)
            futs = [h.submit("sleep", b"10000", attempts=1) for _ in range(5)]
            deadline = time.monotonic() + 10
            while sum(f.done() for f in futs) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            busy = [f for f in futs if f.done()]
            assert len(busy) == 2
            assert all(isinstance(f.exception(), heddle.Busy) for f in busy)
            assert busy[0].exception().retry > 0
            time.sleep(0.3)
            c.procs[1].kill()  # the worker, running one of the tasks
            with pytest.raises(heddle.Lost):
                futs[0].result(15)
    finally:
        c.stop()


def test_connect_errors(cluster, tmp_path):
    with pytest.raises(heddle.ConnectError, match="no key directory"):
        heddle._connect_to(cluster.clients, None, None, False, None, {})
    other = tmp_path / "keys"
    subprocess.run([cluster.bin_dir + "/heddle", "keys", "init", str(other)], check=True,
                   stdout=subprocess.DEVNULL)
    with pytest.raises(heddle.ConnectError, match="refused|handshake|no answer"):
        heddle.connect(cluster.clients, keys=str(other), connect_timeout=1)


def test_closed_client_fails_its_futures(cluster):
    h = cluster.client()
    fut = h.submit("sleep", b"10000")
    h.close()
    with pytest.raises(heddle.Closed):
        fut.result(5)
    with pytest.raises(heddle.Closed):
        h.submit("echo", b"")


def test_busy_is_retried_and_waiting_for_a_worker():
    """A task refused BUSY is sent again after the broker's hint (retry_busy); a task for a
    function no worker offers yet waits (NOTICE), then ends UNKNOWN_FN."""
    c = make_cluster(slots=1, broker_args=["--heartbeat", "100", "--max-client-tasks", "2"])
    try:
        with c.client() as h:
            heddle._wait_workers(h, 1, 10)
            futs = [h.submit("sleep", b"300") for _ in range(4)]
            assert [f.result(30) for f in futs] == [b"300"] * 4
            assert h.stats["retried"] >= 2
            with pytest.raises(heddle.UnknownFunction):
                h.call("not-offered", b"", timeout=0.3)
            assert h.notices and h.notices[0]["fn"] == "not-offered"
    finally:
        c.stop()


def test_broker_restart_mid_job():
    """Kill -9 the broker (journal sync) while a job runs; every result arrives, exactly once."""
    c = make_cluster(slots=2, journal="sync", broker_args=["--heartbeat", "200"],
                     fixed_ports=True)
    try:
        with c.client() as h:
            heddle._wait_workers(h, 1, 10)
            items = [b"%d" % (i % 3) for i in range(1200)]  # sleep 0..2 ms each: ~1.2 s
            seen = []
            at_crash = []

            def crash():
                time.sleep(0.4)
                at_crash.append(len(seen))
                c.kill_broker()
                time.sleep(0.3)
                c.restart_broker()

            t = threading.Thread(target=crash)
            t.start()
            for out in h.map("sleep", items, window=200):
                seen.append(out)
            t.join()
            assert 0 < at_crash[0] < len(items)  # the crash came mid-job
            assert seen == items
            assert h.stats["results"] == len(items)
    finally:
        c.stop()


def test_asyncio(client):
    import asyncio

    async def main():
        outs = await asyncio.gather(*(client.acall("echo", b"%d" % i) for i in range(20)))
        assert outs == [b"%d" % i for i in range(20)]
        with pytest.raises(heddle.Failed):
            await client.acall("sleep", b"nope")

    asyncio.run(main())
