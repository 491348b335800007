"""heddle: submit tasks to a heddle cluster, and write its task functions, in Python.

    import heddle
    with heddle.connect() as h:                       # $HEDDLE_BROKER, or an embedded cluster
        print(h.call("sha256", b"hello"))
        for digest in h.map("sha256", (b"%d" % i for i in range(100000))):
            ...

Detached jobs (results kept by the broker until released, whatever happens to this program):
h.submit_job(fn, inputs) returns a heddle.Job; later, anywhere with the same key,
h.job(JOB_ID).results(). Workers: see heddle.Worker and `python3 -m heddle.worker --help`.
docs/PYTHON.md has it all.
"""
import os
import time

from . import _proto
from .client import Client, Results
from .futures import Future, as_completed, wait
from .jobs import Job, JobInfo, JobResults
from .errors import (Busy, Cancelled, Closed, ConnectError, Denied, Failed, HeddleError,
                     Internal, Lost, Malformed, Storage, Timeout, TooLarge, UnknownFunction,
                     Tampered, Unsatisfiable, VersionMismatch)
from .cluster import Cluster, ClusterError
from . import keys as _keys

__version__ = "0.1.0"
__all__ = ["connect", "Client", "Future", "Results", "Job", "JobInfo", "JobResults",
           "as_completed", "wait", "Cluster",
           "ClusterError", "Worker", "HeddleError", "ConnectError", "Closed", "Failed",
           "UnknownFunction", "TooLarge", "Busy", "Malformed", "VersionMismatch", "Timeout",
           "Cancelled", "Denied", "Storage", "Lost", "Internal", "Unsatisfiable", "Tampered"]

STATUS = {name: code for code, name in enumerate(_proto.STATUS_NAMES)}


def connect(broker=None, keys=None, *, cert=None, insecure=None, session=None, pack=True,
            connect_timeout=5.0, retry_busy=60.0, adopt=(), workers=1, slots=None,
            plain_payloads=None):
    """Connect to a broker and return a Client.

    broker: tcp://host:port, host:port or host (port 7700); default $HEDDLE_BROKER, else the
    [client] section of $HEDDLE_CONFIG or /etc/heddle/heddle.conf. With no broker anywhere, an
    embedded cluster (heddle-broker + `workers` heddle-worker processes of `slots` slots, default
    one per core) is started on 127.0.0.1 and stopped when the client closes.
    keys: a directory made by `heddle keys init` (client.cert_secret + broker.cert); default
    $HEDDLE_KEYS, else ~/.config/heddle/keys. cert: this client's secret certificate
    (default KEYS/client.cert_secret, or KEYS/admin.cert_secret when it is the only one).
    insecure: plain TCP, for a broker run with --insecure. session: a name to resume (results
    of a named session wait at the broker for the next connect with the same name). pack:
    send SUBMITs in the packed form (faster; the broker then packs RESULTs too). retry_busy:
    a task refused BUSY or STORAGE is sent again after the broker's hint for up to this many
    seconds (0: the refusal is its result at once). adopt: with session, the ids of tasks
    submitted before a restart whose results this process wants: client.adopted maps each to
    its Future. plain_payloads: do not seal task payloads end to end (default
    $HEDDLE_PLAIN_PAYLOADS; otherwise every task to a TCP broker is sealed when KEYS holds
    payload.cert, and only workers holding the payload secret key run it; the embedded cluster
    is never sealed).
    """
    opts = dict(session=session, pack=pack, connect_timeout=connect_timeout,
                retry_busy=retry_busy, adopt=adopt, plain_payloads=plain_payloads)
    s = _keys.client_settings(broker, keys, cert, insecure)
    if s["broker"] is None:
        cluster = Cluster(workers=workers, slots=slots)
        try:
            opts["plain_payloads"] = True  # in-process cluster: sealing buys nothing
            client = _connect_to(cluster.clients, cluster.keys, None, False, cluster, opts)
            _wait_workers(client, workers, 10.0)
        except BaseException:
            cluster.stop()
            raise
        return client
    return _connect_to(_keys.endpoint(s["broker"], 7700), s["keys"], s["cert"], s["insecure"],
                       None, opts)


def _connect_to(endpoint, keys_dir, cert, insecure, cluster, opts):
    if insecure or not endpoint.startswith("tcp://"):
        return Client(endpoint, insecure=True, cluster=cluster, **opts)
    if not keys_dir and not cert:
        raise ConnectError("connecting to %s: no key directory (give keys=DIR or set "
                           "HEDDLE_KEYS; make one with 'heddle keys init'), or insecure=True "
                           "for a broker run with --insecure" % endpoint)
    try:
        pair = _keys.load_secret(cert or os.path.join(keys_dir, "client.cert_secret"))
        if not keys_dir:
            raise ConnectError("connecting to %s: no broker key: give keys=DIR holding "
                               "broker.cert" % endpoint)
        server = _keys.read_cert(os.path.join(keys_dir, "broker.cert"))["public-key"]
    except _keys.KeyError_ as e:
        raise ConnectError("connecting to %s: %s (give keys=DIR made by 'heddle keys init', or "
                           "insecure=True for a broker run with --insecure)" % (endpoint, e))
    return Client(endpoint, cert=pair, server_key=server, cluster=cluster, keys_dir=keys_dir,
                  **opts)


def _wait_workers(client, count, timeout):
    deadline = time.monotonic() + timeout
    while True:
        up = [n for n in client.nodes() if n.get("state") != "down"]
        if len(up) >= count:
            return
        if time.monotonic() > deadline:
            client.close()
            raise ClusterError("embedded cluster: %d of %d workers joined within %.0f s"
                               % (len(up), count, timeout))
        time.sleep(0.02)


def __getattr__(name):
    # heddle.Worker imports the worker side only when used.
    if name == "Worker":
        from .worker import Worker
        return Worker
    raise AttributeError("module 'heddle' has no attribute %r" % name)
