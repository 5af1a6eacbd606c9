"""--store, --shard, --shards and --scan-id: what a user may get wrong gets one line and exit 2 (3 for a
store that cannot be reached), before the registry is asked anything; a password is never shown."""

from __future__ import annotations

import pytest

import tcs_registry.store


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--store=mysql://db.example.com/tcs"],
            "--store 'mysql://db.example.com/tcs': use postgresql://user@host:5432/db or sqlite:////path/state.db",
        ),
        (
            ["--store=postgresql://robot:s3cret@db:x/tcs"],
            "malformed --store URL 'db:x/tcs': use postgresql://user@host/db or sqlite:////path",
        ),
        (  # a scheme SQLAlchemy has no dialect for
            ["--store=mongodb://db.example.com/tcs"],
            "--store 'mongodb://db.example.com/tcs': use postgresql://user@host:5432/db or sqlite:////path/state.db",
        ),
        (
            ["--store=postgresql+psycopg2://db/tcs"],
            "--store: the psycopg2 driver is not supported; use postgresql:// (psycopg 3)",
        ),
        (["--store=sqlite://"], "--store: a SQLite store needs a file: sqlite:////absolute/path/state.db"),
        (["--shard=5/4"], "--shard '5/4' is not K/N with K from 1 to N, e.g. 2/4"),
        (["--shard=0/4"], "--shard '0/4' is not K/N with K from 1 to N, e.g. 2/4"),
        (["--shard=two"], "--shard 'two' is not K/N with K from 1 to N, e.g. 2/4"),
        (["--shard=1/2", "--shards=2"], "--shard K/N and --shards N contradict each other: choose one"),
        (["--shards=0"], "--shards must be a number of workers from 1, not '0'"),
        (
            ["--shards=4"],
            "--shards 4 takes this worker's share from JOB_COMPLETION_INDEX (0 to 3), which is '': "
            "run it in a Kubernetes Indexed Job, or use --shard K/N",
        ),
        (
            ["--scan-id=nightly build"],
            "--scan-id 'nightly build': use 1 to 100 letters, digits and . _ : / - (e.g. the CI run id)",
        ),
        (["--scan-id=run-3"], "--scan-id 'run-3': names starting with run- are kept for runs without a scan id"),
    ],
)
def test_bad_store_and_shard_flags_are_one_line(tcs, anonymous_registry, flags, message):
    result = tcs("registry", anonymous_registry.url, "--mode=dry-run", *flags)
    assert (result.code, result.messages) == (2, [f"error\t{message}"])


def test_shards_takes_the_share_from_an_indexed_job(tcs, anonymous_registry, monkeypatch, out_dir):
    monkeypatch.setenv("JOB_COMPLETION_INDEX", "3")
    result = tcs("registry", anonymous_registry.url, "--mode=dry-run", "--shards=4", "--scan-id=job-1")
    assert result.code == 0, result.err
    assert "    Shard                 : 4 of 4 (scan job-1)" in result.out.splitlines()
    assert (
        out_dir / f"{anonymous_registry.host.replace('.', '-').replace(':', '-')}-report.shard-4-of-4.csv"
    ).is_file()
    monkeypatch.setenv("JOB_COMPLETION_INDEX", "4")
    beyond = tcs("registry", anonymous_registry.url, "--mode=dry-run", "--shards=4", "--scan-id=job-1")
    assert beyond.messages[-1].endswith("which is '4': run it in a Kubernetes Indexed Job, or use --shard K/N")


def test_a_postgresql_store_without_its_driver_says_how_to_install_it(tcs, anonymous_registry, monkeypatch):
    monkeypatch.setattr(tcs_registry.store, "find_spec", lambda name: None)
    result = tcs("registry", anonymous_registry.url, "--store=postgresql://db.example.com/tcs")
    assert (result.code, result.messages) == (
        2,
        ["error\ta PostgreSQL store needs the psycopg driver: pip install 'tcs-registry[postgres]'"],
    )


def test_a_store_that_cannot_be_reached_is_one_line_without_its_password(tcs, anonymous_registry, monkeypatch):
    monkeypatch.setenv("TCS_STORE_RECONNECT_SECONDS", "1")
    monkeypatch.setenv("TCS_STORE_URL", "postgresql://robot:s3cret@127.0.0.1:1/tcs")
    result = tcs("registry", anonymous_registry.url, "--mode=dry-run")
    assert result.code == 3
    assert "s3cret" not in result.err + result.out
    assert result.messages[-1].startswith("error\tthe store postgresql://robot:***@127.0.0.1:1/tcs cannot be reached: ")
    assert not any("Identified registry" in m for m in result.messages)  # the registry was not asked
    shown = tcs("results")
    assert shown.code == 3 and "s3cret" not in shown.err


def test_a_password_among_the_store_url_parameters_is_never_shown(tcs, anonymous_registry, monkeypatch):
    monkeypatch.setenv("TCS_STORE_RECONNECT_SECONDS", "1")
    result = tcs("results", "--store=postgresql://robot@127.0.0.1:1/tcs?password=s3cret&sslmode=disable")
    assert result.code == 3
    assert "s3cret" not in result.err + result.out
    assert result.messages[-1].startswith(
        "error\tthe store postgresql://robot@127.0.0.1:1/tcs?password=***&sslmode=disable cannot be reached: "
    )


def test_a_database_that_refuses_is_not_waited_for(tcs, postgres):
    """A missing database (or role, or a wrong password) is no outage: one line at once."""
    url = postgres.url("nosuchdb")
    result = tcs("results", f"--store={url}")
    assert result.code == 3
    assert [m for m in result.messages if m.startswith("warn")] == []  # no "trying again"
    assert result.messages[-1].startswith(f"error\tthe store {url} failed: ")
    assert 'database "nosuchdb" does not exist' in result.messages[-1]


def test_a_bad_setting_from_the_environment_is_named_as_it_was_given(tcs, anonymous_registry, monkeypatch):
    """A CI job sets TCS_SCAN_ID or TCS_STORE_URL, not a flag: the error names the variable to fix."""
    monkeypatch.setenv("TCS_SCAN_ID", "nightly build")
    result = tcs("registry", anonymous_registry.url, "--mode=dry-run")
    assert (result.code, result.messages) == (
        2,
        ["error\tTCS_SCAN_ID 'nightly build': use 1 to 100 letters, digits and . _ : / - (e.g. the CI run id)"],
    )
    monkeypatch.delenv("TCS_SCAN_ID")
    monkeypatch.setenv("TCS_STORE_URL", "sqlite://")
    for command in (["registry", anonymous_registry.url, "--mode=dry-run"], ["results"]):
        result = tcs(*command)
        assert (result.code, result.messages[-1]) == (
            2,
            "error\tTCS_STORE_URL: a SQLite store needs a file: sqlite:////absolute/path/state.db",
        )
    monkeypatch.delenv("TCS_STORE_URL")
    monkeypatch.setenv("TCS_CONSOLE_URL", "ftp://console.example.com")
    monkeypatch.setenv("TCS_TOKEN", "tcs_x")
    wrong = "'ftp://console.example.com': use the console's URL (no credentials), e.g. https://console.example.com"
    for command in (["registry", anonymous_registry.url, "--mode=dry-run"], ["results", "push", "--run=1"]):
        result = tcs(*command)
        assert (result.code, result.messages[-1]) == (2, f"error\tTCS_CONSOLE_URL {wrong}")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            'store = "sqlite://"',
            "the config file's store: a SQLite store needs a file: sqlite:////absolute/path/state.db",
        ),
        ("concurrency = 0", "the config file's concurrency must be between 1 and 256, not 0"),
    ],
)
def test_a_bad_setting_from_the_config_file_is_named_so(tcs, anonymous_registry, tmp_path, line, message):
    config = tmp_path / "config.toml"
    config.write_text(line + "\n")
    result = tcs("registry", anonymous_registry.url, "--mode=dry-run", f"--config={config}")
    assert (result.code, result.messages[-1]) == (2, f"error\t{message}")
