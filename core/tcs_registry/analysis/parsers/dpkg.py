"""dpkg: ``var/lib/dpkg/status``, distroless ``status.d/<package>``, and ``info/<package>.list``."""

from __future__ import annotations

import io
import logging
import re
from typing import Any

from cyclonedx import spdx
from debian.deb822 import Packages

from .language import is_language_metadata
from .vendors import third_party

_SOURCE = re.compile(r"^(\S+)(?:\s+\((\S+)\))?$")
logging.getLogger("debian.deb822").setLevel(logging.ERROR)  # its encoding guesses are not the user's business


# dpkg's package states (dpkg-query(1)) in which the package's files are on disk: all but not-installed and
# config-files (a package unpacked, or whose configuring or triggers failed or wait, ships its code all
# the same: a maintainer script's failure hidden by `|| true` in a Dockerfile leaves it so)
ON_DISK = {"installed", "unpacked", "half-configured", "half-installed", "triggers-awaited", "triggers-pending"}


def parse_status(data: bytes, *, distroless: bool = False) -> list[dict[str, Any]]:
    """Installed packages. A ``status.d`` file has no ``Status:``; a ``status`` paragraph counts when its
    third status word says the package's files are on disk (ON_DISK)."""
    packages = []
    text = io.StringIO(data.decode("utf-8", "replace"))  # an odd byte in a maintainer name loses nothing else
    for paragraph in Packages.iter_paragraphs(text, use_apt_pkg=False):
        name, version = paragraph.get("Package"), paragraph.get("Version")
        if not name or not version:
            continue
        status = paragraph.get("Status", "").split()
        if not (distroless and not status) and (len(status) != 3 or status[2] not in ON_DISK):
            continue
        source_name, source_version = name, version
        match = _SOURCE.match(paragraph.get("Source", "").strip())
        if match:
            source_name = match.group(1)
            source_version = match.group(2) or version
        record = {"name": name, "version": version, "source_name": source_name, "source_version": source_version}
        if paragraph.get("Architecture"):
            record["arch"] = paragraph["Architecture"]
        if third_party(paragraph.get("Maintainer", "")):
            record["third_party"] = True
        packages.append(record)
    return packages


def parse_list(data: bytes) -> list[str]:
    """The language-package metadata among the files a dpkg package owns (``info/<pkg>.list``)."""
    lines = data.decode("utf-8", "replace").splitlines()
    return [line.lstrip("/") for line in lines if is_language_metadata(line)]


# Debian's short license names (copyright-format 1.0, "License Specification") that are not SPDX
# identifiers in another case, as SPDX identifiers
_SPDX = {
    "expat": "MIT", "cc0": "CC0-1.0", "apache-2": "Apache-2.0", "artistic": "Artistic-1.0-Perl", "psf-2": "PSF-2.0",
    "gfdl-niv-1.2": "GFDL-1.2-no-invariants-only", "gfdl-niv-1.2+": "GFDL-1.2-no-invariants-or-later",
    "gfdl-niv-1.3": "GFDL-1.3-no-invariants-only", "gfdl-niv-1.3+": "GFDL-1.3-no-invariants-or-later",
}  # fmt: skip
# GPL-2, GPL-2+, LGPL-2.1+, LGPLv3+, AGPL-3...: SPDX's -only and -or-later forms (where SPDX has them)
_GNU = re.compile(r"(A?GPL|LGPL|GFDL)-?v?(\d)(?:\.(\d))?(\+?)", re.IGNORECASE)
# /usr/share/common-licenses/<name> a free-form file refers to (one without a version is not guessed at)
_COMMON_REFERENCE = re.compile(r"/usr/share/common-licenses/([0-9A-Za-z_.+-]{1,40})")
_COMMON = {"bsd": "BSD-3-Clause"}  # (Debian's BSD file is the 3-clause licence)
_UNVERSIONED = {"gpl", "lgpl", "gfdl", "agpl"}
MOST_LICENSES = 50


def parse_copyright(data: bytes) -> str:
    """The licenses a package's ``usr/share/doc/<package>/copyright`` declares, as one expression, SPDX
    identifiers where Debian's names have one (``GPL-2.0-or-later AND (GPL-1.0-or-later OR
    Artistic-1.0-Perl)``): the ``License:`` fields of a machine-readable file (copyright-format 1.0,
    ``A or B, and C`` is ``(A OR B) AND C``), else the versioned licenses of /usr/share/common-licenses a
    free-form one refers to. Names without an identifier are kept as written. '' when it names none."""
    text = data.decode("utf-8", "replace")
    found: dict[str, None] = {}
    if text.lstrip()[:7].lower() == "format:":
        for line in text.splitlines():
            if line[:8].lower() == "license:" and len(found) < MOST_LICENSES:
                expression = _expression(line[8:500])
                if expression:
                    found[expression] = None
    else:
        for name in _COMMON_REFERENCE.findall(text[: 1024 * 1024]):
            name = name.rstrip(".,;:'\"`")
            if name.lower() not in _UNVERSIONED and len(found) < MOST_LICENSES:
                found[_spdx(name)] = None
    return " AND ".join(found)


def _expression(value: str) -> str:
    """A License: field's first line as an expression: ``GPL-2+ or Artistic, and BSD-3-clause``."""
    value = " ".join(value.split("(")[0].split())  # ("The MIT License (MIT)": the name)
    parts = []
    for segment in value.split(","):
        words = segment.replace(" and/or ", " or ").split()
        if words and words[0].lower() in ("and", "or"):
            words = words[1:]
        names, operators, name = [], [], []
        for word in words:
            if word.lower() in ("and", "or"):
                operators.append(word.upper())
                names.append(" ".join(name))
                name = []
            else:
                name.append(word)
        names.append(" ".join(name))
        names = [_spdx(_bare(n)) for n in names]
        if not all(names):
            continue
        joined = names[0] + "".join(f" {op} {n}" for op, n in zip(operators, names[1:], strict=False))
        parts.append(f"({joined})" if len(names) > 1 else joined)
    return " AND ".join(parts)


def _bare(name: str) -> str:
    """``The MIT License`` -> ``MIT``; ``CC0 license.`` -> ``CC0``."""
    name = name.strip().rstrip(".;:")
    name = name[4:] if name.lower().startswith("the ") else name
    return name[:-8].rstrip() if name.lower().endswith(" license") else name


def _spdx(name: str) -> str:
    """A license's SPDX identifier where it has one, else its name as written."""
    gnu = _GNU.fullmatch(name)
    if gnu:  # (before SPDX's own list: its plain "GPL-2.0" and "LGPL-2.1" are deprecated)
        family, major, minor, later = gnu.groups()
        candidate = f"{family.upper()}-{major}.{minor or 0}-{'or-later' if later else 'only'}"
        if spdx.fixup_id(candidate) == candidate:
            return candidate
        return name
    return _SPDX.get(name.lower()) or _COMMON.get(name.lower()) or spdx.fixup_id(name) or name
