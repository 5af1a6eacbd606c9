"""The ACR plugin: azure-identity's real credential classes against local Entra ID endpoints, and
an ACR front (exchange, /oauth2/token, /acr/v1) over the real CNCF registry."""

from __future__ import annotations

import pytest
from tcs_registry_acr import hooks

from tcs_registry.plugins import get_plugin_manager
from tcs_registry.testing.helpers import csv_rows, expected_rows, report_path

REGISTRY = "myregistry.azurecr.io"
URL = f"https://{REGISTRY}"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT = ("5b3c8f5e-1111-4222-8333-944455556666", "sp-client-secret")


@pytest.fixture
def pm():
    return get_plugin_manager(load_entrypoints=False, plugins=[hooks.plugin])


@pytest.fixture
def small_pages(acr, monkeypatch):
    monkeypatch.setattr(acr, "page_max", 2)


def test_managed_identity(tcs, pm, azure_env, managed_identity, acr_expected, out_dir, monkeypatch, small_pages):
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"{managed_identity.url}/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", "identity-header-secret")
    before = len(azure_env.requests)
    result = tcs("registry", URL, "--mode=dry-run", pm=pm)
    assert result.code == 0, result.err
    assert result.infos[0] == "info\tIdentified registry as: ACR"
    assert csv_rows(report_path(out_dir, REGISTRY)) == expected_rows(REGISTRY, acr_expected)
    paths = [r.path for r in azure_env.requests[before:]]
    assert paths.count("/oauth2/exchange") == 1
    assert paths.count("/acr/v1/_catalog") == 2  # three repositories, pages of two
    assert paths.count("/acr/v1/production/api/_tags") == 2  # three tags, pages of two
    assert [r.arg("resource") for r in managed_identity.requests] == ["https://containerregistry.azure.net"]


def test_service_principal_against_a_tls_authority(tcs, pm, azure_env, authority, acr_expected, out_dir, monkeypatch):
    monkeypatch.setenv("AZURE_TENANT_ID", TENANT)
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", authority.url)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(authority.ca_file))
    result = tcs("registry", URL, "--mode=dry-run", f"--username={CLIENT[0]}", f"--password={CLIENT[1]}", pm=pm)
    assert result.code == 0, result.err
    assert csv_rows(report_path(out_dir, REGISTRY)) == expected_rows(REGISTRY, acr_expected)
    assert [r.path for r in authority.requests if r.method == "POST"] == [f"/{TENANT}/oauth2/v2.0/token"]
    exchange = next(r for r in azure_env.requests[::-1] if r.path == "/oauth2/exchange")
    assert exchange.form()["tenant"] == TENANT


def test_service_principal_with_a_wrong_secret(tcs, pm, azure_env, authority, monkeypatch):
    monkeypatch.setenv("AZURE_TENANT_ID", TENANT)
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", authority.url)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(authority.ca_file))
    result = tcs("registry", URL, "--mode=dry-run", f"--username={CLIENT[0]}", "--password=wrong-secret", pm=pm)
    assert result.code == 3
    assert result.messages[-1].startswith(f"error\tEntra ID refused the service principal {CLIENT[0]}: ")
    assert "wrong-secret" not in result.err


def test_admin_user_by_basic_auth(tcs, pm, azure_env, acr_expected, out_dir):
    result = tcs("registry", URL, "--mode=dry-run", "--username=myregistry", "--password=acr-admin-password", pm=pm)
    assert result.code == 0, result.err
    assert csv_rows(report_path(out_dir, REGISTRY)) == expected_rows(REGISTRY, acr_expected)


def test_admin_user_wrong_password(tcs, pm, azure_env):
    result = tcs("registry", URL, "--mode=dry-run", "--username=myregistry", "--password=nope", pm=pm)
    assert result.code == 3
    assert result.messages[-1] == "error\tthe registry's token service refused the credentials of user 'myregistry'"


@pytest.mark.parametrize(
    ("host", "match"),
    [
        ("myregistry.azurecr.io", True),
        ("contoso.azurecr.cn", True),
        ("gov.azurecr.us", True),
        ("azurecr.io", False),
        ("myregistry.azurecr.io.evil.example", False),
    ],
)
def test_host_names(host, match):
    assert bool(hooks.plugin.sniff(f"https://{host}")) == match
