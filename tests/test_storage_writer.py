"""Images written straight into the registry's storage (for benchmarks) are served like pushed ones."""

from __future__ import annotations

from tcs_registry.testing.helpers import csv_rows, report_path
from tcs_registry.testing.images import StorageWriter, make_layer
from tcs_registry.testing.registry import RegistryServer


def test_written_storage_is_what_the_registry_serves(tcs, tmp_path, out_dir):
    writer = StorageWriter(tmp_path / "storage")
    layer = make_layer({"etc/os-release": b"ID=tcs-test\n"})
    for repository in ("bench/r0", "bench/team/r1"):
        for tag, day in (("1.0", "01"), ("2.0", "02")):
            writer.image(repository, tag, created=f"2024-03-{day}T00:00:00Z", layers=[layer])
    with RegistryServer(tmp_path / "storage", tmp_path / "work") as server:
        result = tcs("registry", server.url, "--mode=dry-run")
        assert result.code == 0, result.err
        assert csv_rows(report_path(out_dir, server.host)) == [
            ["repository", "tag", "build_time", "skipped"],
            [f"{server.host}/bench/r0", "1.0", "2024-03-01T00:00:00Z", "false"],
            [f"{server.host}/bench/r0", "2.0", "2024-03-02T00:00:00Z", "false"],
            [f"{server.host}/bench/team/r1", "1.0", "2024-03-01T00:00:00Z", "false"],
            [f"{server.host}/bench/team/r1", "2.0", "2024-03-02T00:00:00Z", "false"],
        ]
        scan = tcs("registry", server.url, "--format=json")
        assert scan.code == 0, scan.err
        assert "info\tLayers analysed=1 reused=3" in scan.messages
