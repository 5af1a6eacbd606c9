"""What a scan sends the console, as JSON, and its checks on the way in (the console trusts no sender's
shapes: a wrong one is a 422, not a crash). No web stack here: the CLI uses it too."""

from __future__ import annotations

from typing import Any

from ..analysis import sbom
from ..models import ImageDescription, Platform, Violation, Vulnerability
from ..oci import format_time, parse_time
from ..store import Scanned

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
    if not isinstance(value, str) or len(value) > _TEXT or (not value and not empty):
        raise ValueError(f"{what} must be a string of 1 to {_TEXT} characters")
    return value


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
        tuple(Platform(*[*text(p, "a platform").split("/"), None][:3]) for p in platforms),
        parse_time(value.get("build_time")),
    )


def scan_to_wire(scanned: Scanned) -> dict[str, Any]:
    _, document, findings = scanned
    return {"document": document, "findings": findings}


def scan_from_wire(value: Any) -> Scanned:
    if not isinstance(value, dict) or not isinstance(value.get("document"), dict):
        raise ValueError("a scan must be an object with a document")
    findings = value.get("findings")
    if findings is not None:
        _findings(findings)
    document = value["document"]
    try:
        inventory = sbom.from_json(document)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"the document is not an inventory ({type(exc).__name__})") from None
    text(inventory.repository, "repository")
    text(inventory.tag, "tag")
    text(inventory.digest, "digest")
    return inventory, document, findings


def _findings(findings: Any) -> None:
    """Findings as the store keeps them: lists of vulnerabilities, violations (and ignored ones) whose
    fields are those of their kind, strings where strings go."""
    kinds = {"vulnerabilities": Vulnerability, "violations": Violation}
    if not isinstance(findings, dict) or set(findings) - {*kinds, "ignored"}:
        raise ValueError("findings must be an object of vulnerabilities, violations and ignored")
    for name, items in findings.items():
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise ValueError(f"{name} must be a list of objects")
        for item in items:
            kind = kinds.get(name) or (Vulnerability if item.get("kind") == "vulnerability" else Violation)
            fields = {k: v for k, v in item.items() if k in kind.__dataclass_fields__}
            try:
                kind(**fields)
            except TypeError as exc:
                raise ValueError(f"a finding of {name} is incomplete ({exc})") from None
            for key in ("id", "severity", "package", "title", "detail", "installed_version", "fixed_version"):
                if key in kind.__dataclass_fields__ and not isinstance(fields.get(key), str):
                    raise ValueError(f"a finding of {name} has no text {key}")
