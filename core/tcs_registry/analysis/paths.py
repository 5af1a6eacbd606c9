"""Which files in a layer the analysis reads, and tar member names made safe."""

from __future__ import annotations

import posixpath
import re

# Exact paths (no leading slash) and what they hold. Symlinked variants are listed because tar
# links are resolved only on the squashed view (etc/os-release -> ../usr/lib/os-release).
EXACT = {
    "etc/os-release": "os-release",
    "usr/lib/os-release": "os-release",
    "etc/alpine-release": "os-release",
    "etc/debian_version": "os-release",
    "etc/lsb-release": "os-release",
    "etc/redhat-release": "os-release",
    "etc/centos-release": "os-release",
    "etc/rocky-release": "os-release",
    "etc/almalinux-release": "os-release",
    "etc/oracle-release": "os-release",
    "etc/fedora-release": "os-release",
    "etc/system-release": "os-release",
    "var/lib/dpkg/status": "dpkg",
    "lib/apk/db/installed": "apk",
    "usr/lib/apk/db/installed": "apk",
    "var/lib/apk/db/installed": "apk",
}
for _rpm_dir in ("var/lib/rpm", "usr/lib/sysimage/rpm", "usr/share/rpm"):
    EXACT[f"{_rpm_dir}/Packages"] = "rpm"
    EXACT[f"{_rpm_dir}/Packages.db"] = "rpm"
    EXACT[f"{_rpm_dir}/rpmdb.sqlite"] = "rpm"

_PATTERNS = (
    (re.compile(r"^var/lib/dpkg/status\.d/[^/]+$"), "dpkg"),
    (re.compile(r"^var/lib/dpkg/info/[^/]+\.list$"), "dpkg-files"),
    (re.compile(r"(^|/)[^/]+\.dist-info/METADATA$"), "python"),
    (re.compile(r"(^|/)[^/]+\.egg-info/PKG-INFO$"), "python"),
    (re.compile(r"(^|/)EGG-INFO/PKG-INFO$"), "python"),
    (re.compile(r"(^|/)[^/]+\.egg-info$"), "python"),  # a single-file egg-info
    (re.compile(r"(^|/)node_modules/(@[^/]+/)?[^/@]+/package\.json$"), "npm"),
    (re.compile(r"\.(jar|war|ear|par|sar|nar|jpi|hpi|kar)$", re.IGNORECASE), "java"),
)
_SKIP = re.compile(r"\.md5sums$")


def safe_path(name: str) -> str | None:
    """A member name as a path relative to the image root ('' for the root), None if it would leave it.

    Tar names come as ``./usr/x``, ``usr/x``, ``/usr/x`` or, from a hostile archive, ``../../x``;
    they are only ever used as keys, never opened on the host.
    """
    if not name or "\x00" in name:
        return None
    path = posixpath.normpath(name.lstrip("/"))
    if path == ".":  # the root directory itself ("./")
        return ""
    if path == ".." or path.startswith("../"):
        return None
    return path


def kind_of(path: str, executable: bool) -> str | None:
    """What the analysis reads this regular file as, or None to skip its content."""
    kind = EXACT.get(path)
    if kind:
        return kind
    if _SKIP.search(path):
        return None
    for pattern, found in _PATTERNS:
        if pattern.search(path):
            return found
    return "binary" if executable else None


def resolve(path: str, links: dict[str, str], max_depth: int = 8) -> str | None:
    """``path`` with every symlinked component followed inside the image (chroot semantics:
    ``..`` stops at the root, absolute targets mean the image root). None for a loop or too deep."""
    parts = path.split("/")
    done: list[str] = []
    hops = 0
    while parts:
        done.append(parts.pop(0))
        current = "/".join(done)
        target = links.get(current)
        if target is None:
            continue
        hops += 1
        if hops > max_depth * 4:
            return None
        base = "" if target.startswith("/") else posixpath.dirname(current)
        joined = posixpath.normpath(posixpath.join("/", base, target)).lstrip("/")
        done = []
        parts = ([p for p in joined.split("/") if p]) + parts
    return "/".join(done)
