"""What is not a container image is reported as skipped with what it is, never described or scanned as
one: cosign's tags for signatures, attestations and SBOMs, the referrers tag schema, OCI 1.1 artifacts
attached to an image (a ``subject``), and artifacts with a config of their own (Helm charts)."""

from __future__ import annotations

import pytest

from tcs_registry.testing.helpers import csv_rows, report_path
from tcs_registry.testing.images import make_layer


@pytest.fixture
def signed(pusher):
    """apps/web:1, its cosign signature, an SPDX SBOM attached the OCI 1.1 way, an index under the
    referrers tag schema, and a Helm chart."""
    image = pusher.image("apps/web", "1", created="2025-03-01T00:00:00Z", layers=[make_layer({"a": b"1"})])
    pusher.signature("apps/web", image)
    sbom = pusher.referrer("apps/web", "1-sbom", image, "application/spdx+json")
    pusher.referrers_index("apps/web", image.digest.replace(":", "-"), [(sbom, "application/spdx+json")])
    pusher.chart("charts/web", "0.1.0")
    return image


def test_dry_run_reports_them_skipped_with_what_they_are(tcs, fresh_registry, signed, out_dir):
    result = tcs("registry", fresh_registry.url, "--mode=dry-run")
    assert result.code == 0, result.err
    host, hexdigest = fresh_registry.host, signed.digest.removeprefix("sha256:")
    assert csv_rows(report_path(out_dir, host)) == [
        ["repository", "tag", "build_time", "skipped"],
        [f"{host}/apps/web", "1", "2025-03-01T00:00:00Z", "false"],
        [f"{host}/apps/web", "1-sbom", "", "true"],
        [f"{host}/apps/web", f"sha256-{hexdigest}", "", "true"],
        [f"{host}/apps/web", f"sha256-{hexdigest}.sig", "", "true"],
        [f"{host}/charts/web", "0.1.0", "", "true"],
    ]
    skipped = sorted(m for m in result.infos if m.startswith("info\tSkipped image="))
    assert skipped == [
        f"info\tSkipped image={host}/apps/web:1-sbom reason=an artifact attached to {signed.digest} "
        "(a signature, attestation or SBOM)",
        f"info\tSkipped image={host}/apps/web:sha256-{hexdigest} reason=an index of no image platform",
        f"info\tSkipped image={host}/apps/web:sha256-{hexdigest}.sig reason=a cosign signature (by its tag)",
        f"info\tSkipped image={host}/charts/web:0.1.0 reason=an artifact (config "
        "application/vnd.cncf.helm.config.v1+json)",
    ]
    assert "    Total images found    : 5 tags\n" in result.out
    assert "    New images found      : 1 digest not seen before in the project\n" in result.out
    assert "    Skipped images        : 4\n" in result.out
    # the patterns' leaving a repository out is no news: no line for its signature either
    charts = tcs("registry", fresh_registry.url, "--mode=dry-run", "--allowList=charts/*")
    assert charts.code == 0, charts.err
    assert not [m for m in charts.infos if m.startswith("info\tSkipped image=") and "/apps/web:" in m]


def test_scan_scans_the_image_alone(tcs, fresh_registry, signed, out_dir):
    result = tcs("registry", fresh_registry.url, "--format=json")
    assert result.code == 0, result.err
    scanned = [m.split(" platform=")[0] for m in result.infos if m.startswith("info\tScanned image")]
    assert scanned == [f"info\tScanned image image={fresh_registry.host}/apps/web:1"]
    assert "    Skipped images        : 4\n" in result.out


def test_an_artifact_takes_no_place_under_max_images(tcs, fresh_registry, pusher, out_dir):
    """--max-images counts images: a chart listed first does not keep the image after it out."""
    pusher.chart("a/chart", "0.1.0")
    pusher.image("b/app", "1", created="2025-03-01T00:00:00Z", layers=[make_layer({"a": b"1"})])
    result = tcs("registry", fresh_registry.url, "--mode=dry-run", "--max-images=1")
    assert result.code == 0, result.err
    host = fresh_registry.host
    assert csv_rows(report_path(out_dir, host))[1:] == [
        [f"{host}/a/chart", "0.1.0", "", "true"],
        [f"{host}/b/app", "1", "2025-03-01T00:00:00Z", "false"],
    ]
