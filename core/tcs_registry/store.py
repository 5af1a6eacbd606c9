"""The state store: an embedded SQLite database of runs and image digests, per project.

One writer (the run's main thread), WAL journaling, and a commit per image, so an interrupted
run keeps everything it recorded. Credentials are never stored.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from .errors import UsageError
from .models import ImageDescription
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
"""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Store:
    FILENAME = "state.db"

    def __init__(self, directory: Path) -> None:
        self.path = directory / self.FILENAME
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, timeout=30)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise UsageError(f"cannot open the state store in {str(directory)!r}: {exc}; use --state-dir") from None

    def begin_run(self, project: str, registry: str, registry_type: str, mode: str) -> int:
        with self.db:
            cursor = self.db.execute(
                "INSERT INTO runs (project, registry, registry_type, mode, started_at) VALUES (?, ?, ?, ?, ?)",
                (project, registry, registry_type, mode, _now()),
            )
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

    def close(self) -> None:
        self.db.close()
