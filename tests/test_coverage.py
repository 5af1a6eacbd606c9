"""Every image a run does not do has a code in the failures report, counted in the summary, and
--min-coverage decides whether a run that left some out still passes: against the real registry, one
image's layer deleted from its storage."""

from __future__ import annotations

import csv
import hashlib
import sqlite3

import pytest

from tcs_registry.testing.images import make_layer


@pytest.fixture
def one_layer_gone(pusher, tmp_path) -> str:
    """Four images; the layer of team/app3 deleted from the registry's storage (its manifest stays)."""
    for n in range(4):
        layer = make_layer({"etc/os-release": b"ID=alpine\nVERSION_ID=3.19.1\n", "app": bytes([n])})
        pusher.image(f"team/app{n}", "1", created="2026-11-01T00:00:00Z", layers=[layer])
    blob = hashlib.sha256(layer[0]).hexdigest()
    data = tmp_path / "storage" / "docker" / "registry" / "v2" / "blobs" / "sha256" / blob[:2] / blob / "data"
    data.unlink()
    return blob


def _failures(out_dir, fresh_registry) -> list[list[str]]:
    host = fresh_registry.url.split("://")[1].replace(".", "-").replace(":", "-")
    with open(out_dir / f"{host}-failures.csv", newline="") as file:
        return list(csv.reader(file))


def _summary(result) -> dict[str, str]:
    lines = result.out.splitlines()
    summary = lines[lines.index("Registry Summary:") + 1 :]
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in summary) if v}


def test_a_failed_image_has_a_code_and_the_coverage_gate_decides_the_exit(tcs, fresh_registry, one_layer_gone, out_dir):
    plain = tcs("registry", fresh_registry.url)
    assert plain.code == 4, plain.err  # without the gate, any failure is a partial run
    rows = _failures(out_dir, fresh_registry)
    host = fresh_registry.url.split("://")[1]
    assert rows[0] == ["repository", "tag", "code", "reason"]
    assert [row[:3] for row in rows[1:]] == [[f"{host}/team/app3", "1", "not-found"]]
    assert _summary(plain)["Failures by code"] == "not-found 1"
    assert "Coverage" not in _summary(plain)

    strict = tcs("registry", fresh_registry.url, "--min-coverage=100")
    assert strict.code == 4
    assert "error\tCoverage 75.0% is below --min-coverage 100%: 1 image left out" in strict.messages
    assert _summary(strict)["Coverage"] == "75.0% of 4 admitted images (--min-coverage 100%)"

    lenient = tcs("registry", fresh_registry.url, "--min-coverage=50%")
    assert lenient.code == 0, lenient.err
    warned = [m for m in lenient.messages if m.startswith("warn\tCoverage 75.0% meets --min-coverage 50%")]
    assert len(warned) == 1 and "1 image left out" in warned[0]
    assert _summary(lenient)["Coverage"] == "75.0% of 4 admitted images (--min-coverage 50%)"

    dry = tcs("registry", fresh_registry.url, "--mode=dry-run", "--min-coverage=100")
    assert dry.code == 0, dry.err  # a dry run reads no layer: every image described
    assert _summary(dry)["Coverage"] == "100.0% of 4 admitted images (--min-coverage 100%)"

    with sqlite3.connect(out_dir.parent / "state" / "state.db") as db:  # the store keeps the codes too
        stored = db.execute("SELECT run, repository, code FROM failures ORDER BY run").fetchall()
    db.close()
    assert stored == [(run, f"{host}/team/app3", "not-found") for run in (1, 2, 3)]


@pytest.mark.parametrize("value", ["abc", "101", "-1", "nan"])
def test_a_coverage_that_is_no_percentage_is_refused_in_one_line(tcs, fresh_registry, value):
    result = tcs("registry", fresh_registry.url, f"--min-coverage={value}")
    assert result.code == 2
    assert result.err.strip().endswith(f"--min-coverage must be a percentage from 0 to 100 (e.g. 95), not {value}"), (
        result.err
    )


def test_a_listing_that_stopped_early_leaves_the_coverage_unknown(tcs, fresh_registry, pusher):
    """A catalog that fails on its second page: how many images there are is unknown, so no coverage
    can pass the gate, however well the images listed went."""
    from tcs_registry.testing.proxy import Proxy

    for n in range(3):
        pusher.image(f"team/app{n}", "1", created="2026-11-01T00:00:00Z", layers=[make_layer({"a": bytes([n])})])

    def second_page_fails(path, *_):
        if path.startswith("/v2/_catalog") and "last=" in path:
            return 400, {"Content-Type": "application/json"}, b'{"errors": [{"code": "UNSUPPORTED"}]}'  # (not retried)
        if path.startswith("/v2/_catalog"):
            link = '</v2/_catalog?last=team%2Fapp0&n=1>; rel="next"'
            return 200, {"Content-Type": "application/json", "Link": link}, b'{"repositories": ["team/app0"]}'
        return None

    with Proxy(fresh_registry.url, second_page_fails) as proxy:
        result = tcs("registry", proxy.url, "--mode=dry-run", "--min-coverage=50")
    assert result.code == 4, result.err
    assert "error\tCoverage is unknown: the listing of the registry stopped early" in result.messages
    assert _summary(result)["Coverage"] == "unknown: the listing stopped early (--min-coverage 50%)"
