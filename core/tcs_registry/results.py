"""Scan results on disk and on the terminal: per-image JSON inventories and CycloneDX SBOMs, and a table."""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import json
import logging
import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from .analysis import sbom
from .errors import UsageError
from .files import open_directory, private_dir, refusal, write_private, write_private_beneath
from .models import Inventory, Violation, Vulnerability
from .report import plural, report_name
from .store import Store, is_own_scan
from .terminal import safe, table
from .vulns.matching import Matcher
from .vulns.sarif import SarifRun, category, to_sarif
from .vulns.severity import LEVELS, rank

log = logging.getLogger("tcs_registry")
SUFFIXES = {"json": ".json", "sarif": ".sarif", "cyclonedx": ".cdx.json"}
TABLE_ROWS = 500  # rows of each terminal table; the JSON files and the store have everything


def results_dir(output_dir: Path, host: str) -> Path:
    """``localhost:5000`` -> ``<output-dir>/localhost-5000-scan``."""
    return output_dir / report_name(host).replace("-report.csv", "-scan")


def file_stem(inventory: Inventory) -> str:
    """``team/app``, ``1.0``, linux/arm64 -> ``team/app/1.0@linux-arm64``: one file per image platform,
    under the repository's own path. Names come from the registry, which may be hostile: each part is
    reduced to safe characters, and no part can be empty, ``.``, ``..`` or absolute."""
    platform = inventory.platform
    tag = inventory.tag + ("@" + str(platform).replace("/", "-") if platform else "")
    fields = (platform.os, platform.architecture, platform.variant or "") if platform else ()
    if any(re.search(r"[^A-Za-z0-9._]", field) for field in fields):  # ("arm64/v8" and arm64 with v8 apart)
        tag += "-" + hashlib.sha256(repr(fields).encode()).hexdigest()[:12]
    parts = [*inventory.repository.split("/"), tag.replace("/", "_")]
    safe = [re.sub(r"[^A-Za-z0-9._@-]", "_", part).strip(".") or "_" for part in parts]
    return "/".join(_bounded(part) for part in safe)


MAX_NAME = 200  # characters of a file name part (file systems take 255 bytes; suffixes are added)


def _bounded(part: str) -> str:
    """A name part cut to MAX_NAME, the rest replaced by a hash of the whole (still one file per name)."""
    if len(part) <= MAX_NAME:
        return part
    return f"{part[: MAX_NAME - 17]}-{hashlib.sha256(part.encode()).hexdigest()[:16]}"


def by_severity(items: Iterable[Vulnerability | Violation]) -> Counter[str]:
    return Counter(item.severity for item in items)


def counts_text(counts: Counter[str]) -> str:
    """``2 critical, 1 high``: the non-zero severities, worst first."""
    return ", ".join(f"{counts[level]:,} {level.lower()}" for level in reversed(LEVELS) if counts[level])


def findings_document(
    vulnerabilities: Iterable[Vulnerability],
    violations: Iterable[Violation],
    ignored: list[dict[str, Any]] | None = None,
    matched: bool = True,
) -> dict[str, list]:
    """The findings as JSON-ready lists (also what the store keeps per run): without ``vulnerabilities``
    when the packages were not matched, with ``ignored`` when rules set some aside."""
    findings = {
        "vulnerabilities": [{k: v for k, v in asdict(f).items() if k != "platform"} for f in vulnerabilities],
        "violations": [{k: v for k, v in asdict(c).items() if k != "platform"} for c in violations],
    }
    if not matched:
        del findings["vulnerabilities"]
    if ignored:
        findings["ignored"] = ignored
    return findings


class TableRows:
    """The rows a terminal table shows, bounded: at most ``size``, the most severe kept (then the first
    seen), printed in the order they came; the rest are only counted. A run of 100,000 images keeps the
    same few hundred rows in memory as a run of ten."""

    def __init__(self, size: int = TABLE_ROWS) -> None:
        self.size = size
        self.left_out = 0
        self._heap: list[tuple[int, int, tuple[Any, ...]]] = []
        self._seen = 0

    def add(self, row: tuple[Any, ...], severity: str = "UNKNOWN") -> None:
        self._seen += 1
        heapq.heappush(self._heap, (rank(severity), -self._seen, row))
        if len(self._heap) > self.size:
            heapq.heappop(self._heap)  # the least severe, the latest among equals
            self.left_out += 1

    def __bool__(self) -> bool:
        return bool(self._heap)

    def write(self, out: TextIO, headers: list[str], what: str) -> None:
        rows = [row for _, _, row in sorted(self._heap, key=lambda item: -item[1])]
        out.write(table(rows, headers=headers) + "\n")
        if self.left_out:
            out.write(
                f"... and {self.left_out:,} more {what}, less severe: see --format json or `tcs-registry results`\n"
            )
        out.write("\n")


class ResultWriter:
    """Writes each image platform's results as they arrive in the chosen formats; keeps the table rows
    and the counts the summary and --fail-on need."""

    def __init__(
        self,
        output_dir: Path,
        host: str,
        formats: tuple[str, ...],
        shard: tuple[int, int] = (1, 1),
        selection: str = "",
    ) -> None:
        """``selection``: the filters that leave images out of the run ('' for none): the registry's SARIF
        is then in a category of its own, and does not close the alerts of the images left out."""
        self.host = host
        self.formats = [f for f in formats if f in SUFFIXES]
        self.table = "table" in formats
        self.directory = results_dir(output_dir, host)
        # the whole registry's SARIF, for GitHub code scanning: one run, in the registry's own category
        self.sarif = SarifRun(category(host, shard=shard, selection=selection)) if "sarif" in formats else None
        self.sarif_path = output_dir / report_name(host, "scan", shard).replace(".csv", ".sarif")
        self.links: dict[str, str] = {}  # kind -> the console's page of this scan's findings, if one serves it
        self.rows, self.finding_rows, self.violation_rows = TableRows(), TableRows(), TableRows()
        self.images = self.packages = 0
        self.vulnerabilities: Counter[str] = Counter()
        self.violations: Counter[str] = Counter()
        self.images_vulnerable = self.images_violating = 0
        self.unmatched = 0  # image platforms whose packages were not matched
        if self.formats:
            try:
                private_dir(self.directory)
                os.close(open_directory(self.directory))
            except OSError as exc:
                where = str(self.directory)
                raise UsageError(f"cannot write results in {where!r}: {refusal(exc)}; use --output-dir") from None

    def files(
        self,
        inventory: Inventory,
        document: dict[str, Any],
        vulnerabilities: Sequence[Vulnerability] = (),
        violations: Sequence[Violation] = (),
        findings: dict[str, list] | None = None,
    ) -> list[str]:
        """Write one image platform's files; the names written (relative to the results directory)."""
        if findings is None:
            findings = findings_document(list(vulnerabilities), list(violations))
        stem, written = file_stem(inventory), []
        for name in self.formats:
            if name == "cyclonedx":
                text = sbom.to_cyclonedx(inventory, self.host, list(vulnerabilities))
            elif name == "sarif":
                text = sbom.dumps(to_sarif(inventory, self.host, list(vulnerabilities), list(violations)))
            else:
                text = sbom.dumps({**document, **findings})
            write_private_beneath(self.directory, stem + SUFFIXES[name], text)
            written.append(stem + SUFFIXES[name])
        return written

    def forget(self, written: Iterable[str]) -> None:
        """Remove files ``files`` wrote, of an image that failed after all."""
        for name in written:
            with contextlib.suppress(OSError):
                (self.directory / name).unlink()

    def count(
        self,
        inventory: Inventory,
        vulnerabilities: Sequence[Vulnerability] = (),
        violations: Sequence[Violation] = (),
        matched: bool = True,
    ) -> None:
        """Count one image platform in the summary, the tables and the registry's SARIF (``matched``: its
        packages were matched against a vulnerability database: none found is not "not matched")."""
        vulnerabilities, violations = list(vulnerabilities), list(violations)
        stem = file_stem(inventory)
        self.images += 1
        self.packages += len(inventory.packages)
        self.vulnerabilities.update(by_severity(vulnerabilities))
        self.violations.update(by_severity(violations))
        self.images_vulnerable += bool(vulnerabilities)
        self.images_violating += bool(violations)
        self.unmatched += not matched
        if self.sarif is not None:
            self.sarif.add(inventory, self.host, vulnerabilities, violations, where=stem)
        if self.table:
            image = f"{self.host}/{inventory.repository}:{inventory.tag}"
            platform = str(inventory.platform or "")
            counts = by_severity(vulnerabilities)
            worst = max(counts, key=rank, default="UNKNOWN")
            found = vulnerabilities_text(counts, matched)
            row = (image, platform, inventory.os or "unknown", len(inventory.packages), found)
            self.rows.add((*row, len(violations)), worst)
            for v in vulnerabilities:
                self.finding_rows.add(
                    (image, platform, v.package, v.installed_version, v.fixed_version, v.id, v.severity), v.severity
                )
            for c in violations:
                self.violation_rows.add((image, platform, c.id, c.severity, c.title, c.detail), c.severity)

    def finish(self, partial: bool = False) -> bool:
        """Write the registry's SARIF file, if asked for: whether all went well."""
        if self.sarif is None:
            return True
        try:
            write_private(self.sarif_path, sbom.dumps(self.sarif.document()))
        except OSError as exc:  # (the store has every result: `results --format sarif` writes it again)
            log.error(
                "Cannot write %s: %s; `tcs-registry results --format sarif` writes it from the store",
                self.sarif_path,
                refusal(exc),
            )
            return False
        log.info(
            "SARIF of the registry, for GitHub code scanning: %s category=%s", self.sarif_path, self.sarif.category
        )
        if partial:
            log.warning(
                "Images failed in this run: uploading %s closes their alerts until a scan finds them again",
                self.sarif_path,
            )
        if self.sarif.left_out:
            log.warning(
                "GitHub takes at most %d results a run: the %d least severe are left out of %s (--severity chooses)",
                self.sarif.most, self.sarif.left_out, self.sarif_path,
            )  # fmt: skip
        return True

    def print_table(self, out: TextIO) -> None:
        if not (self.table and self.rows):
            return
        headers = ["image", "platform", "os", "packages", "vulnerabilities", "violations"]
        self.rows.write(out, headers, "image platforms")
        if self.finding_rows:
            headers = ["image", "platform", "package", "installed", "fixed", "vulnerability", "severity"]
            self.finding_rows.write(out, headers, "vulnerabilities")
        if self.violation_rows:
            headers = ["image", "platform", "check", "severity", "title", "detail"]
            self.violation_rows.write(out, headers, "violations")

    @property
    def where(self) -> str:
        """The summary's inventories line: where the results are (the files, else the store)."""
        where = f"in {self.directory}" if self.formats else "(tcs-registry results shows them)"
        return f"{plural(self.images, 'image platform')}, {plural(self.packages, 'package')} {where}"

    def _details(self, counts: Counter[str], images: int) -> str:
        """A summary line: ``3 in 2 of 5 image platforms (1 high, 2 low)``, in the files if written."""
        total = sum(counts.values())
        if not total:
            return f"none found in {plural(self.images, 'image platform')}"
        where = f" in {self.directory}" if self.formats else ""
        return f"{total:,} in {images:,} of {plural(self.images, 'image platform')} ({counts_text(counts)}){where}"

    def vulnerability_details(self) -> str:
        line = self._details(self.vulnerabilities, self.images_vulnerable)
        if self.unmatched:  # (their zero is no "none found")
            line += f"; {self.unmatched:,} not matched (no advisory is filed for their packages)"
        return self._linked(line, "vulnerabilities")

    def violation_details(self) -> str:
        return self._linked(self._details(self.violations, self.images_violating), "violations")

    def _linked(self, line: str, kind: str) -> str:
        return f"{line} · {self.links[kind]}" if kind in self.links else line

    def at_or_above(self, level: str) -> int:
        """How many findings (vulnerabilities and violations) are at or above this severity; at LOW,
        the unrated (UNKNOWN) ones count too: a gate on everything must not let them through."""
        floor = rank("UNKNOWN") if level == "LOW" else rank(level)
        return sum(
            n for counts in (self.vulnerabilities, self.violations) for s, n in counts.items() if rank(s) >= floor
        )


def _cut(text: str, width: int) -> str:
    """Text for a table cell of ``width`` characters: cut, with an ellipsis saying so."""
    return text if len(text) <= width else text[: width - 1] + "…"


def image_host(image: str) -> str | None:
    """The registry host an image reference names, if it names one."""
    first, _, rest = image.partition("@")[0].partition("/")
    return first.lower() if rest and ("." in first or ":" in first or first == "localhost") else None


def parse_image(image: str) -> tuple[str, str | None, str | None]:
    """``[host/]repository[:tag][@os/arch]`` -> (repository, tag or None, platform or None)."""
    reference, _, platform = image.partition("@")
    if image_host(reference):
        reference = reference.partition("/")[2]  # a registry host: the store keys images by repository
    repository, _, tag = reference.partition(":")
    return repository, tag or None, platform.lower() or None


@dataclass(frozen=True)
class Change:
    image: str
    platform: str
    change: str  # new image, new digest, new vulnerability, fixed vulnerability, new violation, fixed violation
    detail: str


def comparable(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether two scans of an image platform can be compared for vulnerabilities: a scan whose packages
    were not matched (no database, no advisory filed for them) says nothing about them."""
    return "vulnerabilities" in old and "vulnerabilities" in new


def finding_keys(document: dict[str, Any], vulnerabilities: bool = True) -> dict[tuple[str, str, str], str]:
    """What can appear or go away between runs, keyed so that an upgrade that still has the flaw is
    not reported as fixed: a vulnerability by (id, package), a violation by (id, detail)."""
    keys = {}
    ignored = document.get("ignored") or ()  # set aside by a rule, still there
    found = [*(document.get("vulnerabilities") or ()), *(i for i in ignored if i["kind"] == "vulnerability")]
    for v in found if vulnerabilities else ():
        keys[("vulnerability", v["id"], v["package"])] = f"{v['id']} {v['package']} {v['installed_version']}"
    for c in [*(document.get("violations") or ()), *(i for i in ignored if i["kind"] == "violation")]:
        keys[("violation", c["id"], c["detail"])] = f"{c['id']} {c['detail']}"
    return keys


def changes(
    store: Store, project: str, scan: list[int], since: list[int] | None = None
) -> tuple[list[int], list[Change]]:
    """(the runs compared with, what changed) for the image platforms of a scan's runs: each against its
    previous scan (`Store.before`), or against the scan of the runs ``since``."""
    before = {(r["repository"], r["tag"], r["platform"]): (r, d) for r, d in store.before(project, scan, since)}
    found = []
    for row, document in store.scanned(project, scan):
        image, platform = document["image"], row["platform"]
        old = before.get((row["repository"], row["tag"], row["platform"]))
        if old is None:
            found.append(Change(image, platform, "new image", row["digest"]))
            old_keys: dict[tuple[str, str, str], str] = {}
        else:
            if old[0]["digest"] != row["digest"]:
                found.append(Change(image, platform, "new digest", f"{old[0]['digest']} -> {row['digest']}"))
            matched = comparable(old[1], document)
            old_keys = finding_keys(old[1], matched)
        new_keys = finding_keys(document, old is None or matched)
        for key in sorted(new_keys.keys() - old_keys.keys()):
            found.append(Change(image, platform, f"new {key[0]}", new_keys[key]))
        for key in sorted(old_keys.keys() - new_keys.keys()):
            found.append(Change(image, platform, f"fixed {key[0]}", old_keys[key]))
    return sorted({row["run"] for row, _ in before.values()}), found


def _named(store: Store, scan: list[int]) -> str:
    """``run 4``, or the runs of a scan of several workers: ``scan ci-7 (runs 5, 6, 7, 8)``."""
    if len(scan) == 1:
        return f"run {scan[0]}"
    return f"scan {store.scan_id(scan[-1])} (runs {', '.join(map(str, scan))})"


def _counts(document: dict[str, Any]) -> tuple[str, int | str]:
    """(vulnerabilities by severity, violations) of a stored scan; older scans recorded neither."""
    violations = len(document["violations"]) if "violations" in document else "-"
    severities = Counter(v["severity"] for v in document.get("vulnerabilities", ()))
    return vulnerabilities_text(severities, "vulnerabilities" in document), violations


def vulnerabilities_text(severities: Counter[str], matched: bool) -> str:
    """A table's vulnerabilities cell: by severity, ``0``, or ``not matched`` (no database: none found is
    not the same as none known)."""
    return counts_text(severities) or ("0" if matched else "not matched")


def stored_scan(row: Any, document: dict[str, Any]) -> tuple[Inventory, str, list[Vulnerability], list[Violation]]:
    """An image platform's scan as the store keeps it (its row and document), as the reports take it:
    (inventory, the registry's host, vulnerabilities, violations)."""
    return (
        sbom.from_json(document),
        urlsplit(row["registry"]).netloc,
        [Vulnerability(**v) for v in document.get("vulnerabilities") or ()],
        [Violation(**c) for c in document.get("violations") or ()],
    )


def matched_again(
    matcher: Matcher | None, row: Any, document: dict[str, Any]
) -> tuple[Inventory, list[Vulnerability], list[Violation]]:
    """An image platform's stored scan as a scan now would find it, without pulling it: its packages
    matched against the database as it is now, its config checks as they were (those ignore rules set
    aside among them, to be judged again by the rules of now)."""
    inventory, platform = sbom.from_json(document), row["platform"]
    vulnerabilities = matcher.inventory(inventory) if matcher is not None else []
    checks = [
        *(document.get("violations") or ()),
        *(i for i in document.get("ignored") or () if i["kind"] == "violation"),
    ]
    fields = Violation.__dataclass_fields__
    violations = [
        Violation(**{k: v for k, v in c.items() if k in fields and k != "platform"}, platform=platform) for c in checks
    ]
    return inventory, vulnerabilities, violations


def registry_sarif(store: Store, project: str, scan: Sequence[int]) -> SarifRun:
    """A registry's scan (the runs ``scan``), its image platforms as the store keeps them, as one SARIF
    run in the category its own run's file had: the registry's, and the filters' if it left images out
    (an upload replaces its category's alerts). Its workers' shares together are the whole scan."""
    registry = store.run(project, scan[0])["registry"]  # type: ignore[index]
    run = SarifRun(category(urlsplit(registry).netloc, selection=store.selection(scan[0])))
    for page in store.scanned_pages(project, scan):  # (a page at a time: the file keeps 25,000 results)
        for row, document in page:
            inventory, host, found, violations = stored_scan(row, document)
            run.add(inventory, host, found, violations, where=file_stem(inventory))
    return run


def by_layer(store: Store, project: str, scan: Sequence[int]) -> list[dict[str, Any]]:
    """The layers shared by several image platforms of a scan whose packages bring them vulnerabilities,
    the most image-findings first (what rebuilding on a fixed base would clear): each with the image
    platforms it brings them into and its vulnerabilities, each with how many of those images have it."""
    layers = store.by_layer(project, scan)
    found: dict[str, dict[str, Any]] = {
        row["layer"]: {
            "layer": row["layer"],
            "findings": row["findings"],
            "worst": LEVELS[row["worst"]],
            "images": set(),
            "vulnerabilities": {},
        }
        for row in layers
    }
    for row in store.layer_findings(project, scan, list(found)):
        layer = found[row["layer"]]
        image = f"{urlsplit(row['registry']).netloc}/{row['repository']}:{row['tag']}"
        layer["images"].add(image + (f"@{row['platform']}" if row["platform"] else ""))
        key = (row["id"], row["package"], row["installed"])
        vulnerability = layer["vulnerabilities"].setdefault(
            key,
            {"id": row["id"], "package": row["package"], "installed": row["installed"], "fixed": row["fixed"],
             "severity": row["severity"], "images": 0},
        )  # fmt: skip
        vulnerability["images"] += 1
    for layer in found.values():
        layer["images"] = sorted(layer["images"])
        layer["vulnerabilities"] = sorted(
            layer["vulnerabilities"].values(), key=lambda v: (-rank(v["severity"]), -v["images"], v["id"], v["package"])
        )
    return list(found.values())


def _show_by_layer(store: Store, project: str, run: int | None, output_format: str, out: TextIO) -> None:
    run = run if run is not None else store.latest_scan(project)
    if run is None:
        raise UsageError(f"project {project!r} has no scan yet: no layer to show")
    scan = store.scan_runs(project, run)
    layers = by_layer(store, project, scan)
    if output_format == "json":
        out.write(json.dumps({"run": run, "layers": layers}, indent=2) + "\n")
        return
    if not layers:
        out.write(f"No layer shared by several images brings a vulnerability in {_named(store, scan)}.\n")
        return
    out.write(
        f"Layers shared by several images that bring them vulnerabilities, in {_named(store, scan)} "
        "(rebuilding on a fixed base clears them in every image above it):\n"
    )
    for layer in layers:
        images = len(layer["images"])
        out.write(
            f"\n{layer['layer']}: {plural(layer['findings'], 'finding')} in {plural(images, 'image platform')}"
            f" (worst: {layer['worst'].lower()})\n"
        )
        out.write(safe(f"  images: {', '.join(layer['images'])}") + "\n")
        listed = [[v["id"], v["package"], v["installed"], v["fixed"] or "-", v["severity"], v["images"]]
                 for v in layer["vulnerabilities"]]  # fmt: skip
        headers = ["id", "package", "installed", "fixed", "severity", "images"]
        out.write("\n".join("  " + line for line in table(listed, headers=headers).splitlines()) + "\n")


def show(
    store: Store,
    project: str,
    run: int | None,
    image: str | None,
    output_format: str,
    out: TextIO,
    only_changes: bool = False,
    since: int | None = None,
    layers: bool = False,
) -> None:
    """`tcs-registry results`: the project's runs, what a run found and what changed since the images'
    previous scans, or one image's packages and findings (by default its latest scan, in whatever run);
    with ``layers``, the layers shared by several images that bring them vulnerabilities."""
    for asked in (run, since):
        if asked is not None and store.run(project, asked) is None:
            raise UsageError(f"no run {asked} in project {project!r}; `tcs-registry results` lists the runs")
    if layers:
        if output_format not in ("table", "json"):
            raise UsageError("--by-layer shows a table or JSON (--format json)")
        _show_by_layer(store, project, run, output_format, out)
        return
    if only_changes or since is not None:
        if output_format not in ("table", "json"):  # (a text table in a .sarif file, else)
            raise UsageError("--changes and --since show a table or JSON (--format json)")
        _show_changes(store, project, run, output_format, out, since)
        return
    repository, tag, platform = parse_image(image) if image else (None, None, None)
    scan = store.scan_runs(project, run) if run is not None else None  # a run shows its whole scan
    if output_format == "sarif" and not image:  # the registry's file, built a page at a time
        latest = store.latest_scan(project) if scan is None else run
        if latest is None:
            raise UsageError(f"project {project!r} has no scan yet: nothing to write as SARIF")
        if scan is not None and store.latest_scan(project, scan) is None:  # (empty, it would close every alert)
            raise UsageError(f"run {run} scanned no image (a dry run?): nothing to write as SARIF")
        sarif = registry_sarif(store, project, scan or store.scan_runs(project, latest))
        out.write(json.dumps(sarif.document(), indent=2) + "\n")
        if sarif.left_out:
            log.warning(
                "GitHub takes at most %d results a run: the %d least severe are left out", sarif.most, sarif.left_out
            )
        return
    if image and scan is None:
        scanned = store.last_scanned(project, repository or "", tag, platform)
    else:
        scanned = store.scanned(project, scan, repository=repository, tag=tag, platform=platform)
    host = image_host(image) if image else None
    if host:  # the image of that registry only, where the project has scanned several
        scanned = [(row, document) for row, document in scanned if urlsplit(row["registry"]).netloc == host]
    if image and not scanned:
        where = f"run {run}" if run else "any scan"
        raise UsageError(f"no image {image!r} in {where} of project {project!r}; `tcs-registry results` lists them")
    if output_format in ("json", "sarif"):
        if output_format == "sarif":
            _one(scanned, output_format, image)
            out.write(json.dumps(to_sarif(*stored_scan(*scanned[0])), indent=2) + "\n")
            return
        documents = [document for _, document in scanned]
        out.write(json.dumps(documents[0] if image and len(documents) == 1 else documents, indent=2) + "\n")
        return
    if output_format == "cyclonedx":
        _one(scanned, output_format, image)
        inventory, host, found, _ = stored_scan(*scanned[0])
        out.write(sbom.to_cyclonedx(inventory, host, found) + "\n")
        return
    if image:
        for row, document in scanned:
            line = f"{document.get('image')} {row['platform']} {row['digest']} {document.get('os') or ''}"
            out.write(safe(line) + "\n")
            packages = [
                (p["name"], p["version"], p["type"], p.get("source_name", ""), p["layer"][7:19], p["location"])
                for p in document.get("packages") or ()
            ]
            out.write(table(packages, headers=["name", "version", "type", "source", "layer", "location"]) + "\n\n")
            vulnerabilities = [
                (v["package"], v["installed_version"], v["fixed_version"], v["id"], v["severity"], _cut(v["title"], 60))
                for v in document.get("vulnerabilities") or ()
            ]
            if vulnerabilities:
                headers = ["package", "installed", "fixed", "vulnerability", "severity", "title"]
                out.write(table(vulnerabilities, headers=headers) + "\n\n")
            violations = [(c["id"], c["severity"], c["title"], c["detail"]) for c in document.get("violations") or ()]
            if violations:
                out.write(table(violations, headers=["check", "severity", "title", "detail"]) + "\n\n")
        return
    recorded = store.runs(project)
    if not recorded:
        out.write(f"No runs recorded for project {project!r} in {store.where}\n")
        return
    headers = ["run", "started", "registry", "mode", "status", "found", "scanned"]
    runs = [
        [r["id"], r["started_at"][:19], r["registry"], r["mode"], r["status"], r["images_found"], r["scanned"]]
        for r in recorded
    ]
    if any(r["shards"] > 1 or not is_own_scan(r["scan_id"]) for r in recorded):  # workers of scans
        headers += ["scan", "shard"]
        for row, r in zip(runs, recorded, strict=True):
            row += [r["scan_id"], f"{r['shard']}/{r['shards']}"]
    out.write(table(runs, headers=headers) + "\n\n")
    images = [
        (
            document["image"],
            row["platform"],
            row["run"],
            document.get("os") or "unknown",
            len(document.get("packages") or ()),
            *_counts(document),
        )
        for row, document in scanned
    ]
    if images:
        headers = ["image", "platform", "run", "os", "packages", "vulnerabilities", "violations"]
        out.write(table(images, headers=headers) + "\n\n")
        latest = max(row["run"] for row, _ in scanned)
        scan = store.scan_runs(project, latest)
        failed = [(f["repository"], f["tag"], f["reason"]) for f in store.failures(scan)]
        if failed:
            out.write(f"Failed in {_named(store, scan)}:\n")
            out.write(table(failed, headers=["repository", "tag", "reason"]) + "\n\n")
        _show_changes(store, project, latest, "table", out)


def _show_changes(
    store: Store, project: str, run: int | None, output_format: str, out: TextIO, since: int | None = None
) -> None:
    run = run if run is not None else store.latest_scan(project)
    if run is None:
        raise UsageError(f"project {project!r} has no scan yet: nothing to compare")
    scan = store.scan_runs(project, run)
    baseline = None
    if since is not None:
        baseline = store.scan_runs(project, since)
        if store.run(project, since)["registry"] != store.run(project, run)["registry"]:
            raise UsageError(f"--since {since}: run {since} is of another registry than run {run}")
        if max(baseline) >= min(scan):
            raise UsageError(f"--since {since}: run {since}'s scan is not before run {run}'s")
        if store.latest_scan(project, baseline) is None:
            raise UsageError(f"--since {since}: run {since} scanned no image (a dry run?): nothing to compare with")
    first = since is None and store.previous_scan(project, scan) is None
    compared, found = ([], []) if first else changes(store, project, scan, baseline)
    if output_format == "json":
        document = {
            "run": run,
            "previous": max(compared, default=None),
            "compared_with": compared,
            "changes": [asdict(c) for c in found],
        }
        out.write(json.dumps(document, indent=2) + "\n")
        return
    named = _named(store, scan)
    if first:
        named = named[:1].upper() + named[1:]
        out.write(f"{named} is the first scan of its registry in project {project!r}: nothing to compare\n")
        return
    if baseline is not None:
        than = _named(store, baseline)
    elif len(compared) == 1:
        than = f"run {compared[0]}"
    else:  # images last scanned by different runs (filtered ones), or none of them before
        than = f"each image's previous scan ({'runs ' + ', '.join(map(str, compared)) if compared else 'none'})"
    if not found:
        out.write(f"No changes in {named} since {than}\n")
    else:
        out.write(f"Changes in {named} since {than}:\n")
        rows = [(c.image, c.platform, c.change, c.detail) for c in found]
        out.write(table(rows, headers=["image", "platform", "change", "detail"]) + "\n")


def _one(scanned: list[tuple[Any, Any]], output_format: str, image: str | None) -> None:
    """A SARIF or CycloneDX document is of one image: what to add to ``--image`` when it names more."""
    if len(scanned) == 1:
        return
    hosts = sorted({urlsplit(row["registry"]).netloc for row, _ in scanned})
    tags = sorted({f"{row['repository']}:{row['tag']}" for row, _ in scanned})
    platforms = sorted({str(row["platform"]) for row, _ in scanned})
    if not image:
        how = "name it with --image (add @os/arch)"
    elif len(hosts) > 1:
        how = f"{image!r} is in {len(hosts)} registries ({', '.join(hosts)}): add the host, {hosts[0]}/{image}"
    elif len(tags) > 1:
        named = f"{hosts[0]}/{tags[0]}" if image.startswith(f"{hosts[0]}/") else tags[0]
        how = f"{image!r} names {len(tags)} tags ({', '.join(tags[:5])}): name one, {named}"
    elif len(platforms) > 1 and "@" not in image:
        how = f"{image!r} has {len(platforms)} platforms ({', '.join(platforms)}): add one, {image}@{platforms[0]}"
    else:  # (two registries on one host, under other paths)
        how = f"{image!r} is in {len(scanned)} scans: `tcs-registry results` lists them"
    raise UsageError(f"--format {output_format} needs exactly one image: {how}")
