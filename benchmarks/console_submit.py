"""A scan sent to the console: IMAGES image platforms with FINDINGS vulnerabilities each (10,000 and 30),
through the real client (`submit.Submitter`: batches from a thread of its own) to the real server
(`tcs-registry console serve` on loopback) over a SQLite store. Prints the time until the console has
the whole run.

    .venv/bin/python benchmarks/console_submit.py [IMAGES] [FINDINGS]      # default 10000 30
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tcs_registry.submit import Console, Submitter

TCS = str(Path(sys.executable).parent / "tcs-registry")
_spec = importlib.util.spec_from_file_location("console_scale", Path(__file__).parent / "console_scale.py")
assert _spec and _spec.loader
console_scale = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(console_scale)


def main() -> None:
    images, count = (int(sys.argv[1]), int(sys.argv[2])) if len(sys.argv) > 2 else (10_000, 30)
    with tempfile.TemporaryDirectory() as tmp:
        state = f"--state-dir={tmp}"
        token = subprocess.run(
            [TCS, "console", "token", "create", "--project=bench", "--role=submit", state],
            capture_output=True, text=True, check=True,
        ).stdout.splitlines()[-1]  # fmt: skip
        server = subprocess.Popen([TCS, "console", "serve", "--port=0", state], stderr=subprocess.PIPE, text=True)
        url = None
        while url is None and server.stderr is not None:
            match = re.search(r"Console at (\S+)/", server.stderr.readline())
            url = match.group(1) if match else None
        try:
            batch = [console_scale.scanned(n, count) for n in range(images)]
            started = time.perf_counter()
            begin = {"registry": console_scale.REGISTRY, "client": "bench", "shard": [1, 1]}
            submitter = Submitter(Console(url, token, "bench"), begin)
            for scanned in batch:
                submitter.scan(scanned)
            submitter.finish("complete", {"found": images, "new": images, "skipped": 0, "failed": 0})
            took = time.perf_counter() - started
            assert submitter.lost is None, submitter.lost
            print(f"{images} image platforms, {images * count} findings sent to the console in {took:.1f} s")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
