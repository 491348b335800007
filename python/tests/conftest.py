"""Fixtures: real heddle-broker and heddle-worker processes (from $HEDDLE_BIN_DIR, the build
directory under ctest) on 127.0.0.1 with CURVE on."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import heddle  # noqa: E402


def bin_dir():
    d = os.environ.get("HEDDLE_BIN_DIR")
    if not d:
        try:
            d = heddle.cluster.find_bin_dir()
        except heddle.ClusterError as e:
            pytest.fail(str(e))
    for b in ("heddle", "heddle-broker", "heddle-worker"):
        if not os.access(os.path.join(d, b), os.X_OK):
            pytest.fail("%s/%s is missing: build the project first" % (d, b))
    return d


def make_cluster(workers=1, slots=2, **kw):
    return heddle.Cluster(workers=workers, slots=slots, bin_dir=bin_dir(), **kw)


@pytest.fixture(scope="session")
def cluster():
    """One broker (heartbeat 200 ms, max payload 200000, no waiting for workers: an unknown
    function is refused at once) and one C worker with 2 slots."""
    c = make_cluster(broker_args=["--heartbeat", "200", "--max-payload", "200000",
                                  "--worker-wait", "0"])
    with c.client() as h:
        heddle._wait_workers(h, 1, 10)
    yield c
    c.stop()


@pytest.fixture(params=[True, False], ids=["packed", "unpacked"])
def client(request, cluster):
    with cluster.client(pack=request.param) as h:
        yield h
