"""The dry-run CSV report and the closing summary."""

from __future__ import annotations

import csv
import logging
import re
import tempfile
import time
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TextIO

from .errors import UsageError
from .files import check_writable, open_private, private_dir, refusal
from .redaction import hide_in_name

COLUMNS = ("repository", "tag", "build_time", "skipped")
FLUSH_SECONDS = 1.0
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

log = logging.getLogger("tcs_registry")


def report_name(host: str, kind: str = "report", shard: tuple[int, int] = (1, 1)) -> str:
    """``localhost:5000`` -> ``localhost-5000-report.csv``; ``test.azurecr.io`` -> ``test-azurecr-io-report.csv``
    (``kind="failures"``: ``...-failures.csv``; the 2nd of 4 shards: ``...-report.shard-2-of-4.csv``)."""
    share = f".shard-{shard[0]}-of-{shard[1]}" if shard[1] > 1 else ""
    # (an IPv6 host's brackets are glob characters, and a leading - reads as an option: [::1]:5000 -> 1-5000)
    return re.sub(r"[^A-Za-z0-9_-]+", "-", host).strip("-") + f"-{kind}{share}.csv"


def check_output_dir(directory: Path) -> None:
    """The output directory made if it is missing, and a file made in it and removed: one that cannot
    be written is refused before the registry is asked anything (UsageError)."""
    try:
        private_dir(directory)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        raise UsageError(f"cannot write to {str(directory)!r}: {refusal(exc)}; use --output-dir") from None


def safe_cell(value: str) -> str:
    """Neutralise a cell a spreadsheet would run as a formula (CSV injection)."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def open_csv(path: Path, columns: tuple[str, ...]) -> tuple[IO[str], Any]:
    """A private CSV file with its header row written: (file, csv writer)."""
    handle = open_private(path, newline="")
    writer = csv.writer(handle, lineterminator="\n")  # read by awk and grep as much as by spreadsheets
    writer.writerow(columns)
    handle.flush()
    return handle, writer


class CsvFile:
    """A CSV file written as a run goes, made with its first row (or when ``_write(None)`` asks for it):
    a write the disk refuses (a full disk) is one error line and ``broken``, and the run goes on (the
    store has everything all the same); the summary names the file only if it was ``written`` whole."""

    COLUMNS: tuple[str, ...] = ()
    WHAT = "report"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None
        self._writer: Any = None
        self.broken = False

    @property
    def written(self) -> bool:
        return self._file is not None and not self.broken

    def _refused(self, exc: OSError) -> UsageError:
        return UsageError(f"cannot write the {self.WHAT} {str(self.path)!r}: {refusal(exc)}; use --output-dir")

    def _write(self, row: list[str] | None, flush: bool = False) -> None:
        """The row written (None: the file made, if it is not), unless a write was refused before."""
        if self.broken:
            return
        try:
            if self._file is None:
                self._file, self._writer = open_csv(self.path, self.COLUMNS)
            if row is not None:
                self._writer.writerow(row)
            if flush:
                self._file.flush()
        except OSError as exc:
            self.broken = True
            log.error("Cannot write the %s %s: %s", self.WHAT, self.path, refusal(exc))

    def close(self) -> None:
        if self._file is not None:
            with suppress(OSError):  # (what could not be written was said)
                self._file.close()


class CsvReport(CsvFile):
    """Rows are written as they come and flushed at least once a second (and at the end), so an
    interrupted run leaves a usable report. The file is made with its first row, or at the end of a run
    that finished with none (an empty registry): a run that fails or is stopped before its first row
    leaves the last run's report as it was, not an empty one in its place."""

    COLUMNS = COLUMNS

    def __init__(self, directory: Path, host: str, shard: tuple[int, int] = (1, 1)) -> None:
        super().__init__(directory / report_name(host, shard=shard))
        self._flushed = time.monotonic()
        try:  # writable (not a directory, not a link): said now, not at the first row
            check_writable(self.path)
        except OSError as exc:
            raise self._refused(exc) from None

    def row(self, repository: str, tag: str, build_time: str, skipped: bool) -> None:
        name, tag = safe_cell(hide_in_name(repository)), safe_cell(hide_in_name(tag))  # (a credential echoed)
        now = time.monotonic()
        flush = now - self._flushed >= FLUSH_SECONDS  # on disk within a second, without a write a row
        self._write([name, tag, build_time, "true" if skipped else "false"], flush)
        if flush:
            self._flushed = now

    def close(self, finished: bool = True) -> None:
        """``finished``: the run ended (complete or partial), a report of no rows is its answer too."""
        if finished:
            self._write(None, flush=True)
        super().close()


class FailureReport(CsvFile):
    """Every repository and image that failed, and why: ``<host>-failures.csv`` (repository, tag,
    code, reason; the tag empty for a repository whose tags could not be listed), written as failures
    come and only if there are any. A previous run's file is removed when a run starts."""

    COLUMNS = ("repository", "tag", "code", "reason")
    WHAT = "failures report"

    def __init__(self, directory: Path, host: str, shard: tuple[int, int] = (1, 1)) -> None:
        super().__init__(directory / report_name(host, "failures", shard))
        self.codes: Counter[str] = Counter()  # the failures by code
        try:
            self.path.unlink(missing_ok=True)
        except OSError as exc:  # the output directory is a file, the report's name a directory
            raise self._refused(exc) from None

    @property
    def count(self) -> int:
        return self.codes.total()

    def add(self, repository: str, tag: str, code: str, reason: str) -> None:
        self.codes[code] += 1
        # failures are few: each reaches the disk at once
        self._write([safe_cell(repository), safe_cell(tag), code, safe_cell(reason)], flush=True)


@dataclass
class Summary:
    found: int = 0
    new: int = 0
    skipped: int = 0
    failed: int = 0
    failed_repositories: int = 0
    undone: int = 0  # admitted images not processed because the registry's quota ran out
    violations: str = ""
    vulnerabilities: str = ""
    inventories: str = ""  # scan mode: how many packages were found and where the results are
    failures: str = ""  # where the reasons of the failures are
    codes: str = ""  # the failures by code: "not-found 2, auth 1"
    coverage: str = ""  # with --min-coverage: the share of the admitted images done
    shard: str = ""  # "2 of 4 (scan ID)" for a worker that took a share of the images
    report: str = ""  # a dry run's CSV report
    estimate: list[str] = field(default_factory=list)  # a dry run: what a scan of its images would cost
    ignored: str = ""  # findings ignore rules set aside, and where the rules are
    severities: tuple[str, ...] = ()  # the severities shown (--severity), if not all

    def write(self, out: TextIO) -> None:
        lines = [
            "Registry Summary:",
            *([f"    Shard                 : {self.shard}"] if self.shard else []),
            f"    Total images found    : {plural(self.found, 'tag')}",
            f"    New images found      : {plural(self.new, 'digest')} not seen before in the project",
        ]
        if self.skipped:
            lines.append(f"    Skipped images        : {self.skipped:,}")
        if self.failed:
            lines.append(f"    Failed images         : {self.failed:,}")
        if self.failed_repositories:
            lines.append(f"    Failed repositories   : {self.failed_repositories:,}")
        if self.undone:
            lines.append(f"    Left undone           : {self.undone:,}")
        if self.codes:
            lines.append(f"    Failures by code      : {self.codes}")
        if self.failures:
            lines.append(f"    Failure details       : {self.failures}")
        if self.coverage:
            lines.append(f"    Coverage              : {self.coverage}")
        if self.report:
            lines.append(f"    Report                : {self.report}")
        lines += self.estimate
        if self.inventories:
            lines.append(f"    Package inventories       : {self.inventories}")
        if self.ignored:
            lines.append(f"    Ignored findings          : {self.ignored}")
        only = f" (only {', '.join(self.severities)}: --severity)" if self.severities else ""
        lines += [
            f"    Violation details         : {self.violations}{only}",
            f"    Vulnerability details     : {self.vulnerabilities}{only}",
        ]
        out.write("\n".join(lines) + "\n")


def plural(count: int, noun: str) -> str:
    """``1 tag``, ``2 tags``, ``1,000 tags`` (the live line's thousands separators), ``2 repositories``."""
    if count == 1:
        return f"{count:,} {noun}"
    return f"{count:,} {noun[:-1] + 'ies' if noun.endswith('y') and noun[-2:-1] not in 'aeiou' else noun + 's'}"
