"""The Docker Hub plugin against faithful Hub API and registry facades over the real CNCF registry."""

from __future__ import annotations

import pytest
import tcs_registry_dockerhub.client
from tcs_registry_dockerhub import hooks

from tcs_registry.plugins import get_plugin_manager
from tcs_registry.testing.helpers import csv_rows, expected_rows, report_path

ACCOUNT = ("acme", "dckr_pat_0123456789abcdef")
LOGIN = ("--registry-type=DOCKERHUB", f"--username={ACCOUNT[0]}", f"--password={ACCOUNT[1]}")


@pytest.fixture
def pm():
    return get_plugin_manager(load_entrypoints=False, plugins=[hooks.plugin])


def test_official_images_anonymously(tcs, pm, hub, hub_expected, out_dir):
    _api, registry = hub
    result = tcs("registry", f"{registry.url}/u/library", "--mode=dry-run", "--registry-type=dockerhub", pm=pm)
    assert result.code == 0, result.err
    library = [e for e in hub_expected if e.repository.startswith("library/")]
    assert csv_rows(report_path(out_dir, registry.host)) == expected_rows(registry.host, library)
    assert not any(r.path.endswith("/_catalog") for r in registry.requests)  # Docker Hub has none


def test_own_namespace_from_the_user_name_with_private_repositories(tcs, pm, hub, hub_expected, out_dir, monkeypatch):
    api, registry = hub
    monkeypatch.setattr(tcs_registry_dockerhub.client, "PAGE_SIZE", 2)
    result = tcs("registry", registry.url, "--mode=dry-run", *LOGIN, pm=pm)
    assert result.code == 0, result.err
    acme = [e for e in hub_expected if e.repository.startswith("acme/")]
    assert csv_rows(report_path(out_dir, registry.host)) == expected_rows(registry.host, acme)
    pages = [r.arg("page") for r in api.requests if r.path == "/v2/namespaces/acme/repositories"]
    assert pages == ["1", "2"]  # three repositories, pages of two, following "next"
    manifest_gets = [r for r in registry.requests if r.method == "GET" and "/manifests/" in r.path]
    assert len(manifest_gets) == len(acme)  # one counted pull per image, the index included


def test_pull_quota_stops_politely(tcs, pm, hub, out_dir, monkeypatch):
    _api, registry = hub
    monkeypatch.setattr(registry, "pull_limit", 3)
    result = tcs("registry", registry.url, "--mode=dry-run", *LOGIN, "--concurrency=1", pm=pm)
    assert result.code == 4
    errors = [m for m in result.messages if m.startswith("error\t")]
    assert errors == [
        "error\tStopping: Docker Hub's pull quota is used up for this account; log in or run again when the window "
        "resets",
        "error\t1 admitted images were left undone; run again when the quota allows it",
    ]
    assert "Left undone           : 1\n" in result.out
    # three pulls describe four tags: acme/api 1.1 and latest share a digest, whose manifest is read once
    assert len(csv_rows(report_path(out_dir, registry.host))) == 1 + 4
    assert registry.pulls["acme"] == 3  # nothing was asked once the quota header said 0


def test_wrong_token(tcs, pm, hub):
    _api, registry = hub
    result = tcs(
        "registry",
        registry.url,
        "--mode=dry-run",
        "--registry-type=DOCKERHUB",
        "--username=acme",
        "--password=dckr_pat_wrong",
        pm=pm,
    )
    assert result.code == 3
    assert result.messages[-1] == "error\tDocker Hub refused the credentials of user 'acme'"


@pytest.mark.parametrize(
    "url",
    [
        "https://hub.docker.com/u/acme",
        "https://docker.io/acme",
        "https://index.docker.io",
        "https://registry-1.docker.io",
        "https://registry.hub.docker.com",
    ],
)
def test_recognised_by_name_without_a_request(url):
    assert hooks.plugin.sniff(url, None).registry_type == "DOCKERHUB"  # decided without any request


def test_namespace_sources(monkeypatch):
    from tcs_registry_dockerhub.client import namespace

    assert namespace("/u/Acme", "bob") == "acme"
    assert namespace("/repositories/acme", None) == "acme"
    assert namespace("/_", None) == "library"
    assert namespace("", "Bob") == "bob"
    monkeypatch.setenv("TCS_DOCKERHUB_NAMESPACE", "team")
    assert namespace("", "bob") == "team"


def test_a_mirror_password_never_goes_to_docker_hub(tcs, pm, hub, monkeypatch):
    api, registry = hub
    monkeypatch.delenv("TCS_DOCKERHUB_API_URL")
    monkeypatch.setattr(tcs_registry_dockerhub.client, "HUB_API", api.url)  # where the Hub would be
    before = len(api.requests)
    tcs(
        "registry",
        f"{registry.url}/u/library",
        "--mode=dry-run",
        "--registry-type=DOCKERHUB",
        "--username=alice",
        "--password=mirror-secret",
        pm=pm,
    )
    assert [r.path for r in api.requests[before:] if r.method == "POST"] == []
    assert all(r.headers.get("Authorization") is None for r in api.requests[before:])


def test_the_hub_api_token_is_renewed_before_it_expires(tcs, pm, hub, hub_expected, out_dir, monkeypatch):
    api, registry = hub
    monkeypatch.setattr(tcs_registry_dockerhub.client, "API_TOKEN_LIFETIME", 0)  # every call finds it stale
    result = tcs("registry", registry.url, "--mode=dry-run", *LOGIN, pm=pm)
    assert result.code == 0, result.err
    logins = [r for r in api.requests if r.method == "POST" and r.path == "/v2/auth/token"]
    assert len(logins) >= 4  # the first, then one per listing call (repositories and each repository's tags)
