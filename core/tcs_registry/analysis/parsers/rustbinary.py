"""Rust binaries built with cargo-auditable: the crate list it embeds in an ELF section ``.dep-v0``
(``.rust-deps-v0`` in its first releases), zlib-compressed JSON: ``{"packages": [{"name", "version",
"source", "kind", "dependencies", "root"}]}`` (the format of cargo-auditable's ``auditable-serde``).

As Trivy and Syft read it: every crate compiled into the binary (``kind`` runtime, the default), the root
and workspace crates included; build-only crates (``kind: build``: build scripts, proc macros) left out,
they are not in the binary. Only crates from crates.io are matched against crates.io's advisories.
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from collections import deque
from typing import IO, Any

SECTIONS = (".dep-v0", ".rust-deps-v0")
SECTIONS_B = {name.encode() for name in SECTIONS}
MAX_COMPRESSED = 4 * 1024 * 1024
MAX_JSON = 4 * 1024 * 1024  # (uv's 567 crates: 54 KB; JSON of tiny lists costs ~25x its size in memory)
MAX_CRATES = 100_000
MAX_SECTIONS = 1_000  # real binaries have a few dozen; a crafted header can claim millions
MAX_NAMES = 1024 * 1024  # bytes of the section name table
SHF_COMPRESSED = 0x800  # cargo-auditable compresses with zlib itself, never with ELF's section compression
HEAD = 64 * 1024  # the ELF header and program headers
TAIL = 8 * 1024 * 1024  # the section table and the sections no program loads (this one among them) are last


class Ends(io.RawIOBase):
    """A reader that keeps the first HEAD and the last TAIL bytes of what is read through it, so a
    binary streamed once (for Go's build info) can then be opened as an ELF file for its last sections
    without a copy of the whole file: reading what was not kept fails."""

    def __init__(self, source: IO[bytes]) -> None:
        self.source = source
        self.head = b""
        self.chunks: deque[bytes] = deque()  # the last chunks read, TAIL bytes and at most one chunk more
        self.kept = 0  # bytes in chunks
        self.size = 0  # bytes read from the source
        self.tail = b""
        self.position: int | None = None  # set when opened: reading from what was kept

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if self.position is None:  # streaming through
            data = self.source.read(size)
            self._keep(data)
            return data
        data = self._kept(self.position, len(self.tail) + len(self.head) if size is None or size < 0 else size)
        self.position += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _keep(self, data: bytes) -> None:
        if len(self.head) < HEAD:
            self.head += data[: HEAD - len(self.head)]
        self.chunks.append(data)
        self.kept += len(data)
        while self.kept - len(self.chunks[0]) >= TAIL:
            self.kept -= len(self.chunks.popleft())
        self.size += len(data)

    def opened(self) -> Ends:
        """Read the rest of the source, then serve reads (and seeks) from what was kept."""
        while chunk := self.source.read(1024 * 1024):
            self._keep(chunk)
        self.tail = b"".join(self.chunks)
        self.chunks.clear()
        self.position = 0
        return self

    def _kept(self, at: int, length: int) -> bytes:
        tail_at = self.size - len(self.tail)
        if at + length <= len(self.head) or at >= self.size:
            return self.head[at : at + length]
        if at >= tail_at:
            return self.tail[at - tail_at : at - tail_at + length]
        raise ValueError(f"bytes {at} to {at + length} of the binary are neither in its first nor its last bytes")

    def seekable(self) -> bool:
        return self.position is not None

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position or 0, io.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def tell(self) -> int:
        return self.size if self.position is None else self.position


def _sections(binary: IO[bytes]) -> tuple[bytes, list[tuple[int, int, int, int]]]:
    """The section name table, and each section's (name offset, flags, offset, size), read from the ELF
    header and section headers (ELF32 or ELF64, either byte order) with every count and size bounded.
    (pyelftools reads each name on its own, a few bytes at a time up to its NUL: a crafted table
    without one cost minutes.)"""
    binary.seek(0)
    ident = binary.read(64)
    if len(ident) < 52 or ident[:4] != b"\x7fELF" or ident[4] not in (1, 2) or ident[5] not in (1, 2):
        raise ValueError("not an ELF file")
    order = "<" if ident[5] == 1 else ">"
    wide = ident[4] == 2
    if wide:
        (shoff,) = struct.unpack_from(order + "Q", ident, 0x28)
        entry, count, names_index = struct.unpack_from(order + "HHH", ident, 0x3A)
        layout, size = order + "IIQQQQ", 0x40
    else:
        (shoff,) = struct.unpack_from(order + "I", ident, 0x20)
        entry, count, names_index = struct.unpack_from(order + "HHH", ident, 0x2E)
        layout, size = order + "IIIIII", 0x28
    if not count or entry < size or count > MAX_SECTIONS:
        raise ValueError(f"{count} ELF sections of {entry} bytes: not a table this reads")
    binary.seek(shoff)
    table = binary.read(entry * count)
    if len(table) < entry * count:
        raise ValueError("the ELF section table is cut short")
    sections = []
    for index in range(count):
        name, _, flags, _, offset, length = struct.unpack_from(layout, table, index * entry)
        sections.append((name, flags, offset, length))
    if names_index >= count or sections[names_index][3] > MAX_NAMES:
        raise ValueError("no ELF section name table this reads")
    binary.seek(sections[names_index][2])
    return binary.read(sections[names_index][3]), sections


def parse(binary: IO[bytes]) -> list[dict[str, Any]]:
    """The crates of a seekable ELF file (or of `Ends.opened`), [] when it has no cargo-auditable section."""
    if isinstance(binary, Ends) and not any(name.encode() + b"\0" in binary.tail for name in SECTIONS):
        return []  # (the section names are at the end too: most binaries cost no ELF parsing)
    names, sections = _sections(binary)
    found = [section for section in sections if names[section[0] : names.find(b"\0", section[0])] in SECTIONS_B]
    if not found:
        return []
    _, flags, offset, size = found[0]
    if flags & SHF_COMPRESSED or size > MAX_COMPRESSED:
        raise ValueError(f"a {size}-byte cargo-auditable section, over {MAX_COMPRESSED} or compressed")
    binary.seek(offset)
    inflate = zlib.decompressobj()
    text = inflate.decompress(binary.read(size), MAX_JSON)
    if inflate.unconsumed_tail:
        raise ValueError(f"the cargo-auditable section inflates to over {MAX_JSON} bytes")
    crates = json.loads(text).get("packages")
    if not isinstance(crates, list):
        raise ValueError("no crate list in the cargo-auditable section")
    found = []
    for crate in crates[:MAX_CRATES]:
        if not isinstance(crate, dict) or crate.get("kind", "runtime") != "runtime":
            continue
        name, version = crate.get("name"), crate.get("version")
        if isinstance(name, str) and isinstance(version, str) and name:
            entry = {"name": name, "version": version}
            if crate.get("source") != "crates.io":  # a workspace's own crate, git or another registry
                entry["unmatched"] = True
            found.append(entry)
    return found
