"""The small parsers every vendor relies on: auth challenges, scopes, times, manifests."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tcs_registry.errors import ImageError
from tcs_registry.http import Challenge, parse_challenges, scope_for, with_page_size
from tcs_registry.oci import build_time, compute_digest, format_time, json_object, parse_manifest, parse_time


def test_challenges_with_commas_in_quoted_values_and_several_schemes():
    header = (
        'Bearer realm="https://auth.example.com/token",service="registry.example.com",'
        'scope="repository:team/api:pull,push",error="insufficient_scope", Basic realm="harbor"'
    )
    assert parse_challenges(header) == [
        Challenge(
            "bearer",
            {
                "realm": "https://auth.example.com/token",
                "service": "registry.example.com",
                "scope": "repository:team/api:pull,push",
                "error": "insufficient_scope",
            },
        ),
        Challenge("basic", {"realm": "harbor"}),
    ]
    assert parse_challenges('BASIC realm="Sonatype Nexus Repository Manager"') == [
        Challenge("basic", {"realm": "Sonatype Nexus Repository Manager"})
    ]
    assert parse_challenges("") == []


@pytest.mark.parametrize(
    ("url", "scope"),
    [
        ("https://r.example.com/v2/_catalog?n=100", "registry:catalog:*"),
        ("https://r.example.com/v2/a/b/c/tags/list", "repository:a/b/c:pull"),
        ("https://r.example.com/v2/team/api/manifests/sha256:abc", "repository:team/api:pull"),
        ("https://r.example.com/v2/x/blobs/sha256:abc", "repository:x:pull"),
        ("https://r.example.com/prefix/v2/tags/list/tags/list", "repository:tags/list:pull"),
        ("https://r.example.com/v2/", None),
    ],
)
def test_scope_for(url, scope):
    assert scope_for(url) == scope


def test_page_size_changes_only_n_and_leaves_opaque_links_alone():
    assert with_page_size("/v2/_catalog?last=a%2Fb&n=100", 50) == "/v2/_catalog?last=a%2Fb&n=50"
    assert with_page_size("/v2/_catalog?next_page=a=1;b=2", 50) == "/v2/_catalog?next_page=a=1;b=2&n=50"
    assert with_page_size("/v2/_catalog", 1000) == "/v2/_catalog?n=1000"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-20T12:30:45.123456789Z", datetime(2024, 5, 20, 12, 30, 45, 123456, tzinfo=UTC)),
        ("2024-05-20T12:30:45.1234567+02:00", datetime(2024, 5, 20, 10, 30, 45, 123456, tzinfo=UTC)),
        ("2024-05-20T12:30:45", datetime(2024, 5, 20, 12, 30, 45, tzinfo=UTC)),
        ("0001-01-01T00:00:00Z", None),
        ("0001-01-01T00:00:00+01:00", None),
        ("9999-12-31T23:59:59-01:00", None),
        ("yesterday", None),
        (None, None),
        (1716208245, None),
    ],
)
def test_parse_time(text, expected):
    assert parse_time(text) == expected


def test_build_time_falls_back_from_the_epoch_to_the_label():
    assert format_time(build_time({"created": "2024-01-02T03:04:05Z"})) == "2024-01-02T03:04:05Z"
    labelled = {
        "created": "1970-01-01T00:00:00Z",
        "config": {"Labels": {"org.opencontainers.image.created": "2023-03-03T00:00:00Z"}},
    }
    assert format_time(build_time(labelled)) == "2023-03-03T00:00:00Z"
    assert build_time({"created": "1970-01-01T00:00:00Z"}) is None
    # a config's "config" that is no object (an artifact's config, read as an image's by a vendor's list)
    assert build_time({"created": "1970-01-01T00:00:00Z", "config": "x"}) is None
    assert build_time({"config": {"Labels": None}}) is None


def test_index_platforms_leave_out_attestations():
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": "sha256:" + "a" * 64,
                "size": 1,
                "platform": {"architecture": "amd64", "os": "linux"},
            },
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": "sha256:" + "b" * 64,
                "size": 1,
                "platform": {"architecture": "arm", "os": "linux", "variant": "v7"},
            },
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": "sha256:" + "c" * 64,
                "size": 1,
                "platform": {"architecture": "unknown", "os": "unknown"},
                "annotations": {"vnd.docker.reference.type": "attestation-manifest"},
            },
        ],
    }
    body = json.dumps(index).encode()
    manifest = parse_manifest(body, "application/vnd.oci.image.index.v1+json", compute_digest(body), "x")
    assert [str(p) for p in manifest.platforms()] == ["linux/amd64", "linux/arm/v7"]


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"<html>nope</html>", "text/html", "x: the registry answered an HTML page (text/html), not a manifest"),
        (b"  <!DOCTYPE html>", "", "x: the registry answered an HTML page (no type), not a manifest"),
        (b"[]", "application/json", "x: the manifest is not a JSON object"),
        (
            json.dumps({"schemaVersion": 1, "name": "x", "fsLayers": []}).encode(),
            "application/vnd.docker.distribution.manifest.v1+prettyjws",
            "x: schema 1 manifests are not supported (deprecated format; re-push the image)",
        ),
        (
            json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.example+json"}).encode(),
            "application/vnd.example+json",
            "x: unsupported manifest media type 'application/vnd.example+json'",
        ),
    ],
)
def test_bad_manifests_are_image_errors(body, content_type, message):
    with pytest.raises(ImageError) as raised:
        parse_manifest(body, content_type, compute_digest(body), "x")
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("body", "message"),
    [(b"{not json", "r@sha256:1: config is not valid JSON"), (b'["a"]', "r@sha256:1: config is not a JSON object")],
)
def test_a_config_that_is_no_json_object_fails_its_image(body, message):
    with pytest.raises(ImageError) as raised:
        json_object(body, "r@sha256:1: config")
    assert str(raised.value) == message
