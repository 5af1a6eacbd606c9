"""Faults of a registry the tool does not control, against the real CNCF registry behind a proxy that
injects them: answers broken off mid-body are asked again, endless ones are refused, and each
failure costs only its image, which the failures report lists with the reason."""

from __future__ import annotations

import json

from tcs_registry import http
from tcs_registry.oci import MANIFEST_ACCEPT
from tcs_registry.testing.facade import CUT_AFTER
from tcs_registry.testing.helpers import csv_rows, report_path
from tcs_registry.testing.proxy import Proxy


def failures_report(out_dir, host: str):
    return out_dir / f"{host.replace('.', '-').replace(':', '-')}-failures.csv"


def test_an_answer_broken_off_once_is_asked_again(tcs, anonymous_registry, standard, out_dir):
    broken: list[str] = []

    def cut(path, session, upstream):
        if "/manifests/" in path and path not in broken:
            broken.append(path)
            answer = session.get(upstream + path, headers={"Accept": MANIFEST_ACCEPT})
            return answer.status_code, {**answer.headers, CUT_AFTER: "10"}, answer.content
        return None

    with Proxy(anonymous_registry.url, cut) as proxy:
        result = tcs("registry", proxy.url, "--mode=dry-run")
        rows = csv_rows(report_path(out_dir, proxy.host))
        paths = proxy.paths
    assert result.code == 0, result.err
    assert len(broken) >= len(standard.expected)  # every tag's manifest, and the platforms' of the index
    assert all(paths.count(p) == 2 for p in broken)  # broken, then asked again
    assert len(rows) == 1 + len(standard.expected)


def test_an_answer_always_broken_off_fails_that_image_with_its_reason(tcs, anonymous_registry, out_dir):
    def cut(path, session, upstream):
        if path == "/v2/alpine/manifests/3.19":
            return 200, {"Content-Type": "application/json", CUT_AFTER: "5"}, b'{"schemaVersion": 2}' * 10
        return None

    with Proxy(anonymous_registry.url, cut) as proxy:
        result = tcs("registry", proxy.url, "--mode=dry-run")
        failed = csv_rows(failures_report(out_dir, proxy.host))
        attempts = proxy.paths.count("/v2/alpine/manifests/3.19")
    assert result.code == 4
    assert attempts == http.BODY_ATTEMPTS
    reason = f"{proxy.host} broke off its answer 3 times: "
    assert failed[0] == ["repository", "tag", "reason"]
    assert failed[1][:2] == [f"{proxy.host}/alpine", "3.19"] and failed[1][2].startswith(reason)
    assert [m for m in result.messages if m.startswith("error")] == [
        f"error\tFailed to describe image image={proxy.host}/alpine:3.19 error={failed[1][2]}"
    ]


def test_an_enormous_page_is_refused_in_one_line(tcs, anonymous_registry, monkeypatch):
    monkeypatch.setattr(http, "MAX_BODY_BYTES", 100_000)

    def huge(path, session, upstream):
        if path.startswith("/v2/_catalog"):
            names = [f"r{i:06d}" for i in range(20_000)]  # ~300 KB of JSON
            return 200, {"Content-Type": "application/json"}, json.dumps({"repositories": names}).encode()
        return None

    with Proxy(anonymous_registry.url, huge) as proxy:
        result = tcs("registry", proxy.url, "--mode=dry-run")
    assert result.code == 3
    assert result.messages[-1].startswith(f"error\t{proxy.host} answered ")
    assert result.messages[-1].endswith("bytes, more than the 100000 this tool reads")
    assert "Traceback" not in result.err
