"""Typed exceptions, one per status code of docs/PROTOCOL.md section 6."""
import concurrent.futures

from . import _proto as P


class HeddleError(Exception):
    """A task or a request that did not succeed. `status` is the protocol's code, `reason` the
    text the worker or the broker gave, `node` the node that ran it ("" when the broker
    answered), `task_id` the task's 16-byte id when it concerns a task."""

    status = -1

    def __init__(self, reason="", status=None, node="", task_id=None, retry=0):
        if status is not None:
            self.status = status
        self.reason = reason
        self.node = node
        self.task_id = task_id
        self.retry = retry
        name = P.status_name(self.status) if self.status >= 0 else type(self).__name__
        text = "%s: %s" % (name, reason) if reason else name
        if node:
            text += " (on %s)" % node
        super().__init__(text)


class ConnectError(HeddleError):
    """The client could not reach or was refused by the broker (not a task status)."""


class Closed(HeddleError):
    """The client was closed while the task was in flight."""
    status = P.CLOSED


class Failed(HeddleError):
    status = P.FAILED


class UnknownFunction(HeddleError):
    status = P.UNKNOWN_FN


class TooLarge(HeddleError):
    status = P.TOO_LARGE


class Busy(HeddleError):
    """The broker's queue or this client's in-flight limit is full; `retry` is the suggested
    delay in ms."""
    status = P.BUSY


class Malformed(HeddleError):
    status = P.MALFORMED


class VersionMismatch(HeddleError):
    status = P.VERSION_ERR


class Timeout(HeddleError, TimeoutError):
    """The task ran past its `timeout`."""
    status = P.TIMEOUT


class Cancelled(HeddleError, concurrent.futures.CancelledError):
    status = P.CANCELLED


class Denied(HeddleError):
    status = P.DENIED


class Storage(HeddleError):
    status = P.STORAGE


class Lost(HeddleError):
    """Attempts exhausted: the workers running it died or went silent."""
    status = P.LOST


class Internal(HeddleError):
    status = P.INTERNAL


class Unsatisfiable(HeddleError):
    """No worker offering the function has the node name or tags the task asks for."""
    status = P.UNSATISFIABLE


class Tampered(HeddleError):
    """A sealed task's input or result failed verification (altered by the broker or on the
    way, or moved from another task): never delivered as data."""
    status = P.TAMPERED


BY_STATUS = {c.status: c for c in (Closed, Failed, UnknownFunction, TooLarge, Busy, Malformed,
                                   VersionMismatch, Timeout, Cancelled, Denied, Storage, Lost,
                                   Internal, Unsatisfiable, Tampered)}


def for_status(status, reason="", node="", task_id=None, retry=0):
    """The exception for a status code (an unknown code is a plain HeddleError)."""
    cls = BY_STATUS.get(status, HeddleError)
    return cls(reason, status=status, node=node, task_id=task_id, retry=retry)
