"""The Nexus plugin against a faithful Nexus 3 facade over the real CNCF registry."""

from __future__ import annotations

import pytest
from tcs_registry_nexus import hooks

from tcs_registry.plugins import get_plugin_manager
from tcs_registry.testing.helpers import csv_rows, expected_rows, report_path

LOGIN = ["--username=ci", "--password=nexus-ci-password"]


@pytest.fixture
def pm():
    return get_plugin_manager(load_entrypoints=False, plugins=[hooks.plugin])


def test_every_docker_repository_with_search_paging(tcs, pm, nexus, nexus_expected, out_dir, monkeypatch):
    monkeypatch.setattr(nexus, "search_page", 2)
    before = len(nexus.requests)
    result = tcs("registry", nexus.url, "--mode=dry-run", *LOGIN, pm=pm)
    assert result.code == 0, result.err
    assert result.infos[0] == "info\tIdentified registry as: NEXUS"
    assert csv_rows(report_path(out_dir, nexus.host)) == expected_rows(nexus.host, nexus_expected)
    requests = nexus.requests[before:]
    searched = [(r.arg("name"), r.arg("continuationToken")) for r in requests if r.path == "/service/rest/v1/search"]
    assert ("app", None) in searched and ("app", "2") in searched  # three tags, pages of two
    assert not any(r.path.startswith("/repository/docker-group/") for r in requests)  # groups repeat members
    assert not any(r.path.endswith("/tags/list") for r in requests)  # the search API gave every tag


def test_one_repository_by_path(tcs, pm, nexus, nexus_expected, out_dir):
    result = tcs("registry", f"{nexus.url}/repository/docker-hosted", "--mode=dry-run", *LOGIN, pm=pm)
    assert result.code == 0, result.err
    hosted = [e for e in nexus_expected if e.repository.startswith("docker-hosted/")]
    assert csv_rows(report_path(out_dir, nexus.host)) == expected_rows(nexus.host, hosted)


def test_search_index_lagging_behind_falls_back_to_tags_list(tcs, pm, nexus, nexus_expected, out_dir, monkeypatch):
    monkeypatch.setattr(nexus, "unindexed", frozenset({"team/api"}))
    result = tcs("registry", f"{nexus.url}/repository/docker-hosted", "--mode=dry-run", *LOGIN, pm=pm)
    assert result.code == 0, result.err
    hosted = [e for e in nexus_expected if e.repository.startswith("docker-hosted/")]
    assert csv_rows(report_path(out_dir, nexus.host)) == expected_rows(nexus.host, hosted)


def test_connector_port(tcs, pm, nexus_connector, nexus_expected, out_dir):
    result = tcs("registry", nexus_connector.url, "--mode=dry-run", *LOGIN, pm=pm)
    assert result.code == 0, result.err
    assert result.infos[0] == "info\tIdentified registry as: NEXUS"
    hosted = [e for e in nexus_expected if e.repository.startswith("docker-hosted/")]
    rows = csv_rows(report_path(out_dir, nexus_connector.host))
    assert rows[1:] == [
        [f"{nexus_connector.host}/{e.repository.split('/', 1)[1]}", e.tag, e.build_time, "false"]
        for e in sorted(hosted, key=lambda e: (e.repository.split("/", 1)[1], e.tag))
    ]


def test_wrong_password(tcs, pm, nexus):
    result = tcs(
        "registry",
        f"{nexus.url}/repository/docker-hosted",
        "--mode=dry-run",
        "--username=ci",
        "--password=wrong",
        pm=pm,
    )
    assert result.code == 3
    assert result.messages[-1] == "error\tthe registry refused the credentials of user 'ci'"
