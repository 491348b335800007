"""CURVE key files (the czmq zcert format `heddle keys init` writes), the settings a client
resolves the way the `heddle` CLI does (client/cli/common.c), and key fingerprints."""
import hashlib
import os
import re
import time

import zmq
from zmq.utils import z85

CONFIG_DEFAULT = "/etc/heddle/heddle.conf"
_KEY_LINE = re.compile(r'^\s*(public-key|secret-key)\s*=\s*"?([^"\s]{40})"?\s*$')


class KeyError_(Exception):
    pass


def is_z85_key(text):
    if not isinstance(text, str) or len(text) != 40:
        return False
    try:
        return len(z85.decode(text)) == 32
    except Exception:
        return False


def read_cert(path):
    """{'public-key': ..., 'secret-key': ...} (Z85 text) from a zcert file."""
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            text = f.read(65536)
    except OSError as e:
        raise KeyError_("cannot read %s: %s" % (path, e.strerror)) from None
    out = {}
    for line in text.splitlines():
        m = _KEY_LINE.match(line)
        if m and is_z85_key(m.group(2)):
            out[m.group(1)] = m.group(2)
    if "public-key" not in out:
        raise KeyError_("%s holds no CURVE public key (is it a heddle/czmq certificate?)" % path)
    return out


def load_secret(path):
    """(public, secret) Z85 keys of a secret certificate (…cert_secret)."""
    if os.path.exists(path):
        mode = os.stat(path).st_mode
        if mode & 0o077:
            raise KeyError_("%s is readable by others (mode %o): chmod 600 it" % (path, mode & 0o777))
    cert = read_cert(path)
    if "secret-key" not in cert or cert["secret-key"] == "0" * 40:
        raise KeyError_("%s holds no secret key (use the _secret file)" % path)
    return cert["public-key"], cert["secret-key"]


def load_public(path_or_key):
    """A public key: read from a cert file when one exists at that path, else the text itself
    when it is 40 Z85 characters (a 40-character path is valid Z85 too: the file wins)."""
    if not os.path.exists(path_or_key) and is_z85_key(path_or_key):
        return path_or_key
    return read_cert(path_or_key)["public-key"]


def _write(path, text, mode):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def make_cert(directory, name, role):
    """Make directory/name.cert and directory/name.cert_secret (0600), as czmq's zcert would.
    Returns (public, secret)."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    public, secret = (k.decode() for k in zmq.curve_keypair())
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    meta = 'metadata\n    role = "%s"\n    created-by = "heddle python"\n' % role
    _write(os.path.join(directory, name + ".cert_secret"),
           "#   ****  Generated on %s by heddle (Python)  ****\n"
           "#   ZeroMQ CURVE **Secret** Certificate\n"
           "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n\n"
           '%scurve\n    public-key = "%s"\n    secret-key = "%s"\n'
           % (stamp, meta, public, secret), 0o600)
    _write(os.path.join(directory, name + ".cert"),
           "#   ****  Generated on %s by heddle (Python)  ****\n"
           "#   ZeroMQ CURVE Public Certificate\n\n"
           '%scurve\n    public-key = "%s"\n' % (stamp, meta, public), 0o644)
    return public, secret


def load_or_make(directory, name, role):
    """A node's own key pair in a state directory, made on first use. (public, secret, made)."""
    path = os.path.join(directory, name + ".cert_secret")
    if os.path.exists(path):
        return load_secret(path) + (False,)
    return make_cert(directory, name, role) + (True,)


def fingerprint(key):
    """First 16 bytes of SHA-256 over the 32 raw key bytes, as xxxx:xxxx:... (docs/PROTOCOL.md
    section 11)."""
    digest = hashlib.sha256(z85.decode(key)).hexdigest()[:32]
    return ":".join(digest[i:i + 4] for i in range(0, 32, 4))


def parse_fingerprint(text):
    hexd = text.replace(":", "").lower()
    if len(hexd) != 32 or any(c not in "0123456789abcdef" for c in hexd):
        raise ValueError("%r is not a fingerprint (32 hex digits, as `heddle keys fingerprint` "
                         "prints it)" % text)
    return ":".join(hexd[i:i + 4] for i in range(0, 32, 4))


def pin(directory, key):
    """Trust on first use: record key in directory/broker.pin, or check it against the pin."""
    path = os.path.join(directory, "broker.pin")
    try:
        with open(path) as f:
            pinned = f.read().strip()
    except FileNotFoundError:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        _write(path, key + "\n", 0o644)
        return
    if pinned != key:
        raise KeyError_("the broker key %s is not the one pinned in %s (%s): delete that file to "
                        "trust a new broker" % (key, path, pinned))


def read_pin(directory):
    try:
        with open(os.path.join(directory, "broker.pin")) as f:
            key = f.read().strip()
    except FileNotFoundError:
        return None
    return key if is_z85_key(key) else None


def endpoint(spec, default_port):
    """tcp://host:port from tcp://..., host:port or host (as lib/hd_transport.c)."""
    if not spec:
        spec = "*"
    if "://" in spec:
        return spec
    colon = spec.rfind(":")
    if colon >= 0 and colon + 1 < len(spec) and "]" not in spec[colon + 1:]:
        return "tcp://" + spec
    return "tcp://%s:%d" % (spec, default_port)


def read_config_section(section, path=None):
    """{key: value} of one [section] of the heddle config file ($HEDDLE_CONFIG, else
    /etc/heddle/heddle.conf when it exists). Empty when there is none."""
    path = path or os.environ.get("HEDDLE_CONFIG") or CONFIG_DEFAULT
    try:
        with open(path) as f:
            lines = f.read(1 << 20).splitlines()
    except OSError:
        return {}
    out, current = {}, None
    for line in lines:
        text = line.strip()
        if not text or text[0] in "#;":
            continue
        if text.startswith("[") and text.endswith("]"):
            current = text[1:-1].strip().lower()
            continue
        if current != section or "=" not in text:
            continue
        key, value = (x.strip() for x in text.split("=", 1))
        if value.startswith('"') and '"' in value[1:]:
            value = value[1:value.index('"', 1)]
        else:
            value = re.split(r"\s#", value, 1)[0].strip()
        out[key] = value
    return out


def client_settings(broker=None, keys=None, cert=None, insecure=None):
    """What `heddle` would use: flags (the arguments), then $HEDDLE_BROKER / $HEDDLE_KEYS, then
    the [client] section of the config file, then ~/.config/heddle/keys. Returns a dict with
    broker (None: no broker anywhere), keys, cert, insecure."""
    conf = read_config_section("client")
    broker = broker or os.environ.get("HEDDLE_BROKER") or conf.get("broker") or None
    keys = keys or os.environ.get("HEDDLE_KEYS") or conf.get("keys") or None
    if keys is None:
        home = os.environ.get("HOME")
        default = os.path.join(home, ".config", "heddle", "keys") if home else None
        if default and os.path.isdir(default):
            keys = default
    if insecure is None:
        insecure = conf.get("insecure", "no").lower() in ("yes", "true", "1", "on")
    cert = cert or conf.get("cert") or None
    if cert is None and keys:
        admin = os.path.join(keys, "admin.cert_secret")
        client = os.path.join(keys, "client.cert_secret")
        if os.access(admin, os.R_OK) and not os.access(client, os.R_OK):
            cert = admin
    return {"broker": broker, "keys": keys, "cert": cert, "insecure": insecure}
