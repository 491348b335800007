"""What a Python worker learns about its machine and its LAN: the metrics snapshot of
docs/METRICS.md (the same keys and sources as the C worker's hd_sysinfo), the capacity score, and
the broker's discovery beacon (docs/PROTOCOL.md section 11)."""
import glob
import ipaddress
import os
import re
import socket
import time

from zmq.utils import z85


def cores():
    try:
        return len(os.sched_getaffinity(0)) or os.cpu_count() or 1
    except AttributeError:
        return os.cpu_count() or 1


class Sampler:
    """Successive snapshots: cpu and network rates are deltas since the previous sample."""

    def __init__(self, work_dir="."):
        self.work_dir = work_dir
        self._cpu = None
        self._net = None

    @staticmethod
    def _read(path):
        try:
            with open(path) as f:
                return f.read()
        except OSError:
            return None

    def sample(self):
        out = {"cores": cores()}
        stat = self._read("/proc/stat")
        if stat:
            v = [int(x) for x in stat.split("\n", 1)[0].split()[1:9]]
            busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
            total = busy + v[3] + v[4]
            if self._cpu and total > self._cpu[1]:
                out["cpu"] = max(0.0, min(1.0, (busy - self._cpu[0]) / (total - self._cpu[1])))
            self._cpu = (busy, total)
        load = self._read("/proc/loadavg")
        if load:
            l1, l5, l15 = (float(x) for x in load.split()[:3])
            out.update(load1=l1, load5=l5, load15=l15)
        mem = self._read("/proc/meminfo")
        if mem:
            m = dict(re.findall(r"^(\w+):\s+(\d+)", mem, re.M))
            if "MemTotal" in m and "MemAvailable" in m:
                out["mem_total"] = int(m["MemTotal"]) * 1024
                out["mem_avail"] = int(m["MemAvailable"]) * 1024
        try:
            st = os.statvfs(self.work_dir)
            out["disk_free"] = st.f_bavail * st.f_frsize
            out["disk_total"] = st.f_blocks * st.f_frsize
        except OSError:
            pass
        net = self._read("/proc/net/dev")
        if net:
            rx = tx = 0
            for line in net.splitlines()[2:]:
                name, _, rest = line.partition(":")
                if name.strip() == "lo":
                    continue
                f = rest.split()
                rx, tx = rx + int(f[0]), tx + int(f[8])
            now = time.monotonic()
            if self._net and now > self._net[2]:
                dt = now - self._net[2]
                out["rx"] = max(0.0, (rx - self._net[0]) / dt)
                out["tx"] = max(0.0, (tx - self._net[1]) / dt)
            self._net = (rx, tx, now)
        temps = []
        for path in glob.glob("/sys/class/thermal/thermal_zone*/temp"):
            t = self._read(path)
            try:
                temps.append(int(t) / 1000.0)
            except (TypeError, ValueError):
                pass
        if temps:
            out["temp"] = max(temps)
        thr = self._read("/sys/devices/platform/soc/soc:firmware/get_throttled")
        if thr:
            try:
                out["throttled"] = int(thr.strip(), 16)
            except ValueError:
                pass
        return out


# --- capacity score ---------------------------------------------------------------------------

# The C worker's kernel (worker/hd_bench_score.c) measures a core in work units per ms. CPython
# runs the same kernel about this many times slower; dividing it out makes a Python worker
# advertise about the score a C worker on the same board would (the score describes the
# hardware, so that the scheduler weighs nodes alike whatever language their worker is in).
PYTHON_SLOWDOWN = 250.0
_M64 = (1 << 64) - 1
_M32 = (1 << 32) - 1


def _kernel(units):
    x, acc, f = 0x9e3779b97f4a7c15, 1, 1.0
    w = [(0x6a09e667 + 0x9e3779b9 * i) & _M32 for i in range(8)]
    for _ in range(units * 64):
        x ^= (x << 13) & _M64
        x ^= x >> 7
        x ^= (x << 17) & _M64
        acc = (acc * 6364136223846793005 + x) & _M64
        carry = x & _M32
        for i in range(8):
            b = w[(i + 1) & 7]
            t = (w[i] + (((b << 7) | (b >> 25)) & _M32) + carry) & _M32
            c = t ^ w[(i + 3) & 7]
            carry = ((((c << 13) | (c >> 19)) & _M32) + (t >> 3)) & _M32
            w[i] = t ^ carry
        f = f * 3.0 + float(x & 0xffff)
        f -= 1099511627776.0 * (f // 1099511627776.0)
    total = acc ^ x ^ int(f)
    for v in w:
        total = (total * 31 + v) & _M64
    return total


def score(budget_ms=50):
    """Work units per ms of the C kernel this core would score (best of 3 runs)."""
    best = None
    units = 1
    t0 = time.thread_time()
    _kernel(units)
    one = max(1e-6, time.thread_time() - t0)
    units = max(1, int(budget_ms / 3000.0 / one))
    for _ in range(3):
        t0 = time.thread_time()
        _kernel(units)
        dt = max(1e-6, time.thread_time() - t0)
        rate = units / (dt * 1000.0)
        best = rate if best is None or rate > best else best
    return best * PYTHON_SLOWDOWN


# --- discovery --------------------------------------------------------------------------------

_CLUSTER = re.compile(r"^[A-Za-z0-9._-]{1,32}$")
_HOST = re.compile(r"^(\*|[A-Za-z0-9.:-]{1,63})$")
_PORT = re.compile(r"^[1-9][0-9]{0,4}$")


def parse_beacon(data):
    """(cluster, host, port, key or None for '-') of a valid HEDDLE1 beacon, else None."""
    if len(data) > 255 or b"\0" in data:
        return None
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        return None
    if not text.isprintable():
        return None
    fields = text.split(" ")
    if len(fields) != 5 or fields[0] != "HEDDLE1":
        return None
    _, cluster, host, port, key = fields
    if not _CLUSTER.match(cluster) or not _HOST.match(host) or not _PORT.match(port):
        return None
    if not 1 <= int(port) <= 65535:
        return None
    if key != "-":
        try:
            if len(key) != 40 or len(z85.decode(key)) != 32:
                return None
        except Exception:
            return None
    return cluster, host, int(port), (None if key == "-" else key)


def listen_beacon(cluster, port, accept, timeout=None, log=None, interface_addr=""):
    """Wait for the first beacon of `cluster` that accept(key) takes: (endpoint, key).
    accept returns None to take it, or the reason it is ignored (logged once per broker)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if hasattr(socket, "SO_REUSEPORT"):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind((interface_addr, port))
    s.settimeout(1.0)
    deadline = None if timeout is None else time.monotonic() + timeout
    said = set()
    last_note = time.monotonic()
    try:
        while deadline is None or time.monotonic() < deadline:
            try:
                data, (addr, _) = s.recvfrom(512)
            except socket.timeout:
                if log and time.monotonic() - last_note > 10:
                    log("still looking for a broker of cluster '%s' (UDP %d)" % (cluster, port))
                    last_note = time.monotonic()
                continue
            b = parse_beacon(data)
            if b is None or b[0] != cluster:
                continue
            _, host, bport, key = b
            host = addr if host == "*" else host
            why = accept(key)
            if why is not None:
                if log and (host, key) not in said:
                    log("ignoring the broker at %s:%d: %s" % (host, bport, why))
                    said.add((host, key))
                continue
            try:
                is6 = ipaddress.ip_address(host).version == 6
            except ValueError:
                is6 = ":" in host
            return ("tcp://[%s]:%d" % (host, bport) if is6 else "tcp://%s:%d" % (host, bport)), key
    finally:
        s.close()
    return None, None
