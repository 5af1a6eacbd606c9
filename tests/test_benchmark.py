"""The benchmark still runs end to end (at a toy size; the real numbers come from scripts/benchmark.sh):
datasets written into registry storage, the latency proxy, the dry runs, the scan and the Trivy loop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tcs_registry.oci import DOCKER_MANIFEST, OCI_MANIFEST
from tcs_registry.testing.registry import RegistryServer

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from registry_scale import latency_proxy, replaying, report, stats  # noqa: E402

pytestmark = pytest.mark.timing  # asserts on rates and times: run apart from the parallel run


def test_the_benchmark_runs_and_counts_the_minimum_requests(tmp_path, debian_layer):
    out = tmp_path / "results.json"
    command = [sys.executable, str(ROOT / "benchmarks" / "registry_scale.py"), "--repos=6", "--tags=2"]
    command += ["--concurrency=default,4", "--scan=2", "--trivy-images=1", "--skopeo-repos=0", "--shards=2"]
    command += [f"--json={out}"]
    cache = debian_layer.blob.parent.parent  # the datasets' cache, outside this test's own HOME
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=600, env={**os.environ, "TCS_TEST_CACHE": str(cache)}
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())
    large = results["dry_run"][1:]
    assert [(d["images"], d["concurrency"], d["most"], d["registry"]) for d in results["dry_run"]] == [
        (2, "default", 64, "live"),
        (12, "default", 64, "live"),
        (12, 4, 4, "live"),
        (12, "default", 64, "replayed"),  # the proxy answering what it kept of a first run's answers
    ]
    for run in large:
        # the API check twice (recognising the registry, then logging in), the catalog, a tags list a
        # repository, and a manifest and a config an image
        assert run["requests_by_kind"] == {"ping": 2, "catalog": 1, "tags": 6, "manifest": 12, "blob": 12}
        assert run["requests"] == run["minimum_requests"] + 1
        # keep-alive: a connection for each request in flight at once (and the main thread's), never one a
        # request; the run says how many it had in flight
        assert run["connections"] <= run["most"] + 1 and run["connections"] < run["requests"]
        assert 1 <= run["limit"] <= run["most"] and 0 < run["in_flight"] <= run["most"]
        # one request alone takes the delay (0.02 s by default) and the registry's answering
        assert 20 < run["round_trip_ms"] < 200
        assert run["minimum_seconds"] >= run["minimum_seconds_at_delay"]
        assert run["rows"] == 12
        # every request of the replayed run answered by the proxy, none of the others
        assert run["replayed"] == (run["requests"] if run["registry"] == "replayed" else 0)
    # on a PostgreSQL store; then two shards at once: each lists everything and describes its share
    store = results["store"]
    assert (store["postgresql"]["store"], store["postgresql"]["rows"]) == ("postgresql", 12)
    assert (store["sqlite"]["store"], store["sqlite"]["rows"]) == ("sqlite", 12)  # compared with, run just before
    listing = 1 + 1 + 6  # what a shard's client sends to list: the API check, the catalog, the tags lists
    assert store["shards_requests_by_kind"] == {"ping": 4, "catalog": 2, "tags": 12, "manifest": 12, "blob": 12}
    assert sum(share["requests"] - listing for share in store["shards"]) == 24
    scan = results["scan"]
    assert (scan["cold"]["base_layer_fetches"], scan["warm"]["base_layer_fetches"]) == (1, 0)
    if "trivy" in scan:
        assert scan["same_packages"] is True
    assert "target" in done.stdout


def test_the_latency_proxy_charges_a_round_trip_for_each_new_connection(anonymous_registry):
    with latency_proxy(anonymous_registry.url, delay=0.0, connect_delay=1.0) as proxy:
        timings = []
        for session in (requests.Session(), requests.Session()):
            with session:
                for _ in range(2):
                    start = time.perf_counter()
                    assert session.get(f"http://{proxy}/v2/", timeout=10).status_code == 200
                    timings.append(time.perf_counter() - start)
        seen = stats(proxy)
    first, again, other, other_again = timings
    assert first >= 1.0 and other >= 1.0  # a new connection: its set-up first
    assert again < 0.9 and other_again < 0.9  # the same connection kept alive: no set-up
    assert seen["connections"] == 3 and seen["counts"] == {"ping": 4}  # the third asked for these counts


def test_the_latency_proxy_replays_what_the_registry_answered(standard, tmp_path):
    """-replay: once told to, the proxy gives the answers it saw the registry give (200s to GETs) itself,
    byte for byte, with no registry behind it; what it has not seen still goes to the registry."""
    accept = {"Accept": f"{OCI_MANIFEST},{DOCKER_MANIFEST}"}
    with (
        RegistryServer(standard.storage, tmp_path) as server,
        latency_proxy(server.url, delay=0.0, replay=True) as proxy,
    ):
        base = f"http://{proxy}/v2"
        repository = requests.get(f"{base}/_catalog", timeout=10).json()["repositories"][0]
        tag = requests.get(f"{base}/{repository}/tags/list", timeout=10).json()["tags"][0]
        live = requests.get(f"{base}/{repository}/manifests/{tag}", headers=accept, timeout=10)
        assert stats(proxy)["replayed"] == 0  # (not before it is told to)
        replaying(proxy)
        server.stop()  # from now on only the proxy can answer
        kept = requests.get(f"{base}/{repository}/manifests/{tag}", headers=accept, timeout=10)
        unseen = requests.get(f"{base}/{repository}/manifests/no-such-tag", headers=accept, timeout=10)
        seen = stats(proxy)
    assert (live.status_code, kept.status_code) == (200, 200) and kept.content == live.content
    for header in ("Content-Type", "Content-Length", "Docker-Content-Digest"):
        assert kept.headers[header] == live.headers[header]
    assert unseen.status_code == 502  # not kept: asked of the registry, which is gone
    assert seen["replayed"] == 1 and seen["counts"]["manifest"] == 3


def test_the_report_compares_each_dry_run_with_both_skopeo_loops():
    def run(images, concurrency, seconds, minimum):
        return {
            "images": images, "repositories": images // 10, "concurrency": concurrency, "limit": concurrency,
            "in_flight": concurrency - 1, "seconds": seconds, "round_trip_ms": 22.0,
            "minimum_seconds_at_delay": minimum * 0.9,
            "images_per_s": round(images / seconds, 1), "requests": 2 * images + 3, "minimum_requests": 2 * images + 2,
            "connections": 2 * concurrency + 1, "minimum_seconds": minimum, "cpu_seconds": 1.0,
            "registry_cpu_seconds": 1.0, "proxy_cpu_seconds": 0.5, "cpu_floor_seconds": 1.2, "peak_rss_mb": 70.0,
        }  # fmt: skip

    def loop(seconds):
        return {
            "sampled_repositories": 5, "seconds_per_list_tags": 0.1, "seconds_per_inspect": 0.15,
            "connections_per_image": 4.3, "estimated_seconds": seconds,
        }  # fmt: skip

    fast, slow = run(1000, 16, 20.0, 16.0), run(1000, 32, 12.0, 8.0)  # 1.25x and 1.5x the minimum
    fast |= {"skopeo": loop(1100.0), "skopeo_free_connections": loop(550.0)}
    printed = report({"dry_run": [run(100, 16, 2.0, 1.6), fast, slow], "scan": None})
    lines = printed.splitlines()
    # at 16: 55x and 1.25x, both targets; at 32: 92x but 1.5x; with connections free, 46x at best
    both = "50x the skopeo loop (set-up charged) and within 1.3x of the minimum request time at concurrency: 16"
    assert both in lines
    checks = {line.rsplit(None, 4)[0]: line.split()[-4:] for line in lines if line.startswith("dry run at")}
    assert checks["dry run at concurrency 16 over the skopeo loop (set-up charged)"] == ["55", ">=", "50", "yes"]
    assert checks["dry run at concurrency 32 over the skopeo loop (set-up charged)"] == ["91.667", ">=", "50", "yes"]
    assert checks["dry run at concurrency 32 over the skopeo loop (connections free)"] == ["45.833", ">=", "50", "NO"]
    assert checks["dry run at concurrency 32 within 1.3x of the minimum request time"] == ["1.5", "<=", "1.3", "NO"]
