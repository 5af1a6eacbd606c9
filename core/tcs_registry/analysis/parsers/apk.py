"""apk: ``lib/apk/db/installed`` (Alpine, Wolfi, Chainguard)."""

from __future__ import annotations

from typing import Any

from .language import is_language_metadata


def parse_installed(data: bytes) -> list[dict[str, Any]]:
    """One record per ``P:`` block; fields come in any order, so a record is built at its end."""
    packages: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    directory = ""

    def close() -> None:
        if current.get("name") and current.get("version"):
            current.setdefault("source_name", current["name"])
            current["source_version"] = current["version"]
            packages.append(dict(current))
        current.clear()

    for line in data.decode("utf-8", "replace").splitlines():
        if not line.strip():
            close()
            directory = ""
            continue
        key, sep, value = line.partition(":")
        if not sep or len(key) != 1:
            continue
        if key == "P":
            current["name"] = value
        elif key == "V":
            current["version"] = value
        elif key == "o":
            current["source_name"] = value
        elif key == "A":
            current["arch"] = value
        elif key == "L":
            current["license"] = value
        elif key == "F":
            directory = value
        elif key == "R":
            path = f"{directory}/{value}" if directory else value
            if is_language_metadata(path):
                current.setdefault("files", []).append(path)
    close()
    return packages
