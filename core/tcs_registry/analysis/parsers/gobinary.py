"""Go binaries: the module list that the Go toolchain (1.13 and later) embeds as build info.

The build info sits after a 16-byte-aligned ``\\xff Go buildinf:`` header: its pointer size, then flags.
With flag bit 2 set (inline strings, Go >= 1.18) two length-prefixed strings follow at +32: the Go
version, then the module info (``path``, ``mod``, ``dep`` and ``=>`` lines). Before, two pointers follow
at +16, each to a Go string header (data address, length) elsewhere in the binary, as Go's
``debug/buildinfo`` reads them: mapped to file offsets through the ELF program headers, they lead
before the build info or after it, wherever the linker put the data. A layer's files are read once, as
a stream, so the bytes of a binary with Go's build ID note are spooled as they are read (to a temporary
file past SPOOLED) and the pointers followed in the spool, the stream read on as far as they lead.
"""

from __future__ import annotations

import logging
import re
import struct
import tempfile
from collections.abc import Iterator
from typing import IO, Any

log = logging.getLogger("tcs_registry")

MAGIC = b"\xff Go buildinf:"
CHUNK = 1024 * 1024
TAIL = 1024 * 1024  # module info is read up to this much after the header
MAX_BINARY = 512 * 1024 * 1024
MAX_CANDIDATES = 16  # plausible build info headers looked at (a real binary has one)
MAX_STRING = 1024 * 1024  # the most of a Go string (version, module info) read where a pointer leads
MAX_SEGMENTS = 64
HEAD = 64 * 1024  # where the ELF header, the program headers and Go's build ID note are
SPOOLED = 4 * 1024 * 1024  # of a Go binary's bytes kept in memory (8 read at once); the rest in a temporary file
# Go's linker writes its build ID as an ELF note near the start (name "Go", type 4), in either byte order
# (not with -ldflags=-buildid=, rare: such a binary built before Go 1.18 is not read)
_GO_NOTE = re.compile(rb"\x04\0\0\0.{4}\x04\0\0\0|\0\0\0\x04.{4}\0\0\0\x04", re.DOTALL)  # namesz, descsz, type


def _has_go_note(head: bytes) -> bool:
    at = head.find(b"Go\0\0", 12)  # (found by its name first: a regex over 64 KiB took 2 ms a binary)
    while at >= 0:
        if _GO_NOTE.fullmatch(head, at - 12, at):
            return True
        at = head.find(b"Go\0\0", at + 1)
    return False


def _uvarint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while at < len(data) and shift < 64:
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at += 1
        if byte < 0x80:
            return value, at
        shift += 7
    raise ValueError("bad varint")


class _Binary:
    """A binary read once from a stream, in order. A Go binary's bytes after its code (its read-only and
    writable data, where build info pointers lead) are spooled on the way, so that the pointers can be
    followed anywhere in what has been read, or will be."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.head = b""
        self.segments: list[tuple[int, int, int, int, bool]] = []  # a Go binary's loaded ELF segments
        self.spool: IO[bytes] | None = None
        self.spooled_from = 0  # the file offset of the spool's first byte: the end of the code
        self.size = 0  # bytes read from the stream
        self.position = 0  # bytes handed to the scan for build info (the spool may hold more)

    def close(self) -> None:
        if self.spool is not None:
            self.spool.close()

    def read(self, size: int) -> bytes:
        """The next bytes for the scan: those spooled past it first (read on by `at`), then the stream's."""
        if self.spool is not None and self.position < self.size:  # (only `at` reads on: past the code)
            self.spool.seek(self.position - self.spooled_from)
            data = self.spool.read(min(size, self.size - self.position))
        else:
            data = self._more(size)
        self.position += len(data)
        return data

    def at(self, offset: int, length: int) -> bytes:
        """``length`` bytes at file ``offset`` after the code (fewer at the end), reading the stream on to
        them; none where they were not kept, or while the scan is still in the code."""
        if self.spool is None or self.position < self.spooled_from or not self.spooled_from <= offset < MAX_BINARY:
            return b""
        while self.size < offset + length and self.size < MAX_BINARY and self._more(CHUNK):
            pass
        if self.spool is None:  # (dropped: the temporary directory is full)
            return b""
        self.spool.seek(offset - self.spooled_from)
        return self.spool.read(max(0, min(length, self.size - offset)))

    def _more(self, size: int) -> bytes:
        data = self.stream.read(size)
        if not self.size:
            self.head = data[:HEAD]
            if _has_go_note(self.head):  # (pointers are followed in the spool only: no other binary needs them)
                self.segments = _segments(self.head)
                code = [offset + filed for _, offset, filed, _, executable in self.segments if executable]
                self.spooled_from = max(code, default=0)
                self.spool = tempfile.SpooledTemporaryFile(max_size=SPOOLED)  # noqa: SIM115 (closed by close)
        if self.spool is not None and self.size + len(data) > self.spooled_from:
            skip = max(0, self.spooled_from - self.size)
            try:
                self.spool.seek(self.size + skip - self.spooled_from)
                self.spool.write(data[skip:])
            except OSError as exc:  # a full temporary directory: pointers are not followed, the scan goes on
                log.debug("Go binary not spooled: %s", exc)
                self.spool.close()
                self.spool = None
        self.size += len(data)
        return data

    def candidates(self) -> Iterator[tuple[int, bytes]]:
        """(file offset, bytes from there on) of each 16-byte-aligned build info magic, read chunk by
        chunk (never the whole binary at once). The same string can appear as data elsewhere, so each
        candidate is checked; only one whose header could be build info's is copied, and at most
        MAX_CANDIDATES of those are (a crafted binary full of aligned magics cost a megabyte copied for
        each)."""
        window, offset, tried = b"", 0, 0  # offset: where window starts in the file
        while offset < MAX_BINARY and tried < MAX_CANDIDATES:
            chunk = self.read(CHUNK)
            if not chunk:
                return
            window += chunk
            at = window.find(MAGIC)
            while at >= 0 and tried < MAX_CANDIDATES:
                flags = window[at + 14 : at + 16]
                if (offset + at) % 16 == 0 and (len(flags) < 2 or flags[0] in (4, 8)):
                    tried += 1
                    found = window[at:]
                    while len(found) < TAIL and (more := self.read(CHUNK)):
                        found += more
                    yield offset + at, found[:TAIL]
                    window, offset = found, offset + at  # go on after this candidate
                    at = window.find(MAGIC, 1)
                    continue
                at = window.find(MAGIC, at + 1)
            keep = len(MAGIC) - 1
            offset += len(window) - keep
            window = window[-keep:]

    def string(self, address: int, pointer: int, big: bool) -> bytes | None:
        """The Go string whose header (data address, length) is at virtual ``address``, as Go's
        ``debug/buildinfo`` reads it: empty in memory a segment zeroes (.bss: never set), None where no
        segment maps it or its bytes are not in the file."""
        word = _word(pointer, big)
        header = self._read(address, 2 * pointer)
        if header is None:
            return None
        data, length = struct.unpack(word + word[1], header)
        return b"" if length == 0 else self._read(data, length) if length <= MAX_STRING else None

    def _read(self, address: int, length: int) -> bytes | None:
        for start, file_offset, size, memory, _ in self.segments:
            if start <= address and address + length <= start + size:
                data = self.at(file_offset + address - start, length)
                return data if len(data) == length else None
            if start + size <= address < start + memory:
                return bytes(length)  # zeroed, not in the file
        return None


def _segments(head: bytes) -> list[tuple[int, int, int, int, bool]]:
    """(virtual address, file offset, size in the file, size in memory, executable) of each loaded ELF
    segment that ``head`` holds the program header of (none past MAX_BINARY in the file)."""
    if head[:4] != b"\x7fELF" or len(head) < 64 or head[4] not in (1, 2) or head[5] not in (1, 2):
        return []
    order, wide = "<" if head[5] == 1 else ">", head[4] == 2
    phoff, (entry, count) = (
        (struct.unpack_from(order + "Q", head, 0x20)[0], struct.unpack_from(order + "HH", head, 0x36))
        if wide
        else (struct.unpack_from(order + "I", head, 0x1C)[0], struct.unpack_from(order + "HH", head, 0x2A))
    )
    layout = order + ("IIQQQQQ" if wide else "IIIIIII")  # as each class orders its fields
    if entry < struct.calcsize(layout):
        return []
    segments = []
    for index in range(min(count, MAX_SEGMENTS)):
        at = phoff + index * entry
        if at + struct.calcsize(layout) > len(head):
            break
        if wide:
            kind, flags, file_offset, address, _, size, memory = struct.unpack_from(layout, head, at)
        else:
            kind, file_offset, address, _, size, memory, flags = struct.unpack_from(layout, head, at)
        if kind == 1 and file_offset + size <= MAX_BINARY:  # PT_LOAD
            segments.append((address, file_offset, size, memory, bool(flags & 1)))  # (PF_X)
    return segments


def _word(pointer: int, big: bool) -> str:
    """The struct format of one pointer-sized word."""
    return (">" if big else "<") + ("Q" if pointer == 8 else "I")


def _decode(found: bytes, binary: _Binary | None = None) -> tuple[str, bytes] | None:
    """(Go version, module info) from a candidate, or None if it is not real build info (``binary``:
    where the pointer form's pointers lead)."""
    if len(found) < 32 or found[14] not in (4, 8):
        return None
    try:
        if found[15] & 2:  # inline strings
            length, at = _uvarint(found, 32)
            version = found[at : at + length].decode("utf-8")
            length, at = _uvarint(found, at + length)
            modinfo = found[at : at + length]
        else:  # pointers, to string headers in the binary's data
            if binary is None:
                return None
            pointer, big = found[14], bool(found[15] & 1)
            word = _word(pointer, big)
            addresses = struct.unpack_from(word + word[1], found, 16)
            text = binary.string(addresses[0], pointer, big)
            if not text:
                return None
            version = text.decode("utf-8")
            modinfo = binary.string(addresses[1], pointer, big) or b""  # (unreadable: as Go, the version alone)
            length = len(modinfo)
    except (ValueError, UnicodeDecodeError, struct.error):
        return None
    if not version.startswith(("go", "devel ")) or len(modinfo) != length:
        return None
    if len(modinfo) >= 33 and modinfo[-17:-16] == b"\n":  # 16-byte sentinels around the text
        modinfo = modinfo[16:-16]
    if modinfo and not modinfo.startswith(b"path\t"):
        return None
    return version, modinfo


def parse(stream: IO[bytes]) -> list[dict[str, Any]]:
    """Modules of a Go binary: its dependencies, the main module (with no version when it says
    ``(devel)``, as a local build does: never an invented one), and ``stdlib``."""
    binary = _Binary(stream)
    try:
        decoded = next((d for _, found in binary.candidates() if (d := _decode(found, binary))), None)
    finally:
        binary.close()
    if decoded is None:
        return []
    go_version, modinfo = decoded
    packages: list[dict[str, Any]] = []
    for line in modinfo.decode("utf-8", "replace").splitlines():
        fields = line.split("\t")
        if fields[0] in ("mod", "dep") and len(fields) >= 3:
            # "(devel)": built from a checkout (the main module, a workspace's): no version, none invented
            packages.append(
                {"name": fields[1], "version": "" if fields[2] == "(devel)" else fields[2].removeprefix("v")}
            )
        elif fields[0] == "=>" and len(fields) >= 3 and packages:  # a replace directive of the previous dep
            if fields[2] and fields[2] != "(devel)":
                packages[-1] = {"name": fields[1], "version": fields[2].removeprefix("v")}
            else:  # replaced by a local directory: its code is not the published module's
                packages.pop()
    packages.append({"name": "stdlib", "version": stdlib_version(go_version)})
    return packages


# a Go release as its toolchain names it: go1.20, go1.21.5, go1.21rc2; what follows is the build's
# (" X:boringcrypto", Go 1.26's "-X:nodwarf5", " (Red Hat 1.26.5-1.el9)")
_GO_RELEASE = re.compile(r"go(\d+)\.(\d+)(?:\.(\d+))?(?:(alpha|beta|rc)(\d+))?(?![\w.])")


def stdlib_version(go_version: str) -> str:
    """The standard library's version as the Go vulnerability database writes it (SemVer: go1.20 is 1.20.0,
    go1.21rc2 is 1.21.0-rc.2), or '' for a toolchain built from a checkout (``devel go1.24-abc...``)."""
    release = _GO_RELEASE.match(go_version)
    if release is None:
        return ""
    major, minor, patch, stage, number = release.groups()
    return f"{major}.{minor}.{patch or 0}" + (f"-{stage}.{number}" if stage else "")
