"""Every installed plugin together: they load, declare distinct types, and never tie on a URL."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tcs_registry.plugins import get_plugin_manager, registry_types
from tcs_registry.sniffing import OfflineProbe, select_registry_type

VENDORS = {"DOCKERHUB", "HARBOR", "QUAY", "ARTIFACTORY", "NEXUS", "ECR", "ACR", "GHCR"}  # GHCR: the example


Offline = OfflineProbe  # a host that cannot be reached: only URL rules can decide


@pytest.fixture(scope="module")
def pm():
    pm = get_plugin_manager(env={})
    missing = VENDORS - set(registry_types(pm))
    if missing:
        pytest.skip(f"vendor plugins not installed: {sorted(missing)}")
    return pm


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://hub.docker.com/u/acme", "DOCKERHUB"),
        ("https://docker.io", "DOCKERHUB"),
        ("https://registry-1.docker.io", "DOCKERHUB"),
        ("https://quay.io/acme", "QUAY"),
        ("https://acme.jfrog.io/docker-local", "ARTIFACTORY"),
        ("https://art.example.com/artifactory/api/docker/docker-local", "ARTIFACTORY"),
        ("https://nexus.example.com/repository/docker-hosted", "NEXUS"),
        ("https://harbor.example.com", "HARBOR"),
        ("https://registry.example.com", "DEFAULT_V2"),
        ("https://123456789012.dkr.ecr.eu-west-1.amazonaws.com", "ECR"),
        ("https://myregistry.azurecr.io", "ACR"),
        ("https://ghcr.io/octo-org", "GHCR"),
    ],
)
def test_url_matrix_has_one_answer_each(pm, url, expected):
    assert select_registry_type(pm, url, Offline()) == expected


def test_every_vendor_is_listed_once(pm):
    assert set(registry_types(pm)) == VENDORS | {"DEFAULT_V2"}


def test_sniffing_a_plain_registry_sends_at_most_one_vendor_probe(pm, basic_registry, anonymous_registry):
    from tcs_registry.sniffing import HttpProbe
    from tcs_registry.testing.proxy import Proxy

    for upstream, expected_paths in ((basic_registry, ["/v2/", "/api/v2.0/ping"]), (anonymous_registry, ["/v2/"])):
        with Proxy(upstream.url, lambda *_: None) as proxy:
            assert select_registry_type(pm, proxy.url, HttpProbe(proxy.url, True)) == "DEFAULT_V2"
            assert proxy.paths == expected_paths


def test_loading_every_plugin_leaves_the_cloud_sdks_unimported():
    """Every command loads every plugin: boto3 and azure-identity (~150 ms of each start) are imported
    only when an ECR or ACR registry is used, not to recognise a URL."""
    script = """
import json, sys
from tcs_registry.plugins import get_plugin_manager, registry_types
from tcs_registry.sniffing import OfflineProbe, select_registry_type
pm = get_plugin_manager(env={})
chosen = [select_registry_type(pm, url, OfflineProbe()) for url in sys.argv[1:]]
print(json.dumps([sorted(registry_types(pm)), chosen, [m for m in ("boto3", "azure.identity") if m in sys.modules]]))
"""
    urls = ["https://123456789012.dkr.ecr.eu-west-1.amazonaws.com", "https://acmeregistry.azurecr.io"]
    done = subprocess.run([sys.executable, "-c", script, *urls], capture_output=True, text=True, check=True)
    types, chosen, imported = json.loads(done.stdout)
    assert {"ECR", "ACR"} <= set(types)
    assert chosen == ["ECR", "ACR"]
    assert imported == []
