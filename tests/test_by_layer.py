"""`results --by-layer`: the layers shared by several images that bring them vulnerabilities, the most
image-findings first, with the images each is in and what it brings - on real images sharing real bases
(a Debian 9 dpkg database and Alpine 3.18's apk database), matched against the kit's OSV records."""

from __future__ import annotations

import json
from pathlib import Path

from tcs_registry.testing.images import make_layer, tar_layer
from tcs_registry.testing.vulnerable import DEBIAN9, DEBIAN9_PACKAGES, alpine, dpkg

FIXTURES = Path(__file__).parent / "fixtures"
CREATED = "2026-11-01T00:00:00Z"


def test_findings_grouped_by_the_base_layer_that_brought_them(tcs, fresh_registry, pusher, state_dir):
    debian = tar_layer([DEBIAN9, DEBIAN9_PACKAGES])
    alpine_base = tar_layer(alpine(FIXTURES / "pkgdb"))
    for name in ("a", "b", "c"):
        pusher.image(f"apps/{name}", "1", created=CREATED, layers=[debian, make_layer({"app": name.encode()})])
    for name in ("x", "y"):
        pusher.image(f"tools/{name}", "2", created=CREATED, layers=[alpine_base, make_layer({"t": name.encode()})])
    # a base of its own (one image): its findings are no shared layer's
    own = tar_layer([DEBIAN9, dpkg(("dpkg", "dpkg", "1.18.25"))])
    pusher.image("apps/solo", "1", created=CREATED, layers=[own])
    pusher.image("apps/solo", "latest", created=CREATED, layers=[own])  # one image, two tags: no sharing
    assert tcs("db", "import", str(FIXTURES / "osv"), f"--state-dir={state_dir}").code == 0
    assert tcs("registry", fresh_registry.url).code == 0
    host = fresh_registry.url.split("://")[1]

    shown = tcs("results", f"--state-dir={state_dir}", "--by-layer", "--format=json")
    assert shown.code == 0, shown.err
    layers = json.loads(shown.out)
    assert layers["run"] == 1
    assert [(layer["layer"], layer["findings"], layer["worst"]) for layer in layers["layers"]] == [
        (debian[1], 9, "UNKNOWN"),  # (Debian's advisories give no severity)
        (alpine_base[1], 4, "HIGH"),
    ]
    assert layers["layers"][0]["images"] == [f"{host}/apps/{name}:1" for name in ("a", "b", "c")]
    assert layers["layers"][1]["images"] == [f"{host}/tools/{name}:2" for name in ("x", "y")]
    assert [
        (v["id"], v["package"], v["installed"], v["fixed"], v["images"]) for v in layers["layers"][0]["vulnerabilities"]
    ] == [
        ("CVE-2022-1292", "libssl1.1", "1.1.0l-1~deb9u5", "1.1.0l-1~deb9u6", 3),
        ("CVE-2022-1292", "openssl", "1.1.0l-1~deb9u5", "1.1.0l-1~deb9u6", 3),
        ("CVE-2022-1664", "dpkg", "1.18.25", "1.18.26", 3),
    ]
    assert [(v["id"], v["package"], v["images"]) for v in layers["layers"][1]["vulnerabilities"]] == [
        ("CVE-2025-26519", "musl", 2),
        ("CVE-2025-26519", "musl-utils", 2),
    ]

    table = tcs("results", f"--state-dir={state_dir}", "--by-layer")
    assert table.code == 0, table.err
    lines = table.out.splitlines()
    assert lines[0] == (
        "Layers shared by several images that bring them vulnerabilities, in run 1 "
        "(rebuilding on a fixed base clears them in every image above it):"
    )
    assert lines[2] == f"{debian[1]}: 9 findings in 3 image platforms (worst: unknown)"
    assert lines[3] == "  images: " + ", ".join(f"{host}/apps/{n}:1" for n in ("a", "b", "c"))
    assert lines[4].split() == ["id", "package", "installed", "fixed", "severity", "images"]
    assert lines[6].split() == ["CVE-2022-1292", "libssl1.1", "1.1.0l-1~deb9u5", "1.1.0l-1~deb9u6", "UNKNOWN", "3"]

    wrong = tcs("results", f"--state-dir={state_dir}", "--by-layer", "--changes")
    assert wrong.code == 2 and "--by-layer covers the whole scan" in wrong.err
