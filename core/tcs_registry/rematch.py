"""`tcs-registry rematch`: new advisories appear every day, images do not change. The packages a
project's latest scan of each registry stored are matched again against the vulnerability database as it
is now, without asking any registry anything; each registry's re-match is recorded as a scan run of its
own, so `results --changes` shows what the new (or withdrawn) advisories changed."""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from .errors import TcsError, UsageError
from .report import plural
from .results import comparable, counts_text, finding_keys, findings_document, matched_again
from .settings import ignore_rules
from .store import Store
from .vulns.database import VulnDatabase
from .vulns.matching import Matcher

log = logging.getLogger(__name__)
BATCH = 500  # image platforms recorded a transaction
FINDINGS = ("vulnerabilities", "violations", "ignored")  # a stored scan's keys that are not its inventory


def rematch(store: Store, project: str, state_dir: Path, out: TextIO, *, ignore_file: str | None = None,
            config_path: Path | None = None) -> None:  # fmt: skip
    """Re-match the latest scan of each registry of ``project`` and print what it found and changed."""
    database = VulnDatabase(state_dir)
    if database.is_empty():
        where = str(state_dir)
        raise TcsError(  # exit 3: no data to work on, as `db status`'s
            f"the vulnerability database in {where!r} is empty: `tcs-registry db update` (or import) first"
        )
    registries = store.registries(project)
    if not registries:
        raise UsageError(f"project {project!r} has no scan yet: nothing to match again")
    matcher = Matcher(database)
    for registry in registries:
        _rematch_registry(store, project, registry["registry"], registry["run"], matcher, out,
                          ignore_rules(ignore_file, config_path, urlsplit(registry["registry"]).netloc))  # fmt: skip


def _rematch_registry(
    store: Store, project: str, registry: str, latest: int, matcher: Matcher, out: TextIO, ignore: Any
) -> None:
    scan = store.scan_runs(project, latest)
    original = store.run(project, latest)
    assert original is not None
    # its own mode: never resumed by a scan, nor keeping a killed scan from being resumed; the filters
    # of the scan it matches again kept (its SARIF's category)
    options = json.dumps({"rematch": latest, "selection": store.selection(latest)})
    run = store.begin_run(project, registry, original["registry_type"], "rematch", options)
    try:
        lines = _match(store, project, registry, scan, run, matcher, ignore)
    except BaseException:
        store.discard(run)
        raise
    out.write("\n".join(lines) + "\n")


def _match(
    store: Store, project: str, registry: str, scan: list[int], run: int, matcher: Matcher, ignore: Any
) -> list[str]:
    log.info("Matching again run=%d registry=%s scan=%s", run, registry, ", ".join(map(str, scan)))
    severities: Counter[str] = Counter()
    changed: Counter[str] = Counter()  # what `results --changes` will say: the scan matched again is
    tags, platforms = set(), 0  # each image's previous one
    batches: dict[str, list[Any]] = {}  # by the analyser that made the inventories: they stay its
    for row, document in (item for page in store.scanned_pages(project, scan) for item in page):
        inventory, vulnerabilities, violations = matched_again(matcher, row, document)
        repository, tag = inventory.repository, inventory.tag
        vulnerabilities, violations, ignored = ignore.split(repository, tag, vulnerabilities, violations)
        severities.update(v.severity for v in vulnerabilities)
        found = findings_document(vulnerabilities, violations, ignored, inventory.matchable)
        matched = comparable(document, found)
        old, new = finding_keys(document, matched), finding_keys(found, matched)
        changed.update(f"new {kind}" for kind, *_ in new.keys() - old.keys())
        changed.update(f"fixed {kind}" for kind, *_ in old.keys() - new.keys())
        if "vulnerabilities" not in document:  # (results --changes says nothing of them: nothing to compare with)
            changed["first matched"] += len(found.get("vulnerabilities", ()))
        stored = {key: value for key, value in document.items() if key not in FINDINGS}  # its inventory, as kept
        batch = batches.setdefault(row["analyser"], [])
        batch.append((inventory, stored, found))
        tags.add((repository, tag))
        platforms += 1
        if len(batch) >= BATCH:
            store.record(run, project, registry, scanned=batch, analyser=row["analyser"])
            batch.clear()
    for analyser, batch in batches.items():
        if batch:
            store.record(run, project, registry, scanned=batch, analyser=analyser)
    store.finish_run(run, status="complete", found=len(tags), new=0, skipped=0, failed=0, report=None)
    lines = [
        f"Matched again: {registry} (run {run}, the packages of run {', '.join(map(str, scan))}; no registry asked)",
        f"    Images                : {plural(len(tags), 'tag')}, {plural(platforms, 'image platform')}",
        f"    Vulnerabilities       : {counts_text(severities) or 'none'}",
        f"    New vulnerabilities   : {changed['new vulnerability']:,}",
        f"    Fixed vulnerabilities : {changed['fixed vulnerability']:,} (withdrawn or corrected advisories)",
        f"    Changes               : tcs-registry results --changes --run {run}",
    ]
    if changed["first matched"]:
        lines.insert(
            4, f"    First matched         : {changed['first matched']:,} (the scan had no vulnerability database)"
        )
    if ignore.ignored:
        lines.insert(3, f"    Ignored findings      : {ignore.ignored:,} (the rules in {ignore.path})")
    return lines
