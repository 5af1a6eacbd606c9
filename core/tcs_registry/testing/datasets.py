"""Deterministic test and demo registries: what is pushed, and therefore what a report must say."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ..oci import format_time, parse_time
from .images import Pusher, make_layer


def cache_dir() -> Path:
    """Where slow-to-build test data is kept between runs, outside the checkout ($TCS_TEST_CACHE)."""
    return Path(os.environ.get("TCS_TEST_CACHE", Path.home() / ".cache" / "tcs-registry-tests"))


@dataclass(frozen=True)
class Expected:
    """One tag as a dry-run report must show it."""

    repository: str
    tag: str
    build_time: str  # RFC 3339 UTC to the second, '' if unknown
    digest_group: str  # tags with the same group share one digest


def push_tags(
    pusher: Pusher, repository: str, versions: list[tuple[str, str]], layers: list[tuple[bytes, str]], **image: Any
) -> list[Expected]:
    """One image per (tag, created); tags given the same created time get the same image (digest)."""
    out = []
    for tag, created in versions:
        pusher.image(repository, tag, created=created, layers=layers, **image)
        out.append(Expected(repository, tag, format_time(parse_time(created)), f"{repository}@{created}"))
    return out


def push_index(
    pusher: Pusher, repository: str, tag: str, platforms: list[tuple[str, str]], layers: list[tuple[bytes, str]]
) -> Expected:
    """A linux index of one image per (architecture, created), with a BuildKit attestation for the
    first; its expected build time is the newest platform's."""
    images = []
    for architecture, created in platforms:
        pushed = pusher.image(repository, None, created=created, layers=layers, architecture=architecture)
        images.append((pushed, {"architecture": architecture, "os": "linux"}))
    first = images[0][0]
    pusher.index(repository, tag, images, [(pusher.attestation(repository, first), first)])
    newest = max(format_time(parse_time(created)) for _, created in platforms)
    return Expected(repository, tag, newest, f"{repository}:{tag}")


BASE_FILES = {"etc/os-release": b'ID=tcs-test\nVERSION_ID="1"\n', "bin/hello": b"#!/bin/sh\necho hello\n"}


def seed_standard(pusher: Pusher) -> list[Expected]:
    """Ten tags in six repositories: nested names, a multi-arch index with an attestation, tags
    sharing a digest, Docker and OCI media types, an epoch build time and a missing one."""
    base = make_layer(BASE_FILES)
    app = make_layer({"app/VERSION": b"1\n"})
    out: list[Expected] = []

    pusher.image("alpine", "3.19", created="2024-01-10T10:00:00Z", layers=[base])
    out.append(Expected("alpine", "3.19", "2024-01-10T10:00:00Z", "alpine-3.19"))
    pusher.image("alpine", "3.20", created="2024-05-20T12:30:45.123456789Z", layers=[base, app])
    pusher.image("alpine", "latest", created="2024-05-20T12:30:45.123456789Z", layers=[base, app])
    out.append(Expected("alpine", "3.20", "2024-05-20T12:30:45Z", "alpine-3.20"))
    out.append(Expected("alpine", "latest", "2024-05-20T12:30:45Z", "alpine-3.20"))

    for tag, created in (
        ("1.0.0", "2024-02-01T08:00:00+02:00"),
        ("1.1.0", "2024-02-15T09:00:00Z"),
        ("1.1.0-debug", "2024-02-15T09:30:00Z"),
    ):
        pusher.image("team/api", tag, created=created, layers=[base], docker=True, labels={"tag": tag})
    out += [
        Expected("team/api", "1.0.0", "2024-02-01T06:00:00Z", "api-1.0.0"),
        Expected("team/api", "1.1.0", "2024-02-15T09:00:00Z", "api-1.1.0"),
        Expected("team/api", "1.1.0-debug", "2024-02-15T09:30:00Z", "api-1.1.0-debug"),
    ]

    pusher.image("a/b/c", "v1", created="2023-12-31T23:59:59Z", layers=[base])
    out.append(Expected("a/b/c", "v1", "2023-12-31T23:59:59Z", "abc-v1"))

    amd64 = pusher.image("multi/app", None, created="2024-03-01T00:00:00Z", layers=[base], architecture="amd64")
    arm64 = pusher.image(
        "multi/app", None, created="2024-03-01T00:05:00Z", layers=[base], architecture="arm64", variant="v8"
    )
    attestation = pusher.attestation("multi/app", amd64)
    pusher.index(
        "multi/app",
        "2.0",
        [
            (amd64, {"architecture": "amd64", "os": "linux"}),
            (arm64, {"architecture": "arm64", "os": "linux", "variant": "v8"}),
        ],
        [(attestation, amd64)],
    )
    out.append(Expected("multi/app", "2.0", "2024-03-01T00:05:00Z", "multi-2.0"))

    pusher.image(
        "repro/app",
        "1",
        created="1970-01-01T00:00:00Z",
        layers=[base],
        labels={"org.opencontainers.image.created": "2024-02-02T02:02:02Z"},
    )
    out.append(Expected("repro/app", "1", "2024-02-02T02:02:02Z", "repro-1"))
    pusher.image("nodate/app", "1", created=None, layers=[base])
    out.append(Expected("nodate/app", "1", "", "nodate-1"))
    return out


def big_catalog() -> Iterator[Expected]:
    """150 repositories, 1,000 tags: 100 x 7 tags and 50 x 6 tags, each repository's ``latest``
    sharing the digest of its newest version; two- and three-level names."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    for i in range(150):
        repository = f"bulk/r{i:03d}" if i < 100 else f"org/team{i % 5}/svc{i:03d}"
        versions = 6 if i < 100 else 5
        for j in range(versions):
            created = (start + timedelta(hours=i * 10 + j, seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
            yield Expected(repository, f"1.{j}.0", created, f"{repository}@{j}")
        yield Expected(repository, "latest", created, f"{repository}@{versions - 1}")


def seed_big(pusher: Pusher) -> list[Expected]:
    layer = make_layer(BASE_FILES)
    expected = list(big_catalog())
    for item in expected:
        pusher.image(item.repository, item.tag, created=item.build_time, layers=[layer])
    return expected
