"""Writing a run's images to the store from a thread of its own, what has queued up in one transaction.

The thread that settles images in listing order is the run's one serial step: a transaction per image
there (a commit, and on PostgreSQL a round trip or three) would pace the whole run. Here a batch is
whatever has come while the last one was written: one image when the run is slow, hundreds when it is
fast. A run killed outright loses at most the batch being written; the next run does those again.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

from .models import ImageDescription
from .store import Scanned, Store

BATCH = 500  # the most images (or image platforms) written in one transaction
QUEUED = 4 * BATCH  # the most waiting: a store slower than the registry slows the run, memory stays flat


class Recorder:
    def __init__(self, store: Store, run: int, project: str, registry: str) -> None:
        self.store, self.run, self.project, self.registry = store, run, project, registry
        self.new = 0  # digests new to the project, of the images written so far
        self.error: BaseException | None = None  # what stopped the writing (a StoreError): raised on
        self._queue: queue.Queue[tuple[str, Any] | None] = queue.Queue(QUEUED)
        self._thread = threading.Thread(target=self._write, name="store", daemon=True)
        self._thread.start()

    def image(self, image: ImageDescription) -> None:
        self._put(("image", image))

    def scan(self, scanned: Scanned) -> None:
        self._put(("scan", scanned))

    def close(self) -> None:
        """Write what is queued, then stop; raises what stopped the writing, if something did."""
        self._put(None)
        self._thread.join()
        if self.error is not None:
            raise self.error

    def _put(self, item: tuple[str, Any] | None) -> None:
        while True:
            if self.error is not None:
                raise self.error
            try:
                self._queue.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def _write(self) -> None:
        done = False
        while not done:
            batch = [self._queue.get()]
            while len(batch) < BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            done = None in batch
            images = [value for item in batch if item and item[0] == "image" for value in [item[1]]]
            scans = [value for item in batch if item and item[0] == "scan" for value in [item[1]]]
            try:
                if images or scans:
                    self.new += self.store.record(self.run, self.project, self.registry, images, scans)
            except BaseException as exc:  # the store is lost: the run ends with it
                self.error = exc
                return
