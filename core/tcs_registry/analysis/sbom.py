"""Inventories as documents: the JSON inventory (also what the store keeps) and a CycloneDX SBOM."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import fields
from decimal import Decimal
from typing import Any

from cyclonedx import spdx
from cyclonedx.model import Property
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.impact_analysis import ImpactAnalysisAffectedStatus
from cyclonedx.model.license import DisjunctiveLicense, LicenseExpression
from cyclonedx.model.vulnerability import (
    BomTarget,
    BomTargetVersionRange,
    VulnerabilityRating,
    VulnerabilityScoreSource,
    VulnerabilitySeverity,
    VulnerabilitySource,
)
from cyclonedx.model.vulnerability import Vulnerability as CdxVulnerability
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

from .. import __version__
from ..models import Inventory, Package, Platform, Vulnerability

PROPERTY = "tcs-registry:"


PACKAGE_FIELDS = tuple(f.name for f in fields(Package))
# what to_json leaves out of a package is empty: an ecosystem where the distribution has none in OSV
# (Fedora, Amazon Linux, Kali...), a license, a source
UNSAID = {f.name: None if f.name == "epoch" else "" for f in fields(Package)}
INVENTORY_FIELDS = tuple(f.name for f in fields(Inventory) if f.name != "secrets")  # (secrets: the violations say it)


def to_json(inventory: Inventory, host: str) -> dict[str, Any]:
    # field by field: dataclasses.asdict deep-copies every value, which costs more than the analysis
    # of an image whose layers are cached
    document: dict[str, Any] = {name: getattr(inventory, name) for name in INVENTORY_FIELDS}
    document.update(
        image=f"{host}/{inventory.repository}:{inventory.tag}",
        platform=str(inventory.platform) if inventory.platform else None,
        layers=list(inventory.layers),
        problems=list(inventory.problems),
        packages=[  # (a version always: a Go main module built as "(devel)" has an empty one)
            {
                name: value
                for name in PACKAGE_FIELDS
                if (value := getattr(p, name)) not in ("", None) or name == "version"
            }
            for p in inventory.packages
        ],
    )
    return {"tool": f"tcs-registry {__version__}", **document}


def from_json(document: dict[str, Any]) -> Inventory:
    platform = document.get("platform")
    parts = [*platform.split("/"), None, None][:3] if platform else None
    fields = {k: v for k, v in document.items() if k in Inventory.__dataclass_fields__}
    fields.update(
        platform=Platform(parts[0], parts[1], parts[2]) if parts else None,
        layers=tuple(document.get("layers") or ()),
        problems=tuple(document.get("problems") or ()),
        packages=tuple(Package(**{**UNSAID, **p}) for p in document.get("packages") or ()),
    )
    return Inventory(**fields)


def image_purl(inventory: Inventory, host: str) -> str:
    name = inventory.repository.rsplit("/", 1)[-1]
    qualifiers = {"repository_url": f"{host}/{inventory.repository}", "tag": inventory.tag}
    if inventory.platform:
        qualifiers["arch"] = inventory.platform.architecture
    return PackageURL("oci", None, name, inventory.digest, qualifiers).to_string()


def to_cyclonedx(inventory: Inventory, host: str, vulnerabilities: Iterable[Vulnerability] = ()) -> str:
    """A CycloneDX 1.6 JSON SBOM: the image as the subject, one component per package (bom-ref = purl),
    and the vulnerabilities found, each affecting its package's component."""
    subject = Component(
        type=ComponentType.CONTAINER,
        name=f"{host}/{inventory.repository}:{inventory.tag}",
        version=inventory.digest,
        bom_ref=image_purl(inventory, host),
        purl=PackageURL.from_string(image_purl(inventory, host)),
        properties=[Property(name=PROPERTY + "layer_diff_id", value=d) for d in inventory.layers],
    )
    bom = Bom()
    bom.metadata.component = subject
    tool = Component(type=ComponentType.APPLICATION, name="tcs-registry", version=__version__)
    bom.metadata.tools.components.add(tool)
    components = []
    if inventory.os_id:
        components.append(
            Component(
                type=ComponentType.OPERATING_SYSTEM,
                name=inventory.os_id,
                version=inventory.os_version or None,
                bom_ref=f"os:{inventory.os_id}:{inventory.os_version}",
                description=inventory.os or None,
            )
        )
    seen: dict[str, int] = {}
    refs: dict[tuple[str, str, str], str] = {}
    for package in inventory.packages:
        count = seen[package.purl] = seen.get(package.purl, 0) + 1
        properties = [
            Property(name=PROPERTY + "layer_diff_id", value=package.layer),
            Property(name=PROPERTY + "location", value=package.location),
            Property(name=PROPERTY + "ecosystem", value=package.ecosystem or "none"),
        ]
        if package.source_name:
            properties.append(Property(name=PROPERTY + "source_name", value=package.source_name))
            properties.append(Property(name=PROPERTY + "source_version", value=package.source_version))
        ref = package.purl if count == 1 else f"{package.purl}#{count}"
        refs.setdefault((package.purl, package.location, package.layer), ref)
        components.append(
            Component(
                type=ComponentType.LIBRARY,
                name=package.name,
                version=package.version,
                purl=PackageURL.from_string(package.purl),
                bom_ref=ref,
                licenses=licenses_of(package.license) if package.license else None,
                properties=properties,
            )
        )
    bom.components.update(components)
    bom.register_dependency(subject, components)  # everything found is in the image
    for finding in vulnerabilities:
        bom.vulnerabilities.add(_cdx_vulnerability(finding, refs.get((finding.purl, finding.location, finding.layer))))
    return JsonV1Dot6(bom).output_as_string(indent=2)


_METHODS = {"CVSS_V4": VulnerabilityScoreSource.CVSS_V4, "CVSS_V3": VulnerabilityScoreSource.CVSS_V3_1}


def _cdx_vulnerability(finding: Vulnerability, ref: str | None) -> CdxVulnerability:
    method = _METHODS.get(finding.severity_source)
    if method is None and finding.severity_source == "CVSS_V2":
        method = VulnerabilityScoreSource.CVSS_V2
    # a distribution's own rating (Debian, Ubuntu) or an advisory database's word is named as its source
    by_name = method is None and finding.severity_source
    rating = VulnerabilityRating(
        severity=VulnerabilitySeverity(finding.severity.lower()),
        score=Decimal(str(finding.score)) if finding.score is not None and method else None,
        method=method or (VulnerabilityScoreSource.OTHER if by_name else None),
        vector=finding.vector or None if method else None,
        source=VulnerabilitySource(name=finding.severity_source) if by_name else None,
    )
    properties = [Property(name=PROPERTY + "alias", value=alias) for alias in finding.aliases]
    if finding.fixed_version:
        properties.append(Property(name=PROPERTY + "fixed_version", value=finding.fixed_version))
    return CdxVulnerability(
        bom_ref=f"{finding.id}:{ref or finding.purl}",
        id=finding.id,
        description=finding.title or None,
        recommendation=f"Upgrade {finding.package} to {finding.fixed_version}" if finding.fixed_version else None,
        ratings=[rating],
        affects=[
            BomTarget(
                ref=ref or finding.purl,
                versions=[
                    BomTargetVersionRange(
                        version=finding.installed_version, status=ImpactAnalysisAffectedStatus.AFFECTED
                    )
                ],
            )
        ],
        properties=properties,
    )


def dumps(document: dict[str, Any]) -> str:
    """One line of JSON: the standard library's C encoder writes only unindented JSON, and indenting
    cost more than analysing an image whose layers are cached (`jq .` shows it indented)."""
    return json.dumps(document) + "\n"


def licenses_of(text: str) -> list[Any]:
    """A package's licenses for CycloneDX: one SPDX expression where each license in it is an SPDX
    identifier; else each license on its own, by identifier or by name (a name Debian made up, or a
    package's own wording, makes no valid expression)."""
    names = " ".join(text.replace("(", " ").replace(")", " ").split())
    for operator in (" AND ", " OR "):
        names = names.replace(operator, "\n")
    atoms = list(dict.fromkeys(name for name in names.split("\n") if name))
    if len(atoms) > 1 and all(spdx.fixup_id(atom) == atom for atom in atoms):
        return [LicenseExpression(text)]
    return [
        DisjunctiveLicense(id=atom) if spdx.fixup_id(atom) == atom else DisjunctiveLicense(name=atom) for atom in atoms
    ]
