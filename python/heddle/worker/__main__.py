"""python3 -m heddle.worker --module mytasks: serve a module's Python functions to a heddle
cluster (docs/PYTHON.md)."""
import argparse
import importlib
import logging
import os
import sys

from . import Worker, WorkerError
from .. import keys as K

EPILOG = """\
The module's functions take the task's input (bytes) and return its output (bytes, or str).
It lists them in HEDDLE_FUNCTIONS ({"name": fn} or [fn, ...]); without that list, every public
function defined in it is offered under its own name. An exception is the task's FAILED result.

Examples:
  python3 -m heddle.worker --module mytasks --broker pi-head --keys /etc/heddle/keys
  PYTHONPATH=/opt/jobs python3 -m heddle.worker -m thumbs --slots 4 --tags camera
Exit status: 0 stopped (SIGTERM, SIGINT); 1 a runtime failure; 2 bad usage.
"""


def parse(argv):
    p = argparse.ArgumentParser(
        prog="python3 -m heddle.worker", description="Join a heddle cluster and run its tasks "
        "with Python functions.", epilog=EPILOG, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("-m", "--module", action="append", required=True, metavar="MODULE",
                   help="import MODULE and offer its functions (repeatable; the current\n"
                        "directory is on the import path)")
    p.add_argument("-b", "--broker", metavar="ENDPOINT",
                   help="broker's workers endpoint: tcp://HOST:7701, HOST:PORT or HOST; 'auto':\n"
                        "find it by its discovery beacon (default $HEDDLE_WORKER_BROKER, else\n"
                        "the [worker] section of the config file, else auto)")
    p.add_argument("-k", "--keys", metavar="DIR",
                   help="keys directory: worker.cert_secret + broker.cert, and payload.cert_secret "
                   "to run sealed tasks (default $HEDDLE_KEYS)")
    p.add_argument("--cert", metavar="FILE", help="this worker's secret certificate")
    p.add_argument("--broker-key", metavar="KEY", help="broker public key, Z85 text or cert file")
    p.add_argument("--broker-fingerprint", metavar="FP",
                   help="refuse a broker whose key has another fingerprint")
    p.add_argument("--state-dir", metavar="DIR",
                   help="without --cert or KEYS/worker.cert_secret: this worker's own key pair,\n"
                        "made here on first start, and the pinned broker key (default\n"
                        "/var/lib/heddle when writable, else ~/.local/state/heddle)")
    p.add_argument("--insecure", action="store_true", help="plain TCP without CURVE")
    p.add_argument("-n", "--name", help="node name, unique in the cluster (default: HOST-py)")
    p.add_argument("-s", "--slots", type=int, help="tasks run at once (default: online cores)")
    p.add_argument("--threads", action="store_true",
                   help="slots are threads, not processes (I/O-bound functions; a running\n"
                        "thread cannot be stopped at its timeout or on cancel)")
    p.add_argument("-t", "--tags", default="", help="tags offered to task requirements: A,B")
    p.add_argument("--cluster", default="heddle", help="discovery: cluster name (default heddle)")
    p.add_argument("--beacon-port", type=int, default=7709,
                   help="discovery: UDP port of the beacons (default 7709)")
    p.add_argument("--discover-timeout", type=float, metavar="SECONDS",
                   help="discovery: give up after this long (default: wait for ever)")
    p.add_argument("--capacity", type=float,
                   help="capacity score sent to the broker (default: measured at start)")
    p.add_argument("--metrics-interval", type=int, default=1000, metavar="MS",
                   help="capacity metrics period (default 1000)")
    p.add_argument("--misses", type=int, default=5,
                   help="silent heartbeats before reconnecting (default 5)")
    p.add_argument("--work-dir", default=".", help="directory whose free space is advertised")
    p.add_argument("--log-level", default="info", choices=["error", "warn", "info", "debug"])
    args = p.parse_args(argv)
    if args.slots is not None and args.slots < 1:
        p.error("--slots wants a number >= 1")
    return args


def main(argv=None):
    args = parse(sys.argv[1:] if argv is None else argv)
    level = {"warn": "WARNING"}.get(args.log_level, args.log_level.upper())
    logging.basicConfig(level=level, format="%(asctime)s heddle.worker[%(process)d] "
                        "%(levelname)s: %(message)s", datefmt="%H:%M:%S")
    sys.path.insert(0, os.getcwd())
    try:
        w = Worker(broker=args.broker, keys=args.keys, name=args.name, slots=args.slots,
                   mode="thread" if args.threads else "process",
                   tags=[t for t in args.tags.split(",") if t], cert=args.cert,
                   broker_key=args.broker_key, broker_fingerprint=args.broker_fingerprint,
                   state_dir=args.state_dir, insecure=args.insecure, cluster=args.cluster,
                   beacon_port=args.beacon_port, discover_timeout=args.discover_timeout,
                   metrics_interval=args.metrics_interval / 1000.0, misses=args.misses,
                   capacity=args.capacity, work_dir=args.work_dir)
        for name in args.module:
            try:
                w.add_module(importlib.import_module(name))
            except ImportError as e:
                sys.stderr.write("heddle.worker: cannot import %s: %s (is it on PYTHONPATH?)\n"
                                 % (name, e))
                return 2
        if not w.functions:
            sys.stderr.write("heddle.worker: %s offers no functions\n" % ", ".join(args.module))
            return 2
        w.run()
    except (WorkerError, K.KeyError_, ValueError) as e:
        sys.stderr.write("heddle.worker: %s\n" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
