"""Helpers shared by the tests: reading reports and the state store."""

from __future__ import annotations

import csv
import fcntl
import json
import os
import pty
import select
import sqlite3
import struct
import subprocess
import sys
import termios
from pathlib import Path
from typing import Any

from tcs_registry.report import report_name
from tcs_registry.results import results_dir
from tcs_registry.testing.datasets import Expected


def report_path(out_dir: Path, host: str) -> Path:
    """Where a dry run against ``host`` writes its report."""
    return out_dir / report_name(host)


def failures_path(out_dir: Path, host: str) -> Path:
    """Where a run against ``host`` lists what failed, and why."""
    return out_dir / report_name(host, "failures")


def csv_rows(path: Path) -> list[list[str]]:
    with path.open(newline="") as handle:
        return list(csv.reader(handle))


def sorted_report(out_dir: Path, host: str) -> list[list[str]]:
    """A dry run's report, its rows in repository and tag order (a registry whose listings are in an order
    of its own, such as creation, lists them so)."""
    header, *rows = csv_rows(report_path(out_dir, host))
    return [header, *sorted(rows, key=lambda r: (r[0], r[1]))]


def expected_rows(
    host: str, expected: list[Expected], skipped=lambda e: False, dated_skipped: bool = True
) -> list[list[str]]:
    """The report a dry run writes: every row in repository and tag order; the images ``skipped`` picks
    out are described all the same (``dated_skipped=False``: where describing would cost a pull)."""
    rows = [
        [
            f"{host}/{e.repository}",
            e.tag,
            "" if skipped(e) and not dated_skipped else e.build_time,
            "true" if skipped(e) else "false",
        ]
        for e in expected
    ]
    return [["repository", "tag", "build_time", "skipped"], *sorted(rows, key=lambda r: (r[0], r[1]))]


def namespace_run(tcs: Any, url: str, namespace: str, expected: list[Expected], out_dir: Path, **kwargs: Any) -> None:
    """A dry run of ``url``/``namespace`` (a vendor whose URL path names a namespace) reports the images
    under it, and only those: a part of the registry, not the whole of it, nor nothing."""
    result = tcs("registry", f"{url}/{namespace}", "--mode=dry-run", **kwargs)
    assert result.code == 0, result.err
    under = [e for e in expected if e.repository.startswith(f"{namespace}/")]
    assert 0 < len(under) < len(expected)
    host = url.split("://", 1)[1]
    assert csv_rows(report_path(out_dir, host)) == expected_rows(host, under)


def store_rows(state_dir: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(state_dir / "state.db") as db:
        return db.execute(sql).fetchall()


def as_if_killed(state_dir: Path) -> int:
    """Marks the latest run as a killed one (status 'running', as SIGKILL leaves it); returns its id."""
    with sqlite3.connect(state_dir / "state.db") as db:
        db.execute("UPDATE runs SET status = 'running' WHERE id = (SELECT MAX(id) FROM runs)")
        return db.execute("SELECT MAX(id) FROM runs").fetchone()[0]


def console_script() -> str:
    """The installed ``tcs-registry`` command of the environment running the tests."""
    return str(Path(sys.executable).parent / "tcs-registry")


def inventory(out_dir: Path, host: str, repository: str, tag: str, platform: str | None = None) -> dict:
    """The JSON inventory a scan with ``--format json`` wrote for one image (platform ``linux/arm64``)."""
    stem = f"{repository}/{tag}" + (f"@{platform.replace('/', '-')}" if platform else "")
    return json.loads((results_dir(out_dir, host) / f"{stem}.json").read_text())


def vulnerabilities(out_dir: Path, host: str, repository: str, tag: str) -> list[tuple[str, str, str, str]]:
    """(package, installed, vulnerability, fixed in) of one image, sorted, as ``--format json`` wrote them."""
    document = inventory(out_dir, host, repository, tag)
    found = document.get("vulnerabilities", ())  # (none: not matched)
    return sorted((v["package"], v["installed_version"], v["id"], v["fixed_version"]) for v in found)


def package_rows(document: dict, *fields: str) -> list[tuple]:
    """The inventory's packages as sorted tuples of ``fields`` (default name, version, source, layer)."""
    fields = fields or ("name", "version", "source_name", "source_version")
    return sorted(tuple(p.get(f, "") for f in fields) for p in document["packages"])


def run_on_a_terminal(command: list[str], size: tuple[int, int] = (50, 200)) -> tuple[int, str, str]:
    """The command with standard error on a pseudo-terminal of ``size`` (rows, columns) as in a person's
    shell, and standard output on a pipe; returns (exit code, what the terminal showed, standard output)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", *size, 0, 0))
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=follower, stdin=subprocess.DEVNULL)
    os.close(follower)
    shown = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the other end is closed: the process has exited
            break
        if not chunk:
            break
        shown += chunk
    out = process.stdout.read().decode() if process.stdout else ""
    code = process.wait(60)
    os.close(leader)
    return code, shown.decode(errors="replace"), out
