"""A store written by release 0.1.0 (tests/fixtures/stores, made by that release) is upgraded in place on
first use and shows what it showed; it keeps every digest, so a re-run finds no new image, and its
layer cache, so no layer is analysed again."""

from __future__ import annotations

import importlib.util
import shutil
import sqlite3
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures" / "stores"
_spec = importlib.util.spec_from_file_location("make_store", FIXTURES / "make_store.py")
assert _spec and _spec.loader
make_store = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_store)


def test_a_store_of_release_0_1_0_is_upgraded_in_place(tcs, tmp_path, fresh_registry, pusher):
    state = tmp_path / "old-state"
    state.mkdir()
    shutil.copyfile(FIXTURES / "0.1.0" / "state.db", state / "state.db")
    upgraded = []
    for name, args in make_store.OUTPUTS.items():
        shown = tcs("results", f"--state-dir={state}", *args)
        assert shown.code == 0, shown.err
        assert shown.out == (FIXTURES / "0.1.0" / name).read_text(), name
        upgraded += [m for m in shown.messages if "Upgrading" in m]
    assert upgraded == [f"info\tUpgrading the state store of release 0.1.0: sqlite:///{state / 'state.db'}"]
    with sqlite3.connect(state / "state.db") as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [("0002",)]
        assert db.execute("SELECT id, scan_id, shard, shards FROM runs").fetchall() == [
            (n, f"run-{n}", 1, 1) for n in (1, 2, 3, 4)
        ]
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    db.close()

    # the same images again, on another port: every digest is known, every layer analysed already
    make_store.registry_content(pusher, second=True)
    where = [f"--state-dir={state}", f"--output-dir={tmp_path / 'out'}"]
    again = tcs("registry", fresh_registry.url, *where, isolate=False)
    assert again.code == 0, again.err
    lines = again.out.splitlines()
    summary = lines[lines.index("Registry Summary:") + 1 :][:2]
    assert [line.split(":")[1].strip() for line in summary] == ["4", "0"]
    assert "info\tLayers analysed=0 reused=4" in again.messages


def test_the_revision_a_store_is_taken_as_current_at_is_the_newest_migration():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from tcs_registry.store import REVISION

    config = Config()
    config.set_main_option("script_location", "tcs_registry:migrations")
    assert ScriptDirectory.from_config(config).get_current_head() == REVISION
