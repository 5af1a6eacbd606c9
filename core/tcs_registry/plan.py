"""Plan -> apply: a dry run's CSV report, perhaps edited (rows set to ``skipped=true``, rows deleted), is
the list of images a scan takes (`--plan REPORT.csv`), at the digests that dry run saw (the store keeps
them, `Store.plans`). A tag that names another digest now has moved since the plan: a failure, unless
`--plan-follow-tags`."""

from __future__ import annotations

import csv
import hashlib
import json
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

    @property
    def key(self) -> str:
        """The plan's identity: its dry run and images (the same edited file, the same plan)."""
        text = json.dumps([self.run, self.images])
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def read_plan(path: Path, host: str) -> Plan:
    """The images a report (of the registry at ``host``) plans to scan: its rows whose ``skipped`` is
    ``false``. As a spreadsheet saves it too (a byte order mark, ``TRUE``/``FALSE``, CRLF, blank lines).
    One line for a file that is not such a report, or is another registry's."""
    where = str(path)
    images: dict[tuple[str, str], None] = {}
    try:
        with open(path, newline="", encoding="utf-8-sig") as file:
            rows = csv.reader(file)
            if tuple(cell.strip() for cell in next(rows, ())) != COLUMNS:
                raise UsageError(
                    f"--plan {where!r} is not a dry run's CSV report: its header is not {','.join(COLUMNS)}"
                )
            for number, row in enumerate(rows, 2):
                if number > MOST_ROWS:
                    raise UsageError(f"--plan {where!r} has more than {MOST_ROWS} rows")
                if not any(cell.strip() for cell in row):
                    continue
                skipped = row[3].strip().lower() if len(row) == len(COLUMNS) else ""
                if skipped not in ("true", "false"):
                    raise UsageError(
                        f"--plan {where!r} line {number}: not a report row (repository,tag,build_time,true|false)"
                    )
                registry, _, repository = row[0].strip().partition("/")
                if registry != host:
                    raise UsageError(f"--plan {where!r} is a report of {registry}, not of {host} (line {number})")
                if skipped == "false":
                    images[(repository, row[1].strip())] = None
    except OSError as exc:
        raise UsageError(f"--plan {where!r} cannot be read: {exc.strerror}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"--plan {where!r} is not a dry run's CSV report: {exc}") from None
    return Plan(path, tuple(images))


def locate(plan: Plan, store: Store, project: str, registry: str) -> Plan:
    """The plan with the digests of the dry run that wrote it (all its workers', for a sharded one): the
    one whose report is this very file, else the last of the registry's dry runs in the project that
    described every planned image - refused when another of those saw other digests for them (a copy of
    an older report, after a newer dry run: which did the person review?)."""
    wanted = set(plan.images)
    mine = plan.path.resolve()
    plans = store.plans(project, registry)
    found = [(run, digests) for run, digests in plans if wanted <= digests.keys()]
    nearest = max(plans, key=lambda p: len(wanted & p[1].keys()), default=None)
    if not found and nearest is not None and wanted & nearest[1].keys():  # rows it never described: added?
        run, digests = nearest
        missing = [f"{repository}:{tag}" for repository, tag in plan.images if (repository, tag) not in digests]
        more = f" (and {len(missing) - 1:,} more)" if len(missing) > 1 else ""
        raise UsageError(
            f"--plan {str(plan.path)!r}: {missing[0]!r}{more} was described by no dry run of {registry} in "
            f"project {project!r} (the nearest: run {run['id']}); a row added or edited? Leave it out, or run the "
            "dry run again and scan its report"
        )
    if not found:
        raise UsageError(
            f"--plan {str(plan.path)!r}: no dry run of {registry} in project {project!r} described these "
            "images; run the dry run (with this store) and scan its report"
        )
    chosen = next(((r, d) for r, d in found if any(Path(p).resolve() == mine for p in r["reports"])), None)
    if chosen is None:
        seen = {tuple(d[image] for image in plan.images) for _, d in found}
        if len(seen) > 1:
            runs = ", ".join(str(r["id"]) for r, _ in found)
            raise UsageError(
                f"--plan {str(plan.path)!r}: the dry runs {runs} saw other digests for these images, and none "
                "wrote this file; scan the report where its dry run wrote it"
            )
        chosen = found[0]
    run, digests = chosen
    return Plan(plan.path, plan.images, {image: digests[image] for image in plan.images}, run["id"])
