"""Plan -> apply: a dry run's CSV report, perhaps edited (rows set to ``skipped=true``, rows deleted), is
the list of images a scan takes (`--plan REPORT.csv`), at the digests that dry run saw (the store keeps
them, `Store.plans`). A tag that names another digest now has moved since the plan: a failure, unless
`--plan-follow-tags`."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UsageError
from .report import COLUMNS
from .store import Store

MOST_ROWS = 1_000_000  # rows a plan may have


@dataclass(frozen=True)
class Plan:
    path: Path
    images: tuple[tuple[str, str], ...]  # (repository, tag) to scan, in the report's order
    digests: dict[tuple[str, str], str] = field(default_factory=dict)  # what the dry run saw of each
    run: int | None = None  # that dry run


def read_plan(path: Path, host: str) -> Plan:
    """The images a report (of the registry at ``host``) plans to scan: its rows whose ``skipped`` is
    ``false``. One line for a file that is not such a report, or is another registry's."""
    where = str(path)
    try:
        with open(path, newline="", encoding="utf-8") as file:
            rows = list(csv.reader(file))
    except OSError as exc:
        raise UsageError(f"--plan {where!r} cannot be read: {exc.strerror}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"--plan {where!r} is not a dry run's CSV report: {exc}") from None
    if not rows or tuple(rows[0]) != COLUMNS:
        raise UsageError(f"--plan {where!r} is not a dry run's CSV report: its header is not {','.join(COLUMNS)}")
    if len(rows) > MOST_ROWS:
        raise UsageError(f"--plan {where!r} has more than {MOST_ROWS} rows")
    images: dict[tuple[str, str], None] = {}
    for number, row in enumerate(rows[1:], 2):
        if len(row) != len(COLUMNS) or row[3] not in ("true", "false"):
            raise UsageError(f"--plan {where!r} line {number}: not a report row (repository,tag,build_time,true|false)")
        name, tag, skipped = row[0], row[1], row[3] == "true"
        registry, _, repository = name.partition("/")
        if registry != host:
            raise UsageError(f"--plan {where!r} is a report of {registry}, not of {host} (line {number})")
        if not skipped:
            images[(repository, tag)] = None
    return Plan(path, tuple(images))


def locate(plan: Plan, store: Store, project: str, registry: str) -> Plan:
    """The plan with the digests of the dry run that wrote it: the last of the registry's dry runs in the
    project that described every image it plans (the run whose report is this very file first)."""
    wanted = set(plan.images)
    mine = plan.path.resolve()
    candidates = sorted(
        store.plans(project, registry), key=lambda item: Path(item[0]["report"] or "").resolve() != mine
    )
    for run, digests in candidates:
        if wanted <= digests.keys():
            return Plan(plan.path, plan.images, {image: digests[image] for image in plan.images}, run["id"])
    raise UsageError(
        f"--plan {str(plan.path)!r}: no dry run of {registry} in project {project!r} described these images; "
        "run the dry run (with this store) and scan its report"
    )
