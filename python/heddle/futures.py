"""heddle.Future: one task's result, a concurrent.futures.Future."""
import concurrent.futures

from . import _proto as P
from . import errors


# --- futures ----------------------------------------------------------------------------------

class Future(concurrent.futures.Future):
    """One task's result: a concurrent.futures.Future (so concurrent.futures.wait and
    as_completed work on it) whose result() is the output bytes, or raises the typed exception
    of the task's status (heddle.Failed, heddle.Timeout, ...). `id` is the task id; once done,
    `node`, `ms` (run time on the worker) and `attempt` say where and how it ran. Callbacks run
    on the client's I/O thread: keep them short."""

    def __init__(self, client, task_id, fn):
        super().__init__()
        self.id = task_id
        self.fn = fn
        self.node = ""
        self.ms = 0
        self.attempt = 0
        self._client = client

    def cancel(self):
        """Ask the broker to cancel the task. True when asked (the task may still finish
        first: then its real result arrives); False when it is already done."""
        if self.done():
            return False
        self._client._post(("C", [self.id]))
        return True

    def cancelled(self):
        return self.done() and isinstance(self.exception(0), errors.Cancelled)

    def _settle(self, status, payload, env, reason=None, retry=0):
        self.node = env.get("node", "")
        self.ms = env.get("ms", 0)
        self.attempt = env.get("attempt", 0)
        if status == P.OK:
            self.set_result(payload)
        else:
            self.set_exception(errors.for_status(
                status, reason if reason is not None else env.get("error", ""), self.node,
                self.id, retry))


def as_completed(futures, timeout=None):
    """Yield the futures as they finish (concurrent.futures.as_completed)."""
    return concurrent.futures.as_completed(futures, timeout)


def wait(futures, timeout=None, return_when=concurrent.futures.ALL_COMPLETED):
    return concurrent.futures.wait(futures, timeout, return_when)


