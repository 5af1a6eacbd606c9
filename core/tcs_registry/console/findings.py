"""A project's findings as the console lists them: each registry's latest scan (or one scan), one row a
finding, filtered and paged by the store (its ``finding_rows``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from ..store import Store
from ..vulns.severity import LEVELS

PAGE = 50  # rows a page, by default
MOST = 500  # rows a page, at most
KINDS = {"vulnerabilities": "vulnerability", "violations": "violation"}


@dataclass(frozen=True)
class Filters:
    severity: tuple[str, ...] = ()  # CRITICAL, HIGH... (empty: all)
    repository: str = ""  # a repository, or the start of one's name ("team/")
    package: str = ""  # vulnerabilities: a package
    id: str = ""  # a vulnerability id or alias, or a check id
    fixable: bool | None = None  # vulnerabilities with a published fix (True) or without (False)
    scan: int | None = None  # a run: its scan (default: each registry's latest)
    layer: str = ""  # the diff_id of the layer that brought the package

    @classmethod
    def parse(cls, params: dict[str, str]) -> Filters:
        """The filters of a query; one that names what is not there (a typo: ``severity=crit``, or
        ``sevrity=critical``) is a FilterError, not a wider list."""
        if unknown_names := sorted(set(params) - FILTERS):
            raise FilterError(f"{shown(unknown_names[0])} is no filter: {', '.join(sorted(FILTERS))}")
        if too_long := [name for name, value in params.items() if len(value) > LONGEST]:
            raise FilterError(f"{too_long[0]} is at most {LONGEST} characters")
        severity = tuple(level for level in (s.strip().upper() for s in params.get("severity", "").split(",")) if level)
        if unknown := [level for level in severity if level not in LEVELS]:
            levels = ", ".join(level.lower() for level in reversed(LEVELS))
            raise FilterError(f"severity {shown(unknown[0].lower())} is none of {levels} (several with commas)")
        fixable_text = params.get("fixable", "").strip().lower()
        if fixable_text and fixable_text not in FIXABLE:
            raise FilterError("fixable is true or false")
        scan = query_number(params.get("scan", ""))
        if scan == 0:
            raise FilterError("scan is a run's number")
        return cls(
            severity=severity,
            repository=params.get("repository", "").strip(),
            package=params.get("package", "").strip(),
            id=params.get("id", "").strip(),
            fixable=FIXABLE.get(fixable_text),
            scan=scan,
            layer=params.get("layer", "").strip(),
        )


class FilterError(ValueError):
    """A query's filter that names nothing there is (a bad severity, a run that is not a number)."""


FILTERS = {f.name for f in fields(Filters)}  # the names a query may have
LONGEST = 4096  # characters a filter's value may have (a name or tag is shorter)


def shown(text: str) -> str:
    """A value of the query in an error: quoted if short (a long one may be anything: a token pasted in
    the wrong place, a megabyte)."""
    return repr(text) if len(text) <= 16 else "of that length"


FIXABLE = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def query_number(text: str) -> int | None:
    """A number in a query or a path (a run's, a page's, a token's id): none for ``""``; 0, which names
    none, for what is not a positive number of ASCII digits (int() takes any script's) under 10 digits."""
    text = text.strip()
    return None if not text else int(text) if text.isdecimal() and text.isascii() and len(text) < 10 else 0


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


def scan_runs(store: Store, project: str, scan: int | None) -> list[int]:
    """The runs of one scan, or of each registry's latest scan."""
    if scan is not None:
        return store.scan_runs(project, scan)
    return [run for registry in store.registries(project) for run in store.scan_runs(project, registry["run"])]


def image_link(project: str, registry: str, repository: str, tag: str, run: int | None = None) -> str:
    """The console's page of an image: its latest scan, or its scan in ``run``."""
    query = {"registry": registry, "repository": repository, "tag": tag, **({"run": run} if run else {})}
    return f"/projects/{quote(project, safe='')}/image?{urlencode(query)}"


def _item(kind: str, row: Any) -> dict[str, Any]:
    image = f"{urlsplit(row['registry']).netloc}/{row['repository']}:{row['tag']}"
    if kind == "vulnerabilities":
        return {
            "image": image,
            "platform": row["platform"],
            "package": row["package"],
            "installed": row["installed"],
            "fixed": row["fixed"],
            "id": row["id"],
            "aliases": row["aliases"].split(),
            "severity": row["severity"],
            "title": row["title"],
            "run": row["run"],
        }
    return {
        "image": image,
        "platform": row["platform"],
        "check": row["id"],
        "severity": row["severity"],
        "title": row["title"],
        "detail": row["detail"],
        "run": row["run"],
    }


def page(
    store: Store,
    project: str,
    kind: str,
    filters: Filters,
    offset: int = 0,
    limit: int = PAGE,
    *,
    most: int = MOST,
    links: bool = False,
) -> Page:
    """A page of a project's findings of one kind (``vulnerabilities``, ``violations``), worst first, of at
    most ``most`` rows; with ``links``, each item links to its image's page (the pages' tables)."""
    limit, offset = max(1, min(limit, most)), max(0, offset)
    runs = scan_runs(store, project, filters.scan)
    rows, counts = store.list_findings(
        project,
        runs,
        KINDS[kind],
        severities=filters.severity,
        repository=filters.repository,
        package=filters.package if kind == "vulnerabilities" else "",
        finding=filters.id,
        fixable=filters.fixable if kind == "vulnerabilities" else None,
        layer=filters.layer if kind == "vulnerabilities" else "",
        offset=offset,
        limit=limit,
    )
    items = [
        _item(kind, row)
        | ({"link": image_link(project, row["registry"], row["repository"], row["tag"])} if links else {})
        for row in rows
    ]
    return Page(items, sum(counts.values()), offset, limit, Counter(counts))
