"""A console serving a state directory's store says so in that directory (``console.json``), so that a
scan of the same store links its summary to it."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from ..files import private_dir, write_private

MARKER = "console.json"


def announce(state_dir: Path, url: str, store: str) -> Path:
    path = private_dir(state_dir) / MARKER
    write_private(path, json.dumps({"url": url, "pid": os.getpid(), "store": store}))
    return path


def withdraw(path: Path) -> None:
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():  # not a later console's
            path.unlink()
    except (OSError, ValueError):
        pass


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
    if marker.get("store") != store:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # another user's process: alive
        pass
    return url.rstrip("/")
