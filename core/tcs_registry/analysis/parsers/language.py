"""Language packages from their installed metadata: Python (dist-info, egg-info), npm (package.json),
Ruby (gemspecs, as `gem install` and Debian's ruby-* packages leave them), PHP (Composer's
installed.json), .NET (*.deps.json) and conda (conda-meta/*.json)."""

from __future__ import annotations

import json
import re
from email.parser import BytesHeaderParser
from typing import Any

_METADATA = re.compile(
    r"(\.dist-info/METADATA"
    r"|\.egg-info/PKG-INFO|\.egg-info|EGG-INFO/PKG-INFO|(^|/)package\.json"
    r"|/specifications/(default/)?[^/]+\.gemspec|/vendor/composer/installed\.json|\.deps\.json"
    r"|/conda-meta/[^/]+\.json)$"
)
# a gemspec is Ruby code: its generated form (`gem install`, Debian's dh_ruby) sets these one a line,
# as "x".freeze, "x" or %q{x}; read with string methods, line by line (a regex over a crafted
# file of megabytes could take hours)
_GEM_FIELDS = {"name": "name", "version": "version", "license": "license", "licenses": "license"}
_GEM_STRING = re.compile(r"""["']([^"'\n]{1,200})["']|%q[{<(\[]([^}>)\]\n]{1,200})[}>)\]]""")


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
    """A package.json's package; one marked ``private`` (an application's own, a workspace's: npm never
    publishes it) is listed and not matched against the registry's package of its name."""
    return _named_json(data, private="private")


def _named_json(data: bytes, private: str = "") -> list[dict[str, Any]]:
    """A package from a JSON object with ``name``, ``version`` and perhaps ``license`` (npm's package.json,
    conda's conda-meta record); ``private``: the key that, when true, says it is no registry's."""
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
    if isinstance(manifest.get("license"), str) and manifest["license"]:
        record["license"] = manifest["license"]
    if private and manifest.get(private):
        record["unmatched"] = True
    return [record]


def parse_gemspec(data: bytes) -> list[dict[str, Any]]:
    """A gem from its installed specification (``specifications/<name>-<version>.gemspec``)."""
    fields: dict[str, list[str]] = {}
    for line in data.decode("utf-8", "replace").splitlines():
        target, equals, value = line.strip()[:1000].partition("=")
        key = _GEM_FIELDS.get(target.strip().rpartition(".")[2]) if equals and "." in target else None
        if key is None or key in fields or value.startswith(("=", "~")):  # (not ==, =~)
            continue
        value = value.split(" if ", 1)[0]
        found = [a or b for a, b in _GEM_STRING.findall(value)]
        if found:
            fields[key] = found
    name, version = (fields.get("name") or [""])[0], (fields.get("version") or [""])[0]
    if not name or not version:
        return []
    record: dict[str, Any] = {"name": name, "version": version}
    if fields.get("license"):
        record["license"] = " OR ".join(fields["license"])
    return [record]


def parse_composer(data: bytes) -> list[dict[str, Any]]:
    """The packages Composer installed: ``vendor/composer/installed.json``, a list (Composer 1) or an
    object with ``packages`` (Composer 2)."""
    try:
        installed = json.loads(data)
    except ValueError:
        return []
    listed = installed.get("packages") if isinstance(installed, dict) else installed
    records = []
    for package in listed if isinstance(listed, list) else ():
        if not isinstance(package, dict):
            continue
        name, version = package.get("name"), package.get("version")
        if not isinstance(name, str) or not isinstance(version, str) or not name or not version:
            continue
        record: dict[str, Any] = {"name": name, "version": re.sub(r"^v(?=\d)", "", version)}
        declared = package.get("license")
        licenses = [declared] if isinstance(declared, str) else [x for x in declared or () if isinstance(x, str)]
        if licenses:
            record["license"] = " OR ".join(licenses)
        records.append(record)
    return records


def parse_deps_json(data: bytes) -> list[dict[str, Any]]:
    """The NuGet packages a .NET application runs with: the ``libraries`` of its ``*.deps.json`` of type
    ``package`` that bring files to run (not build-time only, like SourceLink), and a self-contained
    application's ``runtimepack`` (the .NET runtime itself); and the application's own ``project``
    entries, listed as Trivy lists them, never matched (they are not NuGet's packages of that name)."""
    try:
        deps = json.loads(data)
    except ValueError:
        return []
    if not isinstance(deps, dict) or not isinstance(deps.get("libraries"), dict):
        return []
    targets = deps.get("targets") if isinstance(deps.get("targets"), dict) else {}
    used: dict[str, Any] = {}  # what each library brings, in the targets
    for target in targets.values():
        if isinstance(target, dict):
            used.update({key: entry for key, entry in target.items() if isinstance(entry, dict)})
    records = []
    for key, library in deps["libraries"].items():
        name, _, version = key.partition("/")
        kind = str(library.get("type", "")).lower() if isinstance(library, dict) else ""
        if name and version and kind == "project":
            records.append({"name": name, "version": version, "unmatched": True})
            continue
        if not name or not version or kind not in ("package", "runtimepack"):
            continue
        entry = used.get(key)
        if entry is not None and not any(entry.get(k) for k in ("runtime", "native", "runtimeTargets", "resources")):
            continue  # nothing of it is loaded at run time
        records.append({"name": name.removeprefix("runtimepack."), "version": version})
    return records


def parse_conda(data: bytes) -> list[dict[str, Any]]:
    """A conda package from its record in ``conda-meta/<name>-<version>-<build>.json``."""
    return _named_json(data)
