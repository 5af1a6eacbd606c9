"""The state store: an embedded SQLite database of runs and image digests, per project.

One writer (the run's main thread), WAL journaling, and a commit per image, so an interrupted
run keeps everything it recorded. Credentials are never stored.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .analysis import ANALYSER_VERSION
from .errors import UsageError
from .files import private_dir, private_file
from .models import ImageDescription, Inventory
from .oci import format_time

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    project TEXT NOT NULL,
    registry TEXT NOT NULL,
    registry_type TEXT NOT NULL,
    mode TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL DEFAULT 'running',
    images_found INTEGER NOT NULL DEFAULT 0,
    images_new INTEGER NOT NULL DEFAULT 0,
    images_skipped INTEGER NOT NULL DEFAULT 0,
    images_failed INTEGER NOT NULL DEFAULT 0,
    report TEXT
);
CREATE TABLE IF NOT EXISTS digests (
    project TEXT NOT NULL,
    digest TEXT NOT NULL,
    first_run INTEGER NOT NULL REFERENCES runs(id),
    first_seen TEXT NOT NULL,
    PRIMARY KEY (project, digest)
);
CREATE TABLE IF NOT EXISTS images (
    project TEXT NOT NULL,
    registry TEXT NOT NULL,
    repository TEXT NOT NULL,
    tag TEXT NOT NULL,
    digest TEXT NOT NULL,
    media_type TEXT NOT NULL,
    platforms TEXT NOT NULL,
    build_time TEXT,
    last_run INTEGER NOT NULL REFERENCES runs(id),
    PRIMARY KEY (project, registry, repository, tag)
);
-- what the analysis found in one layer, per analyser version (the layer cache, shared by all projects)
CREATE TABLE IF NOT EXISTS layers (
    diff_id TEXT NOT NULL,
    analyser TEXT NOT NULL,
    record BLOB NOT NULL,  -- zlib-compressed JSON
    analysed_at TEXT NOT NULL,
    PRIMARY KEY (diff_id, analyser)
);
-- the inventory of one image manifest (a platform's own digest inside an index)
CREATE TABLE IF NOT EXISTS inventories (
    digest TEXT NOT NULL,
    analyser TEXT NOT NULL,
    inventory TEXT NOT NULL,
    PRIMARY KEY (digest, analyser)
);
-- which image and platform each run scanned
CREATE TABLE IF NOT EXISTS scans (
    run INTEGER NOT NULL REFERENCES runs(id),
    project TEXT NOT NULL,
    registry TEXT NOT NULL,
    repository TEXT NOT NULL,
    tag TEXT NOT NULL,
    platform TEXT NOT NULL,
    digest TEXT NOT NULL,
    analyser TEXT NOT NULL,
    scanned_at TEXT NOT NULL,
    PRIMARY KEY (run, repository, tag, platform)
);
-- what failed in each run, and why (a repository whose tags could not be listed has an empty tag)
CREATE TABLE IF NOT EXISTS failures (
    run INTEGER NOT NULL REFERENCES runs(id),
    repository TEXT NOT NULL,
    tag TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (run, repository, tag)
);
-- what a run's images depend on besides the registry (platforms, vulnerability database): a killed run
-- is resumed only by a run that would produce the same
CREATE TABLE IF NOT EXISTS run_options (
    run INTEGER PRIMARY KEY REFERENCES runs(id),
    options TEXT NOT NULL
);
-- what each run's scan of an image platform found: vulnerabilities and violations (zlib JSON)
CREATE TABLE IF NOT EXISTS findings (
    run INTEGER NOT NULL REFERENCES runs(id),
    repository TEXT NOT NULL,
    tag TEXT NOT NULL,
    platform TEXT NOT NULL,
    findings BLOB NOT NULL,
    PRIMARY KEY (run, repository, tag, platform)
);
"""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _connect(directory: Path, *, threads: bool = False) -> sqlite3.Connection:
    path = directory / Store.FILENAME
    try:
        private_file(private_dir(directory) / Store.FILENAME)
        db = sqlite3.connect(path, timeout=30, check_same_thread=not threads)
        db.row_factory = sqlite3.Row  # rows by column name or index
        db.execute("PRAGMA journal_mode=WAL")
        # WAL with synchronous=NORMAL: a commit is atomic and never corrupts the file, but is not
        # flushed to disk one by one (a power cut may lose the last few images, which the next run redoes)
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        db.executescript(SCHEMA)
    except (OSError, sqlite3.Error) as exc:
        raise UsageError(f"cannot open the state store in {str(directory)!r}: {exc}; use --state-dir") from None
    return db


class Store:
    FILENAME = "state.db"

    def __init__(self, directory: Path) -> None:
        self.path = directory / self.FILENAME
        self.db = _connect(directory)

    def begin_run(self, project: str, registry: str, registry_type: str, mode: str, options: str) -> int:
        with self.db:
            cursor = self.db.execute(
                "INSERT INTO runs (project, registry, registry_type, mode, started_at) VALUES (?, ?, ?, ?, ?)",
                (project, registry, registry_type, mode, _now()),
            )
            self.db.execute("INSERT INTO run_options VALUES (?, ?)", (cursor.lastrowid, options))
        return int(cursor.lastrowid or 0)

    def record_image(self, run: int, project: str, registry: str, image: ImageDescription) -> bool:
        """Remember an image; True if its digest is new to the project."""
        with self.db:
            new = (
                self.db.execute(
                    "INSERT OR IGNORE INTO digests (project, digest, first_run, first_seen) VALUES (?, ?, ?, ?)",
                    (project, image.digest, run, _now()),
                ).rowcount
                == 1
            )
            self.db.execute(
                "INSERT OR REPLACE INTO images VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    project,
                    registry,
                    image.repository,
                    image.tag,
                    image.digest,
                    image.media_type,
                    json.dumps([str(p) for p in image.platforms]),
                    format_time(image.build_time) or None,
                    run,
                ),
            )
        return new

    def finish_run(
        self, run: int, *, status: str, found: int, new: int, skipped: int, failed: int, report: str | None
    ) -> None:
        with self.db:
            self.db.execute(
                "UPDATE runs SET finished_at=?, status=?, images_found=?, images_new=?, images_skipped=?,"
                " images_failed=?, report=? WHERE id=?",
                (_now(), status, found, new, skipped, failed, report, run),
            )

    def record_scan(
        self,
        run: int,
        project: str,
        registry: str,
        inventory: Inventory,
        document: dict[str, Any],
        findings: dict[str, list[dict[str, Any]]] | None = None,
    ) -> None:
        """Remember what one run found in one platform of an image; the inventory is kept once per digest,
        the findings (which change with the vulnerability database) per run."""
        platform = str(inventory.platform or "")
        with self.db:
            if findings is not None:
                blob = zlib.compress(json.dumps(findings, separators=(",", ":")).encode())
                self.db.execute(
                    "INSERT OR REPLACE INTO findings VALUES (?, ?, ?, ?, ?)",
                    (run, inventory.repository, inventory.tag, platform, blob),
                )
            known = self.db.execute(
                "SELECT 1 FROM inventories WHERE digest = ? AND analyser = ?", (inventory.digest, ANALYSER_VERSION)
            ).fetchone()
            if not known:  # a digest's inventory is written once
                self.db.execute(
                    "INSERT INTO inventories VALUES (?, ?, ?)",
                    (inventory.digest, ANALYSER_VERSION, json.dumps(document, separators=(",", ":"))),
                )
            self.db.execute(
                "INSERT OR REPLACE INTO scans VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run,
                    project,
                    registry,
                    inventory.repository,
                    inventory.tag,
                    platform,
                    inventory.digest,
                    ANALYSER_VERSION,
                    _now(),
                ),
            )

    def unfinished_run(self, project: str, registry: str, mode: str) -> tuple[int, str | None] | None:
        """(id, options) of the project's last run of this registry and mode, if it was killed or interrupted."""
        row = self.db.execute(
            "SELECT id, status, options FROM runs LEFT JOIN run_options ON run = id"
            " WHERE project = ? AND registry = ? AND mode = ? ORDER BY id DESC LIMIT 1",
            (project, registry, mode),
        ).fetchone()
        return (row["id"], row["options"]) if row and row["status"] in ("running", "interrupted") else None

    def mark_followed(self, run: int, status: str) -> None:
        """An unfinished run's end: resumed or superseded by a later one."""
        with self.db:
            self.db.execute("UPDATE runs SET status = ? WHERE id = ?", (status, run))

    def described(self, run: int, project: str, registry: str, repository: str, tag: str) -> sqlite3.Row | None:
        """The image as `run` recorded it, if it did."""
        return self.db.execute(
            "SELECT * FROM images WHERE project = ? AND registry = ? AND repository = ? AND tag = ? AND last_run = ?",
            (project, registry, repository, tag, run),
        ).fetchone()

    def record_failure(self, run: int, repository: str, tag: str, reason: str) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO failures VALUES (?, ?, ?, ?)", (run, repository, tag, reason))

    def failures(self, run: int) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM failures WHERE run = ? ORDER BY repository, tag", (run,)).fetchall()

    def runs(self, project: str, limit: int = 20) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT runs.*, (SELECT COUNT(*) FROM scans WHERE scans.run = runs.id) AS scanned"
            " FROM runs WHERE project = ? ORDER BY id DESC LIMIT ?",
            (project, limit),
        ).fetchall()

    def scanned(
        self,
        project: str,
        run: int | None = None,
        *,
        repository: str | None = None,
        tag: str | None = None,
        platform: str | None = None,
    ) -> list[tuple[sqlite3.Row, dict[str, Any]]]:
        """(scan row, stored inventory document) of a run (by default the project's latest run that
        scanned), optionally of one repository, tag and platform."""
        if run is None:
            run = self.latest_scan(project)
        rows = self.db.execute(
            "SELECT scans.*, inventories.inventory, findings.findings FROM scans JOIN inventories"
            " ON inventories.digest = scans.digest AND inventories.analyser = scans.analyser"
            " LEFT JOIN findings USING (run, repository, tag, platform)"
            " WHERE scans.project = :project AND scans.run = :run"
            " AND (:repository IS NULL OR scans.repository = :repository)"
            " AND (:tag IS NULL OR scans.tag = :tag) AND (:platform IS NULL OR scans.platform = :platform)"
            " ORDER BY repository, tag, platform",
            {"project": project, "run": run, "repository": repository, "tag": tag, "platform": platform},
        ).fetchall()
        return [(row, self._document(row)) for row in rows]

    @staticmethod
    def _document(row: sqlite3.Row) -> dict[str, Any]:
        """A stored inventory (kept once per digest) named as this scan saw it: tags share digests."""
        document = json.loads(row["inventory"])
        document.update(repository=row["repository"], tag=row["tag"])
        document["image"] = f"{urlsplit(row['registry']).netloc}/{row['repository']}:{row['tag']}"
        if row["findings"] is not None:
            document.update(json.loads(zlib.decompress(row["findings"])))
        return document

    def previous_scan(self, project: str, run: int) -> int | None:
        """The project's last run before `run` that scanned images of the same registry."""
        row = self.db.execute(
            "SELECT MAX(s.run) FROM scans s JOIN runs r ON r.id = ? WHERE s.project = ? AND s.run < ?"
            " AND s.registry = r.registry",
            (run, project, run),
        ).fetchone()
        return row[0] if row else None

    def latest_scan(self, project: str) -> int | None:
        row = self.db.execute("SELECT MAX(run) FROM scans WHERE project = ?", (project,)).fetchone()
        return row[0] if row else None

    def close(self) -> None:
        self.db.close()


class LayerCache:
    """The layer records of the analysis, keyed by diff_id and analyser version; safe across threads."""

    def __init__(self, directory: Path) -> None:
        self.db = _connect(directory, threads=True)
        self._lock = threading.Lock()

    def get_layer(self, diff_id: str, analyser: str) -> dict[str, Any] | None:
        with self._lock:
            row = self.db.execute(
                "SELECT record FROM layers WHERE diff_id = ? AND analyser = ?", (diff_id, analyser)
            ).fetchone()
        return json.loads(zlib.decompress(row[0])) if row else None

    def put_layer(self, diff_id: str, analyser: str, record: dict[str, Any]) -> None:
        blob = zlib.compress(json.dumps(record, separators=(",", ":")).encode())
        with self._lock, self.db:
            self.db.execute("INSERT OR REPLACE INTO layers VALUES (?, ?, ?, ?)", (diff_id, analyser, blob, _now()))

    def close(self) -> None:
        self.db.close()
