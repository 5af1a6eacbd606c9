"""The offline OSV database: records imported from JSON files, directories or the per-ecosystem
``all.zip`` archives, indexed in SQLite by (ecosystem, package name), and updated from the OSV bucket.

One file, ``osv.db``, beside the state store. A record is kept whole (zlib JSON) and indexed once per
affected package; a re-import replaces a record only with one at least as new (``modified``).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import tempfile
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from ..errors import EXIT_REGISTRY, TcsError, UsageError
from ..files import private_dir, private_file
from ..oci import parse_time
from ..packed import pack, unpack
from ..redaction import hide, redact, shown_url
from .versions import ecosystem_base, parser

log = logging.getLogger("tcs_registry")

FILENAME = "osv.db"
BUCKET = "https://osv-vulnerabilities.storage.googleapis.com"
# what `db update` fetches into an empty database: every ecosystem the image analysis reports
DEFAULT_ECOSYSTEMS = (
    "AlmaLinux",
    "Alpine",
    "Azure Linux",
    "Chainguard",
    "crates.io",
    "Debian",
    "Go",
    "Maven",
    "npm",
    "NuGet",
    "openEuler",
    "openSUSE",
    "Packagist",
    "PyPI",
    "Red Hat",
    "Rocky Linux",
    "RubyGems",
    "SUSE",
    "Ubuntu",
    "Wolfi",
)
MAX_RECORD = 32 * 1024 * 1024  # bytes: no real OSV record is near this
INCREMENTAL_LIMIT = 2000  # more changed records than this: fetch the archive instead

SCHEMA = """
CREATE TABLE IF NOT EXISTS vulns (
    id TEXT PRIMARY KEY,
    modified TEXT NOT NULL,
    withdrawn TEXT,
    record BLOB NOT NULL  -- zlib-compressed JSON
);
CREATE TABLE IF NOT EXISTS affected (
    ecosystem TEXT NOT NULL,  -- as the record says: Debian:12, Alpine:v3.19, PyPI
    base TEXT NOT NULL,       -- Debian, Alpine, PyPI
    name TEXT NOT NULL,       -- PyPI names normalised (PEP 503)
    vuln_id TEXT NOT NULL REFERENCES vulns(id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS affected_by_name ON affected (ecosystem, name);
CREATE INDEX IF NOT EXISTS affected_by_vuln ON affected (vuln_id);
-- records naming versions their ecosystem's order cannot read (those range events are skipped)
CREATE TABLE IF NOT EXISTS unreadable (
    vuln_id TEXT PRIMARY KEY REFERENCES vulns(id) ON DELETE CASCADE,
    versions TEXT NOT NULL
);
-- where each ecosystem's records came from and when, for `db status` and incremental updates
CREATE TABLE IF NOT EXISTS sources (
    base TEXT PRIMARY KEY,
    origin TEXT NOT NULL,     -- the bucket URL, or 'import'
    synced_at TEXT NOT NULL,  -- our clock
    cursor TEXT               -- the bucket's newest `modified` seen: where the next incremental update starts
);
"""


# progress(label, total or None) -> a context giving advance(n): how `db update` shows its downloads
Progress = Callable[[str, int | None], AbstractContextManager[Callable[[int], None]]]


@contextmanager
def no_progress(label: str, total: int | None) -> Iterator[Callable[[int], None]]:
    yield lambda n: None


class DatabaseError(TcsError):
    """The vulnerability database cannot be read, imported or updated (exit code 2: fix the input)."""

    exit_code = UsageError.exit_code


class DownloadError(DatabaseError):
    """OSV data cannot be downloaded: the network or the source (exit code 3, as a registry's)."""

    exit_code = EXIT_REGISTRY


def package_key(ecosystem: str, name: str) -> str:
    """The name as the index keeps it: PyPI names compare by PEP 503 normal form, others as written."""
    if ecosystem_base(ecosystem) == "PyPI":
        return "-".join(name.lower().replace("_", "-").replace(".", "-").split("-"))
    return name


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class EcosystemStatus:
    ecosystem: str
    records: int
    newest: str  # the latest `modified` among its records
    origin: str
    synced_at: str


class VulnDatabase:
    """Reads are safe from any thread (one connection per thread); imports run on one thread."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / FILENAME
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []  # every thread's, closed together
        self._lock = threading.Lock()
        try:
            private_file(private_dir(directory) / FILENAME)
            self.db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise DatabaseError(f"cannot open the vulnerability database {str(self.path)!r}: {exc}") from None
        try:  # (added in a later release: built once, by the first to open a database made before it; the
            # others, workers opening it meanwhile, go on without it rather than wait)
            self.db.execute("CREATE INDEX IF NOT EXISTS affected_by_base ON affected (base, name)")
        except sqlite3.OperationalError as exc:
            log.debug("The vulnerability database's index by base is not there yet: %s", exc)

    @property
    def db(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")  # a download can be done again; no flush per batch
            connection.execute("PRAGMA foreign_keys=ON")
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    def close(self) -> None:
        """Closes every thread's connection: call it once the workers are done."""
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._local = threading.local()

    # -- reading ----------------------------------------------------------------------------------
    def is_empty(self) -> bool:
        return self.db.execute("SELECT 1 FROM vulns LIMIT 1").fetchone() is None

    def candidates(self, ecosystem: str, name: str, wider: Callable[[str], bool] | None = None) -> list[dict[str, Any]]:
        """Every record, not withdrawn, with an affected entry for this package in this exact ecosystem, or
        in another of its base that ``wider`` admits."""
        if wider is None:
            rows = self.db.execute(
                "SELECT DISTINCT v.record FROM affected a JOIN vulns v ON v.id = a.vuln_id"
                " WHERE a.ecosystem = ? AND a.name = ? AND v.withdrawn IS NULL",
                (ecosystem, package_key(ecosystem, name)),
            ).fetchall()
            return [unpack(row[0]) for row in rows]
        found = self.db.execute(
            "SELECT a.ecosystem, a.vuln_id FROM affected a WHERE a.base = ? AND a.name = ?",
            (ecosystem_base(ecosystem), package_key(ecosystem, name)),
        ).fetchall()
        ids = sorted({vuln_id for other, vuln_id in found if other == ecosystem or wider(other)})
        records = []
        for at in range(0, len(ids), 500):  # (SQLite's limit on a statement's parameters)
            chunk = ids[at : at + 500]
            rows = self.db.execute(
                f"SELECT record FROM vulns WHERE withdrawn IS NULL AND id IN ({','.join('?' * len(chunk))})",  # noqa: S608
                chunk,
            ).fetchall()
            records += [unpack(row[0]) for row in rows]
        return records

    def holds(self, base: str) -> bool:
        """Whether any advisory of this ecosystem (its base: Debian, PyPI) is here."""
        return self.db.execute("SELECT 1 FROM affected WHERE base = ? LIMIT 1", (base,)).fetchone() is not None

    def get(self, vuln_id: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT record FROM vulns WHERE id = ?", (vuln_id,)).fetchone()
        return unpack(row[0]) if row else None

    def status(self) -> list[EcosystemStatus]:
        rows = self.db.execute(
            "SELECT a.base, COUNT(DISTINCT a.vuln_id), MAX(v.modified), s.origin, s.synced_at"
            " FROM affected a JOIN vulns v ON v.id = a.vuln_id LEFT JOIN sources s ON s.base = a.base"
            " WHERE v.withdrawn IS NULL GROUP BY a.base ORDER BY a.base"
        ).fetchall()
        return [
            EcosystemStatus(b, n, newest or "", origin or "import", synced or "")
            for b, n, newest, origin, synced in rows
        ]

    def counts(self) -> tuple[int, int, int]:
        """(records, withdrawn records, records naming versions their ecosystem's order cannot read)."""
        total, withdrawn = self.db.execute("SELECT COUNT(*), COUNT(withdrawn) FROM vulns").fetchone()
        unreadable = self.db.execute("SELECT COUNT(*) FROM unreadable").fetchone()[0]
        return total, withdrawn, unreadable

    # -- writing ----------------------------------------------------------------------------------
    def add(self, record: Any) -> bool:
        """Stores one record (the caller commits); False when a copy at least as new is already here."""
        if not isinstance(record, dict):
            raise ValueError("not a JSON object")
        vuln_id, modified = record.get("id"), record.get("modified")
        if not isinstance(vuln_id, str) or not vuln_id or not isinstance(modified, str):
            raise ValueError("not an OSV record: it needs string 'id' and 'modified' fields")
        _check_shape(record)
        affected = record.get("affected") or []
        old = self.db.execute("SELECT modified FROM vulns WHERE id = ?", (vuln_id,)).fetchone()
        if old and _time(old[0]) >= _time(modified):
            return False
        self.db.execute("DELETE FROM vulns WHERE id = ?", (vuln_id,))
        withdrawn = record.get("withdrawn") or None
        blob = pack(record)
        self.db.execute("INSERT INTO vulns VALUES (?, ?, ?, ?)", (vuln_id, modified, withdrawn, blob))
        keys = set()
        for entry in affected:
            package = entry.get("package") if isinstance(entry, dict) else None
            if not isinstance(package, dict):
                continue  # a GIT-only entry: commits, not packages
            ecosystem, name = package.get("ecosystem"), package.get("name")
            if isinstance(ecosystem, str) and isinstance(name, str) and ecosystem and name:
                keys.add((ecosystem, ecosystem_base(ecosystem), package_key(ecosystem, name)))
        self.db.executemany("INSERT INTO affected VALUES (?, ?, ?, ?)", [(*key, vuln_id) for key in keys])
        if unreadable := _unreadable_versions(affected):
            self.db.execute("INSERT INTO unreadable VALUES (?, ?)", (vuln_id, json.dumps(unreadable[:20])))
        return True

    def import_paths(self, paths: Iterable[Path]) -> tuple[int, int, list[str]]:
        """(records added or replaced, records unchanged, problems). A bad file is a problem, not an end."""
        added = unchanged = 0
        problems: list[str] = []
        bases: set[str] = set()
        with self.db:
            for name, load in _sources(paths, problems):
                try:
                    record = load()
                    if self.add(record):
                        added += 1
                        bases.update(_bases(record))
                    else:
                        unchanged += 1
                except RECORD_ERRORS as exc:
                    problems.append(f"{name}: {exc}")
                if (added + unchanged) % 5000 == 0:
                    self.db.commit()
            for base in bases:  # an import adds to an ecosystem kept up to date from the bucket: that stays so
                self.db.execute("INSERT OR IGNORE INTO sources VALUES (?, 'import', ?, NULL)", (base, _now()))
        return added, unchanged, problems

    def _synced(self, base: str, origin: str, cursor: str | None) -> None:
        self.db.execute(
            "INSERT INTO sources VALUES (?, ?, ?, ?)"
            " ON CONFLICT(base) DO UPDATE SET origin = excluded.origin, synced_at = excluded.synced_at,"
            " cursor = COALESCE(excluded.cursor, cursor)",
            (base, origin, _now(), cursor),
        )

    # -- updating from the bucket --------------------------------------------------------------
    def update(
        self,
        ecosystems: Iterable[str],
        source: str = BUCKET,
        progress: Progress | None = None,
    ) -> list[tuple[str, str, int]]:
        """Brings each ecosystem up to date: (ecosystem, how, records changed). Incremental when the
        ecosystem was synced from this source before and few records changed since; else the archive."""
        session = requests.Session()
        results = []
        redact(urlsplit(source).username, urlsplit(source).password)  # (a mirror's, in its URL: never shown)
        origin = shown_url(source)  # what the store keeps of it, and lines show
        if origin != source:  # kept whole by an older release: kept so no more (and its cursor followed)
            with self.db:
                self.db.execute("UPDATE sources SET origin = ? WHERE origin = ?", (origin, source))
        try:
            for ecosystem in ecosystems:
                base_url = f"{source.rstrip('/')}/{quote(ecosystem)}"
                since = self._cursor(ecosystem, origin)
                changed = _changed_since(session, base_url, since) if since else None
                if changed is not None and len(changed[0]) <= INCREMENTAL_LIMIT:
                    ids, newest = changed
                    count = self._fetch_records(session, base_url, ids, ecosystem, origin, newest or since, progress)
                    results.append((ecosystem, "incremental", count))
                else:
                    count = self._fetch_archive(session, base_url, ecosystem, origin, progress)
                    results.append((ecosystem, "archive", count))
        except requests.RequestException as exc:
            reason = type(exc).__name__ if isinstance(exc, requests.ConnectionError) else str(exc)
            raise DownloadError(
                f"cannot download OSV data from {origin} ({hide(reason)}); offline, import archives or records "
                "with `tcs-registry db import PATH`"
            ) from None
        finally:
            session.close()
        return results

    def _cursor(self, ecosystem: str, source: str) -> str | None:
        """Where an incremental update from this source starts: the newest `modified` it served."""
        row = self.db.execute("SELECT origin, cursor FROM sources WHERE base = ?", (ecosystem,)).fetchone()
        return row[1] if row and row[0] == source else None

    def _fetch_archive(self, session, base_url, ecosystem, source, progress) -> int:
        response = session.get(f"{base_url}/all.zip", stream=True, timeout=60)
        if response.status_code == 404:
            raise DatabaseError(
                f"the OSV bucket has no ecosystem {ecosystem!r} ({source}/{quote(ecosystem)}/all.zip: 404)"
            )
        response.raise_for_status()
        size = int(response.headers.get("Content-Length") or 0) or None
        with tempfile.TemporaryFile() as spool:
            with (progress or no_progress)(f"{ecosystem} all.zip", size) as advance:
                for chunk in response.iter_content(1 << 20):
                    spool.write(chunk)
                    advance(len(chunk))
            spool.seek(0)
            added, problems = self._import_zip(spool, f"{ecosystem}/all.zip", source, ecosystem)
        for problem in problems:
            log.warning("Skipped an OSV record %s", problem)
        return added

    def _import_zip(self, file, name: str, origin: str, ecosystem: str) -> tuple[int, list[str]]:
        """(records added, problems) from an ecosystem's all.zip; the cursor becomes its newest record."""
        added = 0
        newest = ""
        problems: list[str] = []
        with self.db:
            try:
                archive = zipfile.ZipFile(file)
            except zipfile.BadZipFile as exc:
                raise DatabaseError(f"{name} is not a zip archive: {exc}") from None
            for member_name, load in _zip_members(archive, name):
                try:
                    record = load()
                    added += self.add(record)
                    newest = max(newest, record["modified"], key=_time)
                except RECORD_ERRORS as exc:
                    problems.append(f"{member_name}: {exc}")
            self._synced(ecosystem, origin, newest or None)
        return added, problems

    def _fetch_records(self, session, base_url, ids, ecosystem, source, cursor, progress) -> int:
        added = 0
        with self.db, (progress or no_progress)(f"{ecosystem} changes", len(ids)) as advance:
            for vuln_id in ids:
                response = session.get(f"{base_url}/{quote(vuln_id)}.json", timeout=60)
                advance(1)
                if response.status_code == 404:  # listed, then removed from the bucket
                    log.warning("Skipped an OSV record %s/%s: the bucket no longer has it", ecosystem, vuln_id)
                    continue
                response.raise_for_status()
                try:
                    record = _load_json(response.content)
                    added += self.add(record)
                except RECORD_ERRORS as exc:
                    log.warning("Skipped an OSV record %s/%s: %s", ecosystem, vuln_id, exc)
            self._synced(ecosystem, source, cursor)
        return added


def _changed_since(session: requests.Session, base_url: str, since: str) -> tuple[list[str], str] | None:
    """(ids modified at or after `since`, the newest `modified` listed) from the ecosystem's
    modified_id.csv (newest first); None when the bucket has no such list. Records modified exactly
    at `since` are fetched again: another may share that time."""
    response = session.get(f"{base_url}/modified_id.csv", stream=True, timeout=60)
    if response.status_code == 404:
        return None
    response.raise_for_status()
    ids: list[str] = []
    newest = ""
    cutoff = _time(since)
    for line in response.iter_lines(decode_unicode=True):
        when, _, vuln_id = (line or "").partition(",")
        if not vuln_id:
            continue
        if _time(when) < cutoff:
            break
        newest = newest or when
        ids.append(vuln_id.rsplit("/", 1)[-1])  # the all-ecosystem list writes <ecosystem>/<id>
        if len(ids) > INCREMENTAL_LIMIT:
            break
    response.close()
    return ids, newest


def _bases(record: dict[str, Any]) -> set[str]:
    return {
        ecosystem_base(entry["package"]["ecosystem"])
        for entry in record.get("affected") or ()
        if isinstance(entry, dict) and isinstance(entry.get("package"), dict) and entry["package"].get("ecosystem")
    }


RECORD_ERRORS = (ValueError, TypeError, OSError, zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError)


def _time(value: str) -> datetime:
    """OSV times (RFC 3339, any fraction length) in order; an unreadable one sorts first."""
    return parse_time(value) or datetime.min.replace(tzinfo=UTC)


def _unreadable_versions(affected: list[Any]) -> list[str]:
    """The versions of a record's range events that their ecosystem's order cannot read."""
    from .matching import _events, readable  # (matching reads the database: imported here, when needed)

    found = []
    for entry in affected:
        package = entry.get("package") if isinstance(entry, dict) else None
        ecosystem = package.get("ecosystem") if isinstance(package, dict) else None
        for range_ in (entry.get("ranges") or ()) if isinstance(ecosystem, str) else ():
            kind = range_.get("type") if isinstance(range_, dict) else None
            parse = parser(ecosystem, kind) if kind in ("ECOSYSTEM", "SEMVER") else None
            if parse is not None:
                found += readable(_events(range_), parse)[1].values()
    return found


def _check_shape(record: dict[str, Any]) -> None:
    """Refuses, with a reason, a record whose fields do not have the OSV schema's types."""
    vuln_id = record["id"]
    for name in ("aliases", "upstream", "related", "severity", "affected"):
        if record.get(name) is not None and not isinstance(record[name], list):
            raise ValueError(f"{vuln_id}: {name!r} is not a list")
    for entry in record.get("affected") or ():
        if not isinstance(entry, dict):
            raise ValueError(f"{vuln_id}: an 'affected' entry is not an object")
        for name in ("ranges", "versions", "severity"):
            if entry.get(name) is not None and not isinstance(entry[name], list):
                raise ValueError(f"{vuln_id}: affected {name!r} is not a list")
        for name in ("package", "ecosystem_specific", "database_specific"):
            if entry.get(name) is not None and not isinstance(entry[name], dict):
                raise ValueError(f"{vuln_id}: affected {name!r} is not an object")
    for entry in [
        *(record.get("severity") or ()),
        *(s for a in record.get("affected") or () for s in a.get("severity") or ()),
    ]:
        if not isinstance(entry, dict):
            raise ValueError(f"{vuln_id}: a 'severity' entry is not an object")


def _load_json(data: bytes) -> Any:
    if len(data) > MAX_RECORD:
        raise ValueError(f"larger than {MAX_RECORD} bytes")
    try:
        return json.loads(data)
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 JSON: {exc}") from None
    except RecursionError:
        raise ValueError("nested too deeply") from None


def _zip_members(archive: zipfile.ZipFile, name: str) -> Iterator[tuple[str, Callable[[], Any]]]:
    for info in archive.infolist():
        if info.is_dir() or not info.filename.endswith(".json"):
            continue
        yield f"{name}:{info.filename}", lambda info=info: _load_member(archive, info)


def _sources(paths: Iterable[Path], problems: list[str]) -> Iterator[tuple[str, Callable[[], Any]]]:
    """(name, loader) for every record under the given files, directories and zip archives."""
    for path in paths:
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix in (".json", ".zip") and p.is_file())
            if not files:
                problems.append(f"{path}: no .json or .zip files in this directory")
        elif path.is_file():
            files = [path]
        else:
            raise DatabaseError(f"no such file or directory: {str(path)!r}")
        for file in files:
            if file.suffix == ".zip" or zipfile.is_zipfile(file):
                try:
                    archive = zipfile.ZipFile(file)
                except (zipfile.BadZipFile, OSError) as exc:
                    problems.append(f"{file}: not a readable zip archive: {exc}")
                    continue
                with archive:
                    yield from _zip_members(archive, str(file))
            else:
                yield str(file), lambda file=file: _load_file(file)


def _load_file(path: Path) -> Any:
    if path.stat().st_size > MAX_RECORD:  # before reading it
        raise ValueError(f"larger than {MAX_RECORD} bytes")
    return _load_json(path.read_bytes())


def _load_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Any:
    if info.file_size > MAX_RECORD:  # as the archive declares it; reading stops there too
        raise ValueError(f"larger than {MAX_RECORD} bytes")
    with archive.open(info) as member:
        return _load_json(member.read(MAX_RECORD + 1))
