"""rpm databases in their three backends (SQLite, NDB, Berkeley DB hash), read without librpm.

The formats follow knqyf263/go-rpmdb (MIT) and rpm's own sources: each backend is only a container
of header blobs; `parse_header` reads the tags an inventory needs.
"""

from __future__ import annotations

import os
import sqlite3
import struct
from collections.abc import Iterator
from typing import Any

from .language import is_language_metadata
from .vendors import third_party

MAX_HEADER_ENTRIES = 0x10000
MAX_HEADER_DATA = 256 * 1024 * 1024
MAX_PACKAGES = 100_000
MAX_TOTAL_BYTES = 1024 * 1024 * 1024  # header bytes read from one database, duplicates included

NAME, VERSION, RELEASE, EPOCH, LICENSE, ARCH, SOURCERPM = 1000, 1001, 1002, 1003, 1014, 1022, 1044
VENDOR = 1011
MODULARITYLABEL = 5096  # name:stream:version:context of a package built for a module stream (RHEL 8, 9)
DIRINDEXES, BASENAMES, DIRNAMES = 1116, 1117, 1118
_WANTED = {
    NAME,
    VERSION,
    RELEASE,
    EPOCH,
    LICENSE,
    ARCH,
    SOURCERPM,
    VENDOR,
    MODULARITYLABEL,
    DIRINDEXES,
    BASENAMES,
    DIRNAMES,
}


class RpmError(ValueError):
    pass


def parse(data: bytes) -> list[dict[str, Any]]:
    """Packages of an rpm database in any backend, told apart by its magic bytes."""
    if data.startswith(b"SQLite format 3\x00"):
        blobs = _sqlite_blobs(data)
    elif data[:4] == b"RpmP":
        blobs = _ndb_blobs(data)
    else:
        blobs = _bdb_blobs(data)
    packages, total = [], 0
    for count, blob in enumerate(blobs):
        total += len(blob)
        if count >= MAX_PACKAGES or total > MAX_TOTAL_BYTES:
            raise RpmError(f"more than {MAX_PACKAGES} headers or {MAX_TOTAL_BYTES} bytes of them")
        record = package(parse_header(blob))
        if record:
            packages.append(record)
    return packages


# -- backends ----------------------------------------------------------------------------------
def _sqlite_blobs(data: bytes) -> list[bytes]:
    image = bytearray(data)
    if image[18:20] == b"\x02\x02":  # WAL mode: in memory it must read as a rollback-journal db
        image[18:20] = b"\x01\x01"
    db = sqlite3.connect(":memory:")
    try:
        db.deserialize(bytes(image))
        kind = db.execute("SELECT type FROM sqlite_master WHERE name = 'Packages'").fetchone()
        if kind != ("table",):  # a view could compute rows without end
            raise RpmError("rpmdb.sqlite has no Packages table")
        blobs, total = [], 0
        for (blob,) in db.execute("SELECT blob FROM Packages"):
            if not isinstance(blob, bytes):
                raise RpmError("rpmdb.sqlite holds a header that is not a blob")
            total += len(blob)
            if len(blobs) >= MAX_PACKAGES or total > MAX_TOTAL_BYTES:
                raise RpmError(f"more than {MAX_PACKAGES} headers or {MAX_TOTAL_BYTES} bytes of them")
            blobs.append(blob)
        return blobs
    except sqlite3.Error as exc:
        raise RpmError(f"unreadable rpmdb.sqlite: {exc}") from None
    finally:
        db.close()


def _ndb_blobs(data: bytes) -> Iterator[bytes]:
    _magic, version, _generation, slot_pages = struct.unpack_from("<4sIII", data, 0)
    if version != 0 or not 0 < slot_pages <= 2048:
        raise RpmError("unsupported NDB header")
    seen: set[int] = set()
    for offset in range(32, min(slot_pages * 4096, len(data)), 16):  # the first two slots are the header
        slot_magic, index, block, _count = struct.unpack_from("<4sIII", data, offset)
        if slot_magic != b"Slot":
            raise RpmError("bad NDB slot")
        if index == 0 or block in seen:  # free, or a second slot on the same blob
            continue
        seen.add(block)
        start = block * 16
        if start + 16 > len(data):
            raise RpmError("NDB slot points past the end of the file")
        blob_magic, blob_index, _checksum, length = struct.unpack_from("<4sIII", data, start)
        if blob_magic != b"BlbS" or blob_index != index or start + 16 + length > len(data):
            raise RpmError("bad NDB blob")
        yield data[start + 16 : start + 16 + length]


def _bdb_blobs(data: bytes) -> Iterator[bytes]:
    if len(data) < 512:
        raise RpmError("not an rpm database")
    order = "<"
    if struct.unpack_from("<I", data, 12)[0] != 0x061561:
        order = ">"
        if struct.unpack_from(">I", data, 12)[0] != 0x061561:
            raise RpmError("not an rpm database (unknown magic)")
    page_size = struct.unpack_from(order + "I", data, 20)[0]
    last_page = struct.unpack_from(order + "I", data, 32)[0]
    if data[24] != 0:
        raise RpmError("encrypted Berkeley DB")
    if page_size not in (512, 1024, 2048, 4096, 8192, 16384, 32768, 65536):
        raise RpmError(f"unexpected Berkeley DB page size {page_size}")
    pages = min(last_page + 1, len(data) // page_size)
    chains: set[int] = set()
    for number in range(pages):
        page = data[number * page_size : (number + 1) * page_size]
        if page[25] not in (2, 13):  # hash pages (13), unsorted hash pages of RHEL 5 (2)
            continue
        entries = struct.unpack_from(order + "H", page, 20)[0]
        for i in range(1, entries, 2):  # key/value pairs: keep the values
            at = struct.unpack_from(order + "H", page, 26 + 2 * i)[0]
            if at + 12 > page_size or page[at] != 3:  # only off-page (H_OFFPAGE) values hold headers
                continue
            first = struct.unpack_from(order + "I", page, at + 4)[0]
            if first not in chains:  # each chain once, however many entries point to it
                chains.add(first)
                yield _bdb_overflow(data, first, page_size, order)


def _bdb_overflow(data: bytes, number: int, page_size: int, order: str) -> bytes:
    chunks, seen = [], set()
    while number:
        if number in seen or (number + 1) * page_size > len(data):
            raise RpmError("broken Berkeley DB overflow chain")
        seen.add(number)
        page = data[number * page_size : (number + 1) * page_size]
        following = struct.unpack_from(order + "I", page, 16)[0]
        if page[25] != 7:
            break
        if following == 0:
            chunks.append(page[26 : 26 + struct.unpack_from(order + "H", page, 22)[0]])
        else:
            chunks.append(page[26:])
        number = following
    return b"".join(chunks)


# -- headers -----------------------------------------------------------------------------------
def parse_header(blob: bytes) -> dict[int, Any]:
    """The wanted tags of a header blob (no lead: the database stores headers bare)."""
    if len(blob) < 8:
        raise RpmError("short rpm header")
    count, size = struct.unpack_from(">ii", blob, 0)
    start = 8 + 16 * count
    if not 0 < count <= MAX_HEADER_ENTRIES or not 0 <= size <= MAX_HEADER_DATA or start + size > len(blob):
        raise RpmError("malformed rpm header")
    store = blob[start : start + size]
    tags: dict[int, Any] = {}
    budget = [size + 64 * 1024]  # bytes of the data store the wanted entries may read, in all: entries that
    for i in range(count):  # overlap (all pointing at one string array, say) cannot multiply the work
        tag, kind, offset, n = struct.unpack_from(">iIiI", blob, 8 + 16 * i)
        if tag not in _WANTED or tag in tags or not 0 <= offset < size:  # (a tag once: the first)
            continue
        if kind == 6:  # STRING
            tags[tag] = _strings(store, offset, 1, budget)[0]
        elif kind in (8, 9):  # STRING_ARRAY, I18NSTRING
            tags[tag] = _strings(store, offset, n, budget)
        elif kind == 4:  # INT32
            tags[tag] = list(struct.unpack_from(f">{n}i", store, offset)) if offset + 4 * n <= size else []
    return tags


def _strings(store: bytes, offset: int, n: int, budget: list[int]) -> list[str]:
    out = []
    for _ in range(n):
        end = store.find(b"\x00", offset)
        if end < 0:
            raise RpmError("unterminated string in rpm header")
        budget[0] -= end + 1 - offset
        if budget[0] < 0:
            raise RpmError("rpm header entries overlap beyond the header's size")
        out.append(store[offset:end].decode("utf-8", "replace"))
        offset = end + 1
    return out


def _first(value: Any) -> str:
    if isinstance(value, list):
        return str(value[0]) if value else ""
    return value or ""


def package(tags: dict[int, Any]) -> dict[str, Any] | None:
    name, version, release = _first(tags.get(NAME)), _first(tags.get(VERSION)), _first(tags.get(RELEASE))
    if not name or not version or name == "gpg-pubkey":  # imported signing keys are not packages
        return None
    epoch = tags.get(EPOCH)
    epoch = epoch[0] if isinstance(epoch, list) and epoch else None
    evr = f"{version}-{release}" if release else version
    record: dict[str, Any] = {"name": name, "version": f"{epoch}:{evr}" if epoch else evr}
    if epoch is not None:
        record["epoch"] = epoch
    source = _first(tags.get(SOURCERPM))
    split = split_source_rpm(source) if source.endswith(".rpm") else None
    if split:
        source_name, source_version = split
        if epoch:  # a source rpm has its binaries' epoch
            source_version = f"{epoch}:{source_version}"
        record["source_name"], record["source_version"] = source_name, source_version
        record["source_rpm"] = source
    for key, tag in (("arch", ARCH), ("license", LICENSE)):
        if _first(tags.get(tag)):
            record[key] = _first(tags.get(tag))
    if label := _first(tags.get(MODULARITYLABEL)):
        record["module"] = ":".join(label.split(":")[:2])
    if third_party(_first(tags.get(VENDOR))):
        record["third_party"] = True
    files = _owned_metadata(tags)
    if files:
        record["files"] = files
    return record


def split_source_rpm(filename: str) -> tuple[str, str] | None:
    """``openssl-3.0.7-24.el9.src.rpm`` -> (``openssl``, ``3.0.7-24.el9``); None if it is not such a name."""
    stem = filename.removesuffix(".rpm")
    stem = stem.rsplit(".", 1)[0] if "." in stem else stem  # the arch (src, nosrc)
    name_version, _, release = stem.rpartition("-")
    name, _, version = name_version.rpartition("-")
    if not name or not version or not release:
        return None
    return name, f"{version}-{release}"


def _owned_metadata(tags: dict[int, Any]) -> list[str]:
    basenames, dirnames, indexes = tags.get(BASENAMES) or [], tags.get(DIRNAMES) or [], tags.get(DIRINDEXES) or []
    files = []
    for base, index in zip(basenames, indexes, strict=False):
        if 0 <= index < len(dirnames):
            path = os.path.join(dirnames[index], base).lstrip("/")
            if is_language_metadata("/" + path):
                files.append(path)
    return files
