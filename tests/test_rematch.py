"""`tcs-registry rematch`: a project's stored packages matched again against the database as it is now,
with the registry stopped (nothing is pulled): a new advisory imported since the scan is a new finding,
recorded as a run that `results --changes` compares with the scan."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tcs_registry.testing.images import Entry, tar_layer
from tcs_registry.testing.vulnerable import dpkg, push_debian9

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


def test_a_rematch_stopped_midway_leaves_the_scan_it_matched_as_the_latest(
    tcs, fresh_registry, pusher, state_dir, monkeypatch
):
    from tcs_registry import rematch
    from tcs_registry.store import Store, store_url
    from tcs_registry.vulns.matching import Matcher

    for n in range(3):
        push_debian9(pusher, f"apps/debian{n}")
    assert tcs("db", "import", str(KIT / "DLA-3008-1.json"), f"--state-dir={state_dir}").code == 0
    assert tcs("registry", fresh_registry.url).code == 0
    matched = Matcher.inventory
    calls = []

    def interrupted(self, inventory):
        calls.append(inventory)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return matched(self, inventory)

    monkeypatch.setattr(rematch, "BATCH", 1)  # two image platforms recorded before Ctrl-C
    monkeypatch.setattr(Matcher, "inventory", interrupted)
    stopped = tcs("rematch", f"--state-dir={state_dir}")
    assert stopped.code == 130
    store = Store(store_url(None, state_dir))
    try:
        assert [row["run"] for row in store.registries("default")] == [1]  # the scan, whole, is still the latest
        assert store.run("default", 2)["status"] == "interrupted"  # type: ignore[index]
        assert store.scanned("default", [2]) == []
        killed = store.begin_run("default", fresh_registry.url, "DEFAULT_V2", "scan", '{"platforms": []}')
    finally:
        store.close()
    monkeypatch.setattr(Matcher, "inventory", matched)
    again = tcs("rematch", f"--state-dir={state_dir}")
    assert again.code == 0 and "(run 4, the packages of run 1; no registry asked)" in again.out
    # a scan killed before the rematch is still resumed by the next scan: a rematch is no scan of its own
    resumed = tcs("registry", fresh_registry.url)
    assert f"info\tResuming run {killed} (interrupted or killed)" in resumed.messages or any(
        m.startswith(f"info\tResuming run {killed}") for m in resumed.messages
    ), resumed.messages


def test_packages_of_a_distribution_osv_has_no_name_for_are_read_back(tcs, fresh_registry, pusher, state_dir):
    """Fedora, Amazon Linux, CentOS, Oracle Linux, Kali...: their packages have no OSV ecosystem, and the
    stored scan keeps them without one. Reading it back (a SARIF or SBOM of the stored scan, a re-match, a
    run resumed) has the packages, each with no ecosystem."""
    kali = Entry("etc/os-release", b'PRETTY_NAME="Kali GNU/Linux Rolling"\nID=kali\nVERSION_ID="2024.1"\n')
    pusher.image(
        "apps/kali",
        "1",
        created="2024-02-01T00:00:00Z",
        layers=[tar_layer([kali, dpkg(("openssl", "openssl", "3.1.4-2"))])],
    )
    assert tcs("registry", fresh_registry.url, "--format=json").code == 0
    sbom = tcs("results", f"--state-dir={state_dir}", "--image=apps/kali:1", "--format=cyclonedx")
    assert sbom.code == 0, sbom.err
    assert [(c["bom-ref"], c["type"]) for c in json.loads(sbom.out)["components"]] == [
        ("pkg:deb/kali/openssl@3.1.4-2?arch=amd64&distro=kali-2024.1", "library"),
        ("os:kali:2024.1", "operating-system"),
    ]
    sarif = tcs("results", f"--state-dir={state_dir}", "--image=apps/kali:1", "--format=sarif")
    assert sarif.code == 0, sarif.err
    assert tcs("db", "import", str(KIT / "DLA-3022-1.json"), f"--state-dir={state_dir}").code == 0
    again = tcs("rematch", f"--state-dir={state_dir}")
    assert again.code == 0, again.err
    assert again.out.splitlines()[1:4] == [
        "    Images                : 1 tag, 1 image platform",
        "    Vulnerabilities       : none",  # (Debian's advisory is not Kali's: no ecosystem, no match)
        "    New vulnerabilities   : 0",
    ]
    shown = tcs("results", f"--state-dir={state_dir}")  # the re-match looked in no advisory: not "0"
    assert [line.split()[-4:-1] for line in shown.out.splitlines() if "/apps/kali:1 " in line] == [
        ["1", "not", "matched"]
    ], shown.out
