"""Go binaries: the module list that the Go toolchain (1.18 and later) embeds as build info.

The build info sits after a 16-byte-aligned ``\\xff Go buildinf:`` header; with flag bit 2 set
(inline strings, Go >= 1.18) two length-prefixed strings follow at +32: the Go version, then the
module info (``path``, ``mod``, ``dep`` and ``=>`` lines), as Go's ``debug/buildinfo`` reads it.
Older binaries store pointers instead and are not read.
"""

from __future__ import annotations

from typing import IO, Any

MAGIC = b"\xff Go buildinf:"
CHUNK = 1024 * 1024
TAIL = 1024 * 1024  # module info is read up to this much after the header
MAX_BINARY = 512 * 1024 * 1024


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


def find_buildinfo(stream: IO[bytes]) -> bytes | None:
    """The bytes from the build info header on, read chunk by chunk (never the whole binary)."""
    window, offset = b"", 0
    while offset < MAX_BINARY:
        chunk = stream.read(CHUNK)
        if not chunk:
            return None
        start = len(window)
        window += chunk
        at = window.find(MAGIC, max(0, start - len(MAGIC)))
        while at >= 0 and (offset + at) % 16:
            at = window.find(MAGIC, at + 1)
        if at >= 0:
            found = window[at:]
            while len(found) < TAIL:
                more = stream.read(CHUNK)
                if not more:
                    break
                found += more
            return found[:TAIL]
        offset += len(window) - len(MAGIC)
        window = window[-len(MAGIC) :]
    return None


def parse(stream: IO[bytes]) -> list[dict[str, Any]]:
    """Modules of a Go binary: its dependencies, the main module when versioned, and ``stdlib``."""
    found = find_buildinfo(stream)
    if found is None or len(found) < 32 or not found[15] & 2:
        return []
    try:
        length, at = _uvarint(found, 32)
        go_version = found[at : at + length].decode("utf-8", "replace")
        length, at = _uvarint(found, at + length)
        modinfo = found[at : at + length]
    except ValueError:
        return []
    if len(modinfo) >= 33 and modinfo[-17:-16] == b"\n":  # 16-byte sentinels around the text
        modinfo = modinfo[16:-16]
    packages: list[dict[str, Any]] = []
    for line in modinfo.decode("utf-8", "replace").splitlines():
        fields = line.split("\t")
        if fields[0] in ("mod", "dep") and len(fields) >= 3:
            if fields[2] and fields[2] != "(devel)":
                packages.append({"name": fields[1], "version": fields[2].removeprefix("v")})
        elif fields[0] == "=>" and len(fields) >= 3 and packages:  # a replace directive: the previous dep
            packages[-1] = {"name": fields[1], "version": fields[2].removeprefix("v")}
    version = go_version.removeprefix("go").split(" ")[0]
    if version:
        packages.append({"name": "stdlib", "version": version})
    return packages
