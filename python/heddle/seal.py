"""Sealed payloads (docs/PROTOCOL.md section 14), the same formats as lib/hd_seal.c: task inputs
and results are XChaCha20-Poly1305 under a per-client job key that only workers holding the
cluster's payload secret key can open, so the broker and its journal only see ciphertext.

Task payload:   [1 version][8 payload key id][80 sealed job key][24 nonce][ciphertext + 16 tag]
Result payload: [1 version][24 nonce][ciphertext + 16 tag]

The primitives come from the system's libsodium (libsodium.so.23, which libzmq itself needs)
through ctypes: no other Python dependency. BLAKE2b (key ids, job keys) is hashlib's, which is
the same function as libsodium's crypto_generichash.
"""
import ctypes
import ctypes.util
import hashlib
import itertools
import os
import re
import struct
import threading

from zmq.utils import z85

VERSION = 1
KEY_BYTES = 32
ID_BYTES = 8
SEALED_KEY_BYTES = 80
NONCE_BYTES = 24
MAC_BYTES = 16
TASK_OVERHEAD = 1 + ID_BYTES + SEALED_KEY_BYTES + NONCE_BYTES + MAC_BYTES  # 129
RESULT_OVERHEAD = 1 + NONCE_BYTES + MAC_BYTES                              # 41
TAG_PREFIX = "seal-"
MAX_KEYS = 4        # payload keys a worker holds at once (rotation), as HD_SEAL_MAX_KEYS
CACHE = 8           # opened job keys a worker keeps (one X25519 operation per job, not per task)

_ID_KEY = b"heddle-payload-id"
_JOB_LABEL = b"heddle job key v1"


class SealError(Exception):
    """libsodium is missing, or a key is unusable."""


class NotFound(Exception):
    """A sealed task names a payload key this keyring does not hold."""


class Tampered(Exception):
    """A sealed payload failed verification (altered, moved, or not sealed at all)."""


# --- libsodium ----------------------------------------------------------------------------------

_lib = None
_lib_lock = threading.Lock()


def _sodium():
    global _lib
    if _lib is not None:
        return _lib
    with _lib_lock:
        if _lib is not None:
            return _lib
        name = ctypes.util.find_library("sodium")
        lib = None
        for candidate in ([name] if name else []) + ["libsodium.so.23", "libsodium.so"]:
            try:
                lib = ctypes.CDLL(candidate)
                break
            except OSError:
                continue
        if lib is None:
            raise SealError("libsodium not found (sealed payloads need it; on Debian: apt-get "
                            "install libsodium23, which libzmq5 already depends on), or turn "
                            "sealing off with plain_payloads=True")
        if lib.sodium_init() < 0:
            raise SealError("libsodium failed to initialise")
        u64p = ctypes.POINTER(ctypes.c_ulonglong)
        cp, ull = ctypes.c_char_p, ctypes.c_ulonglong
        lib.crypto_aead_xchacha20poly1305_ietf_encrypt.argtypes = [
            cp, u64p, cp, ull, cp, ull, ctypes.c_void_p, cp, cp]
        lib.crypto_aead_xchacha20poly1305_ietf_decrypt.argtypes = [
            cp, u64p, ctypes.c_void_p, cp, ull, cp, ull, cp, cp]
        lib.crypto_box_seal.argtypes = [cp, cp, ull, cp]
        lib.crypto_box_seal_open.argtypes = [cp, cp, ull, cp, cp]
        lib.crypto_scalarmult_base.argtypes = [cp, cp]
        _lib = lib
    return _lib


def available():
    """True when libsodium can be loaded."""
    try:
        _sodium()
        return True
    except SealError:
        return False


_csb = ctypes.create_string_buffer


def _encrypt(key, nonce, data, ad):
    n = len(data)
    out = _csb(n + MAC_BYTES)
    (_aead_enc or _bind()[0])(out, None, data, n, ad, len(ad), None, nonce, key)
    return out.raw


def _decrypt(key, nonce, data, ad):
    if len(data) < MAC_BYTES:
        raise Tampered("sealed payload too short")
    n = len(data) - MAC_BYTES
    if not n:
        out = _csb(1)
        if (_aead_dec or _bind()[1])(out, None, None, data, MAC_BYTES, ad, len(ad), nonce,
                                     key) != 0:
            raise Tampered("sealed payload failed verification")
        return b""
    out = _csb(n)
    if (_aead_dec or _bind()[1])(out, None, None, data, n + MAC_BYTES, ad, len(ad), nonce,
                                 key) != 0:
        raise Tampered("sealed payload failed verification")
    return out.raw


_aead_enc = _aead_dec = None


def _bind():
    """The AEAD functions, bound once (the hot path calls them without a lookup)."""
    global _aead_enc, _aead_dec
    lib = _sodium()
    _aead_enc = lib.crypto_aead_xchacha20poly1305_ietf_encrypt
    _aead_dec = lib.crypto_aead_xchacha20poly1305_ietf_decrypt
    return _aead_enc, _aead_dec


class _Nonces:
    """16 random bytes per sealer, then a 64-bit little-endian counter (itertools.count is
    atomic under the GIL, so threads share one safely)."""
    __slots__ = ("prefix", "counter")

    def __init__(self):
        self.prefix = os.urandom(16)
        self.counter = itertools.count()

    def next(self):
        return self.prefix + struct.pack("<Q", next(self.counter))


_result_nonces = _Nonces()


# --- keys ---------------------------------------------------------------------------------------

def key_id(pub):
    """The 8-byte id of a payload public key: BLAKE2b-64 keyed by "heddle-payload-id"."""
    return hashlib.blake2b(bytes(pub), digest_size=ID_BYTES, key=_ID_KEY).digest()


def key_tag(pub):
    """The tag a worker holding this key offers: seal-<16 hex>."""
    return TAG_PREFIX + key_id(pub).hex()


def public_of(secret):
    """The X25519 public key of a 32-byte secret."""
    if len(secret) != 32:
        raise SealError("a payload key is 32 bytes")
    pub = ctypes.create_string_buffer(32)
    if _sodium().crypto_scalarmult_base(pub, bytes(secret)) != 0:
        raise SealError("invalid payload key")
    return pub.raw


def job_key(secret=None, session=b""):
    """A client's job key: BLAKE2b-256 keyed by its CURVE secret key over "heddle job key v1"
    || session (a resumed session finds the same key); random without a secret key."""
    if secret is None:
        return os.urandom(KEY_BYTES)
    if isinstance(session, str):
        session = session.encode()
    return hashlib.blake2b(_JOB_LABEL + session, digest_size=KEY_BYTES,
                           key=bytes(secret)).digest()


def seal_box(data, pub):
    """crypto_box_seal(data, pub): 48 bytes more than data."""
    out = ctypes.create_string_buffer(len(data) + 48)
    if _sodium().crypto_box_seal(out, bytes(data), len(data), bytes(pub)) != 0:
        raise SealError("crypto_box_seal failed (invalid public key?)")
    return out.raw


def open_box(sealed, pub, secret):
    """crypto_box_seal_open: the plaintext, or Tampered."""
    if len(sealed) < 48:
        raise Tampered("sealed box too short")
    out = ctypes.create_string_buffer(len(sealed) - 48 or 1)
    if _sodium().crypto_box_seal_open(out, bytes(sealed), len(sealed), bytes(pub),
                                      bytes(secret)) != 0:
        raise Tampered("sealed box does not open with this key")
    return out.raw[:len(sealed) - 48]


def open_grant(grant, worker_pub, worker_secret):
    """A payload secret key granted to a worker (80 bytes, or their Z85 text), opened with the
    worker's own CURVE key pair (raw 32 bytes or Z85 each)."""
    grant, worker_pub, worker_secret = (_raw(x) for x in (grant, worker_pub, worker_secret))
    if len(grant) != SEALED_KEY_BYTES:
        raise Tampered("a grant is %d bytes, not %d" % (len(grant), SEALED_KEY_BYTES))
    return open_box(grant, worker_pub, worker_secret)


def _raw(key):
    if isinstance(key, str):
        key = key.encode()
    if len(key) in (40, 100) and not isinstance(key, memoryview):
        try:
            return z85.decode(key)
        except Exception:
            pass
    return bytes(key)


_KEY_LINE = re.compile(r'^\s*(public-key|secret-key)\s*=\s*"?([^"\s]{40})"?\s*$')


def read_cert_keys(path):
    """{'public-key': raw32, 'secret-key': raw32} of a czmq certificate (secret optional)."""
    with open(path, encoding="ascii", errors="replace") as f:
        text = f.read(65536)
    out = {}
    for line in text.splitlines():
        m = _KEY_LINE.match(line)
        if m:
            try:
                raw = z85.decode(m.group(2).encode())
            except Exception:
                continue
            if len(raw) == 32 and (m.group(1) == "public-key" or any(raw)):
                out[m.group(1)] = raw
    return out


def load_payload_public(keys_dir):
    """The payload public key in KEYS/payload.cert, or None when there is none."""
    path = os.path.join(keys_dir, "payload.cert")
    if not os.path.exists(path):
        return None
    try:
        keys = read_cert_keys(path)
    except OSError as e:
        raise SealError("cannot read the payload key %s: %s" % (path, e.strerror)) from None
    if "public-key" not in keys:
        raise SealError("%s holds no public key (is it a heddle/czmq certificate?)" % path)
    return keys["public-key"]


def payload_secrets(directory):
    """The payload secret keys in directory: payload.cert_secret first (the current one), then
    payload-*.cert_secret (older ones, or granted). Unreadable files are skipped."""
    names = ["payload.cert_secret"]
    try:
        names += sorted(n for n in os.listdir(directory)
                        if n.startswith("payload-") and n.endswith(".cert_secret")
                        and len(n) >= 20)
    except OSError:
        pass
    out = []
    for name in names:
        try:
            secret = read_cert_keys(os.path.join(directory, name)).get("secret-key")
        except OSError:
            continue
        if secret:
            out.append(secret)
    return out


def save_payload_secret(directory, secret):
    """Keep a granted payload secret key as directory/payload-<id>.cert_secret (mode 0600,
    czmq certificate format). Returns the path."""
    import time
    pub = public_of(secret)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    path = os.path.join(directory, "payload-%s.cert_secret" % key_id(pub).hex())
    text = ("#   ****  Generated on %s by heddle (Python)  ****\n"
            "#   ZeroMQ CURVE **Secret** Certificate\n"
            "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n\n"
            'metadata\n    role = "payload key grant"\n    created-by = "heddle python"\n'
            'curve\n    public-key = "%s"\n    secret-key = "%s"\n'
            % (time.strftime("%Y-%m-%d %H:%M:%S"), z85.encode(pub).decode(),
               z85.encode(secret).decode()))
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


# --- associated data ----------------------------------------------------------------------------

def _task_ad(tid, fn):
    return b"T\x01" + tid + (fn.encode() if isinstance(fn, str) else fn)


_STATUS_LE = [struct.pack("<I", c) for c in range(32)]


def _result_ad(tid, status):
    if 0 <= status < 32:
        return b"R\x01" + tid + _STATUS_LE[status]
    return b"R\x01" + tid + struct.pack("<I", status & 0xFFFFFFFF)


# --- client side --------------------------------------------------------------------------------

class Sender:
    """A client's sealer: one job key, sealed once to the payload public key."""

    def __init__(self, payload_pub, key):
        payload_pub = bytes(payload_pub)
        if len(payload_pub) != 32 or len(key) != KEY_BYTES:
            raise SealError("a payload public key and a job key are 32 bytes each")
        self.key = bytes(key)
        self.tag = key_tag(payload_pub)
        self.sealed = seal_box(self.key, payload_pub)
        self.head = bytes((VERSION,)) + key_id(payload_pub) + self.sealed
        self.nonces = _Nonces()

    def seal_task(self, tid, fn, data):
        """A task input sealed for task id tid (16 bytes) and function fn."""
        nonce = self.nonces.next()
        if data.__class__ is not bytes:
            data = bytes(data)
        return self.head + nonce + _encrypt(self.key, nonce, data, _task_ad(tid, fn))

    def open_result(self, tid, status, data):
        """The plaintext of a result sealed by a worker for (tid, status), or Tampered."""
        if len(data) < RESULT_OVERHEAD or data[0] != VERSION:
            raise Tampered("not a sealed result")
        if data.__class__ is not bytes:
            data = bytes(data)
        return _decrypt(self.key, data[1:1 + NONCE_BYTES], data[1 + NONCE_BYTES:],
                        _result_ad(tid, status))


def seal_task(sender, tid, fn, data):
    return sender.seal_task(tid, fn, data)


def open_result(sender, tid, status, data):
    return sender.open_result(tid, status, data)


# --- worker side --------------------------------------------------------------------------------

class Keyring:
    """A worker's payload secret keys and a small cache of opened job keys (keyed by the
    80-byte sealed key). Thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self._keys = []          # (id, pub, secret, tag)
        self._cache = {}         # sealed -> job key, at most CACHE, oldest dropped first

    def add(self, secret):
        """Add a payload secret key (32 bytes). True when new; SealError when MAX_KEYS are
        held already."""
        secret = bytes(secret)
        pub = public_of(secret)
        kid = key_id(pub)
        with self._lock:
            if any(k[0] == kid for k in self._keys):
                return False
            if len(self._keys) >= MAX_KEYS:
                raise SealError("at most %d payload keys are held" % MAX_KEYS)
            self._keys.append((kid, pub, secret, TAG_PREFIX + kid.hex()))
        return True

    def __len__(self):
        return len(self._keys)

    def tags(self):
        return [k[3] for k in self._keys]

    def _job_key(self, kid, sealed):
        key = self._cache.get(sealed)
        if key is not None:
            return key
        for k in self._keys:
            if k[0] == kid:
                break
        else:
            raise NotFound("sealed to a payload key this worker does not hold")
        key = open_box(sealed, k[1], k[2])
        with self._lock:
            if len(self._cache) >= CACHE:
                self._cache.pop(next(iter(self._cache)))
            self._cache[sealed] = key
        return key

    def open_task(self, tid, fn, data):
        """(plaintext, job key) of a sealed task input; Tampered or NotFound."""
        if len(data) < TASK_OVERHEAD or data[0] != VERSION:
            raise Tampered("not a sealed task")
        data = bytes(data)
        kid = data[1:1 + ID_BYTES]
        at = 1 + ID_BYTES
        key = self._job_key(kid, data[at:at + SEALED_KEY_BYTES])
        at += SEALED_KEY_BYTES
        plain = _decrypt(key, data[at:at + NONCE_BYTES], data[at + NONCE_BYTES:],
                         _task_ad(tid, fn))
        return plain, key


def open_task(keyring, tid, fn, data):
    return keyring.open_task(tid, fn, data)


def seal_result(key, tid, status, data):
    """A result of (tid, status) sealed under the task's job key."""
    nonce = _result_nonces.next()
    return bytes((VERSION,)) + nonce + _encrypt(key, nonce, bytes(data), _result_ad(tid, status))


# --- client hooks (used by heddle.client) -------------------------------------------------------

TAMPERED_REASON = ("the result failed verification (altered, moved from another task, or not "
                   "sealed): dropped")


def plain_from_env():
    """HEDDLE_PLAIN_PAYLOADS set to anything but "" or "0", as the C CLI reads it."""
    v = os.environ.get("HEDDLE_PLAIN_PAYLOADS", "")
    return bool(v) and v != "0"


def client_sender(endpoint, keys_dir, cert, session, plain_payloads=None):
    """The Sender a client seals with, or None: sealing is on for a TCP broker whose keys
    directory holds payload.cert, unless plain_payloads (default $HEDDLE_PLAIN_PAYLOADS)."""
    import logging
    if plain_payloads is None:
        plain_payloads = plain_from_env()
    if plain_payloads or not keys_dir or not endpoint.startswith("tcp://"):
        return None
    pub = load_payload_public(keys_dir)
    if pub is None:
        logging.getLogger("heddle").warning(
            "%s: no payload key, task payloads are not sealed (`heddle keys rotate-payload %s` "
            "makes one; plain_payloads=True silences this)",
            os.path.join(keys_dir, "payload.cert"), keys_dir)
        return None
    secret = _raw(cert[1]) if cert else None
    return Sender(pub, job_key(secret, session))


def template_tags(opts, tag):
    """opts with the seal tag added to its tags (a sealed task has at most 7 of its own)."""
    tags = opts.get("tags") or []
    if isinstance(tags, str):
        tags = [t for t in tags.split(",") if t]
    if len(tags) >= 8:
        raise ValueError("%d tags: a sealed task takes at most 7 (one more names the payload "
                         "key)" % len(tags))
    out = dict(opts)
    out["tags"] = list(tags) + [tag]
    return out


def verify_result(sender, tid, status, payload):
    """(status, plaintext, reason) of a sealed task's result, as the C client delivers it: an
    output that fails to open, or an OK result without output, is TAMPERED (14) with no data;
    an error status without output (the broker's own) is delivered as it is. reason is None
    unless TAMPERED."""
    if not payload and status != 0:
        return status, b"", None
    try:
        return status, sender.open_result(tid, status, payload), None
    except Tampered:
        return 14, b"", TAMPERED_REASON


# --- worker hooks (used by heddle.worker) -------------------------------------------------------

def worker_keyring(keys_dir, state_dir, warn=None):
    """A Keyring of KEYS/payload.cert_secret, KEYS/payload-*.cert_secret and
    STATE/payload-*.cert_secret (granted at enrollment). Empty when there are none (the worker
    then offers no seal- tag and is sent no sealed task) or libsodium is missing."""
    ring = Keyring()
    if not available():
        if warn:
            warn("libsodium not found: this worker opens no sealed task")
        return ring
    for d in (keys_dir, state_dir):
        for secret in payload_secrets(d) if d else ():
            try:
                ring.add(secret)
            except SealError as e:
                if warn:
                    warn("payload key not used: %s" % e)
    return ring


def hello_tags(user_tags, ring):
    """HELLO tags: the user's, then one seal-<id> per payload key held, at most 8 in all."""
    return (list(user_tags) + [t for t in ring.tags() if t not in user_tags])[:8]


def open_for_run(ring, tid, fn, version, payload):
    """(status, plaintext or b"", job key or None, error) of a sealed TASK, as heddle-worker
    answers it: FAILED for an unknown format, DENIED without a matching key, TAMPERED when it
    fails verification (it then runs nothing)."""
    if version != VERSION:
        return (1, b"", None, "sealed payload format %s is not supported (this worker reads %d)"
                % (version, VERSION))
    if not len(ring):
        return (9, b"", None, "this worker holds no payload key (heddle nodes approve grants "
                "it; or copy payload.cert_secret to its keys directory)")
    try:
        plain, key = ring.open_task(tid, fn, payload)
    except NotFound:
        return 9, b"", None, "sealed to a payload key this worker does not hold"
    except Tampered:
        return (14, b"", None, "sealed input failed verification (altered, or moved from "
                "another task): not run")
    return 0, plain, key, ""


def take_grants(ring, grants, public, secret, state_dir, warn):
    """Open the payload key grants of a WELCOME (Z85 text) with the worker's own key pair, add
    them to ring and save them in state_dir. Returns how many keys are new."""
    new = 0
    for g in grants or ():
        try:
            key = open_grant(g, public, secret)
        except (Tampered, SealError, ValueError, TypeError):
            warn("a payload key grant from the broker does not open with this worker's key: "
                 "ignored (was it sealed for another worker?)")
            continue
        try:
            if not ring.add(key):
                continue
        except SealError as e:
            warn("payload key not used: %s" % e)
            continue
        new += 1
        if state_dir:
            try:
                save_payload_secret(state_dir, key)
            except OSError as e:
                warn("granted payload key not saved: %s" % e)
    return new


def grants_for(keys_dir, worker_key):
    """The payload secret keys of keys_dir, each sealed to a worker's CURVE public key (Z85),
    as Z85 text for ADMIN `grant` (what `heddle nodes approve` sends)."""
    pub = _raw(worker_key)
    if len(pub) != 32:
        raise SealError("not a worker key: %s" % worker_key)
    return [z85.encode(seal_box(secret, pub)).decode()
            for secret in payload_secrets(keys_dir)[:MAX_KEYS]]
