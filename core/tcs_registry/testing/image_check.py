"""Prove a built container image of the tool: push it to a local CNCF registry, then run the image's own
``tcs-registry`` (as the image's user, reports to a mounted /reports) to scan that registry, itself
included, and check what it found.

    python -m tcs_registry.testing.image_check localhost/tcs-registry:0.1.0    (scripts/build-image.sh)
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from .. import __version__
from .registry import RegistryServer

PLUGINS = ("acr", "artifactory", "dockerhub", "ecr", "harbor", "nexus", "quay")  # tcs-registry[all]


def buildah(*args: str) -> str:
    return subprocess.run(["buildah", *args], check=True, capture_output=True, text=True).stdout.strip()


def main(argv: list[str]) -> int:
    image = argv[0]
    config = json.loads(buildah("inspect", "--type", "image", image))["OCIv1"]["config"]
    assert config.get("User") == "tcs", f"the image runs as {config.get('User')!r}, not the non-root user tcs"
    assert config.get("Entrypoint") == ["tcs-registry"], config.get("Entrypoint")
    with tempfile.TemporaryDirectory() as tmp, RegistryServer(Path(tmp) / "storage", Path(tmp)) as server:
        name = f"{server.host}/tools/tcs-registry:{__version__}"
        buildah("push", "--quiet", "--tls-verify=false", image, f"docker://{name}")
        reports = Path(tmp) / "reports"
        reports.mkdir(mode=0o777)
        reports.chmod(0o777)  # the image's user (uid 10001) writes here
        container = buildah("from", "--pull=never", image)
        try:
            plugins = json.loads(buildah("run", container, "--", "tcs-registry", "plugins", "--json"))
            command = ["buildah", "run", "--volume", f"{reports}:/reports", container, "--"]
            command += ["tcs-registry", "registry", server.url, "--format=table,json,cyclonedx"]
            print("$ " + " ".join(command[6:]), flush=True)
            done = subprocess.run(command, capture_output=True, text=True, check=False)
        finally:
            buildah("rm", container)
        vendors = sorted(p["name"] for p in plugins if p["name"].startswith("tcs-registry-"))
        assert vendors == [f"tcs-registry-{v}" for v in PLUGINS], f"the image's plugins: {vendors}"
        print(done.stdout)
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            return 1
        found = json.loads(next(reports.glob(f"*-scan/tools/tcs-registry/{__version__}.json")).read_text())
        packages = {(p["type"], p["name"]): p["version"] for p in found["packages"]}
        assert found["ecosystem"] == "Debian:12", found["ecosystem"]
        assert packages.get(("pypi", "tcs-registry")) == __version__, "the tool's own package is not in its image"
        assert ("deb", "python3") in packages, "Debian's python3 is not in the image"
        assert ("pypi", "psycopg") in packages, "the image cannot use a PostgreSQL store: psycopg is missing"
        assert next(reports.glob("*-scan/tools/tcs-registry/*.cdx.json")).stat().st_uid == 10001
        print(f"The image {image} scanned itself: {len(packages)} packages, reports written as its user tcs.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
