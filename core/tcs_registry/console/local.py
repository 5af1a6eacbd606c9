"""A console serving a state directory's store says so in that directory (``console.json``), so that a
scan of the same store links its summary to it."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from ..files import private_dir, write_private

MARKER = "console.json"


CHAIN = 8  # the consoles a marker remembers taking the place of


@dataclass(frozen=True)
class Marker:
    """This console's ``console.json``. It keeps the markers it took the place of (other consoles, still
    serving then), and when it stops it puts back the latest of them still serving: stopping a console
    leaves the others linked to."""

    path: Path

    def withdraw(self) -> None:
        try:
            marker = json.loads(self.path.read_text())
            if marker.get("pid") != os.getpid():  # a later console's
                return
            before = marker.get("before")
            while isinstance(before, dict) and not _serving(before):
                before = before.get("before")
            if isinstance(before, dict):
                write_private(self.path, json.dumps(before))
            else:
                self.path.unlink()
        except (OSError, ValueError, AttributeError):
            pass


def announce(state_dir: Path, url: str, store: str) -> Marker:
    path = private_dir(state_dir) / MARKER
    try:
        before = json.loads(path.read_text())
    except (OSError, ValueError):
        before = None
    chain, link = before, before
    for _ in range(CHAIN - 1):  # (a chain cut to its CHAIN latest)
        link = link.get("before") if isinstance(link, dict) else None
    if isinstance(link, dict):
        link.pop("before", None)
    write_private(path, json.dumps({"url": url, "pid": os.getpid(), "store": store, "before": chain}))
    return Marker(path)


def _serving(marker: object) -> bool:
    """Whether the console a marker names is still running (its process is)."""
    try:
        os.kill(int(marker["pid"]), 0)  # type: ignore[index]
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    except (KeyError, TypeError, ValueError, OverflowError):
        return False
    return True


def find(state_dir: Path, store: str) -> str | None:
    """The URL of a console running on this machine over ``store``, if one is. A marker another user
    wrote, or could have (a state directory others may write to), is not taken: it would send the
    summary's links wherever its writer chose."""
    try:  # what is checked is what is read: the file opened, not its name looked at twice
        descriptor = os.open(state_dir / MARKER, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(descriptor, "rb") as file:
        mine = os.fstat(file.fileno())
        if not stat.S_ISREG(mine.st_mode) or mine.st_uid != os.getuid() or mine.st_mode & 0o022:
            return None
        text = file.read(64 * 1024)
    try:
        marker = json.loads(text)
        url, pid = str(marker["url"]), int(marker["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if marker.get("store") != store or not _serving({"pid": pid}):
        return None
    return url.rstrip("/")
