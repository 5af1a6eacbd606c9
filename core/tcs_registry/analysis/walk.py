"""One layer's tar, read once in stream mode, into a `LayerRecord`: what the analysis needs and no more.

Every header is looked at, but content is read only for the files `paths.kind_of` names. Member names
that would leave the image root are dropped; links are recorded, never followed on the host; nothing is
written outside memory except a temporary file for a large Java archive.
"""

from __future__ import annotations

import io
import logging
import posixpath
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from . import secrets as secret_rules
from .parsers import apk, dpkg, gobinary, java, language, rpm, rustbinary
from .paths import MAX_DEPTH, MAX_PATH, kind_of, safe_path, too_long
from .stream import BrokenDownload

log = logging.getLogger("tcs_registry")

MAX_FILE_BYTES = 256 * 1024 * 1024  # a package database or manifest larger than this is refused
MAX_TEXT_BYTES = 64 * 1024  # release files
MAX_ENTRIES = 2_000_000
MAX_HEADER_BYTES = 1024 * 1024  # a long name or pax header; tarfile would read any size whole
MAX_SPARSE = 100_000  # regions of a sparse file (real ones have a few)
ELF_MAGIC = b"\x7fELF"
OPAQUE = ".wh..wh..opq"
WHITEOUT = ".wh."


@dataclass
class LayerRecord:
    """What one layer contributes; stored in the layer cache as JSON, keyed by its diff_id."""

    diff_id: str
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # path -> {"kind", "packages" | "text"}
    whiteouts: list[str] = field(default_factory=list)  # removed from lower layers
    opaque: list[str] = field(default_factory=list)  # directories whose lower contents are hidden
    links: dict[str, str] = field(default_factory=dict)  # symlink -> target, as written
    # Every other entry, read or not: a lower file, link or directory at the same path is replaced
    # (a non-directory also hides what a lower layer had under it).
    entries: list[str] = field(default_factory=list)  # non-directories
    directories: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # files refused or unreadable, with the reason
    secrets: list[dict[str, Any]] = field(default_factory=list)  # {"path", "rule", "line"}: never the value

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LayerRecord:
        return cls(**data)


def _read(member: tarfile.TarInfo, source: IO[bytes], limit: int) -> bytes:
    if member.size > limit:
        raise ValueError(f"{member.size} bytes, over the {limit}-byte limit")
    return source.read(limit + 1)[:limit]


def _is_elf(source: IO[bytes]) -> bool:
    return source.peek(4)[:4] == ELF_MAGIC  # type: ignore[attr-defined]  # tarfile's files are buffered readers


def analyse_file(
    kind: str, path: str, member: tarfile.TarInfo, source: IO[bytes], also: Callable[[bytes], None] | None = None
) -> dict[str, Any] | None:
    """The record of one wanted file, or None when it holds nothing (not a Go binary, say). ``also``
    is given the content of a file read whole (to be searched for secrets as well)."""
    if kind == "os-release":
        return {"kind": kind, "text": _read(member, source, MAX_TEXT_BYTES).decode("utf-8", "replace")}
    if kind == "binary":
        if not _is_elf(source):
            return None
        binary = rustbinary.Ends(source)  # (read once: for Go's build info, and ends kept for Rust's section)
        if packages := gobinary.parse(binary):  # type: ignore[arg-type]
            return {"kind": "go", "packages": packages}
        packages = rustbinary.parse(binary.opened())  # type: ignore[arg-type]
        return {"kind": "rust", "packages": packages} if packages else None
    if kind == "java":
        if member.size > MAX_FILE_BYTES:
            raise ValueError(f"{member.size} bytes, over the {MAX_FILE_BYTES}-byte limit")
        with tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024) as spool:
            while chunk := source.read(1024 * 1024):
                spool.write(chunk)
            spool.seek(0)
            unread: list[str] = []
            packages = java.parse(spool, posixpath.basename(path), unread=unread)
        if unread:  # (said, not lost: a limit's packages are missing from the list)
            more = f"; and {len(unread) - 5} more" if len(unread) > 5 else ""
            return {"kind": kind, "packages": packages, "problems": ["; ".join(unread[:5]) + more]}
        return {"kind": kind, "packages": packages} if packages else None
    data = _read(member, source, MAX_FILE_BYTES)
    if also is not None:
        also(data)
    if kind == "dpkg-files":
        files = dpkg.parse_list(data)
        return {"kind": kind, "files": files} if files else None
    if kind == "dpkg-copyright":
        license_ = dpkg.parse_copyright(data)
        return {"kind": kind, "license": license_} if license_ else None
    packages = PARSERS[kind](data, path)
    if not packages and kind not in ("dpkg", "apk", "rpm"):  # a manifest of no package ({"type": "module"}
        return None  # package.json markers): left out of the record; a package database says so even empty
    return {"kind": kind, "packages": packages}


# kind -> parser(content, path) for the package databases and manifests read whole
PARSERS: dict[str, Callable[[bytes, str], list[dict[str, Any]]]] = {
    "dpkg": lambda data, path: dpkg.parse_status(data, distroless="/status.d/" in "/" + path),
    "apk": lambda data, _: apk.parse_installed(data),
    "rpm": lambda data, _: rpm.parse(data),
    "python": lambda data, _: language.parse_python(data),
    "npm": lambda data, _: language.parse_npm(data),
    "gem": lambda data, _: language.parse_gemspec(data),
    "composer": lambda data, _: language.parse_composer(data),
    "dotnet": lambda data, _: language.parse_deps_json(data),
    "conda": lambda data, _: language.parse_conda(data),
}


class _BoundedTarInfo(tarfile.TarInfo):
    """Refuses extended headers (GNU long names, pax records) larger than MAX_HEADER_BYTES."""

    def _proc_gnulong(self, tar: tarfile.TarFile) -> tarfile.TarInfo:
        self._check()
        return super()._proc_gnulong(tar)  # type: ignore[misc]

    def _proc_pax(self, tar: tarfile.TarFile) -> tarfile.TarInfo:
        self._check()
        return super()._proc_pax(tar)  # type: ignore[misc]

    def _check(self) -> None:
        if self.size > MAX_HEADER_BYTES:
            raise tarfile.SubsequentHeaderError(f"an extended tar header of {self.size} bytes")

    def _proc_gnusparse_10(self, next: tarfile.TarInfo, pax_headers: dict[str, str], tar: tarfile.TarFile) -> None:
        """A GNU sparse file's map (format 1.0), read from the start of its data: at most MAX_SPARSE
        regions (tarfile reads any count it is told, ~26 bytes of memory for each byte of map)."""
        source = tar.fileobj
        assert source is not None
        count, _, rest = source.read(tarfile.BLOCKSIZE).partition(b"\n")
        if not count.strip().isdigit() or int(count) > MAX_SPARSE:
            raise tarfile.SubsequentHeaderError(f"a sparse file map of {count[:20]!r} regions, over {MAX_SPARSE}")
        numbers: list[int] = []
        while len(numbers) < 2 * int(count):
            if b"\n" not in rest:
                more = source.read(tarfile.BLOCKSIZE)
                if not more or len(rest) > 64:  # (a number is at most 20 digits)
                    raise tarfile.SubsequentHeaderError("a malformed sparse file map")
                rest += more
            number, _, rest = rest.partition(b"\n")
            if not number.isdigit():
                raise tarfile.SubsequentHeaderError("a malformed sparse file map")
            numbers.append(int(number))
        next.offset_data = source.tell()
        next.sparse = list(zip(numbers[::2], numbers[1::2], strict=True))  # type: ignore[attr-defined]

    def _proc_sparse(self, tar: tarfile.TarFile) -> tarfile.TarInfo:
        """An old GNU sparse file's map (type S), whose extension blocks of 21 regions follow as long as
        each says another does: at most MAX_SPARSE regions (tarfile reads any number of blocks, keeping
        ~2.6 bytes of memory for each byte of them). Otherwise read as tarfile reads it."""
        source = tar.fileobj
        assert source is not None
        regions, extended, size = self._sparse_structs  # type: ignore[attr-defined]  # (from the header)
        del self._sparse_structs  # type: ignore[attr-defined]
        blocks = 0
        while extended:
            block = source.read(tarfile.BLOCKSIZE)
            blocks += 1  # (counted whatever they hold: blocks of empty regions cost as much)
            if len(block) < tarfile.BLOCKSIZE or blocks > MAX_SPARSE // 21 + 1:
                raise tarfile.SubsequentHeaderError(f"a sparse file map truncated or of over {MAX_SPARSE} regions")
            for at in range(0, 21 * 24, 24):
                try:
                    offset, length = tarfile.nti(block[at : at + 12]), tarfile.nti(block[at + 12 : at + 24])
                except (ValueError, tarfile.HeaderError):
                    break
                if offset and length:
                    regions.append((offset, length))
            extended = bool(block[504])
        self.sparse = regions  # type: ignore[attr-defined]
        self.offset_data = source.tell()
        tar.offset = self.offset_data + self._block(self.size)  # type: ignore[attr-defined]
        self.size = size
        return self


class _ReadOnce(tarfile.TarFile):
    """A tar read once, in stream mode, that keeps no member it is past: TarFile keeps every TarInfo it
    reads (for a later extractall), about 500 bytes each: 1 GB for a layer at MAX_ENTRIES, 6x the record."""

    def next(self) -> tarfile.TarInfo | None:
        member = super().next()
        self.members.clear()
        return member


def open_tar(stream: IO[bytes]) -> tarfile.TarFile:
    return _ReadOnce.open(fileobj=stream, mode="r|", tarinfo=_BoundedTarInfo)


def walk(
    tar_stream: IO[bytes], diff_id: str, secrets: bool = True, budget: Callable[[], None] | None = None
) -> tuple[LayerRecord, dict[str, str]]:
    """The layer's record, and the wanted hard links whose targets were not read (path -> target).
    ``secrets``: the text files no parser wants are searched for credentials too; ``budget`` is called
    now and then, and raises when the image has used up its time."""
    record = LayerRecord(diff_id)
    hardlinks: dict[str, str] = {}
    read: set[str] = set()  # wanted files whose content was read, whatever it held
    with open_tar(tar_stream) as tar:
        for count, member in enumerate(tar):
            if count >= MAX_ENTRIES:
                raise ValueError(f"more than {MAX_ENTRIES} entries")
            if budget is not None and (count % 64 == 0 or member.size):  # before each file with content:
                budget()  # the last one read may have taken minutes (a package database of 256 MiB, say)
            path = safe_path(member.name)
            if path is None:
                long = too_long(member.name)
                why = f"over {MAX_PATH} characters or {MAX_DEPTH} levels" if long else "outside the image root"
                record.problems.append(f"{member.name[:200]!r}: {why}, ignored")
                continue
            if not path:  # the root directory entry
                continue
            directory, base = posixpath.split(path)
            if base.startswith(WHITEOUT):
                if base == OPAQUE:
                    record.opaque.append(directory)
                elif not base.startswith(WHITEOUT + WHITEOUT) and base != WHITEOUT:  # AUFS metadata, invalid
                    record.whiteouts.append(posixpath.join(directory, base[len(WHITEOUT) :]))
                continue
            record.files.pop(path, None)  # the last entry for a path wins
            record.links.pop(path, None)
            hardlinks.pop(path, None)
            if member.isdir():
                record.directories.append(path)
                continue
            record.entries.append(path)
            if member.issym():
                record.links[path] = member.linkname
                continue
            kind = kind_of(path, bool(member.mode & 0o111))
            searched = secrets and member.isreg() and not member.issparse()  # (sparse: a map of holes, not text)
            if kind in (None, "binary") and searched and secret_rules.wanted(path, member.size):
                source = tar.extractfile(member)
                assert source is not None
                if kind is not None:  # (read as a binary: a hard link to it needs no second pass)
                    read.add(path)
                if kind is None or not _is_elf(source):
                    _find_secrets(record, path, source)  # a script with the executable bit, say
                else:  # an executable: read as a binary (Go, Rust), never as text
                    _analyse(record, kind, path, member, source)
                continue
            if kind is None:
                continue
            if member.islnk():  # a hard link names an earlier entry of this same layer
                target = safe_path(member.linkname)
                if target is None:
                    record.problems.append(f"{path}: hard link out of the image root, ignored")
                elif target in read:  # same content, already analysed (perl and perl5.36.0, say)
                    if target in record.files:
                        record.files[path] = record.files[target]
                else:
                    hardlinks[path] = target
                continue
            if not member.isreg():
                continue
            read.add(path)
            searched_too = searched and secret_rules.wanted(path, member.size)
            _analyse(record, kind, path, member, tar.extractfile(member), searched_too)
    return record, hardlinks


def read_hardlinks(tar_stream: IO[bytes], record: LayerRecord, hardlinks: dict[str, str]) -> None:
    """Second pass over a layer for hard-linked wanted files: their targets' content, by target name."""
    wanted: dict[str, list[str]] = {}
    for path, target in hardlinks.items():
        wanted.setdefault(target, []).append(path)
    with open_tar(tar_stream) as tar:
        for member in tar:
            links = wanted.pop(safe_path(member.name) or "", None)
            if not links or not member.isreg():
                continue
            first, *others = links  # the stream can be read once: further links share the record
            _analyse(record, kind_of(first, bool(member.mode & 0o111)) or "", first, member, tar.extractfile(member))
            for other in others:
                if first in record.files:
                    record.files[other] = record.files[first]
    for target, links in wanted.items():
        for link in links:
            record.problems.append(f"{link}: hard link to {target}, which is not in the layer")


def _find_secrets(record: LayerRecord, path: str, source: IO[bytes]) -> None:
    room = secret_rules.MAX_PER_LAYER - len(record.secrets)
    if room <= 0:
        return
    try:
        found = secret_rules.search(source, path)[:room]
    except BrokenDownload:  # not this file's fault: the layer is fetched again
        raise
    except Exception as exc:  # tarfile on a malformed member: this file is skipped, the layer goes on
        record.problems.append(f"{path}: {type(exc).__name__}: {exc}")
        return
    record.secrets += [{"path": path, **secret} for secret in found]
    if len(record.secrets) >= secret_rules.MAX_PER_LAYER:
        record.problems.append(f"{path}: over {secret_rules.MAX_PER_LAYER} secrets in the layer, the rest not listed")


def _analyse(
    record: LayerRecord,
    kind: str,
    path: str,
    member: tarfile.TarInfo,
    source: IO[bytes] | None,
    secrets: bool = False,
) -> None:
    """Read a wanted file into the record (``secrets``: search what is read whole for credentials too)."""
    if source is None or not kind:
        return
    also = (lambda data: _find_secrets(record, path, io.BytesIO(data))) if secrets else None
    try:
        found = analyse_file(kind, path, member, source, also)
    except BrokenDownload:  # not this file's fault: the layer is fetched again
        raise
    except Exception as exc:  # a malformed or hostile file: this file is skipped, the layer goes on
        record.problems.append(f"{path}: {type(exc).__name__}: {exc}")
        log.debug("Could not read %s", path, exc_info=True)
        return
    if found is not None:
        record.problems += [f"{path}: {problem}" for problem in found.pop("problems", ())]
        record.files[path] = found
