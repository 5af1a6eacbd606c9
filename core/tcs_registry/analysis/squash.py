"""Stack layer records as a container runtime stacks layers: later layers win, whiteouts delete from
lower layers only, an opaque directory hides its lower contents, a file or link replacing a directory
hides what was under it. Symlinks are resolved on the result, inside the image."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .paths import EXACT, resolve
from .walk import LayerRecord


@dataclass
class View:
    files: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)  # path -> (layer index, entry)
    links: dict[str, str] = field(default_factory=dict)

    def release_files(self) -> dict[str, str]:
        """The text of each release file, found through symlinks (etc/os-release is often one)."""
        found = {}
        for path, kind in EXACT.items():
            if kind != "os-release":
                continue
            real = path if path in self.files else resolve(path, self.links)
            entry = self.files.get(real or "")
            if entry and entry[1]["kind"] == "os-release":
                found[path] = entry[1]["text"]
        return found


def _hidden(path: str, gone: set[str]) -> bool:
    """Is ``path`` or one of its parent directories in ``gone``?"""
    while True:
        if path in gone:
            return True
        if "/" not in path:
            return False
        path = path.rsplit("/", 1)[0]


def _under(path: str, opaque: set[str]) -> bool:
    """Is ``path`` below one of the ``opaque`` directories (not one itself; "" is the root)?"""
    return "" in opaque or ("/" in path and _hidden(path.rsplit("/", 1)[0], opaque))


def _drop(view: View, gone: set[str], budget: Callable[[], None]) -> None:
    """Remove ``gone`` paths and everything under them."""
    if not gone:
        return
    tops = {path.split("/", 1)[0] for path in gone}  # (most paths are settled by their first name)
    for table in (view.files, view.links):
        budget()
        for path in [p for p in table if p.split("/", 1)[0] in tops and _hidden(p, gone)]:
            del table[path]


def squash(records: list[LayerRecord], budget: Callable[[], None] = lambda: None) -> View:
    """The image's files as a runtime sees them; ``budget`` is called now and then (it raises when the
    image's analysis has taken too long)."""
    view = View()
    for index, record in enumerate(records):
        if view.files or view.links:  # (below a base layer, nothing: its thousands of entries are not looked at)
            _remove_below(view, record, budget)
        view.links.update(record.links)
        view.files.update({path: (index, entry) for path, entry in record.files.items()})
    return view


def _remove_below(view: View, record: LayerRecord, budget: Callable[[], None]) -> None:
    """What ``record``'s layer deletes, hides or replaces of the layers below it."""
    if record.opaque:  # everything under each from below, not the directory itself
        opaque = set(record.opaque)
        for table in (view.files, view.links):
            budget()
            for path in [p for p in table if _under(p, opaque)]:
                del table[path]
    _drop(view, set(record.whiteouts), budget)
    _drop(view, set(record.entries), budget)  # replaced paths, and what was under them
    for directory in record.directories:  # a directory replaces a lower file or link, keeps what is under it
        view.files.pop(directory, None)
        view.links.pop(directory, None)


class Removals:
    """Which layers delete or replace which paths: a file's bytes stay in its layer whatever comes above."""

    def __init__(self, records: list[LayerRecord]) -> None:
        self._records = records
        self._gone: dict[int, tuple[set[str], set[str]]] = {}  # made on first use: most images have nothing to place

    def after(self, index: int, path: str) -> bool:
        """Does a layer above ``index`` delete or replace ``path``?"""
        for above in range(index + 1, len(self._records)):
            record = self._records[above]
            if above not in self._gone:
                self._gone[above] = ({*record.whiteouts, *record.entries}, set(record.opaque))
            gone, opaque = self._gone[above]
            if _hidden(path, gone) or _under(path, opaque):
                return True
        return False
