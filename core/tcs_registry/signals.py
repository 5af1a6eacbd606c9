"""Ctrl-C and SIGTERM while a command runs. Each raises its exception in the main thread, as Python does
(signals reach only it), and is remembered: Python drops an exception raised while a finalizer runs
(a generator closed, an answer's socket collected: "Exception ignored in ..."), and the run would go
on as if no one had asked it to stop. Its loops call `raise_if_stopped` at each step to raise it again;
the traceback Python would print for the dropped one (not a log line) is left out."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class Terminated(KeyboardInterrupt):
    """SIGTERM (a CI job cancelled, `timeout`, `docker stop`, Kubernetes): the run stops as on Ctrl-C,
    recording what was done, closing the report and clearing the live line."""


_KINDS: dict[int, type[KeyboardInterrupt]] = {signal.SIGINT: KeyboardInterrupt, signal.SIGTERM: Terminated}
_received: type[KeyboardInterrupt] | None = None


def _on_signal(signum: int, frame: Any) -> None:
    global _received
    _received = _KINDS[signum]
    raise _received


def raise_if_stopped() -> None:
    """Raises the stop a signal asked for, if its own exception was lost on the way."""
    if _received is not None:
        raise _received


@contextmanager
def stopped_by_signals() -> Iterator[None]:
    """SIGTERM, and Ctrl-C unless it is ignored (a shell's background job), stop the command run inside."""
    global _received
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _received = None
    previous = {signum: signal.getsignal(signum) for signum in _KINDS}
    unraisable = sys.unraisablehook

    def dropped(info: Any) -> None:  # (its traceback, not a log line: nothing a user needs, raised again)
        if not (isinstance(info.exc_value, KeyboardInterrupt) and _received is not None):
            unraisable(info)

    try:  # (a signal as soon as one handler is ours: the others are set back all the same)
        signal.signal(signal.SIGTERM, _on_signal)
        if previous[signal.SIGINT] is signal.default_int_handler:
            signal.signal(signal.SIGINT, _on_signal)
        sys.unraisablehook = dropped
        yield
    finally:
        for signum, handler in previous.items():
            if handler is not None:  # (None: set outside Python, and not to be set back from here)
                signal.signal(signum, handler)
        sys.unraisablehook = unraisable
        _received = None
