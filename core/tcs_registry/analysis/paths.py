"""Which files in a layer the analysis reads, and tar member names made safe."""

from __future__ import annotations

import posixpath
import re

from .parsers.java import ARCHIVE

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
    "var/lib/ubuntu-advantage/status.json": "os-release",  # Ubuntu Pro's services: ESM on or not
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
    (re.compile(r"^usr/share/doc/[^/]+/copyright$"), "dpkg-copyright"),
    (re.compile(r"(^|/)[^/]+\.dist-info/METADATA$"), "python"),
    (re.compile(r"(^|/)[^/]+\.egg-info/PKG-INFO$"), "python"),
    (re.compile(r"(^|/)EGG-INFO/PKG-INFO$"), "python"),
    (re.compile(r"(^|/)[^/]+\.egg-info$"), "python"),  # a single-file egg-info
    # every package.json with a name and a version, as Trivy and Syft read them: node_modules, Debian's
    # usr/share/nodejs, and those outside both (the yarn of Node's official images, an application's own)
    (re.compile(r"(^|/)package\.json$"), "npm"),
    (re.compile(r"(^|/)specifications/(default/)?[^/]+\.gemspec$"), "gem"),
    (re.compile(r"(^|/)vendor/composer/installed\.json$"), "composer"),
    (re.compile(r"[^/]\.deps\.json$"), "dotnet"),
    (re.compile(r"(^|/)conda-meta/[^/]+\.json$"), "conda"),
    (ARCHIVE, "java"),
)
_SKIP = re.compile(r"\.md5sums$")
MAX_PATH = 4096
MAX_DEPTH = 256  # directories a path goes down (real images: a few dozen)


def too_long(name: str) -> bool:
    """Over PATH_MAX or MAX_DEPTH directories: no file system holds it, and each path is walked up later."""
    return len(name) > MAX_PATH or name.count("/") > MAX_DEPTH


def safe_path(name: str) -> str | None:
    """A member name as a path relative to the image root ('' for the root), None if it would leave it.

    Tar names come as ``./usr/x``, ``usr/x``, ``/usr/x`` or, from a hostile archive, ``../../x``;
    they are only ever used as keys, never opened on the host.
    """
    if not name or "\x00" in name:
        return None
    if too_long(name):
        return None
    # a name that was not UTF-8 (tarfile keeps its bytes as lone surrogates) is written with escapes
    name = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
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


def resolve(path: str, links: dict[str, str], max_hops: int = 32) -> str | None:
    """``path`` with every symlinked component followed inside the image, as the kernel would in a
    chroot: ``..`` goes to the parent of where a link led and stops at the root, an absolute target
    starts again at the image root. None for a loop or too many links."""
    parts = [p for p in path.split("/") if p]
    done: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == ".":
            continue
        if part == "..":
            if done:
                done.pop()
            continue
        done.append(part)
        target = links.get("/".join(done))
        if target is None:
            continue
        hops += 1
        if hops > max_hops:
            return None
        done.pop()
        if target.startswith("/"):
            done = []
        parts = [p for p in target.split("/") if p] + parts
    return "/".join(done)
