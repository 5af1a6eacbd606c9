"""SARIF 2.1.0 for GitHub code scanning: one run per image platform, one rule per advisory or check.

Conventions as code-scanning tools use them: levels error (critical, high), warning (medium) and note
(low, unknown); ``security-severity`` is the CVSS score, or a score standing for the rating; every
result has a location (the package's file inside the image, or its repository for a config finding).
"""

from __future__ import annotations

from typing import Any

from .. import __version__
from ..models import Inventory, Violation, Vulnerability

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
_LEVEL = {"CRITICAL": "error", "HIGH": "error", "MEDIUM": "warning"}
_SCORE = {"CRITICAL": 9.5, "HIGH": 8.0, "MEDIUM": 5.5, "LOW": 2.0, "UNKNOWN": 0.0}


def _rule(rule_id: str, title: str, severity: str, score: float | None, help_text: str) -> dict[str, Any]:
    return {
        "id": rule_id,
        "name": rule_id.replace("-", ""),
        "shortDescription": {"text": title or rule_id},
        "fullDescription": {"text": title or rule_id},
        "help": {"text": help_text},
        "defaultConfiguration": {"level": _LEVEL.get(severity, "note")},
        "properties": {
            "tags": ["security", severity],
            "precision": "very-high",
            "security-severity": f"{score if score is not None else _SCORE.get(severity, 0.0):.1f}",
        },
    }


def _result(rule_id: str, index: int, severity: str, text: str, uri: str) -> dict[str, Any]:
    return {
        "ruleId": rule_id,
        "ruleIndex": index,
        "level": _LEVEL.get(severity, "note"),
        "message": {"text": text},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": uri.lstrip("/") or ".", "uriBaseId": "ROOTPATH"},
                    "region": {"startLine": 1, "startColumn": 1, "endLine": 1, "endColumn": 1},
                },
                "message": {"text": uri},
            }
        ],
    }


def to_sarif(
    inventory: Inventory, host: str, vulnerabilities: list[Vulnerability], violations: list[Violation]
) -> dict[str, Any]:
    image = f"{host}/{inventory.repository}:{inventory.tag}"
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    results = []
    for v in vulnerabilities:
        if v.id not in index:
            index[v.id] = len(rules)
            fix = f" Fixed in {v.fixed_version}." if v.fixed_version else " No fix is published."
            rules.append(_rule(v.id, v.title, v.severity, v.score, f"{v.id} ({', '.join(v.aliases)}).{fix}"))
        text = (
            f"Package: {v.package}\nInstalled version: {v.installed_version}\n"
            f"Fixed version: {v.fixed_version or 'none'}\nSeverity: {v.severity}\nImage: {image}\nLayer: {v.layer}"
        )
        results.append(_result(v.id, index[v.id], v.severity, text, v.location))
    for c in violations:
        if c.id not in index:
            index[c.id] = len(rules)
            rules.append(_rule(c.id, c.title, c.severity, None, c.remedy))
        results.append(
            _result(c.id, index[c.id], c.severity, f"{c.title}: {c.detail}\nImage: {image}", inventory.repository)
        )
    return {
        "version": "2.1.0",
        "$schema": SCHEMA,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "tcs-registry",
                        "version": __version__,
                        "informationUri": "https://pypi.org/project/tcs-registry/",
                        "rules": rules,
                    }
                },
                "originalUriBaseIds": {"ROOTPATH": {"uri": "file:///"}},
                "results": results,
                "properties": {
                    "imageName": image,
                    "repoDigests": [f"{host}/{inventory.repository}@{inventory.index_digest or inventory.digest}"],
                    "platform": str(inventory.platform or ""),
                },
            }
        ],
    }
