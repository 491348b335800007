"""An embedded cluster: heddle's own heddle-broker and heddle-worker binaries run as child
processes on 127.0.0.1, CURVE on, with throwaway keys made by `heddle keys init` in a temporary
directory. What heddle.connect() starts when no broker is configured anywhere."""
import atexit
import ctypes
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time

_BINARIES = ("heddle", "heddle-broker", "heddle-worker")


class ClusterError(RuntimeError):
    pass


def _candidates():
    env = os.environ.get("HEDDLE_BIN_DIR")
    if env:
        yield env
    here = os.path.dirname(os.path.abspath(__file__))
    # Installed: PREFIX/lib/python3/dist-packages/heddle -> PREFIX/bin
    for up in (3, 4, 5):
        yield os.path.normpath(os.path.join(here, *([".."] * up), "bin"))
    # A source tree: python/heddle -> build/
    yield os.path.normpath(os.path.join(here, "..", "..", "build"))
    for d in os.environ.get("PATH", "").split(os.pathsep):
        if d:
            yield d


def find_bin_dir():
    """The directory holding heddle, heddle-broker and heddle-worker: $HEDDLE_BIN_DIR, next to
    the installed package, a source tree's build/, or $PATH."""
    for d in _candidates():
        if all(os.access(os.path.join(d, b), os.X_OK) for b in _BINARIES):
            return os.path.abspath(d)
    raise ClusterError("heddle-broker and heddle-worker not found (looked in $HEDDLE_BIN_DIR, "
                       "next to this package, ../../build and $PATH): install heddle, set "
                       "HEDDLE_BIN_DIR to the directory holding them, or give a broker "
                       "(heddle.connect('host'), $HEDDLE_BROKER)")


def _free_endpoints(n):
    """n tcp://127.0.0.1:PORT endpoints free now, below the kernel's ephemeral range, so that a
    broker restarted on them does not find them taken by some other program's `*` bind."""
    import random
    import socket
    out = []
    while len(out) < n:
        port = random.randrange(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        out.append("tcp://127.0.0.1:%d" % port)
    return out


def _die_with_parent():
    # Children go when the Python process dies, even by SIGKILL.
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class Cluster:
    """A broker and `workers` worker processes (each `slots` slots) on 127.0.0.1. Attributes:
    clients, workers_endpoint, metrics, events (endpoints), keys (the key directory), dir."""

    def __init__(self, workers=1, slots=None, bin_dir=None, broker_args=(), worker_args=(),
                 journal="none", start_timeout=10.0, fixed_ports=False):
        self.bin_dir = os.path.abspath(bin_dir) if bin_dir else find_bin_dir()
        self.dir = tempfile.mkdtemp(prefix="heddle-py-")
        self.keys = os.path.join(self.dir, "keys")
        self.procs = []
        self.broker = None
        self._lock = threading.Lock()
        self._stopped = False
        atexit.register(self.stop)
        try:
            self._keys_init()
            self._start_broker(journal, broker_args, start_timeout,
                               _free_endpoints(4) if fixed_ports else None)
            slots = slots or os.cpu_count() or 1
            for i in range(workers):
                self.add_worker("local-%d" % (i + 1), slots, worker_args)
        except BaseException:
            self.stop()
            raise

    def _bin(self, name):
        return os.path.join(self.bin_dir, name)

    def _keys_init(self):
        r = subprocess.run([self._bin("heddle"), "keys", "init", self.keys],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            raise ClusterError("heddle keys init failed: %s" % r.stderr.strip())

    def _spawn(self, argv, **kw):
        # PR_SET_PDEATHSIG fires when the *thread* that forked exits: only from the main thread
        # (which lives as long as the process); otherwise atexit alone stops the children.
        main = threading.current_thread() is threading.main_thread()
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, cwd=self.dir,
                                preexec_fn=_die_with_parent if main else None, **kw)

    def _start_broker(self, journal, extra, timeout, endpoints=None):
        eps = endpoints or ["tcp://127.0.0.1:*"] * 4
        self._broker_conf = (journal, extra, timeout)
        argv = [self._bin("heddle-broker"), "--keys", self.keys,
                "--clients", eps[0], "--workers", eps[1], "--metrics", eps[2],
                "--events", eps[3],
                "--journal", journal, "--journal-dir", os.path.join(self.dir, "journal"),
                "--no-beacon", "--http", "none", "--print-endpoints", "--log-level", "warn"] + list(extra)
        self.broker = self._spawn(argv, stdout=subprocess.PIPE, text=True)
        self.procs.append(self.broker)
        line = self._read_line(self.broker, timeout)
        fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
        if "clients" not in fields:
            raise ClusterError("heddle-broker did not start (%s)" % (line.strip() or "no output"))
        self.clients = fields["clients"]
        self.workers_endpoint = fields["workers"]
        self.metrics = fields.get("metrics")
        self.events = fields.get("events")
        self.fingerprint = fields.get("fingerprint")

    @staticmethod
    def _read_line(proc, timeout):
        box = []
        t = threading.Thread(target=lambda: box.append(proc.stdout.readline()), daemon=True)
        t.start()
        t.join(timeout)
        return box[0] if box else ""

    def kill_broker(self, sig=signal.SIGKILL):
        """Kill the broker (a crash, by default) and wait for it to go."""
        self.broker.send_signal(sig)
        self.broker.wait()
        self.broker.stdout.close()

    def restart_broker(self):
        """Start the broker again on the same endpoints, keys and journal (make the cluster
        with fixed_ports=True, or another program may take a port meanwhile)."""
        journal, extra, timeout = self._broker_conf
        self._start_broker(journal, extra, timeout,
                           [self.clients, self.workers_endpoint, self.metrics, self.events])

    def add_worker(self, name, slots=1, extra=()):
        """Start one more heddle-worker (C) on this cluster; returns its Popen."""
        argv = [self._bin("heddle-worker"), "--broker", self.workers_endpoint, "--keys",
                self.keys, "--name", name, "--slots", str(slots), "--log-level", "warn"]
        p = self._spawn(argv + list(extra))
        self.procs.append(p)
        return p

    def client(self, **kw):
        """A heddle.Client connected to this cluster with its client key."""
        from . import connect
        return connect(self.clients, keys=self.keys, **kw)

    def stop(self):
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
        deadline = time.monotonic() + 5
        for p in self.procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            if p.stdout:
                p.stdout.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        try:
            atexit.unregister(self.stop)
        except Exception:
            pass
