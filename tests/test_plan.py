"""Plan -> apply against the real registry: a dry run's report, edited by a person, is what a scan
takes - exactly its rows not skipped, at the digests the dry run saw; a tag moved since is a failure
(or followed with --plan-follow-tags); nothing else is asked for; a report the store cannot place, or
another registry's, is refused in one line."""

from __future__ import annotations

import csv
import json
import re
import sqlite3

from tcs_registry import progress
from tcs_registry.testing.helpers import csv_rows, failures_path, report_path
from tcs_registry.testing.images import make_layer
from tcs_registry.testing.proxy import Proxy

CREATED = "2026-11-01T00:00:00Z"
OS = {"etc/os-release": b"ID=alpine\nVERSION_ID=3.19.1\n"}


def _push(pusher, repository: str, content: bytes):
    return pusher.image(repository, "1", created=CREATED, layers=[make_layer({**OS, "app": content})])


def test_a_scan_takes_the_edited_plan_at_its_digests(tcs, fresh_registry, pusher, out_dir, state_dir, tmp_path):
    for name in ("a", "b", "c", "d"):
        _push(pusher, f"apps/{name}", name.encode())
    with Proxy(fresh_registry.url, lambda *_: None) as proxy:
        host = proxy.host
        dry = tcs("registry", proxy.url, "--mode=dry-run")
        assert dry.code == 0, dry.err
        rows = csv_rows(report_path(out_dir, host))
        assert [row[:2] for row in rows[1:]] == [[f"{host}/apps/{n}", "1"] for n in "abcd"]
        # a person edits the plan: b set aside, c deleted
        plan = tmp_path / "plan.csv"
        with plan.open("w", newline="") as file:
            edited = [row if row[0] != f"{host}/apps/b" else [*row[:3], "true"] for row in rows]
            csv.writer(file, lineterminator="\n").writerows(r for r in edited if r[0] != f"{host}/apps/c")
        # meanwhile the registry changes: a new tag, and d's tag moved to another image
        _push(pusher, "apps/e", b"e")
        moved = _push(pusher, "apps/d", b"d, rebuilt")
        proxy.requests.clear()

        scan = tcs("registry", proxy.url, f"--plan={plan}")
        asked = proxy.paths
        failed = csv_rows(failures_path(out_dir, host))
    assert scan.code == 4, scan.err
    assert f"info\tScanning the plan {plan} of dry run 1: 2 images" in scan.messages
    assert not [p for p in asked if "_catalog" in p or "/tags/list" in p]  # nothing listed
    assert not [p for p in asked if any(f"/v2/apps/{n}/" in p for n in "bce")]  # nothing else touched
    assert [row[:3] for row in failed[1:]] == [[f"{host}/apps/d", "1", "moved"]]
    assert failed[1][3].startswith(f"moved since the plan: {host}/apps/d:1 names {moved.digest}, not sha256:")
    assert "Failures by code      : moved 1\n" in scan.out
    with sqlite3.connect(state_dir / "state.db") as db:
        scanned = db.execute("SELECT repository, digest FROM scans WHERE run = 2").fetchall()
    db.close()
    assert [name for name, _ in scanned] == ["apps/a"]

    with Proxy(fresh_registry.url, lambda *_: None) as proxy:  # (a proxy of another port: another host)
        assert proxy.host != host
        elsewhere = tcs("registry", proxy.url, f"--plan={plan}")
    assert elsewhere.code == 2
    assert elsewhere.err.strip().endswith(f"--plan {str(plan)!r} is a report of {host}, not of {proxy.host} (line 2)")


def test_a_moved_tag_followed_and_plans_refused(tcs, fresh_registry, pusher, out_dir, state_dir, tmp_path):
    _push(pusher, "apps/a", b"a")
    host = fresh_registry.url.split("://")[1]
    assert tcs("registry", fresh_registry.url, "--mode=dry-run").code == 0
    plan = tmp_path / "plan.csv"
    plan.write_bytes(report_path(out_dir, host).read_bytes())
    moved = _push(pusher, "apps/a", b"a, rebuilt")
    followed = tcs("registry", fresh_registry.url, f"--plan={plan}", "--plan-follow-tags")
    assert followed.code == 0, followed.err
    assert any(m.startswith(f"info\tScanning a tag that moved since the plan: {host}/apps/a:1 names {moved.digest}")
               for m in followed.messages)  # fmt: skip
    with sqlite3.connect(state_dir / "state.db") as db:
        assert db.execute("SELECT repository, digest FROM scans WHERE run = 2").fetchall() == [("apps/a", moved.digest)]
    db.close()

    unknown = tcs("registry", fresh_registry.url, f"--plan={plan}", f"--state-dir={tmp_path / 'other-state'}",
                  isolate=False)  # fmt: skip
    assert unknown.code == 2
    assert "no dry run of " in unknown.err and "described these images" in unknown.err
    added = tmp_path / "added.csv"  # a row typed in by hand: which one the dry run never saw
    added.write_text(plan.read_text() + f"{host}/apps/a,1x,,false\n")
    typo = tcs("registry", fresh_registry.url, f"--plan={added}")
    assert (typo.code, typo.messages[-1]) == (
        2,
        f"error\t--plan {str(added)!r}: 'apps/a:1x' was described by no dry run of {fresh_registry.url} in project "
        "'default' (the nearest: run 1); a row added or edited? Leave it out, or run the dry run again and scan its "
        "report",
    )
    dry = tcs("registry", fresh_registry.url, f"--plan={plan}", "--mode=dry-run")
    assert dry.code == 2 and "use it with --mode=scan" in dry.err
    (tmp_path / "bad.csv").write_text("name,version\nx,1\n")
    bad = tcs("registry", fresh_registry.url, f"--plan={tmp_path / 'bad.csv'}")
    assert (
        bad.code == 2
        and "is not a dry run's CSV report: its header is not repository,tag,build_time,skipped" in bad.err
    )
    assert tcs("registry", fresh_registry.url, "--plan-follow-tags").code == 2


def test_a_plan_saved_by_a_spreadsheet_and_one_that_could_be_two(tcs, fresh_registry, pusher, out_dir, tmp_path):
    _push(pusher, "apps/a", b"a")
    _push(pusher, "apps/b", b"b")
    host = fresh_registry.url.split("://")[1]
    assert tcs("registry", fresh_registry.url, "--mode=dry-run").code == 0
    rows = csv_rows(report_path(out_dir, host))
    excel = tmp_path / "excel.csv"  # a BOM, TRUE/FALSE, CRLF and a blank line, as Excel saves it
    lines = [",".join(rows[0])] + [",".join([*row[:3], row[3].upper()]) for row in rows[1:]] + [",,,"]
    excel.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n")
    scan = tcs("registry", fresh_registry.url, f"--plan={excel}", "--format=table,sarif")
    assert scan.code == 0, scan.err
    assert f"info\tScanning the plan {excel} of dry run 1: 2 images" in scan.messages
    sarif = json.loads((out_dir / f"{host.replace('.', '-').replace(':', '-')}-scan.sarif").read_text())
    category = sarif["runs"][0]["automationDetails"]["id"]
    assert category.startswith(f"tcs-registry/{host}/images-")  # some images only: not the registry's

    # a copy of the report, then a newer dry run that saw apps/a moved: which did the person review?
    copy = tmp_path / "copy.csv"
    copy.write_bytes(report_path(out_dir, host).read_bytes())
    _push(pusher, "apps/a", b"a, rebuilt")
    assert tcs("registry", fresh_registry.url, "--mode=dry-run").code == 0
    ambiguous = tcs("registry", fresh_registry.url, f"--plan={copy}")
    assert ambiguous.code == 2
    assert "the dry runs 3, 1 saw other digests for these images, and none wrote this file" in ambiguous.err
    latest = tcs("registry", fresh_registry.url, f"--plan={report_path(out_dir, host)}")  # where it was written
    assert latest.code == 0, latest.err
    assert f"info\tScanning the plan {report_path(out_dir, host)} of dry run 3: 2 images" in latest.messages


def test_progress_counts_the_plan_as_its_whole_listing(tcs, fresh_registry, pusher, out_dir, monkeypatch):
    """Nothing is listed for a plan: its images are what there is to do from the start, so the progress
    lines count them (never more done than found) and can tell the time left."""
    for name in ("a", "b", "c"):
        _push(pusher, f"apps/{name}", name.encode())
    dry = tcs("registry", fresh_registry.url, "--mode=dry-run")
    assert dry.code == 0, dry.err
    monkeypatch.setattr(progress, "PERIOD", 0.01)
    scan = tcs("registry", fresh_registry.url, f"--plan={report_path(out_dir, fresh_registry.host)}")
    assert scan.code == 0, scan.err
    lines = [m for m in scan.messages if m.startswith("info\tProgress ")]
    assert lines
    for line in lines:
        assert "repositories=3 found=3 " in line and " listed=yes " in line, line
        assert int(re.search(r" done=(\d+) ", line).group(1)) <= 3
