"""JSON kept compressed in a database column (the store's inventories' findings and layer records, the
vulnerability database's OSV records): one encoding, written and read here."""

from __future__ import annotations

import json
import zlib
from typing import Any


def pack(value: Any) -> bytes:
    return zlib.compress(json.dumps(value, separators=(",", ":")).encode())


def unpack(blob: bytes) -> Any:
    return json.loads(zlib.decompress(blob))
