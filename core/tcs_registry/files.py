"""Files the tool writes are private: directories it creates are 0700 and files 0600, whatever the
umask (reports list a private registry's contents; the state store and the layer cache too).
Directories that already exist keep their mode: they are the user's."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
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


def check_writable(path: Path) -> None:
    """OSError unless a file can be written at ``path``: made and removed again if it is not there, else
    opened for appending (nothing it holds is lost); never through a planted link, never a FIFO's
    wait for a reader, nor any file that is not a regular one."""
    flags = os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK
    try:
        os.close(os.open(path, flags | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        descriptor = os.open(path, flags | os.O_APPEND)  # (a FIFO with no reader: ENXIO, at once)
        try:
            if not stat.S_ISREG(os.fstat(descriptor).st_mode):
                raise OSError(errno.EINVAL, "not a regular file")
        finally:
            os.close(descriptor)
    else:
        path.unlink()  # (made here, by O_EXCL: no one else's)


def write_private(path: Path, text: str) -> None:
    with open_private(path) as handle:
        handle.write(text)


def write_private_beneath(root: Path, relative: str, text: str) -> None:
    """Write ``root/relative`` (0600), making its missing directories (0700), following no symbolic link
    from ``root`` down, ``root`` included: each directory is opened by descriptor, so a link planted in
    the output (or swapped in while the run goes on) is refused, never written through."""
    parts = relative.split("/")
    directory = open_directory(root)
    try:
        for at, part in enumerate(parts[:-1]):
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, DIRECTORY_MODE, dir_fd=directory)
                os.chmod(part, DIRECTORY_MODE, dir_fd=directory, follow_symlinks=False)
            below = open_directory(part, directory, shown=str(root.joinpath(*parts[: at + 1])))
            os.close(directory)
            directory = below
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
        descriptor = os.open(parts[-1], flags, FILE_MODE, dir_fd=directory)
    finally:
        os.close(directory)
    with open(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)


def open_directory(path: Path | str, parent: int | None = None, shown: str = "") -> int:
    """A descriptor of the directory ``path`` (in ``parent``'s), refusing a symbolic link with ELOOP."""
    try:
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent)
    except NotADirectoryError:
        if stat.S_ISLNK(os.stat(path, dir_fd=parent, follow_symlinks=False).st_mode):
            raise OSError(errno.ELOOP, "a symbolic link", shown or str(path)) from None
        raise


def refusal(exc: OSError) -> str:
    """Why a file could not be opened, in words: a planted symbolic link says so."""
    if exc.errno == errno.ELOOP:
        return "it is a symbolic link (refused: it could point anywhere)"
    return exc.strerror or str(exc)
