"""A project's findings as the console lists them: each registry's latest scan (or one scan), one row a
finding, filtered and paged on the server."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..store import Store
from ..vulns.severity import LEVELS, rank

PAGE = 50  # rows a page, by default
MOST = 500  # rows a page, at most


@dataclass(frozen=True)
class Filters:
    severity: tuple[str, ...] = ()  # CRITICAL, HIGH... (empty: all)
    repository: str = ""  # a repository, or the start of one's name ("team/")
    package: str = ""  # vulnerabilities: a package; violations: a check id
    id: str = ""  # a vulnerability id or alias, or a check id
    fixable: bool | None = None  # vulnerabilities with a published fix (True) or without (False)
    scan: int | None = None  # a run: its scan (default: each registry's latest)

    @classmethod
    def parse(cls, params: dict[str, str]) -> Filters:
        severity = tuple(
            level for level in (s.strip().upper() for s in params.get("severity", "").split(",")) if level in LEVELS
        )
        fixable = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}.get(
            params.get("fixable", "").strip().lower()
        )
        scan = params.get("scan", "").strip()
        return cls(
            severity=severity,
            repository=params.get("repository", "").strip(),
            package=params.get("package", "").strip(),
            id=params.get("id", "").strip().upper(),
            fixable=fixable,
            scan=int(scan) if scan.isdigit() else None,
        )


@dataclass
class Page:
    items: list[dict[str, Any]]
    total: int
    offset: int
    limit: int
    counts: Counter[str] = field(default_factory=Counter)  # the filtered rows by severity

    @property
    def next_offset(self) -> int | None:
        return self.offset + self.limit if self.offset + self.limit < self.total else None


def scanned(store: Store, project: str, scan: int | None) -> list[tuple[Any, dict[str, Any]]]:
    """(scan row, document) of each image platform: of one scan, or of each registry's latest."""
    if scan is not None:
        return store.scanned(project, store.scan_runs(project, scan))
    found = []
    for registry in store.registries(project):
        found += store.scanned(project, store.scan_runs(project, registry["run"]))
    return found


def _image(row: Any) -> str:
    return f"{urlsplit(row['registry']).netloc}/{row['repository']}:{row['tag']}"


def rows(store: Store, project: str, kind: str, filters: Filters) -> list[dict[str, Any]]:
    """Every finding of one kind (``vulnerabilities``, ``violations``) the filters keep, worst first."""
    found = []
    for row, document in scanned(store, project, filters.scan):
        if filters.repository and not row["repository"].startswith(filters.repository):
            continue
        image, platform = _image(row), row["platform"]
        for item in document.get(kind) or ():
            if kind == "vulnerabilities":
                entry = {
                    "image": image,
                    "platform": platform,
                    "package": item["package"],
                    "installed": item["installed_version"],
                    "fixed": item["fixed_version"],
                    "id": item["id"],
                    "aliases": list(item.get("aliases") or ()),
                    "severity": item["severity"],
                    "title": item.get("title", ""),
                    "run": row["run"],
                }
                ids = {entry["id"].upper(), *(a.upper() for a in entry["aliases"])}
                if filters.package and entry["package"] != filters.package:
                    continue
                if filters.id and filters.id not in ids:
                    continue
                if filters.fixable is not None and bool(entry["fixed"]) != filters.fixable:
                    continue
            else:
                entry = {
                    "image": image,
                    "platform": platform,
                    "check": item["id"],
                    "severity": item["severity"],
                    "title": item["title"],
                    "detail": item["detail"],
                    "run": row["run"],
                }
                if filters.id and entry["check"].upper() != filters.id:
                    continue
            if filters.severity and entry["severity"] not in filters.severity:
                continue
            found.append(entry)
    key = "id" if kind == "vulnerabilities" else "check"
    found.sort(key=lambda e: (-rank(e["severity"]), e["image"], e["platform"], e.get("package", ""), e[key]))
    return found


def page(store: Store, project: str, kind: str, filters: Filters, offset: int = 0, limit: int = PAGE) -> Page:
    found = rows(store, project, kind, filters)
    limit = max(1, min(limit, MOST))
    offset = max(0, offset)
    counts = Counter(entry["severity"] for entry in found)
    return Page(found[offset : offset + limit], len(found), offset, limit, counts)
