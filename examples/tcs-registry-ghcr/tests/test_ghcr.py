"""The GHCR plugin against ghcr.io and GitHub API facades over the real CNCF registry."""

from __future__ import annotations

import pytest
from tcs_registry_ghcr import plugin

from tcs_registry.plugins import get_plugin_manager
from tcs_registry.sniffing import OFFLINE
from tcs_registry.testing.helpers import (
    csv_rows,
    expected_rows,
    inventory,
    report_path,
    sorted_report,
    vulnerabilities,
)
from tcs_registry.testing.vulnerable import DEBIAN9_FINDINGS

ACCOUNT = ("mona", "ghp_0123456789abcdefghijklmnopqrstuvwxyz")
LOGIN = ("--registry-type=GHCR", f"--username={ACCOUNT[0]}", "--password-stdin")


@pytest.fixture
def pm():
    return get_plugin_manager(load_entrypoints=False, plugins=[plugin])


def test_an_organization_is_listed_through_the_packages_api_in_pages_of_100(tcs, pm, ghcr, ghcr_expected, out_dir):
    registry, api = ghcr
    result = tcs("registry", f"{registry.url}/octo-org", "--mode=dry-run", *LOGIN, stdin=ACCOUNT[1] + "\n", pm=pm)
    assert result.code == 0, result.err
    mine = [e for e in ghcr_expected if e.repository.startswith("octo-org/")]
    assert len(mine) == 109  # api 1.0 and 1.1, team/web 2.0, the private tool v1, 104 services, legacy 2019
    assert sorted_report(out_dir, registry.host) == expected_rows(registry.host, mine)
    pages = [r.target for r in api.requests if r.path == "/orgs/octo-org/packages"]
    assert pages == [
        "/orgs/octo-org/packages?package_type=container&per_page=100",
        "/orgs/octo-org/packages?package_type=container&per_page=100&page=2",
        "/orgs/octo-org/packages?package_type=docker&per_page=100",  # migrated from docker.pkg.github.com
    ]


def test_the_apis_10000_results_end_the_listing_once(tcs, pm, ghcr, ghcr_expected, out_dir, monkeypatch):
    """Past per_page x page = 10,000 GitHub answers 400: one line, what was listed is kept, never re-listed
    with smaller pages."""
    registry, api = ghcr
    monkeypatch.setattr(api, "results_cap", 100)
    result = tcs("registry", f"{registry.url}/octo-org", "--mode=dry-run", *LOGIN, stdin=ACCOUNT[1] + "\n", pm=pm)
    assert result.code == 4, result.err
    pages = [r.target for r in api.requests if r.path == "/orgs/octo-org/packages"]
    assert pages == [
        "/orgs/octo-org/packages?package_type=container&per_page=100",
        "/orgs/octo-org/packages?package_type=container&per_page=100&page=2",
        "/orgs/octo-org/packages?package_type=docker&per_page=100",  # the other kind is listed all the same
    ]
    assert [m for m in result.messages if m.startswith("error")] == [
        "error\tRepository listing stopped early after 101 repositories error=ghcr.io container packages of "
        "octo-org: the registry answered 400 (The value of `per_page` multiplied by `page` cannot be greater "
        "than 100.)"
    ]
    listed = sorted({e.repository for e in ghcr_expected if e.repository.startswith("octo-org/")} - {"octo-org/legacy"})
    kept = [e for e in ghcr_expected if e.repository in [*listed[:100], "octo-org/legacy"]]  # a page of each kind
    assert sorted_report(out_dir, registry.host) == expected_rows(registry.host, kept)
    assert not any("_catalog" in r.path for r in registry.requests)  # ghcr.io has no catalog per owner


def test_a_user_account_and_its_image_scanned(tcs, pm, ghcr, ghcr_expected, out_dir, vulnerability_database):
    registry, _api = ghcr
    result = tcs("registry", f"{registry.url}/mona", "--format=json", *LOGIN, stdin=ACCOUNT[1] + "\n", pm=pm)
    assert result.code == 0, result.err
    assert "info\tIdentified registry as: GHCR" in result.messages
    document = inventory(out_dir, registry.host, "mona/dotfiles", "latest")
    assert (document["os_id"], document["packages"]) == ("ghcr-test", [])
    assert vulnerabilities(out_dir, registry.host, "mona/debian9", "1") == DEBIAN9_FINDINGS


def test_a_path_below_the_owner_narrows_the_listing(tcs, pm, ghcr, ghcr_expected, out_dir):
    registry, _api = ghcr
    result = tcs("registry", f"{registry.url}/octo-org/team", "--mode=dry-run", *LOGIN, stdin=ACCOUNT[1] + "\n", pm=pm)
    assert result.code == 0, result.err
    team = [e for e in ghcr_expected if e.repository.startswith("octo-org/team/")]
    assert csv_rows(report_path(out_dir, registry.host)) == expected_rows(registry.host, team)


def test_listing_needs_a_token(tcs, pm, ghcr):
    registry, _api = ghcr
    result = tcs("registry", f"{registry.url}/octo-org", "--mode=dry-run", "--registry-type=GHCR", pm=pm)
    assert result.code == 3
    assert result.messages[-1] == (
        "error\tlisting ghcr.io packages needs a GitHub token with read:packages: "
        "--username <user> and the token as the password (--password-stdin)"
    )


def test_a_wrong_token_is_refused_at_login(tcs, pm, ghcr):
    registry, _api = ghcr
    result = tcs("registry", f"{registry.url}/octo-org", "--mode=dry-run", *LOGIN, stdin="ghp_wrong\n", pm=pm)
    assert result.code == 3
    assert "ghp_wrong" not in result.err
    assert result.messages[-1].startswith("error\t")


def test_ghcr_io_is_recognised_by_name():
    assert plugin.sniff("https://ghcr.io/octo-org", OFFLINE).registry_type == "GHCR"
    assert plugin.sniff("https://registry.example.com", OFFLINE) is None
