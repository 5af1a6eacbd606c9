"""Go binaries: the module list that the Go toolchain (1.13 and later) embeds as build info.

The build info sits after a 16-byte-aligned ``\\xff Go buildinf:`` header: its pointer size, then flags.
With flag bit 2 set (inline strings, Go >= 1.18) two length-prefixed strings follow at +32: the Go
version, then the module info (``path``, ``mod``, ``dep`` and ``=>`` lines). Before, two pointers follow
at +16, each to a Go string header (data address, length) elsewhere in the binary, as Go's
``debug/buildinfo`` reads them: the headers come after the build info in the file, the strings before it
(in the read-only data), and the binary is read once, as a stream. So on the way the bytes at each
possible target are kept (each Go version string, each module info between its 16-byte sentinels), and
the pointers are mapped to file offsets through the ELF program headers at the start.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

MAGIC = b"\xff Go buildinf:"
CHUNK = 1024 * 1024
TAIL = 1024 * 1024  # module info is read up to this much after the header
MAX_BINARY = 512 * 1024 * 1024
MAX_CANDIDATES = 16  # plausible build info headers looked at (a real binary has one)
INFO_START = bytes.fromhex("3077af0c9274080241e1c107e6d618e6")  # the module info's sentinels (cmd/go's)
INFO_END = bytes.fromhex("f932433186182072008242104116d8f2")
VERSION_START = b"go1."  # (not "devel ...": a toolchain built from a checkout, rare before 1.18)
VERSION_BYTES = 128  # kept of each possible version string
MAX_KEPT = 4096  # possible version strings kept (a real binary has a few)
MAX_INFOS = 8  # module infos kept (a real binary has one)
MAX_SEGMENTS = 64
HEAD = 64 * 1024  # where the ELF header, the program headers and Go's build ID note are
# Go's linker writes its build ID as an ELF note near the start (name "Go", type 4), in either byte order:
# only binaries with one have pointer targets kept (looking for them in every binary was 4x the CPU)
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


@dataclass
class _Pass:
    """What one pass over a binary keeps: its first chunk (the ELF header and program headers) and the
    bytes at each place a pre-1.18 build info pointer may lead to (file offset -> bytes)."""

    stream: IO[bytes]
    head: bytes = b""
    go: bool = False  # Go's build ID note is in the head
    kept: dict[int, bytes] = field(default_factory=dict)
    infos: int = 0

    def candidates(self) -> Iterator[tuple[int, bytes]]:
        """(file offset, bytes from there on) of each 16-byte-aligned build info magic, read chunk by
        chunk (never the whole binary at once). The same string can appear as data elsewhere, so each
        candidate is checked; only one whose header could be build info's is copied, and at most
        MAX_CANDIDATES of those are (a crafted binary full of aligned magics cost a megabyte copied for
        each)."""
        window, offset, tried, seen = b"", 0, 0, 0  # offset: where window starts in the file; seen: kept to
        while offset < MAX_BINARY and tried < MAX_CANDIDATES:
            chunk = self.stream.read(CHUNK)
            if not self.head:
                self.head = chunk[:HEAD]
                self.go = _has_go_note(self.head)
            window += chunk
            window, seen = self._keep(window, offset, seen, len(window) - (VERSION_BYTES if chunk else 0))
            if not chunk:
                return
            at = window.find(MAGIC)
            while at >= 0 and tried < MAX_CANDIDATES:
                flags = window[at + 14 : at + 16]
                if (offset + at) % 16 == 0 and (len(flags) < 2 or flags[0] in (4, 8)):
                    tried += 1
                    found = window[at:]
                    while len(found) < TAIL and (more := self.stream.read(CHUNK)):
                        found += more
                    yield offset + at, found[:TAIL]
                    window, offset = found, offset + at  # go on after this candidate
                    at = window.find(MAGIC, 1)
                    continue
                at = window.find(MAGIC, at + 1)
            keep = min(len(window), max(len(MAGIC) - 1, VERSION_BYTES))
            offset += len(window) - keep
            window = window[len(window) - keep :]

    def _keep(self, window: bytes, offset: int, seen: int, end: int) -> tuple[bytes, int]:
        """Keep what a pre-1.18 pointer may lead to that starts in ``window`` (at file ``offset``) from
        file offset ``seen`` up to ``end`` in the window: the window, read on to the end of a module
        info that starts there, and the file offset looked through to."""
        start = max(seen - offset, 0)
        if not self.go:
            return window, offset + max(end, start)
        at = window.find(VERSION_START, start, end)
        while at >= 0 and len(self.kept) < MAX_KEPT:
            self.kept[offset + at] = window[at : at + VERSION_BYTES]
            at = window.find(VERSION_START, at + 1, end)
        at = window.find(INFO_START, start, end)
        while at >= 0 and self.infos < MAX_INFOS:
            while len(window) - at < TAIL and INFO_END not in window[at:] and (more := self.stream.read(CHUNK)):
                window += more
            close = window.find(INFO_END, at, at + TAIL)
            self.kept[offset + at] = window[at : close + len(INFO_END) if close >= 0 else at + TAIL]
            self.infos += 1
            at = window.find(INFO_START, at + 1, end)
        return window, offset + max(end, start)

    def segments(self) -> list[tuple[int, int, int, int]]:
        """(virtual address, file offset, size in the file, size in memory) of each loaded ELF segment."""
        head = self.head
        if head[:4] != b"\x7fELF" or len(head) < 64 or head[4] not in (1, 2) or head[5] not in (1, 2):
            return []
        order, wide = "<" if head[5] == 1 else ">", head[4] == 2
        phoff, (entry, count) = (
            (struct.unpack_from(order + "Q", head, 0x20)[0], struct.unpack_from(order + "HH", head, 0x36))
            if wide
            else (struct.unpack_from(order + "I", head, 0x1C)[0], struct.unpack_from(order + "HH", head, 0x2A))
        )
        layout = order + ("IIQQQQQ" if wide else "IIIIII")  # as each class orders its fields
        if entry < struct.calcsize(layout):
            return []
        segments = []
        for index in range(min(count, MAX_SEGMENTS)):
            at = phoff + index * entry
            if at + struct.calcsize(layout) > len(head):
                break
            if wide:
                kind, _, file_offset, address, _, size, memory = struct.unpack_from(layout, head, at)
            else:
                kind, file_offset, address, _, size, memory = struct.unpack_from(layout, head, at)
            if kind == 1:  # PT_LOAD
                segments.append((address, file_offset, size, memory))
        return segments


_ZEROS = -1  # the offset of an address in memory a segment zeroes (.bss), not in the file


def _at(segments: list[tuple[int, int, int, int]], address: int) -> int | None:
    """The file offset of a virtual address: _ZEROS in a segment's zeroed memory, None outside."""
    for start, file_offset, size, memory in segments:
        if start <= address < start + size:
            return file_offset + address - start
        if start <= address < start + memory:
            return _ZEROS
    return None


def _string(found: bytes, offset: int, header: int, segments: list[tuple[int, int, int, int]],
            kept: dict[int, bytes], pointer: int, big: bool) -> bytes | None:  # fmt: skip
    """The Go string that the build info pointer at ``header`` in ``found`` (at file ``offset``) leads
    to, None if it cannot be read."""
    order, word = (">" if big else "<"), ("Q" if pointer == 8 else "I")
    (address,) = struct.unpack_from(order + word, found, header)
    where = _at(segments, address)
    if where == _ZEROS:  # a string never set: empty (no module info, outside module mode, as Debian builds)
        return b""
    if where is None or not 0 <= where - offset <= len(found) - 2 * pointer:
        return None  # (a string header is after the build info, which has been read this far)
    data, length = struct.unpack_from(order + word * 2, found, where - offset)
    if length == 0:
        return b""
    text = kept.get(_at(segments, data) or _ZEROS)
    return text[:length] if text is not None and len(text) >= length else None


def _decode(found: bytes, offset: int = 0, scan: _Pass | None = None) -> tuple[str, bytes] | None:
    """(Go version, module info) from a candidate at file ``offset``, or None if it is not real build
    info (``scan``: what a pass kept, for the pointer form)."""
    if len(found) < 32 or found[14] not in (4, 8):
        return None
    try:
        if found[15] & 2:  # inline strings
            length, at = _uvarint(found, 32)
            version = found[at : at + length].decode("utf-8")
            length, at = _uvarint(found, at + length)
            modinfo = found[at : at + length]
        else:  # pointers, to string headers in the binary's data
            if scan is None:
                return None
            pointer, big, segments = found[14], bool(found[15] & 1), scan.segments()
            strings = [_string(found, offset, 16 + n * pointer, segments, scan.kept, pointer, big) for n in (0, 1)]
            if strings[0] is None or strings[1] is None:
                return None
            version, modinfo = strings[0].decode("utf-8"), strings[1]
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
    scan = _Pass(stream)
    decoded = next((d for offset, found in scan.candidates() if (d := _decode(found, offset, scan))), None)
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
