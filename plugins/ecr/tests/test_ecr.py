"""The ECR plugin: boto3 against moto's server, config blobs from the real CNCF registry."""

from __future__ import annotations

import pytest
from tcs_registry_ecr import hooks
from tcs_registry_ecr.client import parse_host

from tcs_registry.plugins import get_plugin_manager
from tcs_registry.testing.helpers import csv_rows, expected_rows, report_path, vulnerabilities
from tcs_registry.testing.proxy import Proxy
from tcs_registry.testing.vulnerable import DEBIAN9_FINDINGS

HOST = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
URL = f"https://{HOST}"


@pytest.fixture
def pm():
    return get_plugin_manager(load_entrypoints=False, plugins=[hooks.plugin])


def test_credentials_from_environment_variables(tcs, pm, ecr_env, ecr_expected, out_dir, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "example-secret-access-key")
    with Proxy(ecr_env.url, lambda *_: None) as v2:
        monkeypatch.setenv("TCS_ECR_REGISTRY_URL", v2.url)
        result = tcs("registry", URL, "--mode=dry-run", pm=pm)
    assert result.code == 0, result.err
    assert result.infos[0] == "info\tIdentified registry as: ECR"
    assert csv_rows(report_path(out_dir, HOST)) == expected_rows(HOST, ecr_expected)  # no untagged image
    assert not any("/manifests/" in p for p in v2.paths)  # manifests came from batch_get_image
    assert {p.split("/blobs/")[0] for p in v2.paths if "/blobs/" in p} == {
        "/v2/team/api",
        "/v2/team/web",
        "/v2/base",
        "/v2/apps/debian9",
    }
    assert "example-secret-access-key" not in result.err


def test_scan(tcs, pm, ecr_env, ecr_expected, out_dir, vulnerability_database, monkeypatch):
    """The default mode: every image's layers through the V2 API with the ECR password, the manifests
    described from BatchGetImage found again in the core's cache."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "example-secret-access-key")
    result = tcs("registry", URL, "--format=json", pm=pm)
    assert result.code == 0, result.err
    scanned = [m for m in result.infos if m.startswith("info\tScanned image")]
    assert len(scanned) == len(ecr_expected) + 1  # team/web:2.0 has two platforms
    assert vulnerabilities(out_dir, HOST, "apps/debian9", "1") == DEBIAN9_FINDINGS


def test_credentials_from_a_shared_credentials_profile(tcs, pm, ecr_env, ecr_expected, out_dir, monkeypatch, tmp_path):
    credentials = tmp_path / "credentials"
    credentials.write_text("[ci]\naws_access_key_id = AKIAPROFILEKEY\naws_secret_access_key = profile-secret\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_PROFILE", "ci")
    result = tcs("registry", URL, "--mode=dry-run", pm=pm)
    assert result.code == 0, result.err
    assert csv_rows(report_path(out_dir, HOST)) == expected_rows(HOST, ecr_expected)


def test_no_credentials_anywhere(tcs, pm, ecr_env):
    result = tcs("registry", URL, "--mode=dry-run", pm=pm)
    assert result.code == 3
    assert result.messages[-1] == (
        "error\tno AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, "
        "or run where an instance or container role is available"
    )


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("123456789012.dkr.ecr.eu-west-1.amazonaws.com", ("123456789012", "eu-west-1", False)),
        ("123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com", ("123456789012", "us-gov-west-1", True)),
        ("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", ("123456789012", "cn-north-1", False)),
        ("123456789012.dkr-ecr.eu-west-1.on.aws", ("123456789012", "eu-west-1", False)),
        ("12345.dkr.ecr.eu-west-1.amazonaws.com", None),
        ("public.ecr.aws", None),
    ],
)
def test_host_names(host, expected):
    parsed = parse_host(host)
    assert (parsed and (parsed.account, parsed.region, parsed.fips)) == expected
    assert bool(hooks.plugin.sniff(f"https://{host}")) == bool(expected)
