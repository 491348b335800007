"""Task functions for the Python worker tests (python3 -m heddle.worker --module pytasks)."""
import hashlib
import time

import heddle.worker


def pysha(data):
    return hashlib.sha256(data).hexdigest().encode()


def echo(data):
    return data


def text(data):
    return data.decode().upper()


def boom(data):
    raise ValueError("boom: %r" % data[:10])


def nap(data):
    time.sleep(float(data))
    return b"slept"


def grow(data):
    return b"x" * int(data)


def whoami(data):
    return heddle.worker.current_task().fn


def cooperative(data):
    task = heddle.worker.current_task()
    while not task.should_stop():
        time.sleep(0.01)
    return b"stopped"


HEDDLE_FUNCTIONS = {"pysha": pysha, "sha256": pysha, "echo": echo, "text": text, "boom": boom,
                    "nap": nap, "grow": grow, "whoami": whoami, "cooperative": cooperative}
