"""dpkg: ``var/lib/dpkg/status``, distroless ``status.d/<package>``, and ``info/<package>.list``."""

from __future__ import annotations

import io
import logging
import re
from typing import Any

from cyclonedx import spdx
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


# Debian's short license names (copyright-format 1.0, "License Specification") that are not SPDX
# identifiers in another case, as SPDX identifiers
_SPDX = {
    "expat": "MIT", "cc0": "CC0-1.0", "apache-2": "Apache-2.0", "artistic": "Artistic-1.0-Perl", "psf-2": "PSF-2.0",
    "gfdl-niv-1.2": "GFDL-1.2-no-invariants-only", "gfdl-niv-1.2+": "GFDL-1.2-no-invariants-or-later",
    "gfdl-niv-1.3": "GFDL-1.3-no-invariants-only", "gfdl-niv-1.3+": "GFDL-1.3-no-invariants-or-later",
}  # fmt: skip
# GPL-2, GPL-2+, LGPL-2.1+, LGPLv3+, AGPL-3...: SPDX's -only and -or-later forms
_GNU = re.compile(r"^(A?GPL|LGPL|GFDL(?=-?v?1))-?v?(\d)(?:\.(\d))?(\+?)$", re.IGNORECASE)
# what /usr/share/common-licenses/<name> without a version is taken for (as Trivy takes it)
_COMMON = {"gpl": "GPL-2.0-or-later", "lgpl": "LGPL-2.0-or-later", "bsd": "BSD-3-Clause", "gfdl": "GFDL-1.3-only"}
_COMMON_REFERENCE = re.compile(r"/usr/share/common-licenses/([0-9A-Za-z_.+-]*[0-9A-Za-z+])")
_OPERATOR = re.compile(r"\s+(or|and)\s+", re.IGNORECASE)


def parse_copyright(data: bytes) -> str:
    """The licenses a package's ``usr/share/doc/<package>/copyright`` declares, as one expression, SPDX
    identifiers where Debian's names have one (``GPL-2.0-or-later AND (GPL-2.0-only OR Artistic-1.0-Perl)``):
    the ``License:`` fields of a machine-readable file (copyright-format 1.0), and the licenses of
    /usr/share/common-licenses a free-form one refers to. '' when it names none."""
    found: list[str] = []
    for line in data.decode("utf-8", "replace").splitlines():
        if line.startswith("License:"):  # ("The MIT License (MIT)", "CC0 license", "Artistic,": the name)
            value = line[8:].split("(")[0].strip()
            value = re.sub(r"^the\s+|(\s+license)?[\s,;.]*$", "", value, flags=re.IGNORECASE)
        elif "/usr/share/common-licenses/" in line:
            value = next(iter(_COMMON_REFERENCE.findall(line)), "")
        else:
            continue
        parts = _OPERATOR.split(value)  # name, operator, name, ...
        names = [_spdx(name.strip()) for name in parts[::2] if name.strip()]
        if not names or len(names) != len(parts[::2]):
            continue
        expression = names[0]
        for operator, name in zip(parts[1::2], names[1:], strict=False):
            expression += f" {operator.upper()} {name}"
        expression = f"({expression})" if len(names) > 1 else expression
        if expression not in found:
            found.append(expression)
    return " AND ".join(found[:50])


def _spdx(name: str) -> str:
    """A license's SPDX identifier where it has one, else its name as written."""
    gnu = _GNU.match(name)
    if gnu:  # (before SPDX's own list: its plain "GPL-2.0" and "LGPL-2.1" are deprecated)
        family, major, minor, later = gnu.groups()
        return f"{family.upper()}-{major}.{minor or 0}-{'or-later' if later else 'only'}"
    key = name.lower()
    return _SPDX.get(key) or _COMMON.get(key) or spdx.fixup_id(name) or _with_exception(name) or name


def _with_exception(name: str) -> str:
    """``GPL-2+ with OpenSSL exception`` -> ``GPL-2.0-or-later WITH OpenSSL-exception``, '' if not so."""
    base, _, exception = name.partition(" with ")
    known = _spdx(base.strip()) if exception else ""
    exception = exception.strip().removesuffix(" exception").replace(" ", "-")
    return f"{known} WITH {exception}-exception" if known and known != base.strip() and exception else ""
