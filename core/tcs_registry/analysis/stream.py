"""A layer blob as a verified stream of its uncompressed tar, never held whole in memory or on disk.

The compressed bytes are hashed against the manifest's digest and the uncompressed bytes against the
config's diff_id as they flow; `LayerStream.verify()` drains what the tar reader left and compares.
The compression is sniffed from the magic bytes, not trusted from the media type.
"""

from __future__ import annotations

import hashlib
import io
import sys
import time
import zlib
from typing import IO, Any

import urllib3
from isal import igzip_threaded, isal_zlib

from ..errors import ImageError

if sys.version_info >= (3, 14):  # pragma: no cover - the standard library's own module
    from compression import zstd
else:
    from backports import zstd

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
CHUNK = 1024 * 1024
MAX_LAYER_BYTES = 16 * 1024**3  # uncompressed; a decompression bomb stops here
MIN_RATE = 1024.0  # bytes a second, on average: a layer coming slower than this is a stalled download


class HashingReader(io.RawIOBase):
    """Reads through ``source``, hashing and counting every byte, refusing more than ``limit``."""

    def __init__(self, source: IO[bytes] | Any, algorithm: str, limit: int, what: str) -> None:
        self.source = source
        self.hash = hashlib.new(algorithm)
        self.algorithm = algorithm
        self.size = 0
        self.limit = limit
        self.what = what

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.source.read(len(buffer))
        n = len(data)
        if n:
            self.size += n
            if self.size > self.limit:
                raise ImageError(
                    f"{self.what}: larger than {self.limit} bytes; refusing to read further", code="too-large"
                )
            self.hash.update(data)
            buffer[:n] = data
        return n

    def drain(self) -> None:
        while self.read(CHUNK):
            pass

    @property
    def digest(self) -> str:
        return f"{self.algorithm}:{self.hash.hexdigest()}"


class BrokenDownload(ImageError):
    """The connection a layer came through broke off or stalled: worth fetching again."""

    code = "registry-error"


class Download(io.RawIOBase):
    """A blob's body as it comes off the network. A connection broken mid-body, or a download that
    brings less than ``min_rate`` bytes a second in any ``grace`` seconds spent waiting for it (a server
    trickling bytes, each read quick enough for the read timeout; time our readers spend analysing does
    not count), raises BrokenDownload and is remembered in ``broken`` even if a reader on the way
    swallowed the error, so the caller can tell a broken download (worth fetching again) from a broken
    layer (not)."""

    def __init__(self, source: IO[bytes] | Any, what: str, grace: float, min_rate: float = MIN_RATE) -> None:
        self.source = source
        self.what = what
        self.broken: str | None = None
        self.grace, self.min_rate = grace, min_rate
        self.waited, self.size = 0.0, 0  # this window's time spent waiting for the network, and bytes

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        """Whatever has come, up to ``size`` bytes (no copy through a buffer: readers ask for a lot)."""
        if size < 0:
            return self.readall()
        if self.broken is None:
            started = time.monotonic()
            try:
                data = self.source.read1(size)  # whatever has come: the rate is checked as it comes
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                self.broken = str(exc.args[0] if exc.args else type(exc).__name__)[:200]
            else:
                self.waited += time.monotonic() - started
                self.size += len(data)
                if not data or self.waited < self.grace:
                    return data
                if self.size >= self.min_rate * self.waited:  # fast enough in this window: a new one
                    self.waited, self.size = 0.0, 0
                    return data
                self.broken = f"slower than {self.min_rate / 1024:g} KiB/s"
        raise BrokenDownload(f"{self.what}: the download broke off ({self.broken})")

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _algorithm(digest: str, what: str) -> str:
    algorithm, _, hexdigest = digest.partition(":")
    if algorithm not in ("sha256", "sha512") or not hexdigest:
        raise ImageError(f"{what}: unsupported digest {digest!r}")
    return algorithm


class LayerStream:
    """``tar`` is the uncompressed layer for `tarfile` in stream mode; call `verify()` after reading."""

    def __init__(self, raw: IO[bytes] | Any, digest: str, diff_id: str, what: str) -> None:
        self.what = what
        self.digest, self.diff_id = digest, diff_id
        self.compressed = HashingReader(raw, _algorithm(digest, what), MAX_LAYER_BYTES, what)
        buffered = io.BufferedReader(self.compressed, CHUNK)
        magic = buffered.peek(4)[:4]
        self.compression = "gzip" if magic[:2] == GZIP_MAGIC else "zstd" if magic == ZSTD_MAGIC else "none"
        decompressed: IO[bytes]
        if self.compression == "gzip":
            # ISA-L inflates about twice as fast as zlib, in a thread of its own that overlaps the hashing
            # and the tar walk; like gzip.GzipFile it reads every member, unlike tarfile's r|gz
            decompressed = igzip_threaded.open(buffered, "rb", threads=1)
        elif self.compression == "zstd":
            decompressed = zstd.ZstdFile(buffered, mode="rb")
        else:
            decompressed = buffered
        self.decompressed = decompressed
        self.uncompressed = HashingReader(decompressed, _algorithm(diff_id, what), MAX_LAYER_BYTES, what)
        self.tar = io.BufferedReader(self.uncompressed, CHUNK)

    def __enter__(self) -> LayerStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stops the decompression thread, if any, even when the reading stopped half way."""
        if self.compression != "none":
            self.decompressed.close()

    def verify(self) -> None:
        """Read what is left and check both digests; the analysis of a layer counts only if this passes."""
        try:
            while self.tar.read(CHUNK):
                pass
            self.compressed.drain()
        except (OSError, EOFError, zlib.error, isal_zlib.error, zstd.ZstdError) as exc:
            raise ImageError(f"{self.what}: the layer is corrupt ({exc})") from None
        if self.compressed.digest != self.digest:
            raise ImageError(f"{self.what}: layer content does not match its digest (got {self.compressed.digest})")
        if self.uncompressed.digest != self.diff_id:
            raise ImageError(
                f"{self.what}: uncompressed layer does not match the config's diff_id {self.diff_id} "
                f"(got {self.uncompressed.digest})"
            )
