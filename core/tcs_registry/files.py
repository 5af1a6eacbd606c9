"""Files the tool writes are private: directories it creates are 0700 and files 0600, whatever the
umask (reports list a private registry's contents; the state store and the layer cache too).
Directories that already exist keep their mode: they are the user's."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import TextIO

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """``mkdir -p`` whose new directories are 0700."""
    missing = []
    for directory in (path, *path.parents):
        if directory.exists():
            break
        missing.append(directory)
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=DIRECTORY_MODE)
        except FileExistsError:  # made meanwhile by another worker
            continue
        os.chmod(directory, DIRECTORY_MODE)  # mkdir's mode is narrowed by the umask, never widened: be exact
    if not path.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path))
    return path


def private_file(path: Path) -> Path:
    """Creates ``path`` empty and 0600 if it does not exist (SQLite then keeps that mode for its journal)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, FILE_MODE)
    os.close(descriptor)
    return path


def open_private(path: Path, newline: str | None = None) -> TextIO:
    """A text file opened for writing (replacing what was there), 0600, its missing directories 0700."""
    private_dir(path.parent)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, FILE_MODE)  # never a planted link
    return open(descriptor, "w", encoding="utf-8", newline=newline)


def write_private(path: Path, text: str) -> None:
    with open_private(path) as handle:
        handle.write(text)
