"""Java archives: Maven coordinates from ``pom.properties``, else the manifest, nested archives included."""

from __future__ import annotations

import io
import re
import zipfile
from typing import IO, Any

ARCHIVE = re.compile(r"\.(jar|war|ear|par|sar|nar|jpi|hpi|kar)$", re.IGNORECASE)
MAX_DEPTH = 3
MAX_NESTED = 64 * 1024 * 1024
MAX_MEMBERS = 100_000


def _properties(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "!")) and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def _manifest(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    key = ""
    for line in text.splitlines():
        if line.startswith(" ") and key:
            values[key] += line[1:]
        elif ":" in line:
            key, _, value = line.partition(":")
            key = key.strip()
            values[key] = value.strip()
    return values


def parse(archive: IO[bytes], name: str, depth: int = 0) -> list[dict[str, Any]]:
    """Packages in a (seekable) archive; ``name`` is its file name, the last resort for coordinates."""
    try:
        jar = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError, ValueError):
        return []
    packages: list[dict[str, Any]] = []
    with jar:
        infos = jar.infolist()[:MAX_MEMBERS]
        for info in infos:
            if info.filename.startswith("META-INF/maven/") and info.filename.endswith("/pom.properties"):
                props = _properties(jar.read(info).decode("utf-8", "replace"))
                group, artifact, version = props.get("groupId"), props.get("artifactId"), props.get("version")
                if group and artifact and version:
                    packages.append({"name": f"{group}:{artifact}", "version": version})
        if not packages and "META-INF/MANIFEST.MF" in jar.namelist():
            manifest = _manifest(jar.read("META-INF/MANIFEST.MF").decode("utf-8", "replace"))
            title = manifest.get("Implementation-Title") or manifest.get("Bundle-SymbolicName", "").split(";")[0]
            version = manifest.get("Implementation-Version") or manifest.get("Bundle-Version")
            group = manifest.get("Implementation-Vendor-Id")  # Maven writes the groupId here
            if title and version:
                packages.append({"name": f"{group}:{title}" if group else title, "version": version})
        if depth < MAX_DEPTH:
            for info in infos:
                if ARCHIVE.search(info.filename) and info.file_size <= MAX_NESTED:
                    nested = io.BytesIO(jar.read(info))
                    for found in parse(nested, info.filename, depth + 1):
                        found.setdefault("path", info.filename)
                        packages.append(found)
    return packages
