"""dpkg: ``var/lib/dpkg/status``, distroless ``status.d/<package>``, and ``info/<package>.list``."""

from __future__ import annotations

import io
import logging
import re
from typing import Any

from debian.deb822 import Packages

from .language import is_language_metadata

_SOURCE = re.compile(r"^(\S+)(?:\s+\((\S+)\))?$")
logging.getLogger("debian.deb822").setLevel(logging.ERROR)  # its encoding guesses are not the user's business


def parse_status(data: bytes, *, distroless: bool = False) -> list[dict[str, Any]]:
    """Installed packages. A ``status.d`` file has no ``Status:``; a ``status`` paragraph counts
    only when its third status word is ``installed`` (not config-files, half-installed, ...)."""
    packages = []
    text = io.StringIO(data.decode("utf-8", "replace"))  # an odd byte in a maintainer name loses nothing else
    for paragraph in Packages.iter_paragraphs(text, use_apt_pkg=False):
        name, version = paragraph.get("Package"), paragraph.get("Version")
        if not name or not version:
            continue
        status = paragraph.get("Status", "").split()
        if not (distroless and not status) and (len(status) != 3 or status[2] != "installed"):
            continue
        source_name, source_version = name, version
        match = _SOURCE.match(paragraph.get("Source", "").strip())
        if match:
            source_name = match.group(1)
            source_version = match.group(2) or version
        record = {"name": name, "version": version, "source_name": source_name, "source_version": source_version}
        if paragraph.get("Architecture"):
            record["arch"] = paragraph["Architecture"]
        packages.append(record)
    return packages


def parse_list(data: bytes) -> list[str]:
    """The language-package metadata among the files a dpkg package owns (``info/<pkg>.list``)."""
    lines = data.decode("utf-8", "replace").splitlines()
    return [line.lstrip("/") for line in lines if is_language_metadata(line)]
