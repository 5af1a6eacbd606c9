"""What a scan sends the console, as JSON, and its checks on the way in (the console trusts no sender's
shapes: a wrong one is a 422, not a crash). No web stack here: the CLI uses it too."""

from __future__ import annotations

from dataclasses import MISSING, asdict
from typing import Any

from ..analysis import sbom
from ..models import ImageDescription, Inventory, Package, Platform, Violation, Vulnerability
from ..oci import format_time, parse_time
from ..results import findings_document
from ..store import MOST_NAMES, NAME, Scanned, storable
from ..vulns.severity import LEVELS

BATCH = 200  # image platforms (or images) a request, at most
_TEXT = 4096  # the longest name, tag, digest or media type taken


def image_to_wire(image: ImageDescription) -> dict[str, Any]:
    return {
        "repository": image.repository,
        "tag": image.tag,
        "digest": image.digest,
        "media_type": image.media_type,
        "platforms": [str(platform) for platform in image.platforms],
        "build_time": format_time(image.build_time) or None,
    }


def text(value: Any, what: str, empty: bool = False) -> str:
    """A string as the store can hold it (`storable`)."""
    if not isinstance(value, str) or len(value) > _TEXT or (not value and not empty):
        raise ValueError(f"{what} must be a string of 1 to {_TEXT} characters")
    return storable(value)


def image_from_wire(value: Any) -> ImageDescription:
    if not isinstance(value, dict):
        raise ValueError("an image must be an object")
    platforms = value.get("platforms") or []
    if not isinstance(platforms, list) or len(platforms) > 256:
        raise ValueError("platforms must be a list of os/architecture[/variant]")
    return ImageDescription(
        text(value.get("repository"), "repository"),
        text(value.get("tag"), "tag"),
        text(value.get("digest"), "digest"),
        text(value.get("media_type"), "media_type", empty=True),
        tuple(platform_from_wire(p, least=1) for p in platforms),
        parse_time(value.get("build_time")),
    )


def platform_from_wire(value: Any, least: int = 2) -> Platform:
    """``least``: 1 for an image's platforms, which may name an os alone (as an index entry or a config
    without an architecture does, and the scanner sends it); a scanned platform has both."""
    parts = text(value, "a platform").split("/")
    if not least <= len(parts) <= 3 or not all(parts):
        raise ValueError("a platform must be os/architecture[/variant]")
    return Platform(*[*parts, None, None][:3])


def scan_to_wire(scanned: Scanned) -> dict[str, Any]:
    _, document, findings = scanned
    return {"document": document, "findings": findings}


def scan_from_wire(value: Any, host: str) -> Scanned:
    """An image platform's scan as sent, rebuilt from checked values: what is stored is what this
    release writes itself (no key, type or severity of the sender's own)."""
    if not isinstance(value, dict) or not isinstance(value.get("document"), dict):
        raise ValueError("a scan must be an object with a document")
    document = value["document"]
    packages = document.get("packages") or []
    if not isinstance(packages, list) or len(packages) > 100_000:
        raise ValueError("packages must be a list")
    for name in ("layers", "problems"):
        if not isinstance(document.get(name) or [], list) or not all(
            isinstance(x, str) for x in document.get(name) or []
        ):
            raise ValueError(f"{name} must be a list of strings")
    fields = {
        "repository": text(document.get("repository"), "repository"),
        "tag": text(document.get("tag"), "tag"),
        "digest": text(document.get("digest"), "digest"),
        "os": text(document.get("os") or "", "os", empty=True),
        "os_id": text(document.get("os_id") or "", "os_id", empty=True),
        "os_version": text(document.get("os_version") or "", "os_version", empty=True),
        "ecosystem": text(document.get("ecosystem") or "", "ecosystem", empty=True),
        "index_digest": text(document["index_digest"], "index_digest") if document.get("index_digest") else None,
        "config_digest": text(document.get("config_digest") or "", "config_digest", empty=True),
    }
    platform = document.get("platform")
    inventory = Inventory(
        **fields,
        platform=platform_from_wire(platform) if platform is not None else None,
        layers=tuple(document.get("layers") or ()),
        problems=tuple(document.get("problems") or ()),
        packages=tuple(Package(**_typed(Package, p, "a package")) for p in packages),
    )
    findings = value.get("findings")
    return inventory, sbom.to_json(inventory, host), None if findings is None else _findings(findings)


def _typed(kind: type, item: Any, what: str) -> dict[str, Any]:
    """The fields of the dataclass ``kind`` from ``item``, each of its type (strings of at most _TEXT
    characters, lists of them, numbers), severity one of the levels; extra keys dropped."""
    if not isinstance(item, dict):
        raise ValueError(f"{what} must be an object")
    values = {}
    for name, spec in kind.__dataclass_fields__.items():
        if name == "platform" and kind is not Inventory:
            continue
        if name not in item:
            if spec.default is MISSING:
                raise ValueError(f"{what} has no {name}")
            continue
        value, annotation = item[name], str(spec.type)
        if annotation == "str":
            if not isinstance(value, str) or len(value) > 10 * _TEXT:
                raise ValueError(f"{what}'s {name} must be text")
        elif annotation.startswith("tuple[str"):
            if not isinstance(value, list | tuple) or not all(isinstance(x, str) for x in value):
                raise ValueError(f"{what}'s {name} must be a list of strings")
            if len(value) > MOST_NAMES or any(len(x) > NAME for x in value):  # (each alias is indexed)
                raise ValueError(f"{what}'s {name}: at most {MOST_NAMES}, of at most {NAME} characters each")
            value = tuple(value)
        elif annotation in ("float | None", "int | None"):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise ValueError(f"{what}'s {name} must be a number")
            if value is not None and not -(2**31) <= value <= 2**31:
                raise ValueError(f"{what}'s {name} is out of range")
        if name == "severity":
            value = value.upper()
            if value not in LEVELS:
                raise ValueError(f"{what}'s severity must be one of {', '.join(LEVELS)}")
        values[name] = value
    return values


def _findings(findings: Any) -> dict[str, list]:
    """Findings as the store keeps them, rebuilt: vulnerabilities, violations, and the ignored ones with
    their reason."""
    if not isinstance(findings, dict) or set(findings) - {"vulnerabilities", "violations", "ignored"}:
        raise ValueError("findings must be an object of vulnerabilities, violations and ignored")
    for name, items in findings.items():
        if not isinstance(items, list) or len(items) > 100_000:
            raise ValueError(f"{name} must be a list")
    vulnerabilities = [
        Vulnerability(**_typed(Vulnerability, v, "a vulnerability")) for v in findings.get("vulnerabilities") or ()
    ]
    violations = [Violation(**_typed(Violation, c, "a violation")) for c in findings.get("violations") or ()]
    rebuilt = findings_document(vulnerabilities, violations)
    if "vulnerabilities" not in findings:
        del rebuilt["vulnerabilities"]  # not matched
    ignored = []
    for item in findings.get("ignored") or ():
        kind = Vulnerability if isinstance(item, dict) and item.get("kind") == "vulnerability" else Violation
        finding = kind(**_typed(kind, item, "an ignored finding"))
        reason = text(item.get("ignored_because"), "the reason a finding is ignored")
        entry = {k: v for k, v in asdict(finding).items() if k != "platform"}
        ignored.append({"kind": kind.__name__.lower(), **entry, "ignored_because": reason})
    if ignored:
        rebuilt["ignored"] = ignored
    return rebuilt
