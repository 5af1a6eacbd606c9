"""SARIF 2.1.0 for GitHub code scanning: one rule per advisory or check, a run per image platform or one
run for a whole registry.

Conventions as code-scanning tools use them: levels error (critical, high), warning (medium) and note
(low, unknown); ``security-severity`` is the CVSS score, or a score standing for the rating; every
result has a location (the package's file inside the image, or its repository for a config finding)
and a fingerprint of its own (image, platform, rule, package or detail), so an alert keeps its identity
from one scan to the next. GitHub's upload rules (its "SARIF support for code scanning" page and the
2025-07-21 change): at most 20 runs a file, each run of one upload in a category of its own
(``automationDetails.id``), at most 25,000 results a run (the 5,000 most severe shown). A registry's
file is therefore one run, in a category naming the registry (and the shard), its results the 25,000
most severe.
"""

from __future__ import annotations

import hashlib
import heapq
from typing import Any
from urllib.parse import quote

from .. import __version__
from ..models import Inventory, Violation, Vulnerability
from .severity import rank

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
RESULTS_PER_RUN = 25_000  # GitHub rejects a run with more
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


def relative_uri(path: str) -> str:
    """A path as a relative URI reference (RFC 3986): each segment percent-encoded, no dot segments (a
    file name is the image's text: a space, a quote or a ``..`` would make no URI, or one elsewhere)."""
    segments = [segment for segment in path.split("/") if segment not in ("", ".", "..")]
    return "/".join(quote(segment, safe="!$&'()*+,;=@") for segment in segments) or "."  # (a : would make a scheme)


def _result(rule_id: str, severity: str, text: str, uri: str, identity: str) -> dict[str, Any]:
    fingerprint = hashlib.sha256(identity.encode()).hexdigest()[:16]
    return {
        "ruleId": rule_id,
        "level": _LEVEL.get(severity, "note"),
        "message": {"text": text},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": relative_uri(uri), "uriBaseId": "ROOTPATH"},
                    "region": {"startLine": 1, "startColumn": 1, "endLine": 1, "endColumn": 1},
                },
                "message": {"text": uri},
            }
        ],
        "partialFingerprints": {"primaryLocationLineHash": f"{fingerprint}:1"},
    }


class SarifRun:
    """One run in one category, built image platform by image platform: rules once per id, at most
    ``most`` results (the most severe kept; the others counted in ``left_out``)."""

    def __init__(self, category: str, most: int = RESULTS_PER_RUN, properties: dict[str, Any] | None = None) -> None:
        self.category, self.most, self.properties = category, most, properties
        self.left_out = 0
        self._rules: dict[str, dict[str, Any]] = {}
        self._results: list[tuple[int, int, dict[str, Any]]] = []  # (severity rank, -order, result): a heap
        self._order = 0

    def add(
        self,
        inventory: Inventory,
        host: str,
        vulnerabilities: list[Vulnerability],
        violations: list[Violation],
        where: str = "",
    ) -> SarifRun:
        """An image platform's findings; ``where`` prefixes their locations (a registry's run names the
        image there, as its files hold many)."""
        image = f"{host}/{inventory.repository}:{inventory.tag}"
        platform = str(inventory.platform or "")
        prefix = f"{where.rstrip('/')}/" if where else ""
        for v in vulnerabilities:
            if v.id not in self._rules:
                fix = f" Fixed in {v.fixed_version}." if v.fixed_version else " No fix is published."
                self._rules[v.id] = _rule(v.id, v.title, v.severity, v.score, f"{v.id} ({', '.join(v.aliases)}).{fix}")
            text = (
                f"Package: {v.package}\nInstalled version: {v.installed_version}\n"
                f"Fixed version: {v.fixed_version or 'none'}\nSeverity: {v.severity}\nImage: {image}\nLayer: {v.layer}"
            )
            identity = f"{image}|{platform}|{v.id}|{v.package}|{v.location}"  # two copies of a package: two alerts
            self._keep(v.severity, _result(v.id, v.severity, text, prefix + v.location.lstrip("/"), identity))
        for c in violations:
            if c.id not in self._rules:
                self._rules[c.id] = _rule(c.id, c.title, c.severity, None, c.remedy)
            text = f"{c.title}: {c.detail}\nImage: {image}"
            identity = f"{image}|{platform}|{c.id}|{c.detail}"
            self._keep(c.severity, _result(c.id, c.severity, text, where or inventory.repository, identity))
        return self

    def _keep(self, severity: str, result: dict[str, Any]) -> None:
        self._order += 1
        heapq.heappush(self._results, (rank(severity), -self._order, result))
        if len(self._results) > self.most:
            heapq.heappop(self._results)  # the least severe, the latest among equals
            self.left_out += 1

    def document(self) -> dict[str, Any]:
        kept = [result for _, _, result in sorted(self._results, key=lambda item: -item[1])]
        used = list(dict.fromkeys(result["ruleId"] for result in kept))
        index = {rule_id: n for n, rule_id in enumerate(used)}
        run: dict[str, Any] = {
            "tool": {
                "driver": {
                    "name": "tcs-registry",
                    "version": __version__,
                    "informationUri": "https://pypi.org/project/tcs-registry/",
                    "rules": [self._rules[rule_id] for rule_id in used],
                }
            },
            "automationDetails": {"id": self.category},
            "originalUriBaseIds": {"ROOTPATH": {"uri": "file:///"}},
            "results": [{**result, "ruleIndex": index[result["ruleId"]]} for result in kept],
        }
        if self.properties:
            run["properties"] = self.properties
        return {"version": "2.1.0", "$schema": SCHEMA, "runs": [run]}


def category(host: str, image: str = "", shard: tuple[int, int] = (1, 1), selection: str = "") -> str:
    """``tcs-registry/<host>/`` (a registry's run), ``tcs-registry/<host>/<repository>:<tag>@<platform>/``
    (an image platform's), with ``shard-K-of-N/`` for a worker's share and ``images-<hash>/`` for a run
    of some images only (``selection``: the filters, as text): each upload a category of its own. An
    upload replaces the alerts of its category: a run of some images must not close the others'."""
    share = f"shard-{shard[0]}-of-{shard[1]}/" if shard[1] > 1 else ""
    chosen = f"images-{hashlib.sha256(selection.encode()).hexdigest()[:12]}/" if selection else ""
    return f"tcs-registry/{host}/{image + '/' if image else ''}{chosen}{share}"


def to_sarif(
    inventory: Inventory, host: str, vulnerabilities: list[Vulnerability], violations: list[Violation]
) -> dict[str, Any]:
    """An image platform's SARIF: one run, in the image platform's own category."""
    platform = str(inventory.platform or "")
    image = f"{inventory.repository}:{inventory.tag}" + (f"@{platform}" if platform else "")
    properties = {
        "imageName": f"{host}/{inventory.repository}:{inventory.tag}",
        "repoDigests": [f"{host}/{inventory.repository}@{inventory.index_digest or inventory.digest}"],
        "platform": platform,
    }
    run = SarifRun(category(host, image), properties=properties)
    return run.add(inventory, host, vulnerabilities, violations).document()
