"""The demo: a real CNCF registry on loopback with a few images, and a tcs-registry run against it.

python -m tcs_registry.testing.demo [--output-dir DIR] [-- extra tcs-registry flags]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from .datasets import seed_standard
from .images import Pusher
from .registry import RegistryServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", default="demo-output", help="where the report and state go")
    parser.add_argument("extra", nargs="*", help="more tcs-registry flags, e.g. --allowList='team/*'")
    args = parser.parse_args(argv)
    output = Path(args.output_dir).resolve()
    with (
        tempfile.TemporaryDirectory(prefix="tcs-demo-") as tmp,
        RegistryServer(Path(tmp) / "storage", Path(tmp)) as server,
    ):
        images = seed_standard(Pusher(server.url))
        print(f"Demo registry {server.url}: {len(images)} tags pushed\n", flush=True)
        command = [
            str(Path(sys.executable).parent / "tcs-registry"),
            "registry",
            server.url,
            "--mode=dry-run",
            f"--output-dir={output}",
            f"--state-dir={output / 'state'}",
            *args.extra,
        ]
        print("$ tcs-registry " + " ".join(command[1:]) + "\n", flush=True)
        code = subprocess.run(command, check=False).returncode
        report = output / (server.host.replace(".", "-").replace(":", "-") + "-report.csv")
        if report.exists():
            print(f"\n{report}:\n{report.read_text()}")
        return code


if __name__ == "__main__":
    sys.exit(main())
