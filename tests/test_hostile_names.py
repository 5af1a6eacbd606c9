"""Names and answers from a registry that may be hostile: result files stay inside the output
directory, credentials are not sent where a redirect points, malformed descriptors fail cleanly."""

from __future__ import annotations

import json

import pytest

from tcs_registry.errors import ImageError
from tcs_registry.http import Transport
from tcs_registry.models import Inventory, Platform
from tcs_registry.oci import parse_manifest
from tcs_registry.results import ResultWriter, results_dir
from tcs_registry.testing.facade import Facade, text_answer


@pytest.mark.parametrize(
    ("repository", "tag", "stem"),
    [
        ("team/app", "1.0", "team/app/1.0@linux-arm64"),
        ("/tmp/evil", "1", "_/tmp/evil/1@linux-arm64"),
        ("a/../../b", "..", "a/_/_/b/@linux-arm64"),
        ("x//y", ".hidden", "x/_/y/hidden@linux-arm64"),
    ],
)
def test_result_files_stay_inside_the_output_directory(tmp_path, repository, tag, stem):
    writer = ResultWriter(tmp_path / "out", "reg.example:5000", ("json",))
    inventory = Inventory(repository, tag, "sha256:1", Platform("linux", "arm64"), "", "", "", "", (), ())
    writer.write(inventory, {"image": repository})
    written = [p for p in (tmp_path).rglob("*") if p.is_file()]
    assert [p.relative_to(results_dir(tmp_path / "out", "reg.example:5000")).as_posix() for p in written] == [
        stem + ".json"
    ]


def test_a_redirect_gets_no_credentials_from_netrc(tmp_path, monkeypatch):
    with (
        Facade("http://127.0.0.1:9", name="storage") as storage,
        Facade("http://127.0.0.1:9", name="registry") as registry,
    ):

        @registry.route("GET", r"/v2/app/blobs/.*")
        def redirect(request):
            return 307, {"Location": f"{storage.url}/data"}, b""

        @storage.route("GET", r"/data")
        def data(request):
            return text_answer("layer bytes")

        (tmp_path / "netrc").write_text("machine 127.0.0.1 login robot password s3cret\n")
        monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
        answer = Transport().request(
            "GET", f"{registry.url}/v2/app/blobs/sha256:1", headers={"Authorization": "Bearer t0ken"}
        )
        assert answer.text == "layer bytes"
    assert storage.requests[0].headers.get("Authorization") is None  # requests alone would add robot:s3cret


@pytest.mark.parametrize("size", [{"a": 1}, "12x", -1, True, [3]])
def test_a_malformed_descriptor_size_fails_the_image_cleanly(size):
    body = (
        b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",'
        b' "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:1", "size": '
        + json.dumps(size).encode()
        + b'}, "layers": []}'
    )
    with pytest.raises(ImageError, match="malformed descriptor in manifest"):
        parse_manifest(body, "application/vnd.oci.image.manifest.v1+json", "", "reg/app:1")


def test_names_a_spreadsheet_would_run_are_neutralised_in_the_reports(tcs, anonymous_registry, out_dir):
    from tcs_registry.testing.helpers import csv_rows, report_path
    from tcs_registry.testing.proxy import Proxy

    def hostile(path, session, upstream):
        if path.startswith("/v2/_catalog"):
            return 200, {"Content-Type": "application/json"}, b'{"repositories": ["alpine", "evil"]}'
        if path.startswith("/v2/evil/tags/list"):
            tags = ["=HYPERLINK(1)", "+1", "-2", "@SUM(3)", "ok"]
            return 200, {"Content-Type": "application/json"}, json.dumps({"name": "evil", "tags": tags}).encode()
        return None

    with Proxy(anonymous_registry.url, hostile) as proxy:
        skipped = tcs("registry", proxy.url, "--mode=dry-run", "--denyList=evil")
        skipped_rows = csv_rows(report_path(out_dir, proxy.host))
        described = tcs("registry", proxy.url, "--mode=dry-run", "--allowList=evil")
        failed = csv_rows(out_dir / f"{proxy.host.replace('.', '-').replace(':', '-')}-failures.csv")
    assert (skipped.code, described.code) == (0, 4)  # the registry itself knows no such images
    evil = sorted(r[1] for r in skipped_rows if r[0] == f"{proxy.host}/evil")
    assert evil == ["'+1", "'-2", "'=HYPERLINK(1)", "'@SUM(3)", "ok"]
    assert sorted(r[1] for r in failed[1:]) == ["'+1", "'-2", "'=HYPERLINK(1)", "'@SUM(3)", "ok"]
