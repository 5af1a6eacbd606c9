"""Java archives: Maven coordinates from ``pom.properties``, else the manifest, nested archives included."""

from __future__ import annotations

import io
import re
import zipfile
from typing import IO, Any

ARCHIVE = re.compile(r"\.(jar|war|ear|par|sar|nar|jpi|hpi|kar|far|lpkg)$", re.IGNORECASE)
MAX_DEPTH = 3
MAX_NESTED = 64 * 1024 * 1024
MAX_NESTED_ARCHIVES = 500
MAX_NESTED_BYTES = 1024 * 1024 * 1024  # nested archives' bytes read, in all (a fat jar's libraries: ~300 MB)
MAX_MEMBERS = 100_000
MAX_TEXT = 64 * 1024
_NAME_VERSION = re.compile(r"^(.+?)-(\d[\w.+-]*?)\.[a-z]+$", re.IGNORECASE)


def _properties(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "!")) and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def _manifest(text: str) -> dict[str, str]:
    """The main section's attributes (a per-entry section, after the first blank line, names another
    thing: a shaded library's package, say)."""
    values: dict[str, str] = {}
    key = ""
    for line in text.splitlines():
        if not line:  # (a line of a space is a continuation)
            break
        if line.startswith(" ") and key:
            values[key] += line[1:]
        elif ":" in line:
            key, _, value = line.partition(":")
            key = key.strip()
            values[key] = value.strip()
    return values


def _text(jar: zipfile.ZipFile, info: zipfile.ZipInfo) -> str:
    """A small text member, read with a cap whatever its header claims (a zip bomb stops here)."""
    with jar.open(info) as member:
        return member.read(MAX_TEXT).decode("utf-8", "replace")


def _from_name(name: str) -> dict[str, Any] | None:
    """``commons-io-2.11.0.jar`` -> commons-io 2.11.0: the last resort, without a group."""
    match = _NAME_VERSION.match(name.rsplit("/", 1)[-1])
    return {"name": match.group(1), "version": match.group(2)} if match else None


def _akin(title: str, artifact: str) -> bool:
    """Whether a manifest's title and an artifactId name the same thing, word by word: the title begins
    with the artifactId's words (``Japp Service``, ``japp``) or ends with them (an OSGi symbolic name,
    ``com.google.guava``, ``guava``); not a word inside another (``server`` is not ``jetty-server``)."""
    titled, words = (re.findall(r"[a-z0-9]+", text.lower()) for text in (title, artifact))
    return bool(words) and (titled[: len(words)] == words or titled[-len(words) :] == words)


def _from_manifest(jar: zipfile.ZipFile) -> dict[str, str] | None:
    """The archive's own name (``group:title`` where Maven wrote the group), title and version, from the
    main section of its manifest."""
    if "META-INF/MANIFEST.MF" not in jar.namelist():
        return None
    manifest = _manifest(_text(jar, jar.getinfo("META-INF/MANIFEST.MF")))
    title = manifest.get("Implementation-Title") or manifest.get("Bundle-SymbolicName", "").split(";")[0]
    version = manifest.get("Implementation-Version") or manifest.get("Bundle-Version")
    group = manifest.get("Implementation-Vendor-Id")  # Maven writes the groupId here
    if not title or not version:
        return None
    return {"name": f"{group}:{title}" if group else title, "title": title, "version": version}


def parse(
    archive: IO[bytes], name: str, depth: int = 0, budget: list[int] | None = None, unread: list[str] | None = None
) -> list[dict[str, Any]]:
    """Packages in a (seekable) archive; ``name`` is its file name, the last resort for coordinates.
    ``budget`` counts the nested archives and bytes still allowed, shared by the whole tree; ``unread`` is
    given the nested archives a limit left unread, and why."""
    budget = budget if budget is not None else [MAX_NESTED_ARCHIVES, MAX_NESTED_BYTES]
    try:
        jar = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError, ValueError):
        return []
    packages: list[dict[str, Any]] = []
    with jar:
        infos = jar.infolist()[:MAX_MEMBERS]
        artifacts = []  # (artifactId, version) of each pom.properties: the archive's own, and those shaded in
        for info in infos:
            if info.filename.startswith("META-INF/maven/") and info.filename.endswith("/pom.properties"):
                props = _properties(_text(jar, info))
                group, artifact, version = props.get("groupId"), props.get("artifactId"), props.get("version")
                if group and artifact and version:
                    packages.append({"name": f"{group}:{artifact}", "version": version})
                    artifacts.append((artifact, version))
        own = _from_manifest(jar)
        named = _from_name(name)
        # A fat jar built without its own pom.properties (Gradle's, say) holds only those of the libraries
        # shaded in: its own name and version are then the manifest's, as Trivy and Syft take them. A
        # pom.properties of the file name's artifact and version, of a name akin to the manifest's title
        # (an OSGi bundle's com.google.guava, versioned 31.1.0.jre), or of its version, is its own (a
        # Maven-built jar renamed app.jar: not listed twice).
        if own and not any(
            named == {"name": artifact, "version": version}
            or _akin(own["title"], artifact)
            or own["version"] == version
            for artifact, version in artifacts
        ):
            packages.append({"name": own["name"], "version": own["version"]})
        if not packages and named:
            packages.append(named)
        read: set[int] = set()  # where each nested archive read starts: entries naming one twice, once
        for info in infos:
            if not ARCHIVE.search(info.filename) or info.header_offset in read:
                continue
            why = (
                f"nested over {MAX_DEPTH} levels deep" if depth >= MAX_DEPTH
                else f"over {MAX_NESTED} bytes" if info.file_size > MAX_NESTED
                else f"past {MAX_NESTED_ARCHIVES} nested archives" if budget[0] <= 0
                else f"past {MAX_NESTED_BYTES} bytes of nested archives" if budget[1] < info.file_size
                else ""
            )  # fmt: skip
            if why:
                if unread is not None:
                    unread.append(f"{info.filename}: {why}, left unread")
                continue
            budget[0] -= 1
            read.add(info.header_offset)
            try:
                with jar.open(info) as member:
                    nested = io.BytesIO(member.read(MAX_NESTED))
                budget[1] -= len(nested.getbuffer())
                inner = parse(nested, info.filename, depth + 1, budget, unread)
            except (zipfile.BadZipFile, OSError, ValueError, EOFError):
                continue  # a broken nested archive does not lose the outer one's packages
            for found in inner:
                found.setdefault("path", info.filename)
                packages.append(found)
    return packages
