"""A real Debian 12 image, built offline from Debian's packages (scripts/build-debian-image.sh), pushed to
the real registry and scanned: the inventory is exactly what dpkg-query prints inside that root."""

from __future__ import annotations

from tcs_registry.testing.helpers import inventory, package_rows
from tcs_registry.testing.images import Entry, Pusher, digest_of, tar_layer
from tcs_registry.testing.proxy import Proxy


def test_debian_inventory_equals_dpkg_query_inside_the_root(tcs, fresh_registry, out_dir, debian_layer):
    blob = debian_layer.blob.read_bytes()
    pusher = Pusher(fresh_registry.url)
    top = tar_layer([Entry("etc/motd", b"built on debian\n")])
    for tag in ("base", "app1", "app2"):
        layers = [(blob, debian_layer.diff_id)] + ([top] if tag != "base" else [])
        pusher.image("debian", tag, created="2024-06-01T00:00:00Z", layers=layers, docker=tag == "app2")

    with Proxy(fresh_registry.url, lambda *_: None) as proxy:
        result = tcs("registry", proxy.url, "--format=json,cyclonedx")
        base_fetches = [p for p in proxy.paths if p.endswith(f"/blobs/{digest_of(blob)}")]
    assert result.code == 0
    assert len(base_fetches) == 1  # three images, one download of the 90 MB base

    expected = sorted(debian_layer.installed)
    assert len(expected) > 80
    for tag in ("base", "app1", "app2"):
        document = inventory(out_dir, proxy.host, "debian", tag)
        assert document["os"] == "Debian GNU/Linux 12 (bookworm)"
        assert document["ecosystem"] == "Debian:12"
        assert package_rows(document, "name", "version", "source_name", "source_version", "arch") == expected
        assert {p["layer"] for p in document["packages"]} == {debian_layer.diff_id}
        assert document["problems"] == []  # device nodes, the root entry, hard links: nothing to report
    purls = {p["name"]: p["purl"] for p in inventory(out_dir, proxy.host, "debian", "base")["packages"]}
    assert purls["libc6"].startswith("pkg:deb/debian/libc6@2.36-9") and purls["libc6"].endswith(
        "?arch=amd64&distro=debian-12&upstream=glibc"
    )
