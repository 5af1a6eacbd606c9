"""A stream read by a thread of its own, up to ``most`` items ahead of whoever takes from it, so that its
length is known long before its last item is taken: the repository catalog, whose size tells how far
through the registry a run is (the time left) while the tags of its first repositories are still being
described. Past ``most`` (a catalog of millions), it is read as it is taken, and memory stays bounded."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from enum import Enum
from typing import Generic, Literal, TypeVar

T = TypeVar("T")
_END = object()


class Waiting(Enum):
    WAITING = "waiting"


WAITING = Waiting.WAITING  # what `waiting` yields while no item comes


class ReadAhead(Generic[T]):
    def __init__(self, items: Iterable[T], name: str, most: int = 100_000) -> None:
        self.read = 0  # items read so far
        self.length: int | None = None  # all of them, once the stream has ended without an error
        self._queue: queue.Queue[tuple[object, BaseException | None]] = queue.Queue(maxsize=most)
        self._closed = threading.Event()
        threading.Thread(target=self._fill, args=(items,), name=name, daemon=True).start()

    def _fill(self, items: Iterable[T]) -> None:
        try:
            for item in items:
                self.read += 1
                if not self._put((item, None)):  # no one takes any more (a stop, an interrupt): read no further
                    return
            self.length = self.read
            self._put((_END, None))
        except BaseException as exc:  # raised where the taker meets it, after the items read before it
            self._put((_END, exc))

    def _put(self, entry: tuple[object, BaseException | None]) -> bool:
        while not self._closed.is_set():
            try:
                self._queue.put(entry, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[T]:
        return self.waiting(None)  # type: ignore[return-value]  # (never WAITING: no wait is too long)

    def waiting(self, every: float | None) -> Iterator[T | Literal[Waiting.WAITING]]:
        """The items, and WAITING each time ``every`` seconds have passed without one (the stream is slow:
        a page, a retry's backoff), for the taker to do meanwhile what needs no next item."""
        while True:
            try:
                item, error = self._queue.get(timeout=every)
            except queue.Empty:
                yield WAITING
                continue
            if item is _END:
                if error is not None:
                    raise error
                return
            yield item  # type: ignore[misc]

    def close(self) -> None:
        self._closed.set()
