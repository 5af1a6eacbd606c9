"""Work handed to a thread of its own in batches: what has queued up while the last batch was written.

Store writes go this way, so a thread that must not wait (the one settling images in listing order,
a scan's analysis) never waits for a commit, a lock or a round trip: a batch is one item when the
work is slow to come, hundreds when it is fast.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
_END = object()


class Batches(Generic[T]):
    def __init__(self, write: Callable[[list[T]], None], name: str, most: int = 500, queued: int = 0) -> None:
        """``write`` takes up to ``most`` items at a time; ``queued`` bounds what may wait (0: no bound)."""
        self.error: BaseException | None = None  # what stopped ``write``: raised by ``put`` and ``close``
        self._write, self._most = write, most
        self._queue: queue.Queue[object] = queue.Queue(queued)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, item: T) -> None:
        self._put(item)

    def close(self) -> None:
        """Write what is queued, then stop; raises what stopped the writing, if something did."""
        self._put(_END)
        self._thread.join()
        if self.error is not None:
            raise self.error

    def _put(self, item: object) -> None:
        while self.error is None:
            try:
                self._queue.put(item, timeout=0.5)  # full: the writer is behind (or gone, said above)
                return
            except queue.Full:
                continue
        raise self.error

    def _run(self) -> None:
        done = False
        while not done:
            batch = [self._queue.get()]
            while len(batch) < self._most:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            done = _END in batch
            items = [item for item in batch if item is not _END]
            try:
                if items:
                    self._write(items)  # type: ignore[arg-type]
            except BaseException as exc:  # e.g. the store is lost: whoever puts next is told
                self.error = exc
                return
