"""`tcs-registry rematch`: a project's stored packages matched again against the database as it is now,
with the registry stopped (nothing is pulled): a new advisory imported since the scan is a new finding,
recorded as a run that `results --changes` compares with the scan."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tcs_registry.testing.vulnerable import push_debian9

KIT = Path(__file__).parent / "fixtures" / "osv"


def test_rematch_finds_a_new_advisory_without_the_registry(tcs, fresh_registry, pusher, state_dir, tmp_path):
    push_debian9(pusher)
    first = tmp_path / "osv-first"
    first.mkdir()
    shutil.copy(KIT / "DLA-3008-1.json", first)  # openssl's advisory only; dpkg's comes later
    assert tcs("db", "import", str(first), f"--state-dir={state_dir}").code == 0
    scan = tcs("registry", fresh_registry.url)
    assert scan.code == 0, scan.err
    fresh_registry.stop()  # nothing below may ask the registry anything

    assert tcs("db", "import", str(KIT / "DLA-3022-1.json"), f"--state-dir={state_dir}").code == 0
    again = tcs("rematch", f"--state-dir={state_dir}")
    assert again.code == 0, again.err
    host = fresh_registry.url.split("://")[1]
    assert again.out.splitlines() == [
        f"Matched again: {fresh_registry.url} (run 2, the packages of run 1; no registry asked)",
        "    Images                : 1 tag, 1 image platform",
        "    Vulnerabilities       : 3 unknown",
        "    New vulnerabilities   : 1",
        "    Fixed vulnerabilities : 0 (withdrawn or corrected advisories)",
        "    Changes               : tcs-registry results --changes --run 2",
    ]
    changed = tcs("results", f"--state-dir={state_dir}", "--changes", "--run=2", "--format=json")
    assert changed.code == 0, changed.err
    document = json.loads(changed.out)
    assert [(c["image"], c["change"], c["detail"].split()[0]) for c in document["changes"]] == [
        (f"{host}/apps/debian9:1", "new vulnerability", "CVE-2022-1664")
    ]
    # the re-match is the image's latest scan: its packages and all three findings
    latest = json.loads(tcs("results", f"--state-dir={state_dir}", "--image=apps/debian9:1", "--format=json").out)
    assert sorted((v["id"], v["package"]) for v in latest["vulnerabilities"]) == [
        ("CVE-2022-1292", "libssl1.1"), ("CVE-2022-1292", "openssl"), ("CVE-2022-1664", "dpkg")
    ]  # fmt: skip
    assert (
        latest["packages"]
        and latest["violations"]
        == json.loads(
            tcs("results", f"--state-dir={state_dir}", "--run=1", "--image=apps/debian9:1", "--format=json").out
        )["violations"]
    )


def test_rematch_refuses_in_one_line_without_a_database_or_a_scan(tcs, state_dir, fresh_registry, pusher):
    nothing = tcs("rematch", f"--state-dir={state_dir}")
    assert nothing.code == 2 and "no state store in" in nothing.err
    push_debian9(pusher)
    assert tcs("registry", fresh_registry.url, "--mode=dry-run").code == 0
    empty = tcs("rematch", f"--state-dir={state_dir}")
    assert empty.code == 3
    assert "the vulnerability database in" in empty.err and "is empty" in empty.err
    assert tcs("db", "import", str(KIT / "DLA-3022-1.json"), f"--state-dir={state_dir}").code == 0
    unscanned = tcs("rematch", f"--state-dir={state_dir}", "--project=other")
    assert unscanned.code == 2 and "project 'other' has no scan yet: nothing to match again" in unscanned.err
