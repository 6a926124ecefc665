"""Stop and reload signals, caught from the process's first moment on.

Importing the exporter (boto3, prometheus_client, the collectors) and starting it takes about
a second. In a container the exporter is process 1, and the kernel drops every signal that
process 1 has no handler for: a ``docker stop`` in that second was lost, and the runtime
killed the exporter after its grace period. So the handlers are installed before anything
else is imported (``exporter.cli.entry``), and what a signal does depends on the phase:

- starting: a stop ends the process at once, exit 0 (nothing runs yet that needs an
  orderly stop); a ``SIGHUP`` waits for the serving loop, which reloads;
- one-shot (``--once``, ``--config.check``): a stop ends it at once with 128 + the signal's
  number, as if the signal had killed it: an interrupted check has not succeeded;
- serving: every signal is queued, and the serving loop stops or reloads in order.

Only the standard library here: this module is imported before the handlers exist.
"""

from __future__ import annotations

import queue
import signal
from types import FrameType

HANDLED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class Stopped(BaseException):
    """A stop signal before serving began: like ``KeyboardInterrupt``, past ``except Exception``."""

    def __init__(self, signum: int, exit_code: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.exit_code = exit_code


def stopped_within(error: BaseException) -> Stopped | None:
    """The ``Stopped`` that ``error`` wraps, if any.

    A handler that raises while Python runs a hook of its own gets its exception wrapped:
    a stop that lands in a dataclass field's ``__set_name__`` during an import arrives as
    ``RuntimeError`` from ``Stopped`` (Python 3.11).
    """
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, Stopped):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


class Signals:
    """The process's signal handlers: they raise ``Stopped`` while starting, then only queue.

    A ``SimpleQueue``, whose ``put`` is reentrant: a handler may run while the main thread is
    inside the queue (an ``Event``'s lock would deadlock there). The serving loop waits with a
    timeout because the kernel may deliver a signal to any thread, and Python runs the
    handler only when the main thread next runs: without one a signal can wait forever.
    """

    def __init__(self) -> None:
        self.queue: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._phase = "starting"  # then "one-shot" or "serving"

    def install(self) -> Signals:
        for signum in HANDLED:
            signal.signal(signum, self._on_signal)
        return self

    def one_shot(self) -> None:
        """A stop from now on ends the process as if killed (``--once``, ``--config.check``)."""
        self._phase = "one-shot"

    def serving(self) -> None:
        """Every signal from now on is queued for the serving loop (call before its threads)."""
        self._phase = "serving"

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        # Python runs handlers in the main thread, between two bytecodes: no race with
        # serving(), and the raise unwinds whatever the main thread was doing at the time.
        if self._phase == "serving" or signum == signal.SIGHUP:
            self.queue.put(signum)
        elif self._phase == "starting":
            raise Stopped(signum, 0)
        else:
            raise Stopped(signum, 128 + signum)

    def next(self, timeout: float = 1.0) -> set[int]:
        """The signals that arrived, waiting up to ``timeout`` for the first one."""
        try:
            arrived = {self.queue.get(timeout=timeout)}
        except queue.Empty:
            return set()
        while not self.queue.empty():  # a burst of SIGHUPs is one reload
            arrived.add(self.queue.get_nowait())
        return arrived
