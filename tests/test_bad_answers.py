"""Registry answers that are wrong, end to end: the real CNCF registry behind a proxy that rewrites chosen
answers. Each bad answer fails only its image, with one clear reason in the log and in the failures
report; the images around it are described as usual and the exit code says "partial" (4)."""

from __future__ import annotations

import json

from tcs_registry.oci import compute_digest
from tcs_registry.testing.helpers import csv_rows, expected_rows, failures_path, report_path
from tcs_registry.testing.proxy import Proxy, upstream_answer

MISSING = compute_digest(b"a config nobody pushed")
FORGED = b'{"created": "2024-01-01T00:00:00Z"}'


def test_each_bad_answer_fails_its_image_with_one_clear_reason(tcs, anonymous_registry, standard, out_dir):
    tampered: dict[str, str] = {}  # config blob path -> the image whose config is served wrong

    def upstream_manifest(session, upstream, path):
        _, headers, body = upstream_answer(session, upstream, path)
        return headers["Content-Type"], json.loads(body)

    def bad(path, session, upstream):
        if path == "/v2/alpine/manifests/3.19":  # schema 1, long deprecated (distribution spec)
            body = {"schemaVersion": 1, "name": "alpine", "tag": "3.19", "fsLayers": [], "history": []}
            return (
                200,
                {"Content-Type": "application/vnd.docker.distribution.manifest.v1+prettyjws"},
                json.dumps(body).encode(),
            )
        if path == "/v2/alpine/manifests/3.20":  # a login page or a proxy's error page answered with 200
            return 200, {"Content-Type": "text/html"}, b"<html><body><h1>Sign in</h1></body></html>"
        if path == "/v2/alpine/manifests/latest":  # a wrong Content-Type on a good manifest: the body says
            kind, body = upstream_manifest(session, upstream, path)
            return 200, {"Content-Type": "text/plain"}, json.dumps(body).encode()
        if path == "/v2/team/api/manifests/1.0.0":  # a media type this tool does not know
            body = {"schemaVersion": 2, "mediaType": "application/vnd.example.thing.v1+json", "blobs": []}
            return 200, {"Content-Type": "application/vnd.example.thing.v1+json"}, json.dumps(body).encode()
        if path == "/v2/team/api/manifests/1.1.0":  # a config blob that is not in the registry
            kind, body = upstream_manifest(session, upstream, path)
            body["config"]["digest"] = MISSING
            return 200, {"Content-Type": kind}, json.dumps(body).encode()
        if path == "/v2/team/api/manifests/1.1.0-debug":
            kind, body = upstream_manifest(session, upstream, path)
            tampered[f"/v2/team/api/blobs/{body['config']['digest']}"] = "1.1.0-debug"
            return None
        if path in tampered:  # bytes that do not match their digest
            return 200, {"Content-Type": "application/octet-stream"}, FORGED
        return None

    with Proxy(anonymous_registry.url, bad) as proxy:
        result = tcs("registry", proxy.url, "--mode=dry-run")
        host = proxy.host
        failed = csv_rows(failures_path(out_dir, host))
        rows = csv_rows(report_path(out_dir, host))

    debug_config = next(iter(tampered)).rsplit("/", 1)[1]
    reasons = {
        ("alpine", "3.19"): f"{host}/alpine:3.19: schema 1 manifests are not supported (deprecated format; "
        "re-push the image)",
        ("alpine", "3.20"): f"{host}/alpine:3.20: the registry answered an HTML page (text/html), not a manifest",
        ("team/api", "1.0.0"): f"{host}/team/api:1.0.0: unsupported manifest media type "
        "'application/vnd.example.thing.v1+json'",
        ("team/api", "1.1.0"): f"{host}/team/api@{MISSING}: blob not found",
        ("team/api", "1.1.0-debug"): f"{host}/team/api@{debug_config}: content does not match its digest "
        f"(expected {debug_config}, got {compute_digest(FORGED)})",
    }
    assert result.code == 4, result.err
    assert "Traceback" not in result.err
    codes = ["unsupported-media-type", "invalid-image", "unsupported-media-type", "not-found", "invalid-image"]
    assert failed == [["repository", "tag", "code", "reason"]] + [
        [f"{host}/{repository}", tag, code, reason]
        for ((repository, tag), reason), code in zip(reasons.items(), codes, strict=True)
    ]
    assert "Failures by code      : invalid-image 2, unsupported-media-type 2, not-found 1\n" in result.out
    assert [m for m in result.messages if m.startswith("error")] == [
        f"error\tFailed to describe image image={host}/{repository}:{tag} error={reason}"
        for (repository, tag), reason in reasons.items()
    ]
    # every other image described as usual (alpine:latest from its body's mediaType alone)
    assert rows == expected_rows(host, [e for e in standard.expected if (e.repository, e.tag) not in reasons])
    assert f"Failed images         : {len(reasons)}\n" in result.out
