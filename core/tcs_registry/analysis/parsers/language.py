"""Language packages from their installed metadata: Python (dist-info, egg-info) and npm (package.json)."""

from __future__ import annotations

import json
import re
from email.parser import BytesHeaderParser
from typing import Any

_METADATA = re.compile(
    r"(\.dist-info/METADATA"
    r"|\.egg-info/PKG-INFO|\.egg-info|EGG-INFO/PKG-INFO|/node_modules/(@[^/]+/)?[^/@]+/package\.json)$"
)


def is_language_metadata(path: str) -> bool:
    """A file that makes a language package: OS packages that own one installed it (not pip/npm)."""
    return bool(_METADATA.search(path))


def parse_python(data: bytes) -> list[dict[str, Any]]:
    headers = BytesHeaderParser().parsebytes(data)
    name, version = (headers.get("Name") or "").strip(), (headers.get("Version") or "").strip()
    if not name or not version:
        return []
    record = {"name": name, "version": version}
    license_ = (headers.get("License-Expression") or headers.get("License") or "").strip()
    if license_ and "\n" not in license_ and len(license_) < 100:
        record["license"] = license_
    return [record]


def parse_npm(data: bytes) -> list[dict[str, Any]]:
    try:
        manifest = json.loads(data)
    except ValueError:
        return []
    if not isinstance(manifest, dict):
        return []
    name, version = manifest.get("name"), manifest.get("version")
    if not isinstance(name, str) or not isinstance(version, str) or not name or not version:
        return []
    record: dict[str, Any] = {"name": name, "version": version}
    if isinstance(manifest.get("license"), str):
        record["license"] = manifest["license"]
    return [record]
