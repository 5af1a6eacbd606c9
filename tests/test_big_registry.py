"""The done-when check: a dry run of 150 repositories and 1,000 tags through the installed command."""

from __future__ import annotations

import subprocess

from tcs_registry.testing.helpers import console_script, csv_rows, expected_rows, store_rows


def test_dry_run_of_150_repositories_and_1000_tags(big_registry, big, tmp_path):
    state, out = tmp_path / "state", tmp_path / "out"

    def run(*extra):
        return subprocess.run(
            [
                console_script(),
                "registry",
                big_registry.url,
                "--mode=dry-run",
                f"--state-dir={state}",
                f"--output-dir={out}",
                *extra,
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )

    denied = "org/team3/*,*:1.0.0"
    first = run(f"--denyList={denied}", "--max-images=700")
    assert first.returncode == 0, first.stderr[-2000:]
    report = out / f"127-0-0-1-{big_registry.port}-report.csv"

    def is_denied(e):
        return e.repository.startswith("org/team3/") or e.tag == "1.0.0"

    admitted = sorted((e for e in big.expected if not is_denied(e)), key=lambda e: (e.repository, e.tag))[:700]
    kept = {(e.repository, e.tag) for e in admitted}
    rows = csv_rows(report)
    assert len(rows) == 1001
    assert rows == expected_rows(big_registry.host, big.expected, skipped=lambda e: (e.repository, e.tag) not in kept)
    assert first.stdout.splitlines()[1:4] == [
        "    Total images found    : 1000 tags",
        f"    New images found      : {len({e.digest_group for e in admitted})} digests not seen before in the project",
        "    Skipped images        : 300",
    ]
    fetched = [line for line in first.stderr.splitlines() if "\tFetched image discovery details image=" in line]
    assert len(fetched) == 700

    second = run()
    assert second.returncode == 0, second.stderr[-2000:]
    assert csv_rows(report) == expected_rows(big_registry.host, big.expected)
    everything = {e.digest_group for e in big.expected}
    assert second.stdout.splitlines()[1:3] == [
        "    Total images found    : 1000 tags",
        f"    New images found      : {len(everything) - len({e.digest_group for e in admitted})} digests not seen"
        " before in the project",
    ]
    assert store_rows(state, "SELECT COUNT(*), COUNT(DISTINCT digest) FROM images") == [(1000, 850)]
