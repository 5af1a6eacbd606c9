"""A store written by release 0.1.0 (tests/fixtures/stores, made by that release) is upgraded in place on
first use and shows what it showed; it keeps every digest, so a re-run finds no new image."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sqlite3
import subprocess
import sys
import time
import zlib
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures" / "stores"
_spec = importlib.util.spec_from_file_location("make_store", FIXTURES / "make_store.py")
assert _spec and _spec.loader
make_store = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_store)


def _known(shown: object, expected: object) -> object:
    """``shown`` without the keys ``expected`` (an older release's document) does not have."""
    if isinstance(shown, dict) and isinstance(expected, dict):
        return {key: _known(value, expected[key]) for key, value in shown.items() if key in expected}
    if isinstance(shown, list) and isinstance(expected, list) and len(shown) == len(expected):
        return [_known(a, b) for a, b in zip(shown, expected, strict=True)]
    return shown


def test_a_store_of_release_0_1_0_is_upgraded_in_place(tcs, tmp_path, fresh_registry, pusher):
    state = tmp_path / "old-state"
    state.mkdir()
    shutil.copyfile(FIXTURES / "0.1.0" / "state.db", state / "state.db")
    upgraded = []
    for name, args in make_store.OUTPUTS.items():
        shown = tcs("results", f"--state-dir={state}", *args)
        assert shown.code == 0, shown.err
        expected = (FIXTURES / "0.1.0" / name).read_text()
        if name.endswith("-json.out"):  # a later release may add keys, never change or drop one
            assert _known(json.loads(shown.out), json.loads(expected)) == json.loads(expected), name
        else:
            assert shown.out == expected, name
        upgraded += [m for m in shown.messages if "Upgrading" in m]
    assert upgraded == [f"info\tUpgrading the state store of release 0.1.0: sqlite:///{state / 'state.db'}"]
    with sqlite3.connect(state / "state.db") as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [("0010",)]
        assert db.execute("SELECT id, scan_id, shard, shards FROM runs").fetchall() == [
            (n, f"run-{n}", 1, 1) for n in (1, 2, 3, 4)
        ]
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        # every finding recorded by 0.1.0 listed a row for the console, as a scan now lists its own
        documents = [json.loads(zlib.decompress(blob)) for (blob,) in db.execute("SELECT findings FROM findings")]
        listed = sum(len(d.get("vulnerabilities") or ()) + len(d.get("violations") or ()) for d in documents)
        assert listed > 0
        assert db.execute("SELECT COUNT(*) FROM finding_rows").fetchall() == [(listed,)]
        names = {
            (f.get("id") or "").upper(): {a.upper() for a in f.get("aliases") or ()}
            for d in documents
            for f in (*(d.get("vulnerabilities") or ()), *(d.get("violations") or ()))
        }
        assert {len(v) for v in names.values()} != {0}  # some finding has an alias
        listed_names = {(name, kind) for name, kind in db.execute("SELECT name, kind FROM finding_names")}
        assert {name for name, _ in listed_names} == set(names) | set().union(*names.values())
    db.close()

    # the same images again, on another port: every digest is known, every layer analysed already
    make_store.registry_content(pusher, second=True)
    where = [f"--state-dir={state}", f"--output-dir={tmp_path / 'out'}"]
    again = tcs("registry", fresh_registry.url, *where, isolate=False)
    assert again.code == 0, again.err
    lines = again.out.splitlines()
    summary = lines[lines.index("Registry Summary:") + 1 :][:2]
    assert [line.split(":")[1].split()[0] for line in summary] == ["4", "0"]
    # the analyser has changed since 0.1.0 (it reads more kinds of files): its layer records are not
    # taken for the new one's, and each distinct layer is read again once (the fourth is a reuse)
    assert "info\tLayers analysed=3 reused=1" in again.messages


def test_the_revision_a_store_is_taken_as_current_at_is_the_newest_migration():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from tcs_registry.store import REVISION

    config = Config()
    config.set_main_option("script_location", "tcs_registry:migrations")
    assert ScriptDirectory.from_config(config).get_current_head() == REVISION


WORKER = """
import sys, time
from pathlib import Path
from tcs_registry.store import Store, store_url
while time.time() < float(sys.argv[2]):
    pass
store = Store(store_url(sys.argv[1], Path("/nonexistent")))
print(*[store.begin_run("p", "http://r", "v2", "dry-run", "{}") for _ in range(3)])
store.close()
"""


def test_workers_opening_an_old_store_together_upgrade_it_once_and_lose_nothing(tmp_path):
    """Eight processes start on a 0.1.0 store at the same moment: one upgrades it, and every run each
    of them then recorded is there (no process's commits lost to another's locks)."""
    for attempt in range(2):
        path = tmp_path / f"state-{attempt}.db"
        shutil.copyfile(FIXTURES / "0.1.0" / "state.db", path)
        start = time.time() + 2
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", WORKER, f"sqlite:///{path}", str(start)], stdout=subprocess.PIPE, text=True
            )
            for _ in range(8)
        ]
        returned = {int(run) for worker in workers for run in worker.communicate(timeout=120)[0].split()}
        assert all(worker.returncode == 0 for worker in workers)
        with sqlite3.connect(path) as db:
            stored = {row[0] for row in db.execute("SELECT id FROM runs WHERE project = 'p'")}
            assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [("0010",)]
        db.close()
        assert len(returned) == 24 and returned == stored
