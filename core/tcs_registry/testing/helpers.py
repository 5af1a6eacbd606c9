"""Helpers shared by the tests: reading reports and the state store."""

from __future__ import annotations

import csv
import sqlite3
import sys
from pathlib import Path

from tcs_registry.report import report_name
from tcs_registry.testing.datasets import Expected


def report_path(out_dir: Path, host: str) -> Path:
    """Where a dry run against ``host`` writes its report."""
    return out_dir / report_name(host)


def csv_rows(path: Path) -> list[list[str]]:
    with path.open(newline="") as handle:
        return list(csv.reader(handle))


def expected_rows(host: str, expected: list[Expected], skipped=lambda e: False) -> list[list[str]]:
    rows = [
        [f"{host}/{e.repository}", e.tag, "" if skipped(e) else e.build_time, "true" if skipped(e) else "false"]
        for e in expected
    ]
    return [["repository", "tag", "build_time", "skipped"], *sorted(rows, key=lambda r: (r[0], r[1]))]


def store_rows(state_dir: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(state_dir / "state.db") as db:
        return db.execute(sql).fetchall()


def console_script() -> str:
    """The installed ``tcs-registry`` command of the environment running the tests."""
    return str(Path(sys.executable).parent / "tcs-registry")
