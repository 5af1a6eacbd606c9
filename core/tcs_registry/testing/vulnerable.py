"""Images with known vulnerabilities and misconfigurations, shared by the tests and the demo: a real
Alpine 3.18 package database, a Debian 9 dpkg database around real advisories' fixed versions, and a
Python/npm application built carelessly (secrets in ENV and build arguments, ADD from a URL, SSH exposed).

``pkgdb`` is the directory of real package databases (tests/fixtures/pkgdb in the repository).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..oci import format_time, parse_time
from .datasets import Expected
from .images import Entry, Pushed, Pusher, tar_layer

DEBIAN9 = Entry("etc/os-release", b'PRETTY_NAME="Debian GNU/Linux 9 (stretch)"\nID=debian\nVERSION_ID="9"\n')
SITE = "usr/local/lib/python3.11/site-packages"
# secrets planted in APP_CONFIG: never to be seen in any output
PLANTED_SECRETS = ("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB")


def alpine(pkgdb: Path) -> list[Entry]:
    return [
        Entry(
            "etc/os-release", b'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.18.0\nPRETTY_NAME="Alpine Linux v3.18"\n'
        ),
        Entry("lib/apk/db/installed", (pkgdb / "apk-installed-alpine-3.18").read_bytes()),
    ]


def dpkg(*packages: tuple[str, str, str]) -> Entry:
    """A dpkg status database of (package, source, version) paragraphs."""
    paragraphs = [
        f"Package: {name}\nStatus: install ok installed\nArchitecture: amd64\nSource: {source}\nVersion: {version}\n"
        for name, source, version in packages
    ]
    return Entry("var/lib/dpkg/status", "\n".join(paragraphs).encode())


DEBIAN9_PACKAGES = dpkg(
    ("libssl1.1", "openssl", "1.1.0l-1~deb9u5"),  # DLA-3008-1 fixes 1.1.0l-1~deb9u6
    ("openssl", "openssl", "1.1.0l-1~deb9u5"),
    ("libxml2", "libxml2", "2.9.4+dfsg1-2.2+deb9u7"),  # exactly DLA-3012-1's fix
    ("dpkg", "dpkg", "1.18.25"),  # DLA-3022-1 fixes 1.18.26
    ("tzdata", "tzdata", "1:2021a-0+deb9u1"),  # an epoch beats DLA-3051-1's 2021a-0+deb9u4
    ("nginx", "nginx", "1.2.1-2.2+wheezy2"),  # DSA-3029-1 is for Debian 7 only
)


# What a scan of the Debian 9 image finds with the kit's OSV records (testing/osv: DLA-3008-1 and
# DLA-3022-1), by source package and version: (package, installed, vulnerability, fixed in).
DEBIAN9_FINDINGS = [
    ("dpkg", "1.18.25", "CVE-2022-1664", "1.18.26"),
    ("libssl1.1", "1.1.0l-1~deb9u5", "CVE-2022-1292", "1.1.0l-1~deb9u6"),
    ("openssl", "1.1.0l-1~deb9u5", "CVE-2022-1292", "1.1.0l-1~deb9u6"),
]
DEBIAN9_CREATED = "2026-11-01T00:00:00Z"


def push_debian9(pusher: Pusher, repository: str = "apps/debian9", tag: str = "1") -> Expected:
    """A Debian 9 image with packages that real advisories fix (DEBIAN9_FINDINGS), run as a user with a
    healthcheck: no violation but an old base, if any."""
    pusher.image(
        repository,
        tag,
        created=DEBIAN9_CREATED,
        layers=[tar_layer([DEBIAN9, DEBIAN9_PACKAGES])],
        extra_config={"config": {"User": "app", "Healthcheck": {"Test": ["CMD", "true"]}}},
    )
    return Expected(repository, tag, format_time(parse_time(DEBIAN9_CREATED)), f"{repository}:{tag}")


def dist_info(name: str, version: str) -> Entry:
    return Entry(
        f"{SITE}/{name}-{version}.dist-info/METADATA",
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
    )


def python_app(idna: str) -> list[Entry]:
    return [
        DEBIAN9,
        dist_info("idna", idna),
        dist_info("requests", "2.30.0"),
        dist_info("urllib3", "1.25.8"),
        dist_info("setuptools", "70.0.0"),
        Entry("srv/web/node_modules/json5/package.json", b'{"name": "json5", "version": "2.2.1"}'),
    ]


APP_CONFIG: dict[str, Any] = {
    "config": {
        "User": "10001",
        "Env": ["PATH=/usr/local/bin:/usr/bin", f"AWS_SECRET_ACCESS_KEY={PLANTED_SECRETS[0]}"],
        "ExposedPorts": {"22/tcp": {}, "8080/tcp": {}},
        "Healthcheck": {"Test": ["CMD", "/healthz"]},
    },
    "history": [
        {"created": "2026-10-01T00:00:00Z", "created_by": "/bin/sh -c #(nop) ADD file:0a1b in / "},
        {"created": "2026-10-02T00:00:00Z", "created_by": "ADD https://example.com/tool.tgz /opt/ # buildkit"},
        {
            "created": "2026-10-02T00:00:00Z",
            "created_by": f"|1 GITHUB_TOKEN={PLANTED_SECRETS[1]} /bin/sh -c make install",
        },
    ],
}


def push_python_app(pusher: Pusher, idna: str = "3.6") -> Pushed:
    """apps/python:1; idna 3.7 is the release that fixes CVE-2024-3651."""
    return pusher.image(
        "apps/python",
        "1",
        created="2026-10-02T00:00:00Z",
        layers=[tar_layer(python_app(idna))],
        extra_config=APP_CONFIG,
    )


def push_vulnerable(pusher: Pusher, pkgdb: Path) -> int:
    """apps/alpine:3.18, apps/debian9:1 and apps/python:1; returns how many tags were pushed."""
    pusher.image("apps/alpine", "3.18", created="2024-05-01T00:00:00Z", layers=[tar_layer(alpine(pkgdb))])
    push_debian9(pusher)
    push_python_app(pusher)
    return 3
