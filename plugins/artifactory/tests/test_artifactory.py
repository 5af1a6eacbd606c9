"""The Artifactory plugin against a faithful Artifactory facade over the real CNCF registry."""

from __future__ import annotations

import pytest
from tcs_registry_artifactory import hooks

from tcs_registry.plugins import get_plugin_manager
from tcs_registry.testing.helpers import csv_rows, expected_rows, report_path

ACCESS_TOKEN = "eyJ2ZXIiOiIyIn0.access-token"


@pytest.fixture
def pm():
    return get_plugin_manager(load_entrypoints=False, plugins=[hooks.plugin])


@pytest.mark.parametrize(
    "credentials",
    [
        ["--username=deployer", "--password=Passw0rd!"],
        ["--username=ci", "--password=identity-token-for-ci"],
        [f"--password={ACCESS_TOKEN}"],
    ],
    ids=["password", "identity-token", "access-token"],
)
def test_every_docker_repository_of_the_instance(
    tcs, pm, artifactory, artifactory_expected, out_dir, credentials, monkeypatch
):
    monkeypatch.setattr(artifactory, "catalog_max", 2)
    before = len(artifactory.requests)
    result = tcs("registry", artifactory.url, "--mode=dry-run", *credentials, pm=pm)
    assert result.code == 0, result.err
    assert result.infos[0] == "info\tIdentified registry as: ARTIFACTORY"
    assert csv_rows(report_path(out_dir, artifactory.host)) == expected_rows(artifactory.host, artifactory_expected)
    paths = [r.path for r in artifactory.requests[before:]]
    assert "/artifactory/api/docker/docker/v2/_catalog" not in paths  # the virtual repository is skipped
    assert paths.count("/artifactory/api/docker/docker-local/v2/_catalog") == 2  # 3 images, pages of 2


@pytest.mark.parametrize("form", ["/artifactory/api/docker/docker-local", "/docker-local"])
def test_one_repository_named_in_the_url(tcs, pm, artifactory, artifactory_expected, out_dir, form):
    result = tcs(
        "registry",
        artifactory.url + form,
        "--mode=dry-run",
        "--username=deployer",
        "--password=Passw0rd!",
        "--registry-type=artifactory",
        pm=pm,
    )
    assert result.code == 0, result.err
    local = [e for e in artifactory_expected if e.repository.startswith("docker-local/")]
    assert csv_rows(report_path(out_dir, artifactory.host)) == expected_rows(artifactory.host, local)


def test_wrong_password(tcs, pm, artifactory):
    result = tcs(
        "registry",
        artifactory.url + "/artifactory/api/docker/docker-local",
        "--mode=dry-run",
        "--username=deployer",
        "--password=wrong",
        pm=pm,
    )
    assert result.code == 3
    assert result.messages[-1] == "error\tthe registry's token service refused the credentials of user 'deployer'"


def test_recognised_without_a_telling_url(tcs, pm, artifactory):
    """The bare host answers /v2/ with X-JFrog-Version: no vendor probe is needed."""
    before = len(artifactory.requests)
    result = tcs("registry", artifactory.url, "--mode=dry-run", pm=pm)
    assert result.infos[0] == "info\tIdentified registry as: ARTIFACTORY"
    assert "/artifactory/api/system/ping" not in [r.path for r in artifactory.requests[before:]]
    assert result.code == 3  # anonymous: the repository listing wants credentials
