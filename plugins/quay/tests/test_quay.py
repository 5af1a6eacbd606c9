"""The Quay plugin against a faithful Quay facade over the real CNCF registry."""

from __future__ import annotations

import pytest
import tcs_registry_quay.client
from tcs_registry_quay import hooks

from tcs_registry.plugins import get_plugin_manager
from tcs_registry.testing.helpers import csv_rows, expected_rows, report_path, store_rows

ROBOT = ("acme+ci", "ROBOTTOKEN0123456789")
OAUTH = "oauth-access-token-abcdef"


@pytest.fixture
def pm():
    return get_plugin_manager(load_entrypoints=False, plugins=[hooks.plugin])


def test_robot_over_the_v2_api(tcs, pm, quay, quay_expected, out_dir, monkeypatch):
    before = len(quay.requests)
    result = tcs(
        "registry",
        quay.url,
        "--mode=dry-run",
        f"--username={ROBOT[0]}",
        f"--password={ROBOT[1]}",
        "--registry-type=quay",
        pm=pm,
    )
    assert result.code == 0, result.err
    assert csv_rows(report_path(out_dir, quay.host)) == expected_rows(quay.host, quay_expected)
    paths = [r.path for r in quay.requests[before:]]
    assert not any(p.startswith("/api/v1") for p in paths)  # robots cannot use the REST API
    assert paths.count("/v2/_catalog") == 1


def test_oauth_token_over_the_rest_api_with_paging_and_active_tags_only(
    tcs, pm, quay, quay_expected, out_dir, state_dir, monkeypatch
):
    monkeypatch.setattr(quay, "repos_per_page", 2)
    monkeypatch.setattr(tcs_registry_quay.client, "TAGS_PER_PAGE", 2)
    before = len(quay.requests)
    result = tcs(
        "registry", f"{quay.url}/acme", "--mode=dry-run", "--username=$oauthtoken", f"--password={OAUTH}", pm=pm
    )
    assert result.code == 0, result.err
    assert result.infos[0] == "info\tIdentified registry as: QUAY"
    assert csv_rows(report_path(out_dir, quay.host)) == expected_rows(
        quay.host, quay_expected
    )  # no "old", no other/thing
    requests = quay.requests[before:]
    assert [r.arg("next_page") is not None for r in requests if r.path == "/api/v1/repository"] == [False, True]
    tag_pages = [r for r in requests if r.path == "/api/v1/repository/acme/api/tag/"]
    assert [(r.arg("onlyActiveTags"), r.arg("page")) for r in tag_pages] == [("true", "1"), ("true", "2")]
    assert not any(r.path == "/v2/_catalog" for r in requests)
    assert store_rows(state_dir, "SELECT COUNT(*) FROM images WHERE repository LIKE 'acme/%'") == [(5,)]


def test_wrong_robot_token(tcs, pm, quay):
    result = tcs(
        "registry", quay.url, "--mode=dry-run", "--username=acme+ci", "--password=nope", "--registry-type=QUAY", pm=pm
    )
    assert result.code == 3
    assert result.messages[-1] == "error\tthe registry's token service refused the credentials of user 'acme+ci'"


def test_sniffed_from_the_v2_challenge(tcs, pm, quay):
    result = tcs("registry", quay.url, "--mode=dry-run", pm=pm)
    assert result.infos[0] == "info\tIdentified registry as: QUAY"


def test_quay_io_by_name_alone():
    from tcs_registry_quay.hooks import plugin

    class NoProbe:
        def v2(self):
            raise AssertionError("no request for a known host")

    assert plugin.sniff("https://quay.io/acme", NoProbe()).registry_type == "QUAY"
