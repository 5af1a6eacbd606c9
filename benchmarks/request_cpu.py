"""CPU time this process spends on one request to the registry, layer by layer: the real CNCF registry on
loopback (no delay), the same manifest GETs through http.client, urllib3, a requests.Session and
tcs-registry's RegistryClient (on one thread, then on 32 at once, as a run's workers share it). Only this
process's CPU is counted (the registry's is its own). A run of 10,000 images makes about 21,000 such
requests; this is the part of them that one Python process, one core at a time, cannot spread.

    .venv/bin/python benchmarks/request_cpu.py [REQUESTS]      # default 4000
"""

from __future__ import annotations

import http.client
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
import urllib3
from registry_scale import dry_dataset, dry_image, registry

from tcs_registry.http import RegistryClient
from tcs_registry.models import Credentials, Registry
from tcs_registry.oci import MANIFEST_ACCEPT


def per_request(count: int, send: Callable[[str], object], paths: list[str], threads: int = 1) -> float:
    """Microseconds of this process's CPU per request, after a warm-up."""
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(send, paths[:100]))
        started = time.process_time()
        list(pool.map(send, paths[:count]))
        return (time.process_time() - started) / count * 1e6


def main(count: int) -> None:
    paths = [f"/v2/{r}/manifests/{t}" for r, t in (dry_image(i % 1000, i // 1000 % 10) for i in range(count))]
    accept = {"Accept": MANIFEST_ACCEPT}
    with tempfile.TemporaryDirectory() as work, registry(dry_dataset(1000, 10), Path(work)) as server:
        host, port = server.url.split("//")[1].split(":")
        connection = http.client.HTTPConnection(host, int(port))

        def plain(path: str) -> bytes:
            connection.request("GET", path, headers=accept)
            return connection.getresponse().read()

        pool = urllib3.HTTPConnectionPool(host, int(port), maxsize=32)
        session = requests.Session()
        session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=32))
        client = RegistryClient(
            Registry(server.url, "http", server.url.split("//")[1], "", "DEFAULT_V2"), Credentials()
        )
        rows = [
            ("http.client", per_request(count, plain, paths)),
            ("urllib3", per_request(count, lambda p: pool.request("GET", p, headers=accept).data, paths)),
            (
                "requests.Session",
                per_request(count, lambda p: session.get(server.url + p, headers=accept).content, paths),
            ),
            ("RegistryClient.get", per_request(count, lambda p: client.get(p, headers=accept).content, paths)),
            (
                "RegistryClient.get, 32 threads",
                per_request(count, lambda p: client.get(p, headers=accept).content, paths, threads=32),
            ),
        ]
    print(f"CPU of this process per manifest GET ({count:,} requests each)")
    for name, micros in rows:
        print(f"  {name:32s} {micros:6.0f} us")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 4000)
