"""The state store: runs, image digests, inventories, findings and the layer cache, per project.

SQLite by default (a file in the state directory, nothing to set up) or PostgreSQL (one database for a
team's scanners and the console), both through SQLAlchemy Core: one schema (``schema.py``), every
query written once. A store made by an older release is upgraded in place on first use (Alembic,
``migrations/``); one made by a newer release is refused and left untouched. Every write is idempotent
(INSERT ... ON CONFLICT) and a run's writes are batched into transactions as they come, so workers on
several machines can share a store and an interrupted run keeps what it recorded. Credentials are
never stored.
"""

from __future__ import annotations

import fcntl
import importlib
import itertools
import json
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from importlib.util import find_spec
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, RowMapping
from sqlalchemy.engine.url import URL, make_url

from . import __version__
from .analysis import ANALYSER_VERSION, NO_SECRETS
from .batches import Batches
from .errors import TcsError, UsageError
from .files import private_dir, private_file
from .models import ImageDescription, Inventory, Platform
from .oci import format_time, parse_time
from .packed import pack, unpack
from .schema import (
    digests,
    failures,
    finding_names,
    finding_rows,
    findings,
    images,
    inventories,
    layers,
    planned,
    run_options,
    runs,
    scans,
    tokens,
)
from .vulns.severity import LEVELS, rank

log = logging.getLogger("tcs_registry")
T = TypeVar("T")
# what a run found in one platform of an image: its inventory, that as a document, its findings (or None:
# not matched)
Scanned = tuple[Inventory, dict[str, Any], dict[str, list[dict[str, Any]]] | None]
FILENAME = "state.db"  # the default SQLite store, in the state directory
# how long a lost database is waited for before the run gives up (TCS_STORE_RECONNECT_SECONDS)
RECONNECT_SECONDS = 30.0
FIRST_DELAY = 0.25  # then twice as long each time, up to 4 s
OPEN_SECONDS = 10.0  # how long a database that is not up yet is waited for when the store is opened
# an image platform's scan and its findings
SCAN_FINDINGS = sa.and_(*(findings.c[name] == scans.c[name] for name in ("run", "repository", "tag", "platform")))
SCANNING = ("scan", "rematch")  # the modes of runs that record findings (a rematch: matched again, no registry)
MOST_NAMES, NAME = 100, 200  # the names of a finding indexed, at most; the characters of one
FINDING_KEY = ("run", "repository", "tag", "platform", "kind", "seq")  # a row of finding_rows
FIRST_REVISION = "0001"  # release 0.1.0's hand-written schema
REVISION = "0010"  # the newest in migrations/versions (a test holds them equal): a store at it needs no Alembic
_MIGRATION_LOCK = 0x7463_7372  # PostgreSQL advisory lock: one worker upgrades a shared store at a time


class StoreError(TcsError):
    """The store cannot be reached or used (exit 3, as for a registry that cannot be reached)."""


def store_url(text: str | None, state_dir: Path, name: str = "--store") -> URL:
    """The store a run uses: ``text`` (--store, TCS_STORE_URL, config ``store``: errors call it ``name``) or
    the state directory's SQLite file. PostgreSQL goes through psycopg 3, installed with the ``postgres``
    extra."""
    if not text or not text.strip():  # (absolute: a console over the same file is found by its store's name)
        return URL.create("sqlite", database=str((state_dir / FILENAME).absolute()))
    try:
        url = make_url(text.strip())
    except (sa.exc.ArgumentError, ValueError):
        raise UsageError(
            f"malformed {name} URL {_masked(text.strip())!r}: use postgresql://user@host/db or sqlite:////path"
        ) from None
    backend, _, driver = url.drivername.partition("+")  # (SQLAlchemy's names load the dialect: none for "bogus")
    if backend in ("postgresql", "postgres"):
        if driver and driver != "psycopg":
            raise UsageError(f"{name}: the {driver} driver is not supported; use postgresql:// (psycopg 3)")
        if find_spec("psycopg") is None:
            raise UsageError("a PostgreSQL store needs the psycopg driver: pip install 'tcs-registry[postgres]'")
        return url.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        if not url.database or url.database == ":memory:":
            raise UsageError(f"{name}: a SQLite store needs a file: sqlite:////absolute/path/state.db")
        return url.set(drivername="sqlite", database=str(Path(url.database).absolute()))
    raise UsageError(f"{name} {shown(url)!r}: use postgresql://user@host:5432/db or sqlite:////path/state.db")


def shown(url: URL) -> str:
    """The store as lines may show it: no password, in the user part or among libpq's parameters."""
    url = url.set(drivername=url.get_backend_name())
    secret = {key: "***" for key in url.query if "pass" in key.lower()}
    return url.update_query_dict(secret).render_as_string(hide_password=True).replace("%2A%2A%2A", "***")


def _masked(text: str) -> str:
    return re.sub(r"([?&][^=&]*pass[^=&]*=)[^&]*", r"\1***", text.split("@")[-1], flags=re.IGNORECASE)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _pid_namespace() -> str:
    """This process's PID namespace (Linux): processes on one host but in other namespaces (containers
    sharing the host's name) see other processes under the same numbers, or none."""
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return "-"


RUNNER = f"{socket.gethostname()}:{_pid_namespace()}:{os.getpid()}"  # this process, as a run's row names it
HEARTBEAT = 30.0  # seconds between a running run's signs of life (`Store.alive`)
ALIVE = 3 * HEARTBEAT  # a run that said nothing for longer was killed


def running_still(runner: str | None, alive_at: str | None) -> str | None:
    """Where a run the store has as running is running still, or None if its process is gone: it said so
    within ALIVE seconds, and, when it ran on this machine in this PID namespace, its process is there (a
    run killed a moment ago is resumed at once; a run of this very process is over: its runs go one at a
    time)."""
    said = parse_time(alive_at or "")
    if said is None:
        return None
    seconds = (datetime.now(UTC) - said).total_seconds()
    if seconds >= ALIVE:
        return None
    host, namespace, pid = (runner or "::").rsplit(":", 2) if (runner or "").count(":") >= 2 else ("", "", "")
    if host == socket.gethostname() and namespace == _pid_namespace() and pid.isdigit():
        if int(pid) == os.getpid():
            return None
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return None
        except PermissionError:  # another user's process
            pass
        return f"process {pid} on this machine"
    return f"on {host or 'another machine'}, {seconds:.0f} s ago"


class Heartbeat:
    """Says every HEARTBEAT seconds that this process is running `run` (`Store.alive`), from a thread of its
    own, while in its ``with`` block."""

    def __init__(self, store: Store, run: int) -> None:
        self.store, self.run = store, run
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT):
            self.store.alive(self.run)


# what a server says while it cannot take a connection for now: worth waiting for
_PASSING = ("starting up", "shutting down", "in recovery", "too many", "remaining connection slots")


def _transient(exc: sa.exc.DBAPIError) -> bool:
    """A connection lost or refused, a database restarting or busy: worth asking again. A refused
    password, a missing database or role, or a broken query is not."""
    if exc.connection_invalidated:
        return True
    state = getattr(exc.orig, "sqlstate", None)
    if state is not None:
        return state.startswith(("08", "57P", "40"))  # connection, shutdown, serialization
    if isinstance(exc, sa.exc.OperationalError):
        text = str(exc.orig).lower()
        if "fatal:" in text:  # the server answered, and refused: only a server in passing is waited for
            return any(passing in text for passing in _PASSING)
        return any(word in text for word in ("locked", "busy", "connect", "closed", "terminat"))
    return False


def _reconnect_seconds() -> float:
    try:
        return max(0.0, float(os.environ.get("TCS_STORE_RECONNECT_SECONDS", RECONNECT_SECONDS)))
    except ValueError:
        return RECONNECT_SECONDS


def _reason(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class Store:
    """One store, opened (and upgraded) once per command; safe to share between threads."""

    def __init__(self, url: URL, *, connections: int = 4) -> None:
        self.url = url
        self.where = shown(url)
        self._lost: str | None = None  # why the store was given up on: later calls fail at once
        self._built: dict[tuple[str, str, tuple[str, ...]], Any] = {}
        self.engine = self._engine(url, connections)
        try:
            self._migrate()
        except BaseException:
            self.engine.dispose()
            raise

    @staticmethod
    def _engine(url: URL, connections: int) -> Engine:
        if url.get_backend_name() == "postgresql":
            return sa.create_engine(
                url,
                pool_size=connections,
                max_overflow=connections,
                pool_pre_ping=True,  # a connection the server dropped (a restart) is replaced, not used
                connect_args={"connect_timeout": 10, "application_name": f"tcs-registry {__version__}"},
            )
        path = Path(url.database or "")
        try:
            private_file(private_dir(path.parent) / path.name)
        except OSError as exc:
            where = str(path.parent)
            raise UsageError(f"cannot open the state store in {where!r}: {exc.strerror}; use --state-dir") from None
        arguments = {"timeout": 30, "check_same_thread": False}
        engine = sa.create_engine(url, pool_size=connections, max_overflow=connections, connect_args=arguments)

        @sa.event.listens_for(engine, "connect")
        def _configure(connection: Any, _record: Any) -> None:
            # (WAL is set once the store is known to be ours: see _journal) with it, a commit is atomic and
            # never corrupts the file, but is not flushed to disk one by one (a power cut may lose the last
            # few images, which the next run redoes)
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA foreign_keys=ON")

        # Transactions are begun by the sqlite3 module itself, inside the first write's call: a BEGIN of
        # our own would be one more call that lets go of the interpreter lock, and the thread recording
        # images would wait once more for the describing threads to give it back. A migration, whose DDL
        # the module would run outside any transaction, begins its own (_migrate).
        return engine

    # -- opening ------------------------------------------------------------------------------
    def _migrate(self) -> None:
        """Bring the schema to this release's revision: create it, upgrade it (a 0.1.0 store has no
        revision recorded: it is stamped as the first), or refuse a store a newer release wrote."""

        def revision(connection: Connection) -> str | None:
            if not sa.inspect(connection).has_table("alembic_version"):
                return None
            return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()

        if self._do(revision, min(OPEN_SECONDS, _reconnect_seconds())) == REVISION:
            self._journal()
            return  # the usual case, without loading Alembic
        from alembic import command
        from alembic.config import Config
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        config = Config()
        config.set_main_option("script_location", "tcs_registry:migrations")
        script = ScriptDirectory.from_config(config)
        head = script.get_current_head()
        known = {revision.revision for revision in script.walk_revisions()}

        def upgrade(connection: Connection) -> None:
            current = MigrationContext.configure(connection).get_current_heads()
            if current == (head,):
                return
            newer = [revision for revision in current if revision not in known]
            if newer:
                raise UsageError(
                    f"the store {self.where} has schema revision {newer[0]}, which this tcs-registry "
                    f"({__version__}) does not know: a newer release wrote it; upgrade tcs-registry"
                )
            config.attributes["connection"] = connection
            if connection.dialect.name == "sqlite":  # all the DDL in one transaction, as PostgreSQL does
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            if not current and sa.inspect(connection).has_table("runs"):
                log.info("Upgrading the state store of release 0.1.0: %s", self.where)
                command.stamp(config, FIRST_REVISION)
            command.upgrade(config, "head")

        with self._migration_lock():
            self._do(upgrade, min(OPEN_SECONDS, _reconnect_seconds()))
        self._journal()

    def _journal(self) -> None:
        """SQLite's write-ahead log (readers never wait for the writer), kept in the file once set; set
        only on a store at this release's revision, so a store refused is left as it was."""
        if self.url.get_backend_name() != "sqlite":
            return
        connection = self.engine.raw_connection()  # outside any transaction, as the pragma needs
        try:
            connection.cursor().execute("PRAGMA journal_mode=WAL")
        finally:
            connection.close()

    @contextmanager
    def _migration_lock(self) -> Iterator[None]:
        """Workers starting together on a new or old store: one upgrades it, the others then find it done."""
        if self.url.get_backend_name() == "postgresql":
            with self._connected() as connection:
                connection.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK})
                connection.commit()
                try:
                    yield
                finally:
                    connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK})
                    connection.commit()
            return
        # a file of its own: a descriptor on the database itself, closed, would drop SQLite's locks of this
        # process (POSIX locks are per process and file), and other processes could then lose its commits
        lock = private_file(Path(f"{self.url.database}.lock"))
        with open(lock, "rb") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    @contextmanager
    def _connected(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as connection:
                yield connection
        except sa.exc.DBAPIError as exc:
            raise StoreError(f"cannot use the store {self.where}: {_reason(exc)}") from None

    def _do(self, work: Callable[[Connection], T], patience: float | None = None) -> T:
        """``work`` in one transaction; asked again while the database is unreachable or busy (every
        write is idempotent), for up to ``patience`` seconds (RECONNECT_SECONDS), then one StoreError."""
        if self._lost:
            raise StoreError(self._lost)
        deadline = time.monotonic() + (_reconnect_seconds() if patience is None else patience)
        delay = FIRST_DELAY
        while True:
            try:
                with self.engine.begin() as connection:
                    return work(connection)
            except sa.exc.DBAPIError as exc:
                if not _transient(exc):
                    raise StoreError(f"the store {self.where} failed: {_reason(exc)}") from None
                if time.monotonic() + delay > deadline:
                    self._lost = f"the store {self.where} cannot be reached: {_reason(exc)}"
                    raise StoreError(self._lost) from None
                level = logging.WARNING if delay == FIRST_DELAY else logging.DEBUG  # one line an outage
                log.log(level, "The store %s did not answer (%s); trying again", self.where, _reason(exc))
                time.sleep(delay)
                delay = min(delay * 2, 4.0)

    def _upsert(self, connection: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        """Insert rows (all with the same columns), or replace those with their primary keys."""
        connection.execute(self._statement("upsert", table, tuple(rows[0])), rows)

    def _add(self, connection: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> int:
        """Insert rows (all with the same columns) unless one with its primary key exists; how many were."""
        return max(connection.execute(self._statement("add", table, tuple(rows[0])), rows).rowcount, 0)

    def _statement(self, kind: str, table: sa.Table, names: tuple[str, ...]) -> Any:
        """An INSERT ... ON CONFLICT of the store's dialect (both spell it the same way), built once: making
        one costs SQLAlchemy far more than running it."""
        key = (kind, table.name, names)
        statement = self._built.get(key)
        if statement is None and kind == "clear":  # DELETE ... WHERE the names equal k_<name>
            statement = table.delete().where(*(table.c[name] == sa.bindparam(f"k_{name}") for name in names))
            self._built[key] = statement
        if statement is None:
            dialect = importlib.import_module(f"sqlalchemy.dialects.{self.engine.dialect.name}")  # loaded once used
            statement = dialect.insert(table).values({name: sa.bindparam(name) for name in names})
            keys = [column.name for column in table.primary_key.columns]
            if kind == "upsert":
                replaced = {name: statement.excluded[name] for name in names if name not in keys}
                statement = statement.on_conflict_do_update(index_elements=keys, set_=replaced)
            else:  # psycopg's rowcount of an INSERT is kept only when asked for
                statement = statement.on_conflict_do_nothing().execution_options(preserve_rowcount=True)
            self._built[key] = statement
        return statement

    def _rows(self, query: Any) -> list[RowMapping]:
        return self._do(lambda connection: list(connection.execute(query).mappings()))

    def _scalar(self, query: Any) -> Any:
        return self._do(lambda connection: connection.execute(query).scalar())

    # -- runs ---------------------------------------------------------------------------------
    def begin_run(
        self,
        project: str,
        registry: str,
        registry_type: str,
        mode: str,
        options: str,
        *,
        scan_id: str | None = None,
        shard: tuple[int, int] = (1, 1),
        here: bool = True,
    ) -> int:
        """A run begun; ``here``: by this process, which says it is alive while it runs it (not a run a
        console records for a scanner elsewhere)."""

        def begin(connection: Connection) -> int:
            values = dict(project=project, registry=registry, registry_type=registry_type, mode=mode)
            values.update(started_at=_now(), scan_id=scan_id, shard=shard[0], shards=shard[1])
            if here:
                values.update(runner=RUNNER, alive_at=_now())
            run = int(connection.execute(runs.insert().values(**values)).inserted_primary_key[0])
            if scan_id is None:  # a scan of its own
                connection.execute(runs.update().where(runs.c.id == run).values(scan_id=own_scan_id(run)))
            connection.execute(run_options.insert().values(run=run, options=options))
            return run

        return self._do(begin)

    def finish_run(
        self, run: int, *, status: str, found: int, new: int, skipped: int, failed: int, report: str | None
    ) -> None:
        values = dict(finished_at=_now(), status=status, images_found=found, images_new=new)
        values.update(images_skipped=skipped, images_failed=failed, report=report)
        self._do(lambda connection: connection.execute(runs.update().where(runs.c.id == run).values(**values)))

    def alive(self, run: int) -> None:
        """The run's process is running it still (`Heartbeat`): one try, quietly (a sign of life missed is
        made up by the next; a store that is away is the run's to wait for and say, not this thread's)."""
        if self._lost:
            return
        try:
            with self.engine.begin() as connection:
                connection.execute(runs.update().where(runs.c.id == run).values(alive_at=_now()))
        except sa.exc.SQLAlchemyError as exc:  # (the database's errors, and a pool with no connection free)
            log.debug("Could not say run %d is alive: %s", run, _reason(exc))

    def unfinished_run(
        self, project: str, registry: str, mode: str, shard: tuple[int, int] = (1, 1)
    ) -> tuple[int, str | None, str, str | None] | None:
        """(id, options, scan id, where it is still running or None) of the last run of this registry, mode
        and share, if it was killed or interrupted, or is running still (`running_still`)."""
        query = (
            sa.select(runs.c.id, runs.c.status, runs.c.scan_id, run_options.c.options, runs.c.runner, runs.c.alive_at)
            .select_from(runs.outerjoin(run_options, run_options.c.run == runs.c.id))
            .where(runs.c.project == project, runs.c.registry == registry, runs.c.mode == mode)
            .where(runs.c.shard == shard[0], runs.c.shards == shard[1])
            .order_by(runs.c.id.desc())
            .limit(1)
        )
        rows = self._rows(query)
        if rows and rows[0]["status"] in ("running", "interrupted"):
            row = rows[0]
            still = running_still(row["runner"], row["alive_at"]) if row["status"] == "running" else None
            return row["id"], row["options"], row["scan_id"], still
        return None

    def discard(self, run: int) -> None:
        """A run that stopped before it was whole, undone: what it recorded goes, so that it is never
        taken for an image's latest scan (a rematch: the scan it matched again stays the latest)."""

        def discard(connection: Connection) -> None:
            for table in (finding_names, finding_rows, findings, scans):
                connection.execute(table.delete().where(table.c.run == run))
            connection.execute(runs.update().where(runs.c.id == run).values(status="interrupted", finished_at=_now()))

        self._do(discard)

    def mark_followed(self, run: int, status: str) -> None:
        """An unfinished run's end: resumed or superseded by a later one."""
        self._do(lambda connection: connection.execute(runs.update().where(runs.c.id == run).values(status=status)))

    def runs(self, project: str, limit: int = 20) -> list[RowMapping]:
        scanned = sa.select(sa.func.count()).where(scans.c.run == runs.c.id).scalar_subquery()
        query = sa.select(runs, scanned.label("scanned")).where(runs.c.project == project)
        return self._rows(query.order_by(runs.c.id.desc()).limit(limit))

    def scans_to_pick(self, project: str, chosen: Sequence[int] = (), most: int = 200) -> list[RowMapping]:
        """The project's last ``most`` scan runs that scanned images, and the runs ``chosen``, newest first."""
        scanned = sa.exists().where(scans.c.run == runs.c.id)
        query = sa.select(runs).where(runs.c.project == project, runs.c.mode.in_(SCANNING), scanned)
        last = self._rows(query.order_by(runs.c.id.desc()).limit(most))
        known = {row["id"] for row in last}
        extra = [run for run in chosen if run not in known]
        more = self._rows(query.where(runs.c.id.in_(extra))) if extra else []
        return sorted([*last, *more], key=lambda row: -row["id"])

    def scan_runs(self, project: str, run: int) -> list[int]:
        """The runs of the scan `run` is part of (the workers of one --scan-id), oldest first: the latest
        of each share, which has all of it (a worker run again, or resuming one killed, records every
        image of its share again)."""
        of = sa.select(runs.c.scan_id, runs.c.mode).where(runs.c.id == run).subquery()
        query = sa.select(runs.c.id, runs.c.shard, runs.c.shards).join(
            of, sa.and_(runs.c.scan_id == of.c.scan_id, runs.c.mode == of.c.mode)
        )
        query = query.where(runs.c.project == project)
        latest = {(row["shard"], row["shards"]): row["id"] for row in self._rows(query.order_by(runs.c.id))}
        return sorted(latest.values()) or [run]

    def resumed(self, run: int) -> list[int]:
        """The runs `run` finishes: the interrupted run it resumed, the one that one resumed, and so on.
        The digests they met first are new to `run`, as they would have been to a run never stopped."""
        chain: list[int] = []
        followed = run
        while True:
            query = sa.select(runs.c.id).where(runs.c.status == f"resumed by run {followed}")
            earlier = self._scalar(query)
            if earlier is None or earlier in chain:
                return chain
            chain.append(earlier)
            followed = earlier

    def scan_used(self, project: str, scan_id: str, shard: tuple[int, int], before: int) -> RowMapping | None:
        """The latest run before `before` that finished this scan id's share, if one did."""
        query = sa.select(runs.c.id, runs.c.finished_at).where(
            runs.c.project == project,
            runs.c.scan_id == scan_id,
            runs.c.shard == shard[0],
            runs.c.shards == shard[1],
            runs.c.id < before,
            runs.c.status.in_(("complete", "partial")),
        )
        rows = self._rows(query.order_by(runs.c.id.desc()).limit(1))
        return rows[0] if rows else None

    def selection(self, run: int) -> str:
        """The filters that left images out of a scan run ('' for the whole registry): its SARIF's
        category says them."""
        options = self._scalar(sa.select(run_options.c.options).where(run_options.c.run == run))
        try:
            chosen = json.loads(options or "{}").get("selection", "")
        except (ValueError, AttributeError):
            return ""
        return chosen if isinstance(chosen, str) else ""

    def run_with_options(self, project: str, options: str) -> int | None:
        """The project's run begun with exactly these options (a console's submitted run, by its client key)."""
        query = sa.select(sa.func.max(runs.c.id)).join(run_options, run_options.c.run == runs.c.id)
        return self._scalar(query.where(runs.c.project == project, run_options.c.options == options))

    def submitted(self, run: int) -> bool:
        """Whether the run was begun through a console's API (its options are a client's key)."""
        return _client_of(self._scalar(sa.select(run_options.c.options).where(run_options.c.run == run))) is not None

    def share_recorded_here(self, project: str, scan_id: str, shard: tuple[int, int]) -> bool:
        """Whether tcs-registry itself (not a submitter) recorded this share of the scan."""
        query = sa.select(run_options.c.options).join(runs, run_options.c.run == runs.c.id)
        query = query.where(runs.c.project == project, runs.c.scan_id == scan_id)
        rows = self._rows(query.where(runs.c.shard == shard[0], runs.c.shards == shard[1]))
        return any(_client_of(row["options"]) is None for row in rows)

    def run(self, project: str, run: int) -> RowMapping | None:
        rows = self._rows(sa.select(runs).where(runs.c.project == project, runs.c.id == run))
        return rows[0] if rows else None

    def scan_id(self, run: int) -> str | None:
        query = sa.select(runs.c.scan_id).where(runs.c.id == run)
        return self._scalar(query)

    # -- images -------------------------------------------------------------------------------
    def record(
        self,
        run: int,
        project: str,
        registry: str,
        described: Sequence[ImageDescription] = (),
        scanned: Sequence[Scanned] = (),
        earlier: Sequence[int] = (),
        analyser: str = ANALYSER_VERSION,
        plan: bool = False,
    ) -> int:
        """Remember images as a run described them and what it found in their platforms, in one
        transaction; how many of their digests were new to the project (a digest several workers meet
        at once is new to exactly one), or first met by an ``earlier`` run this one finishes (one
        interrupted and resumed): those are claimed for this run, once. An inventory is kept once per digest,
        findings (which change with the vulnerability database) per run. ``plan``: a dry run's, whose
        digests are kept per run (`planned`) for a scan of its report."""
        now = _now()
        first_seen = [dict(project=project, digest=image.digest, first_run=run, first_seen=now) for image in described]
        tags = {
            (image.repository, image.tag): dict(
                project=project,
                registry=registry,
                repository=image.repository,
                tag=image.tag,
                digest=image.digest,
                media_type=image.media_type,
                platforms=json.dumps([str(p) for p in image.platforms]),
                build_time=format_time(image.build_time) or None,
                last_run=run,
            )
            for image in described
        }
        platforms, found, stored = {}, {}, {}
        listed: dict[tuple[Any, ...], list[dict[str, Any]]] = {}  # (a platform met twice: its last findings)
        for inventory, document, findings_ in scanned:
            where = dict(
                run=run, repository=inventory.repository, tag=inventory.tag, platform=str(inventory.platform or "")
            )
            where = {k: storable(v) for k, v in where.items()}
            key = tuple(where.values())
            values = dict(project=project, registry=registry, digest=inventory.digest, analyser=analyser)
            platforms[key] = {**where, **values, "scanned_at": now}
            if findings_ is not None:
                found[key] = {**where, "findings": pack(findings_)}
                listed[key] = finding_rows_of(project, registry, run, where, findings_)
            document_json = json.dumps(document, separators=(",", ":"))
            stored[inventory.digest] = dict(
                project=project, digest=inventory.digest, analyser=analyser, inventory=document_json
            )

        def record(connection: Connection) -> int:
            new = self._add(connection, digests, first_seen) if first_seen else 0
            if earlier and first_seen:
                claim = digests.update().where(
                    digests.c.project == project,
                    digests.c.digest.in_({row["digest"] for row in first_seen}),
                    digests.c.first_run.in_(earlier),
                )
                new += max(connection.execute(claim.values(first_run=run)).rowcount, 0)
            # each row once a statement: PostgreSQL refuses to update one row twice in one INSERT
            for table, rows in ((images, tags), (findings, found), (scans, platforms)):
                if rows:
                    self._upsert(connection, table, list(rows.values()))
            if found:  # an image platform recorded again: its rows are its latest findings
                keys = [
                    {f"k_{name}": value for name, value in row.items() if name != "findings"} for row in found.values()
                ]
                for table in (finding_rows, finding_names):
                    connection.execute(self._statement("clear", table, ("run", "repository", "tag", "platform")), keys)
            if every := [row for rows in listed.values() for row in rows]:
                connection.execute(finding_rows.insert(), every)
                connection.execute(finding_names.insert(), names_of(every))
            if stored:
                self._add(connection, inventories, list(stored.values()))
            if plan and described:
                rows = {(i.repository, i.tag): dict(run=run, repository=i.repository, tag=i.tag, digest=i.digest)
                        for i in described}  # fmt: skip
                self._upsert(connection, planned, list(rows.values()))
            return new

        return self._do(record)

    def plans(
        self, project: str, registry: str, most: int = 20
    ) -> list[tuple[dict[str, Any], dict[tuple[str, str], str]]]:
        """The project's last ``most`` dry runs of the registry, newest first, each (its workers' runs
        together, for a sharded one) with the digest of every image it described: ({id, reports},
        {(repository, tag): digest})."""
        query = sa.select(runs).where(runs.c.project == project, runs.c.registry == registry, runs.c.mode == "dry-run")
        scans_of: dict[str, list[RowMapping]] = {}
        for row in self._rows(query.order_by(runs.c.id.desc()).limit(most * 4)):
            scans_of.setdefault(row["scan_id"], []).append(row)
        found = []
        for shares in list(scans_of.values())[:most]:
            ids = [row["id"] for row in shares]
            described = sa.select(planned).where(planned.c.run.in_(ids)).order_by(planned.c.run)
            digests = {(r["repository"], r["tag"]): r["digest"] for r in self._rows(described)}
            found.append(({"id": max(ids), "reports": [row["report"] for row in shares if row["report"]]}, digests))
        return found

    def analysed(self, diff_ids: Iterable[str], analyser: str = ANALYSER_VERSION) -> set[str]:
        """Those of the layers ``diff_ids`` the layer cache has a record of (a scan reads them no more)."""
        wanted, known = list(diff_ids), set()
        for first in range(0, len(wanted), 500):
            query = sa.select(layers.c.diff_id).where(
                layers.c.diff_id.in_(wanted[first : first + 500]), layers.c.analyser == analyser
            )
            known.update(row["diff_id"] for row in self._rows(query))
        return known

    def described(
        self, runs: Sequence[int], project: str, registry: str, repository: str, tag: str
    ) -> RowMapping | None:
        """The image as one of `runs` recorded it last, if one did."""
        query = sa.select(images).where(
            images.c.project == project,
            images.c.registry == registry,
            images.c.repository == repository,
            images.c.tag == tag,
            images.c.last_run.in_(runs),
        )
        rows = self._rows(query)
        return rows[0] if rows else None

    def images_of_run(self, project: str, run: int) -> list[ImageDescription]:
        """The images as `run` described them, where no later run has described them since."""
        query = sa.select(images).where(images.c.project == project, images.c.last_run == run)
        return [
            ImageDescription(
                row["repository"],
                row["tag"],
                row["digest"],
                row["media_type"],
                tuple(Platform(*[*p.split("/"), None][:3]) for p in json.loads(row["platforms"])),
                parse_time(row["build_time"]),
            )
            for row in self._rows(query.order_by(images.c.repository, images.c.tag))
        ]

    def record_failure(self, run: int, repository: str, tag: str, reason: str, code: str = "error") -> None:
        row = dict(run=run, repository=repository, tag=tag, reason=reason, code=code)
        self._do(lambda connection: self._upsert(connection, failures, [row]))

    def failures(self, of_runs: Sequence[int]) -> list[RowMapping]:
        query = sa.select(failures).where(failures.c.run.in_(of_runs))
        return self._rows(query.order_by(failures.c.repository, failures.c.tag, failures.c.run))

    # -- what scans found ---------------------------------------------------------------------
    def scanned(
        self,
        project: str,
        scan: Sequence[int] | None = None,
        *,
        repository: str | None = None,
        tag: str | None = None,
        platform: str | None = None,
    ) -> list[tuple[RowMapping, dict[str, Any]]]:
        """(scan row, stored inventory document) of each image platform the runs of a scan scanned (by
        default the project's latest scan), its latest if several did; optionally of one repository, tag
        and platform (``linux/arm64`` is also ``linux/arm64/v8``, as for --platform)."""
        if scan is None:
            latest = self.latest_scan(project)
            scan = self.scan_runs(project, latest) if latest is not None else []
        return self._latest(scans.c.project == project, scans.c.run.in_(scan), *_image(repository, tag, platform))

    def last_scanned(
        self,
        project: str,
        repository: str,
        tag: str | None = None,
        platform: str | None = None,
        among: Sequence[int] | None = None,
    ) -> list[tuple[RowMapping, dict[str, Any]]]:
        """The latest scan of each platform of an image (or of each tag of a repository), whatever run it
        was in (a filtered run scans some images, the next others), or in the runs ``among``."""
        where = [scans.c.project == project, *_image(repository, tag, platform)]
        return self._latest(*where, *([scans.c.run.in_(among)] if among is not None else []))

    def matched(self, run: int) -> bool:
        """Whether any of a run's scans was matched against a vulnerability database: a scan without one, or
        of packages no advisory is filed for (Kali's, Amazon Linux's), keeps no vulnerabilities list in its
        findings. Streamed, up to the first that has one."""
        query = sa.select(findings.c.findings).where(findings.c.run == run)

        def any_matched(connection: Connection) -> bool:
            blobs = connection.execution_options(yield_per=500).execute(query).scalars()
            return any("vulnerabilities" in unpack(blob) for blob in blobs)

        return self._do(any_matched)

    def image_history(
        self, project: str, registry: str, repository: str, tag: str, most: int = 100
    ) -> list[dict[str, Any]]:
        """The last ``most`` scans of an image's platforms, newest first: each's run, platform, digest,
        time, whether it was matched against a vulnerability database, and findings of each kind by
        severity."""
        image = (scans.c.project == project, scans.c.registry == registry, *_image(repository, tag, None))
        query = (
            sa.select(scans.c.run, scans.c.platform, scans.c.digest, scans.c.scanned_at, findings.c.findings)
            .select_from(scans.outerjoin(findings, SCAN_FINDINGS))
            .where(*image)
        )
        history = {
            (row["run"], row["platform"]): {
                "run": row["run"],
                "platform": row["platform"],
                "digest": row["digest"],
                "scanned_at": row["scanned_at"],
                "matched": row["findings"] is not None and "vulnerabilities" in unpack(row["findings"]),
                "vulnerability": {},
                "violation": {},
            }
            for row in self._rows(query.order_by(scans.c.run.desc(), scans.c.platform).limit(most))
        }
        rows = finding_rows.c
        counted = (
            sa.select(rows.run, rows.platform, rows.kind, rows.rank, sa.func.count().label("n"))
            .where(
                rows.run.in_({run for run, _ in history}),
                rows.repository == repository,
                rows.tag == tag,
                rows.project == project,
            )
            .group_by(rows.run, rows.platform, rows.kind, rows.rank)
        )
        for row in self._rows(counted):
            if (row["run"], row["platform"]) in history:
                history[row["run"], row["platform"]][row["kind"]][LEVELS[row["rank"]]] = row["n"]
        return list(history.values())

    def before(
        self, project: str, scan: Sequence[int], since: Sequence[int] | None = None
    ) -> list[tuple[RowMapping, dict[str, Any]]]:
        """What each image platform of a scan was when it was last scanned before: in the runs ``since``,
        or by default in the latest run of the project that scanned it in this registry before the scan
        began, whatever that run's filters (the runs of the scan, and those they resumed, are the scan)."""
        keys = (scans.c.repository, scans.c.tag, scans.c.platform)
        now = scans.alias("now")
        scanned_now = sa.select(now.c.repository, now.c.tag, now.c.platform).where(now.c.run.in_(scan))
        registry = self._scalar(sa.select(runs.c.registry).where(runs.c.id == min(scan)))
        earlier = list(since) if since is not None else self.earlier_scans(project, scan)
        if not earlier:
            return []
        where = [scans.c.project == project, scans.c.registry == registry, sa.tuple_(*keys).in_(scanned_now)]
        return self._latest(*where, scans.c.run.in_(earlier))

    def earlier_scans(self, project: str, scan: Sequence[int]) -> list[int]:
        """The runs of the project that scanned the scan's registry before it began (its first run, or
        the first run it resumed), in other scans."""
        this = self._rows(sa.select(runs.c.registry, runs.c.scan_id).where(runs.c.id == min(scan)))[0]
        began = min([*scan, *(run for share in scan for run in self.resumed(share))])
        scanned = sa.exists().where(scans.c.run == runs.c.id)
        query = sa.select(runs.c.id).where(
            runs.c.project == project,
            runs.c.registry == this["registry"],
            runs.c.mode.in_(SCANNING),
            runs.c.scan_id != this["scan_id"],
            runs.c.id < began,
            scanned,
        )
        return [row["id"] for row in self._rows(query.order_by(runs.c.id))]

    def scanned_pages(
        self, project: str, scan: Sequence[int], size: int = 500
    ) -> Iterator[list[tuple[RowMapping, dict[str, Any]]]]:
        """What `scanned` gives for the runs ``scan``, ``size`` image platforms at a time: a scan of
        thousands of images never held in memory whole."""
        for offset in itertools.count(0, size):
            page = self._latest(scans.c.project == project, scans.c.run.in_(scan), offset=offset, limit=size)
            if page:
                yield page
            if len(page) < size:
                return

    def _latest(
        self, *where: Any, offset: int = 0, limit: int | None = None
    ) -> list[tuple[RowMapping, dict[str, Any]]]:
        """(scan row, document) of the latest scan of each image platform among the scans ``where``
        selects, in the order of their names (from ``offset``, at most ``limit``)."""
        names = (scans.c.registry, scans.c.repository, scans.c.tag, scans.c.platform)
        latest = sa.select(*names, sa.func.max(scans.c.run).label("run")).where(*where).group_by(*names).subquery()
        query = (
            sa.select(scans, inventories.c.inventory, findings.c.findings)
            .select_from(
                scans.join(latest, sa.and_(*(scans.c[column.name] == column for column in latest.c)))
                .join(
                    inventories,
                    sa.and_(
                        inventories.c.project == scans.c.project,
                        inventories.c.digest == scans.c.digest,
                        inventories.c.analyser == scans.c.analyser,
                    ),
                )
                .outerjoin(findings, SCAN_FINDINGS)
            )
            .order_by(scans.c.repository, scans.c.tag, scans.c.platform, scans.c.registry)
            .offset(offset)
            .limit(limit)
        )
        return [(row, self._document(row)) for row in self._rows(query)]

    @staticmethod
    def _document(row: RowMapping) -> dict[str, Any]:
        """A stored inventory (kept once per digest) named as this scan saw it: tags share digests."""
        document = json.loads(row["inventory"])
        document.update(repository=row["repository"], tag=row["tag"])
        document["image"] = f"{urlsplit(row['registry']).netloc}/{row['repository']}:{row['tag']}"
        if row["findings"] is not None:
            document.update(unpack(row["findings"]))
        return document

    def previous_scan(self, project: str, scan: Sequence[int]) -> int | None:
        """The project's last run, before the scan of `scan`'s runs began, that scanned images of the
        same registry in another scan."""
        return max(self.earlier_scans(project, scan), default=None)

    def latest_scan(self, project: str, among: Sequence[int] | None = None) -> int | None:
        """The project's latest run that scanned images (of the runs ``among``, if given)."""
        query = sa.select(sa.func.max(scans.c.run)).where(scans.c.project == project)
        return self._scalar(query if among is None else query.where(scans.c.run.in_(among)))

    def list_findings(
        self,
        project: str,
        scan: Sequence[int],
        kind: str,
        *,
        severities: Sequence[str] = (),
        repository: str = "",
        package: str = "",
        finding: str = "",
        fixable: bool | None = None,
        layer: str = "",
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[RowMapping], dict[str, int]]:
        """(a page of the findings of one kind, ``vulnerability`` or ``violation``, of the runs ``scan``,
        worst first; their count by severity) as filtered: severities, a repository name or its start, a
        package, a vulnerability id or alias (or a check id), whether a fix is published. Names are
        looked for as they were stored (`storable`: a NUL, a lone surrogate as its escape)."""
        repository, package, layer = storable(repository), storable(package), storable(layer)
        finding = storable(finding.upper())  # (stored upper-cased, then escaped)
        rows = finding_rows.c
        where = [rows.project == project, rows.run.in_(scan), rows.kind == kind]
        if severities:  # by rank: the index's
            where.append(rows.rank.in_(sorted({rank(level) for level in severities})))
        if repository:
            where.append(rows.repository.startswith(repository, autoescape=True))
        if package:
            where.append(rows.package == package)
        source: Any = finding_rows
        if finding:  # any case of its id or of an alias: the few rows of that name, through its index
            names = finding_names.c
            source = finding_names.join(finding_rows, sa.and_(*(names[k] == rows[k] for k in FINDING_KEY)))
            where += [names.project == project, names.kind == kind, names.name == finding, names.run.in_(scan)]
        if fixable is not None:
            where.append(rows.fixed != "" if fixable else rows.fixed == "")
        if layer:
            where.append(rows.layer == layer)
        # worst first, counted by severity: in the rank index's order; but a filter that keeps few rows (a
        # package, an id, a layer) reads them through its index and sorts them, rather than walk the rank
        # index to find them (``rank + 0`` is no column of an index: SQLite's planner looks elsewhere)
        severity = rows.rank + 0 if package or finding or layer else rows.rank
        counted = sa.select(severity.label("rank"), sa.func.count().label("n")).select_from(source).where(*where)
        counted = counted.group_by(severity)
        order = (severity.desc(), rows.repository, rows.tag, rows.platform, rows.seq)
        page = sa.select(finding_rows).select_from(source).where(*where).order_by(*order).offset(offset).limit(limit)

        def read(connection: Connection) -> tuple[list[RowMapping], dict[str, int]]:
            counts = {LEVELS[row["rank"]]: row["n"] for row in connection.execute(counted).mappings()}
            return list(connection.execute(page).mappings()), counts

        return self._do(read)

    def by_layer(self, project: str, scan: Sequence[int], most: int = 100) -> list[RowMapping]:
        """The layers (diff_ids) whose packages bring vulnerabilities into more than one image platform of
        the runs ``scan`` (by digest: two tags of one image are one): each with its findings, the image
        platforms it is in, and its worst rank."""
        rows = finding_rows.c
        key = ("run", "repository", "tag", "platform")
        images_in = sa.func.count(sa.distinct(scans.c.digest))
        query = (
            sa.select(
                rows.layer,
                sa.func.count().label("findings"),
                images_in.label("images"),
                sa.func.max(rows.rank).label("worst"),
            )
            .select_from(finding_rows.join(scans, sa.and_(*(rows[k] == scans.c[k] for k in key))))
            .where(rows.project == project, rows.run.in_(scan), rows.kind == "vulnerability", rows.layer != "")
            .group_by(rows.layer)
            .having(images_in > 1)
            .order_by(sa.desc("findings"), rows.layer)
            .limit(most)
        )
        return self._rows(query)

    def layer_findings(self, project: str, scan: Sequence[int], layers: Sequence[str]) -> list[RowMapping]:
        """The vulnerabilities the packages of ``layers`` bring into the image platforms of the runs ``scan``."""
        rows = finding_rows.c
        query = sa.select(finding_rows).where(
            rows.project == project, rows.run.in_(scan), rows.kind == "vulnerability", rows.layer.in_(layers)
        )
        return self._rows(query)

    def trend(self, project: str, registry: str, kind: str, count: int = 30) -> list[tuple[int, dict[str, int]]]:
        """(run, findings of one kind by severity) of the registry's last ``count`` runs that scanned it."""
        latest = sa.select(runs.c.id).where(
            runs.c.project == project, runs.c.registry == registry, sa.exists().where(scans.c.run == runs.c.id)
        )
        chosen = [row["id"] for row in self._rows(latest.order_by(runs.c.id.desc()).limit(count))]
        rows = finding_rows.c
        query = (
            sa.select(rows.run, rows.rank, sa.func.count().label("n"))
            .where(rows.project == project, rows.kind == kind, rows.run.in_(chosen))
            .group_by(rows.run, rows.rank)
        )
        counted: dict[int, dict[str, int]] = {run: {} for run in sorted(chosen)}
        for row in self._rows(query):
            counted[row["run"]][LEVELS[row["rank"]]] = row["n"]
        return list(counted.items())

    def registries(self, project: str) -> list[RowMapping]:
        """Each registry the project has scanned, with the latest run that scanned images of it."""
        query = (
            sa.select(scans.c.registry, sa.func.max(scans.c.run).label("run"))
            .where(scans.c.project == project)
            .group_by(scans.c.registry)
        )
        return self._rows(query.order_by(sa.desc("run")))  # the latest scanned first

    def projects(self) -> list[str]:
        query = sa.select(runs.c.project).distinct().order_by(runs.c.project)
        return [row["project"] for row in self._rows(query)]

    # -- the console's tokens -----------------------------------------------------------------
    def add_token(self, project: str, role: str, digest: str, name: str = "") -> int:
        values = dict(project=project, role=role, digest=digest, name=name, created_at=_now())
        return self._do(lambda c: int(c.execute(tokens.insert().values(**values)).inserted_primary_key[0]))

    def token(self, digest: str) -> RowMapping | None:
        """The token with this secret's digest, unless revoked."""
        rows = self._rows(sa.select(tokens).where(tokens.c.digest == digest, tokens.c.revoked_at.is_(None)))
        return rows[0] if rows else None

    def token_by_id(self, token_id: int) -> RowMapping | None:
        """A token by its id, unless revoked (a console session holds the id, never the secret)."""
        rows = self._rows(sa.select(tokens).where(tokens.c.id == token_id, tokens.c.revoked_at.is_(None)))
        return rows[0] if rows else None

    def list_tokens(self, project: str | None = None) -> list[RowMapping]:
        query = sa.select(tokens.c.id, tokens.c.project, tokens.c.role, tokens.c.name, tokens.c.created_at)
        query = query.add_columns(tokens.c.revoked_at)
        if project is not None:
            query = query.where(tokens.c.project == project)
        return self._rows(query.order_by(tokens.c.id))

    def revoke_token(self, token_id: int, project: str | None = None) -> bool:
        """Revoke a token (of ``project`` only, if given); whether one was."""
        query = tokens.update().where(tokens.c.id == token_id, tokens.c.revoked_at.is_(None))
        if project is not None:
            query = query.where(tokens.c.project == project)
        return self._do(lambda c: c.execute(query.values(revoked_at=_now())).rowcount) > 0

    def close(self) -> None:
        if self.url.get_backend_name() == "sqlite" and not self._lost:
            # the statistics SQLite's planner needs to pick the right index (PostgreSQL's autovacuum keeps its
            # own); from a sample of each index, so it costs milliseconds whatever the store's size
            with suppress(sa.exc.DBAPIError), self.engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA analysis_limit=400")
                connection.exec_driver_sql("ANALYZE")
        self.engine.dispose()


class LayerCache:
    """The layer records of the analysis, keyed by diff_id and analyser version, in the store: a layer
    one worker analysed is reused by every other. Safe across threads. Records are written in batches
    by a thread of their own: a scan does not wait for the store's write lock (held by the run's other
    writes), and a record not yet written is found all the same."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._unwritten: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._batches: Batches[tuple[str, str]] = Batches(self._write, "layers")

    def get_layer(self, diff_id: str, analyser: str) -> dict[str, Any] | None:
        with self._lock:
            values = self._unwritten.get((diff_id, analyser))
        if values is not None:
            return unpack(values["record"])
        query = sa.select(layers.c.record).where(layers.c.diff_id == diff_id, layers.c.analyser == analyser)
        record = self.store._scalar(query)
        return unpack(record) if record is not None else None

    def put_layer(self, diff_id: str, analyser: str, record: dict[str, Any]) -> None:
        blob = pack(record)
        values = dict(diff_id=diff_id, analyser=analyser, record=blob, analysed_at=_now())
        with self._lock:
            self._unwritten[(diff_id, analyser)] = values
        self._batches.put((diff_id, analyser))

    def close(self) -> None:
        """Write what is left, then stop."""
        self._batches.close()

    def _write(self, keys: list[tuple[str, str]]) -> None:
        with self._lock:
            # a layer put twice may have been written with the first: its second entry finds nothing
            rows = [row for key in dict.fromkeys(keys) if (row := self._unwritten.get(key))]

        def write(connection: Connection) -> None:
            self.store._add(connection, layers, rows)
            # the same layers' records of older analysers are never read again (a newer one's are kept:
            # a team's store may be shared by two releases for a while)
            older = _older_analysers({row["analyser"] for row in rows})
            if older:
                stale = layers.c.diff_id.in_({row["diff_id"] for row in rows}) & layers.c.analyser.in_(older)
                connection.execute(layers.delete().where(stale))

        try:
            if rows:
                self.store._do(write)
        except TcsError as exc:  # a layer not kept is analysed again by a later scan; the run goes on
            log.warning("Could not keep %d layer analyses in the store: %s", len(rows), exc)
        with self._lock:
            for row in rows:
                self._unwritten.pop((row["diff_id"], row["analyser"]), None)


def _older_analysers(versions: set[str]) -> list[str]:
    """The analyser versions before the oldest of ``versions`` (``"4"``, ``"4-no-secrets"``: 1 to 3, each
    with and without the secret search)."""
    numbers = [int(v.split("-", 1)[0]) for v in versions if v.split("-", 1)[0].isdigit()]
    if not numbers:
        return []
    return [f"{n}{suffix}" for n in range(1, min(numbers)) for suffix in ("", NO_SECRETS)]


def finding_rows_of(
    project: str, registry: str, run: int, where: Any, document: dict[str, Any]
) -> list[dict[str, Any]]:
    """The rows of ``finding_rows`` for one image platform's findings (``where``: its run, repository, tag
    and platform)."""
    key = dict(run=run, repository=where["repository"], tag=where["tag"], platform=where["platform"])
    rows = []
    for kind, items in (("vulnerability", document.get("vulnerabilities")), ("violation", document.get("violations"))):
        for seq, item in enumerate(items or ()):
            aliases = " ".join(str(a).upper() for a in [item.get("id", ""), *(item.get("aliases") or ())] if a)
            rows.append(
                dict(
                    key,
                    kind=kind,
                    seq=seq,
                    project=project,
                    registry=registry,
                    id=str(item.get("id", "")),
                    aliases=f" {aliases} " if aliases else "",
                    package=str(item.get("package", "")),
                    installed=str(item.get("installed_version", "")),
                    fixed=str(item.get("fixed_version", "")),
                    severity=str(item.get("severity", "UNKNOWN")),
                    rank=rank(str(item.get("severity", "UNKNOWN"))),
                    title=str(item.get("title", "")),
                    detail=str(item.get("detail", "")),
                    layer=str(item.get("layer", "")),
                )
            )
    return [{k: storable(v) for k, v in row.items()} for row in rows]


OWN_SCAN = "run-"  # the scan id of a run that is a scan of its own (no --scan-id): run-<id>; kept for them


def own_scan_id(run: int) -> str:
    return f"{OWN_SCAN}{run}"


def is_own_scan(scan_id: str) -> bool:
    """Whether ``scan_id`` is of the form kept for runs that are scans of their own."""
    return scan_id.startswith(OWN_SCAN)


def storable(value: Any) -> Any:
    """Text the database can hold: a lone surrogate (a file name that was not UTF-8, a JSON "\\udc9b"
    from an image) and a NUL (which PostgreSQL's text refuses) written as their escapes, not refused with
    the whole batch."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = value.encode("utf-8", "backslashreplace").decode("utf-8")
        if "\x00" in value:
            value = value.replace("\x00", "\\x00")
    return value


def _client_of(options: str | None) -> str | None:
    """The client key of a run's options, if a console's API began it."""
    try:
        chosen = json.loads(options or "{}")
    except ValueError:
        return None
    client = chosen.get("client") if isinstance(chosen, dict) else None
    return client if isinstance(client, str) else None


def names_of(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of ``finding_names`` for rows of ``finding_rows``: one a name each finding goes by (at
    most MOST_NAMES names of at most NAME characters: an advisory has a few, short)."""
    key = (*FINDING_KEY, "project")
    return [
        {**{k: row[k] for k in key}, "name": name}
        for row in rows
        for name in list(dict.fromkeys(n for n in row["aliases"].split() if len(n) <= NAME))[:MOST_NAMES]
    ]


def _image(repository: str | None, tag: str | None, platform: str | None) -> list[Any]:
    """Conditions on the scans of one repository, tag and platform, where given; a platform without a
    variant (``linux/arm64``) is also each of its variants, as --platform takes it."""
    where = [scans.c[name] == value for name, value in (("repository", repository), ("tag", tag)) if value is not None]
    if platform is not None:
        variants = scans.c.platform.startswith(platform + "/", autoescape=True)
        where.append(
            sa.or_(scans.c.platform == platform, variants) if platform.count("/") == 1 else scans.c.platform == platform
        )
    return where
