"""The demo: a real CNCF registry on loopback with a few images (a real Debian 12 among them, when
scripts/build-debian-image.sh has cached it, and images with known vulnerabilities), a vulnerability
database imported from the OSV records shipped in the repository, a dry run, a scan with its findings,
one image's packages and findings, and what changed after an image was fixed.

python -m tcs_registry.testing.demo --osv tests/fixtures/osv --pkgdb tests/fixtures/pkgdb [--output-dir DIR]
    [-- extra tcs-registry flags]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from importlib.util import find_spec
from pathlib import Path

from ..report import report_name
from .datasets import cache_dir, seed_standard
from .images import Pusher
from .registry import RegistryServer
from .vulnerable import push_python_app, push_vulnerable


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", default="demo-output", help="where the report and state go")
    parser.add_argument("--osv", type=Path, required=True, help="OSV records to import (a directory or all.zip)")
    parser.add_argument("--pkgdb", type=Path, required=True, help="the real package databases of the test fixtures")
    parser.add_argument("extra", nargs="*", help="more tcs-registry flags, e.g. --allowList='team/*'")
    args = parser.parse_args(argv)
    output = Path(args.output_dir).resolve()
    with (
        tempfile.TemporaryDirectory(prefix="tcs-demo-") as tmp,
        RegistryServer(Path(tmp) / "storage", Path(tmp)) as server,
    ):
        pusher = Pusher(server.url)
        images = len(seed_standard(pusher)) + push_vulnerable(pusher, args.pkgdb)
        debian = cache_dir() / "debian-bookworm-minbase-v1"
        if (debian / ".complete").exists():
            layer = ((debian / "layer.tar.gz").read_bytes(), (debian / "diff_id").read_text().strip())
            pusher.image("demo/debian", "12", created="2024-06-01T00:00:00Z", layers=[layer])
            images += 1
        print(f"Demo registry {server.url}: {images} tags pushed\n", flush=True)
        state_dir = f"--state-dir={output / 'state'}"
        state = [f"--output-dir={output}", state_dir]
        code = _run("db", "import", str(args.osv), state_dir)
        console = _console(output / "state")  # before the scans: their summaries link to it
        code = max(code, _run("registry", server.url, "--mode=dry-run", *state, *args.extra))
        report = output / report_name(server.host)
        if report.exists():
            print(f"\n{report}:\n{report.read_text()}")
        scan = ["registry", server.url, "--format=table,json,sarif,cyclonedx", *state, *args.extra]
        code = max(code, _run(*scan))
        if (debian / ".complete").exists():
            _run("results", state_dir, f"--image={server.host}/demo/debian:12", head=20)
        _run("results", state_dir, f"--image={server.host}/apps/python:1", head=40)  # (not an earlier demo's)
        print("A fixed apps/python:1 is pushed (idna 3.7), and the registry scanned again\n", flush=True)
        push_python_app(pusher, idna="3.7")
        _run(*scan, "-q", head=0)
        _run("results", state_dir, "--changes")
        if console is not None:
            _serve(console, output / "state")
        return code


def _console(state: Path) -> tuple[subprocess.Popen, str] | None:
    """The console over the demo's store, on a free loopback port: (its process, its URL)."""
    if find_spec("fastapi") is None:
        print("(The console is not installed: pip install 'tcs-registry[console]' to browse the findings)\n")
        return None
    command = [
        str(Path(sys.executable).parent / "tcs-registry"),
        "console",
        "serve",
        "--port=0",
        f"--state-dir={state}",
    ]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.stderr is not None:
        line = process.stderr.readline()
        if "Console at " in line:
            return process, line.split("Console at ", 1)[1].split()[0].rstrip("/")
        if not line and process.poll() is not None:
            break
    process.terminate()
    print("(The console did not start)\n")
    return None


def _serve(console: tuple[subprocess.Popen, str], state: Path) -> None:
    """Say where the console is and how to log in; keep it up until Ctrl-C on a terminal."""
    process, url = console
    done = subprocess.run(
        [str(Path(sys.executable).parent / "tcs-registry"), "console", "token", "create", "--project=default",
         "--role=read", "--name=demo", f"--state-dir={state}"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    token = done.stdout.splitlines()[-1]
    print(f"\nThe console: {url}/ (the summary's links lead there); log in with this read token:\n{token}\n")
    try:
        if sys.stdin.isatty():
            print("Serving until Ctrl-C", flush=True)
            process.wait()
        else:
            print(
                f"(Not a terminal: the console stops; `tcs-registry console serve --state-dir={state}` serves it again)"
            )
    except KeyboardInterrupt:
        pass
    finally:
        process.terminate()
        process.wait(timeout=30)


def _run(*args: str, head: int | None = None) -> int:
    command = [str(Path(sys.executable).parent / "tcs-registry"), *args]
    print("$ tcs-registry " + " ".join(args) + "\n", flush=True)
    if head is None:
        return subprocess.run(command, check=False).returncode
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    lines = done.stdout.splitlines()
    if head:
        print("\n".join(lines[:head]) + (f"\n... ({len(lines) - head} more lines)" if len(lines) > head else ""))
    sys.stderr.write(done.stderr)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
