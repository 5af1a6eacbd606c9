"""A team's set-up: workers as separate processes at the same time, sharing one PostgreSQL store (a real
cluster, started for the session), each taking a share of the registry (--shard K/N) of one scan
(--scan-id); and that database restarted under a running scan."""

from __future__ import annotations

import re
import subprocess
import time
from collections import Counter
from pathlib import Path

import sqlalchemy as sa

from tcs_registry.discovery import Discovery
from tcs_registry.testing.helpers import console_script, csv_rows, report_path

SHARDS = 4


def _worker(url: str, store: str, work: Path, *flags: str) -> subprocess.Popen[str]:
    """One worker on its own machine, as far as the store knows: its own state directory."""
    machine = work / f"machine-{abs(hash(flags))}"
    command = [console_script(), "registry", url, f"--store={store}", f"--state-dir={machine}", *flags]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finished(processes: list[subprocess.Popen[str]]) -> list[tuple[str, str]]:
    done = []
    for process in processes:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err[-3000:]
        done.append((out, err))
    return done


def _summary(out: str) -> dict[str, str]:
    lines = out.splitlines()
    summary = lines[lines.index("Registry Summary:") + 1 :]
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in summary)}


def _count(summary: dict[str, str], line: str) -> int:
    """``1,850 digests not seen before`` -> 1850."""
    return int(summary[line].split()[0].replace(",", ""))


def _logged(err: str, message: str) -> dict[str, str]:
    line = next(line for line in err.splitlines() if f"\t{message} " in line)
    return dict(re.findall(r"(\w+)=(\S+)", line.split("\t")[-1]))


def test_four_shards_at_once_report_exactly_what_one_run_reports(big_registry, postgres, tmp_path):
    """1,000 tags in 150 repositories: the union of four workers' reports is the single run's report,
    each image in exactly one; their new images add up to the single run's."""
    out = tmp_path / "out"
    single = _finished(
        [
            _worker(
                big_registry.url, postgres.database(), tmp_path, "--mode=dry-run", f"--output-dir={tmp_path / 'single'}"
            )
        ]
    )
    expected = csv_rows(report_path(tmp_path / "single", big_registry.host))
    store = postgres.database()
    flags = ("--mode=dry-run", "--scan-id=ci-1", f"--output-dir={out}")
    workers = _finished(
        [_worker(big_registry.url, store, tmp_path, *flags, f"--shard={k}/{SHARDS}") for k in range(1, SHARDS + 1)]
    )

    reports = [
        csv_rows(out / report_path(out, big_registry.host).name.replace(".csv", f".shard-{k}-of-{SHARDS}.csv"))
        for k in range(1, SHARDS + 1)
    ]
    assert all(report[0] == expected[0] for report in reports)  # the header
    rows = [tuple(row) for report in reports for row in report[1:]]
    assert Counter(rows) == Counter(tuple(row) for row in expected[1:])  # each image once, none missing
    assert all(150 < len(report) - 1 < 350 for report in reports)  # every worker has a fair share
    summaries = [_summary(worker_out) for worker_out, _ in workers]
    assert [s["Shard"] for s in summaries] == [f"{k} of {SHARDS} (scan ci-1)" for k in range(1, SHARDS + 1)]
    assert sum(_count(s, "Total images found") for s in summaries) == 1000
    new = _count(_summary(single[0][0]), "New images found")
    assert sum(_count(s, "New images found") for s in summaries) == new == 850

    # every worker lists the whole registry (a catalog page of 31 names, a tags list a repository), and
    # describes only its share (a manifest and a config an image)
    listing = 1 + 5 + 150  # the API check, the catalog pages, the tags lists
    for (_, err), report in zip(workers, reports, strict=True):
        sent = int(_logged(err, "Requests to the registry")["sent"])
        assert listing <= sent <= listing + 2 * (len(report) - 1) + 5

    # `results` shows the four runs as one scan
    shown = subprocess.run(
        [console_script(), "results", f"--store={store}"], capture_output=True, text=True, timeout=60
    )
    lines = shown.stdout.splitlines()
    assert lines[0].split() == ["run", "started", "registry", "mode", "status", "found", "scanned", "scan", "shard"]
    assert sorted(line.split()[-2:] for line in lines[2:6]) == [["ci-1", f"{k}/{SHARDS}"] for k in range(1, SHARDS + 1)]


def test_shards_of_a_scan_show_as_one_scan_and_share_the_layer_cache(anonymous_registry, postgres, tmp_path):
    url, host = anonymous_registry.url, anonymous_registry.host
    alone = postgres.database()
    single = _finished([_worker(url, alone, tmp_path, f"--output-dir={tmp_path / 'single'}")])
    analysed = int(_logged(single[0][1], "Layers")["analysed"])
    assert analysed == 2  # the base layer and the app layer

    store = postgres.database()
    flags = ("--scan-id=nightly-7", f"--output-dir={tmp_path / 'out'}")
    workers = _finished([_worker(url, store, tmp_path, *flags, f"--shard={k}/{SHARDS}") for k in range(1, SHARDS + 1)])
    assert all(int(_logged(err, "Layers")["analysed"]) <= analysed for _, err in workers)  # at most once each
    new = sum(_count(_summary(out), "New images found") for out, _ in workers)
    assert new == _count(_summary(single[0][0]), "New images found")

    def images(store_url: str) -> list[list[str]]:
        shown = subprocess.run(
            [console_script(), "results", f"--store={store_url}"], capture_output=True, text=True, timeout=60
        )
        assert shown.returncode == 0, shown.stderr
        rows = [line.split() for line in shown.stdout.splitlines() if line.startswith(host)]
        runs = [next(i for i, cell in enumerate(row) if cell.isdigit()) for row in rows]
        return [row[:i] + row[i + 1 :] for row, i in zip(rows, runs, strict=True)]  # without the run

    merged = images(store)
    assert merged == images(alone)
    assert len(merged) == 11  # ten tags, one of them an index of two platforms
    again = _finished(
        [_worker(url, store, tmp_path, "--scan-id=nightly-8", f"--shard={k}/{SHARDS}") for k in range(1, SHARDS + 1)]
    )
    assert [_logged(err, "Layers")["analysed"] for _, err in again] == ["0"] * SHARDS  # analysed by the others


def test_a_share_is_the_same_on_every_machine(tmp_path):
    """A stable hash (SHA-256 of repository:tag), never Python's hash(), which changes every process: the
    shares below are those of `printf %s team/app:1.0 | sha256sum` (its first 8 bytes modulo 4, plus 1)."""

    class Shard:
        def __init__(self, k: int) -> None:
            self.settings = type("Settings", (), {"shard": (k, SHARDS)})()

    owners = {
        name: [k for k in range(1, SHARDS + 1) if Discovery._mine(Shard(k), *name)]
        for name in (
            ("team/app", "1.0"),
            ("team/app", "1.1"),
            ("library/alpine", "3.20"),
            ("a/b/c", ""),
        )
    }
    assert owners == {
        ("team/app", "1.0"): [1],
        ("team/app", "1.1"): [3],
        ("library/alpine", "3.20"): [2],
        ("a/b/c", ""): [4],
    }


def _under_way(store: str, images: int = 100) -> int:
    """Waits until a run has recorded `images` images in the store; how many it had."""
    engine = sa.create_engine(store.replace("postgresql://", "postgresql+psycopg://"))
    recorded, deadline = 0, time.monotonic() + 60
    try:
        while recorded < images and time.monotonic() < deadline:
            time.sleep(0.1)
            with engine.connect() as connection:
                if sa.inspect(connection).has_table("images"):
                    recorded = connection.execute(sa.text("SELECT COUNT(*) FROM images")).scalar()
    finally:
        engine.dispose()
    return recorded


def test_a_restarted_database_is_waited_for_and_the_run_completes(big_registry, postgres, tmp_path):
    store = postgres.database()
    out = tmp_path / "out"
    process = _worker(big_registry.url, store, tmp_path, "--mode=dry-run", f"--output-dir={out}", "--concurrency=1")
    assert 100 <= _under_way(store) < 1000
    postgres.stop()  # every connection of the run is cut
    time.sleep(2)
    postgres.start()
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr[-3000:]
    assert "Traceback" not in stderr
    assert "did not answer" in stderr  # it said it was waiting
    assert _summary(stdout)["Total images found"] == "1,000 tags"
    assert len(csv_rows(report_path(out, big_registry.host))) == 1001
    engine = sa.create_engine(store.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT status, images_found FROM runs")).all() == [("complete", 1000)]
        assert connection.execute(sa.text("SELECT COUNT(*) FROM images")).scalar() == 1000
    engine.dispose()


def test_a_database_that_stays_away_ends_the_run_with_one_line(big_registry, postgres, tmp_path, monkeypatch):
    store = postgres.database()
    out = tmp_path / "out"
    monkeypatch.setenv("TCS_STORE_RECONNECT_SECONDS", "3")  # instead of 30
    process = _worker(big_registry.url, store, tmp_path, "--mode=dry-run", f"--output-dir={out}", "--concurrency=1")
    assert 100 <= _under_way(store) < 1000
    postgres.stop("immediate")
    try:
        _, stderr = process.communicate(timeout=120)
    finally:
        postgres.start()
    assert process.returncode == 3
    errors = [line.split("\t", 2)[1:] for line in stderr.splitlines() if "\terror\t" in line]
    assert len(errors) == 1 and errors[0][1].startswith(f"the store {store} cannot be reached: "), errors
    assert "Traceback" not in stderr
    rows = csv_rows(report_path(out, big_registry.host))
    assert len(rows) > 1  # the rows written before are kept
