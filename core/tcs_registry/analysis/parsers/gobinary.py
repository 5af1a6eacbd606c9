"""Go binaries: the module list that the Go toolchain (1.18 and later) embeds as build info.

The build info sits after a 16-byte-aligned ``\\xff Go buildinf:`` header; with flag bit 2 set
(inline strings, Go >= 1.18) two length-prefixed strings follow at +32: the Go version, then the
module info (``path``, ``mod``, ``dep`` and ``=>`` lines), as Go's ``debug/buildinfo`` reads it.
Older binaries store pointers instead and are not read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO, Any

MAGIC = b"\xff Go buildinf:"
CHUNK = 1024 * 1024
TAIL = 1024 * 1024  # module info is read up to this much after the header
MAX_BINARY = 512 * 1024 * 1024
MAX_CANDIDATES = 16  # plausible build info headers looked at (a real binary has one)


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


def _candidates(stream: IO[bytes]) -> Iterator[bytes]:
    """The bytes from each 16-byte-aligned build info magic on, read chunk by chunk (never the whole
    binary at once). The same string can appear as data elsewhere, so each candidate is checked; only
    one whose header could be build info's is copied, and at most MAX_CANDIDATES of those are (a crafted
    binary full of aligned magics cost a megabyte copied for each)."""
    window, offset, tried = b"", 0, 0  # offset: where window starts in the file
    while offset < MAX_BINARY and tried < MAX_CANDIDATES:
        chunk = stream.read(CHUNK)
        if not chunk:
            return
        window += chunk
        at = window.find(MAGIC)
        while at >= 0 and tried < MAX_CANDIDATES:
            flags = window[at + 14 : at + 16]
            if (offset + at) % 16 == 0 and (len(flags) < 2 or (flags[0] in (4, 8) and flags[1] & 2)):
                tried += 1
                found = window[at:]
                while len(found) < TAIL and (more := stream.read(CHUNK)):
                    found += more
                yield found[:TAIL]
                window, offset = found, offset + at  # go on after this candidate
                at = window.find(MAGIC, 1)
                continue
            at = window.find(MAGIC, at + 1)
        keep = len(MAGIC) - 1
        offset += len(window) - keep
        window = window[-keep:]


def _decode(found: bytes) -> tuple[str, bytes] | None:
    """(Go version, module info) from a candidate, or None if it is not real build info."""
    if len(found) < 32 or found[14] not in (4, 8) or not found[15] & 2:
        return None  # not a header, or a pre-1.18 one that stores pointers
    try:
        length, at = _uvarint(found, 32)
        version = found[at : at + length].decode("utf-8")
        length, at = _uvarint(found, at + length)
        modinfo = found[at : at + length]
    except (ValueError, UnicodeDecodeError):
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
    decoded = next((d for d in map(_decode, _candidates(stream)) if d), None)
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
