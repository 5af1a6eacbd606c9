"""Scan results on disk and on the terminal: per-image JSON inventories and CycloneDX SBOMs, and a table."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

from tabulate import tabulate

from .analysis import sbom
from .errors import UsageError
from .models import Inventory
from .report import report_name
from .store import Store

SUFFIXES = {"json": ".json", "cyclonedx": ".cdx.json"}


def results_dir(output_dir: Path, host: str) -> Path:
    """``localhost:5000`` -> ``<output-dir>/localhost-5000-scan``."""
    return output_dir / report_name(host).replace("-report.csv", "-scan")


def file_stem(inventory: Inventory) -> str:
    """``team/app``, ``1.0``, linux/arm64 -> ``team/app/1.0@linux-arm64``: one file per image platform,
    under the repository's own path (repository names cannot hold ``..`` or ``@``, tags cannot hold ``/``)."""
    stem = f"{inventory.repository}/{inventory.tag}"
    if inventory.platform:
        stem += "@" + str(inventory.platform).replace("/", "-")
    return re.sub(r"[^A-Za-z0-9._@/-]", "_", stem).replace("..", "_")


class ResultWriter:
    """Writes each inventory as it arrives in the chosen formats; keeps one table row per image."""

    def __init__(self, output_dir: Path, host: str, formats: tuple[str, ...]) -> None:
        self.host = host
        self.formats = [f for f in formats if f in SUFFIXES]
        self.table = "table" in formats
        self.directory = results_dir(output_dir, host)
        self.rows: list[tuple[str, str, str, int]] = []
        self.images = self.packages = 0
        if self.formats:
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                where = str(self.directory)
                raise UsageError(f"cannot write results in {where!r}: {exc.strerror}; use --output-dir") from None

    def write(self, inventory: Inventory, document: dict) -> None:
        self.images += 1
        self.packages += len(inventory.packages)
        stem = file_stem(inventory)
        for name in self.formats:
            text = sbom.to_cyclonedx(inventory, self.host) if name == "cyclonedx" else sbom.dumps(document)
            path = self.directory / (stem + SUFFIXES[name])
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        if self.table:
            image = f"{self.host}/{inventory.repository}:{inventory.tag}"
            self.rows.append((image, str(inventory.platform or ""), inventory.os or "unknown", len(inventory.packages)))

    def print_table(self, out: TextIO) -> None:
        if self.table and self.rows:
            out.write(tabulate(self.rows, headers=["image", "platform", "os", "packages"]) + "\n\n")

    @property
    def where(self) -> str:
        text = f"{self.images} image platforms, {self.packages} packages"
        return f"{text} in {self.directory}" if self.formats else f"{text} (tcs-registry results shows them)"


def parse_image(image: str) -> tuple[str, str | None, str | None]:
    """``[host/]repository[:tag][@os/arch]`` -> (repository, tag or None, platform or None)."""
    reference, _, platform = image.partition("@")
    first, _, rest = reference.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        reference = rest  # a registry host: the store keys images by repository
    repository, _, tag = reference.partition(":")
    return repository, tag or None, platform.lower() or None


def show(store: Store, project: str, run: int | None, image: str | None, output_format: str, out: TextIO) -> None:
    """`tcs-registry results`: the project's runs and what a run found, or one image's inventory."""
    repository, tag, platform = parse_image(image) if image else (None, None, None)
    scanned = store.scanned(project, run, repository=repository, tag=tag, platform=platform)
    if image and not scanned:
        where = f"run {run}" if run else "the latest scan"
        raise UsageError(f"no image {image!r} in {where} of project {project!r}; `tcs-registry results` lists them")
    if output_format == "json":
        documents = [document for _, document in scanned]
        out.write(json.dumps(documents[0] if image and len(documents) == 1 else documents, indent=2) + "\n")
        return
    if output_format == "cyclonedx":
        if len(scanned) != 1:
            raise UsageError("--format cyclonedx needs exactly one image: name it with --image (add @os/arch)")
        row, document = scanned[0]
        out.write(sbom.to_cyclonedx(sbom.from_json(document), urlsplit(row["registry"]).netloc) + "\n")
        return
    if image:
        for row, document in scanned:
            out.write(f"{document.get('image')} {row['platform']} {row['digest']} {document.get('os') or ''}\n")
            packages = [
                (p["name"], p["version"], p["type"], p.get("source_name", ""), p["layer"][7:19], p["location"])
                for p in document.get("packages") or ()
            ]
            out.write(tabulate(packages, headers=["name", "version", "type", "source", "layer", "location"]) + "\n\n")
        return
    runs = [
        (r["id"], r["started_at"][:19], r["registry"], r["mode"], r["status"], r["images_found"], r["scanned"])
        for r in store.runs(project)
    ]
    if not runs:
        out.write(f"No runs recorded for project {project!r} in {store.path}\n")
        return
    out.write(tabulate(runs, headers=["run", "started", "registry", "mode", "status", "found", "scanned"]) + "\n\n")
    images = [
        (
            f"{urlsplit(row['registry']).netloc}/{row['repository']}:{row['tag']}",
            row["platform"],
            row["run"],
            document.get("os") or "unknown",
            len(document.get("packages") or ()),
        )
        for row, document in scanned
    ]
    if images:
        out.write(tabulate(images, headers=["image", "platform", "run", "os", "packages"]) + "\n")
