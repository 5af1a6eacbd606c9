"""Writing a run's images to the store from a thread of its own, what has queued up in one transaction.

The thread that settles images in listing order is the run's one serial step: a transaction per image
there (a commit, and on PostgreSQL a round trip or three) would pace the whole run. A run killed
outright loses at most the batch being written; the next run does those again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .batches import Batches
from .models import ImageDescription
from .store import Scanned, Store
from .submit import Submitter

BATCH = 500  # the most images (or image platforms) written in one transaction
QUEUED = 4 * BATCH  # the most waiting: a store slower than the registry slows the run, memory stays flat


class Recorder:
    def __init__(
        self,
        store: Store,
        run: int,
        project: str,
        registry: str,
        earlier: Sequence[int] = (),
        also: Submitter | None = None,
        plan: bool = False,
    ) -> None:
        """``earlier``: the interrupted runs this one finishes (`Store.resumed`); ``also``: a console that
        is sent what is recorded; ``plan``: a dry run, whose digests are kept for a scan of its report."""
        self.store, self.run, self.project, self.registry = store, run, project, registry
        self.plan = plan
        self.earlier = tuple(earlier)
        self.also = also
        self.new = 0  # digests new to the project (or first met by a run this one finishes), of those written so far
        self._batches: Batches[tuple[str, Any]] = Batches(self._write, "store", BATCH, QUEUED)

    def image(self, image: ImageDescription) -> None:
        self._batches.put(("image", image))
        if self.also is not None:
            self.also.image(image)

    def scan(self, scanned: Scanned) -> None:
        self._batches.put(("scan", scanned))
        if self.also is not None:
            self.also.scan(scanned)

    def close(self) -> None:
        """Write what is queued, then stop; raises what stopped the writing (a StoreError), if something did."""
        self._batches.close()

    def _write(self, batch: list[tuple[str, Any]]) -> None:
        images = [value for kind, value in batch if kind == "image"]
        scans = [value for kind, value in batch if kind == "scan"]
        self.new += self.store.record(
            self.run, self.project, self.registry, images, scans, self.earlier, plan=self.plan
        )
