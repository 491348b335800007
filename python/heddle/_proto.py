"""Wire protocol v1 (docs/PROTOCOL.md): constants, frames, envelopes and the packed form.

Only what both the client and the worker need. Envelopes are MessagePack maps with str keys;
the hot paths (SUBMIT, DONE, packed frames) are built from precomputed bytes, not through
msgpack.packb, because they run once per task.
"""
import os

import msgpack

VERSION = 1
SIG = b"HD"

# Commands (section 4)
SUBMIT, CANCEL, ACK, NODES, PING, ADMIN, FUNCTIONS = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07
ACCEPTED, REJECTED, RESULT, NODES_REPLY, PONG = 0x11, 0x12, 0x13, 0x14, 0x15
NOTICE, FUNCTIONS_REPLY = 0x16, 0x17
# Detached jobs (section 15)
JOB_OPEN, JOBS, JOB_FETCH, JOB_CANCEL, JOB_RELEASE = 0x08, 0x09, 0x0A, 0x0B, 0x0C
JOB_INFO, JOBS_REPLY, JOB_DATA = 0x18, 0x19, 0x1A
HELLO, CREDIT, DONE, HEARTBEAT, BYE = 0x21, 0x22, 0x23, 0x24, 0x25
WELCOME, TASK, ABORT, BEAT, DRAIN, ERROR = 0x31, 0x32, 0x33, 0x34, 0x35, 0x3F
METRICS, EVENT = 0x40, 0x41

HEADERS = {c: bytes((0x48, 0x44, VERSION, c)) for c in range(0x100)}

# Status codes (section 6)
OK, FAILED, UNKNOWN_FN, TOO_LARGE, BUSY, MALFORMED, VERSION_ERR = 0, 1, 2, 3, 4, 5, 6
TIMEOUT, CANCELLED, DENIED, STORAGE, LOST, INTERNAL, UNSATISFIABLE = 7, 8, 9, 10, 11, 12, 13
TAMPERED = 14  # a sealed payload or result failed verification (heddle.seal)
CLOSED = -2  # not on the wire: the client was closed with the task in flight
STATUS_NAMES = ["OK", "FAILED", "UNKNOWN_FN", "TOO_LARGE", "BUSY", "MALFORMED", "VERSION",
                "TIMEOUT", "CANCELLED", "DENIED", "STORAGE", "LOST", "INTERNAL",
                "UNSATISFIABLE", "TAMPERED"]

# Limits (section 7)
ID_BYTES = 16
MAX_FN = 63
MAX_NAME = 63
MAX_TAGS = 8
MAX_FNS = 128
MAX_ERROR = 1023
MAX_BATCH = 1024
MAX_ENVELOPE = 65536
DEFAULT_MAX_PAYLOAD = 1 << 20
PACK_MAX_PAYLOAD = 1024
PACK_MAX_BYTES = 65536
JOB_ID_LEN = 18          # "j-" + 16 lowercase hex digits
MAX_JOB_NAME = 64
MAX_JOBS_LIST = 256
JOB_FETCH_MIN = 1024
JOB_FETCH_MAX = 4 << 20
JOB_WAIT_MAX = 30000     # ms
MAX_JOB_TTL = 90 * 86400  # s

_FN_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")


def status_name(code):
    return STATUS_NAMES[code] if 0 <= code < len(STATUS_NAMES) else "STATUS_%d" % code


def check_fn(fn):
    """The function name as bytes, or ValueError: 1..63 bytes of [A-Za-z0-9_.-]."""
    raw = fn.encode() if isinstance(fn, str) else bytes(fn)
    if not 1 <= len(raw) <= MAX_FN or not set(raw) <= _FN_CHARS:
        raise ValueError("function name %r: want 1..63 characters of A-Z a-z 0-9 _ . -" % (fn,))
    return raw


def check_name(text, what, limit=MAX_NAME):
    raw = text.encode() if isinstance(text, str) else bytes(text)
    if not raw or len(raw) > limit or b"\0" in raw:
        raise ValueError("%s %r: want 1..%d bytes, no NUL" % (what, text, limit))
    return raw.decode("utf-8", "replace")


_HEX = frozenset("0123456789abcdef")

# Sessions (PROTOCOL section 9): claimed in the X-Session connection property (ZMQ_METADATA,
# 95 in libzmq 4.3) on a connection whose routing id is a fresh secret of 16+ random bytes:
# the broker sends a session's results to the connection its owner spoke on last.
SESSION_PROPERTY = "X-Session"
MAX_SESSION = 255
_ZMQ_METADATA = 95


def check_session(session):
    """A session id: 1..255 visible ASCII characters (0x21..0x7e)."""
    if (not isinstance(session, str) or not 1 <= len(session) <= MAX_SESSION
            or any(not 0x21 <= ord(ch) <= 0x7e for ch in session)):
        raise ValueError("invalid session id %r: 1 to %d visible ASCII characters"
                         % (session, MAX_SESSION))
    return session


def claim_session(sock, session):
    """Set a socket up to speak for `session`: a random routing id and the X-Session property."""
    import zmq
    sock.setsockopt(zmq.ROUTING_ID, b"r-" + os.urandom(16).hex().encode())
    sock.setsockopt(getattr(zmq, "METADATA", _ZMQ_METADATA),
                    ("%s:%s" % (SESSION_PROPERTY, check_session(session))).encode())


def job_id_valid(job):
    """True for a job id: "j-" + 16 lowercase hex digits."""
    return (isinstance(job, str) and len(job) == JOB_ID_LEN and job.startswith("j-")
            and set(job[2:]) <= _HEX)


def job_id_new():
    return "j-" + os.urandom(8).hex()


def job_nonce(job):
    """The 8 bytes a job id's hex digits spell: the first half of its task ids."""
    return bytes.fromhex(job[2:])


def job_task_id(nonce, index):
    """The id of a job's task of input `index`: nonce (8 bytes) + index (big-endian uint64)."""
    return nonce + index.to_bytes(8, "big")


def job_task_index(nonce, tid):
    """The input index of task id tid if it is one of the job's (nonce), else None."""
    if len(tid) != ID_BYTES or tid[:8] != nonce:
        return None
    return int.from_bytes(tid[8:], "big")


def parse_header(frame):
    """(version, cmd) of a header frame, or None when it is not one."""
    if len(frame) != 4 or frame[0] != 0x48 or frame[1] != 0x44:
        return None
    return frame[2], frame[3]


def pack(obj):
    return msgpack.packb(obj, use_bin_type=True)


def unpack_env(data):
    """An envelope: one map with str keys filling the frame, or None when malformed."""
    try:
        env = msgpack.unpackb(data, raw=False, strict_map_key=True, max_bin_len=len(data),
                              max_str_len=len(data), max_array_len=len(data),
                              max_map_len=len(data))
    except Exception:
        return None
    return env if isinstance(env, dict) else None


# --- packed form (section 2) -------------------------------------------------------------------

_BIN8 = [bytes((0xc4, n)) for n in range(256)]


def bin_header(n):
    if n < 256:
        return _BIN8[n]
    if n < 65536:
        return b"\xc5" + n.to_bytes(2, "big")
    return b"\xc6" + n.to_bytes(4, "big")


def iter_packed(frame):
    """Yield (envelope, payload) pairs of a packed frame. Stops at the first malformed byte
    (pairs before it stand, as the protocol says)."""
    n = len(frame)
    i = 0
    mv = None
    while i < n:
        out = []
        for _ in (0, 1):
            if i >= n:
                return
            t = frame[i]
            if t == 0xc4 and i + 1 < n:
                size, i = frame[i + 1], i + 2
            elif t == 0xc5 and i + 2 < n:
                size, i = (frame[i + 1] << 8) | frame[i + 2], i + 3
            elif t == 0xc6 and i + 4 < n:
                size, i = int.from_bytes(frame[i + 1:i + 5], "big"), i + 5
            else:
                return
            if i + size > n:
                return
            if size > 4096:
                if mv is None:
                    mv = memoryview(frame)
                out.append(bytes(mv[i:i + size]))
            else:
                out.append(frame[i:i + size])
            i += size
        yield out[0], out[1]


def pairs(frames):
    """(envelope, payload) pairs of a task-carrying message (header excluded), either form."""
    if len(frames) == 2:
        return iter_packed(frames[1])
    return zip(frames[1::2], frames[2::2])


class Batcher:
    """Builds task-carrying messages. Packed: small pairs back to back in frames of at most
    64 KiB / 1024 pairs, a payload over 1 KiB as a frame pair in a message of its own.
    Unpacked: frame pairs, up to 1024 per message. add() each pair, then messages()."""

    __slots__ = ("cmd", "packed", "_parts", "_count", "_bytes", "_out")

    def __init__(self, cmd, packed):
        self.cmd = cmd
        self.packed = packed
        self._parts = []
        self._count = 0
        self._bytes = 0
        self._out = []

    def add(self, env, payload):
        size = len(payload)
        if not self.packed:
            if self._count >= MAX_BATCH:
                self._close()
            self._parts.append(env)
            self._parts.append(payload)
            self._count += 1
            return
        if size > PACK_MAX_PAYLOAD:
            self._out.append([HEADERS[self.cmd], env, payload])
            return
        need = len(env) + size + 6
        if self._count >= MAX_BATCH or self._bytes + need > PACK_MAX_BYTES:
            self._close()
        ne = len(env)
        parts = self._parts
        parts.append(_BIN8[ne] if ne < 256 else bin_header(ne))
        parts.append(env)
        parts.append(_BIN8[size] if size < 256 else bin_header(size))
        parts.append(payload)
        self._count += 1
        self._bytes += need

    def __len__(self):
        return self._count + len(self._out)

    def _close(self):
        if self._count:
            if self.packed:
                self._out.append([HEADERS[self.cmd], b"".join(self._parts)])
            else:
                self._out.append([HEADERS[self.cmd]] + self._parts)
            self._parts = []
            self._count = 0
            self._bytes = 0

    def messages(self):
        self._close()
        out, self._out = self._out, []
        return out


def frame_pairs_message(cmd, pairs_list):
    """An unpacked task-carrying message of up to MAX_BATCH pairs."""
    msg = [HEADERS[cmd]]
    for env, payload in pairs_list:
        msg.append(env)
        msg.append(payload)
    return msg


def ids_env(ids):
    return pack({"ids": list(ids)})
