"""The ACR plugin: azure-identity's real credential classes against local Entra ID endpoints, and
an ACR front (exchange, /oauth2/token, /acr/v1) over the real CNCF registry."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from tcs_registry_acr import hooks
from tcs_registry_acr.client import _entra_options

from tcs_registry.plugins import get_plugin_manager
from tcs_registry.testing.helpers import (
    console_script,
    csv_rows,
    expected_rows,
    failures_path,
    namespace_run,
    report_path,
    vulnerabilities,
)
from tcs_registry.testing.vulnerable import DEBIAN9_FINDINGS

REGISTRY = "myregistry.azurecr.io"
URL = f"https://{REGISTRY}"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT = ("5b3c8f5e-1111-4222-8333-944455556666", "sp-client-secret")
SCOPED_TOKEN = ("ci-token", "scope-map-token-password")  # (conftest.py: its scope map)
ADMIN_LOGIN = ("myregistry", "acr-admin-password")


@pytest.fixture
def pm():
    return get_plugin_manager(load_entrypoints=False, plugins=[hooks.plugin])


@pytest.fixture
def small_pages(acr, monkeypatch):
    monkeypatch.setattr(acr, "page_max", 2)


def test_managed_identity(tcs, pm, azure_env, identity, acr_expected, out_dir, small_pages, monkeypatch):
    monkeypatch.setattr(azure_env, "arm_audience", False)  # (Entra tokens of ARM's audience turned off)
    before, asked = len(azure_env.requests), len(identity.requests)
    result = tcs("registry", URL, "--mode=dry-run", pm=pm)
    assert result.code == 0, result.err
    assert result.infos[0] == "info\tIdentified registry as: ACR"
    assert csv_rows(report_path(out_dir, REGISTRY)) == expected_rows(REGISTRY, acr_expected)
    paths = [r.path for r in azure_env.requests[before:]]
    assert paths.count("/oauth2/exchange") == 1
    assert paths.count("/v2/") == 2  # the challenge, then the login check with a token: no extra probe
    assert paths.count("/acr/v1/_catalog") == 2  # three repositories, pages of two
    assert paths.count("/acr/v1/production/api/_tags") == 2  # three tags, pages of two
    assert [r.arg("resource") for r in identity.requests[asked:]] == ["https://containerregistry.azure.net"]
    # one access token a repository, for its tags and its images alike (metadata_read,pull), besides the
    # login check's and the catalog's: not one for the tags and another for the images
    scopes = sorted(r.form()["scope"] for r in azure_env.requests[before:] if r.path == "/oauth2/token")
    repositories = sorted({e.repository for e in acr_expected})
    per_repository = [f"repository:{r}:metadata_read,pull" for r in repositories]
    assert scopes == ["registry:catalog:*", "registry:catalog:*", *per_repository], scopes


def test_service_principal_against_a_tls_authority(tcs, pm, azure_env, authority, acr_expected, out_dir, monkeypatch):
    monkeypatch.setattr(azure_env, "arm_audience", False)  # (Entra tokens of ARM's audience turned off)
    monkeypatch.setenv("AZURE_TENANT_ID", TENANT)
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", authority.url)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(authority.ca_file))
    result = tcs("registry", URL, "--mode=dry-run", f"--username={CLIENT[0]}", f"--password={CLIENT[1]}", pm=pm)
    assert result.code == 0, result.err
    assert csv_rows(report_path(out_dir, REGISTRY)) == expected_rows(REGISTRY, acr_expected)
    posted = [r for r in authority.requests if r.method == "POST"]
    assert [r.path for r in posted] == [f"/{TENANT}/oauth2/v2.0/token"]
    assert posted[0].form()["scope"].split()[0] == "https://containerregistry.azure.net/.default"
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


def test_a_repository_scoped_token(tcs, pm, azure_env, acr_expected, out_dir):
    """A token of a scope map (Basic, its name and password): the repository the URL names is read; the
    catalog it may not list and a repository outside its map are said so."""
    login = [f"--username={SCOPED_TOKEN[0]}", f"--password={SCOPED_TOKEN[1]}"]
    one = tcs("registry", f"{URL}/production/api", "--mode=dry-run", *login, pm=pm)
    assert one.code == 0, one.err
    api = [e for e in acr_expected if e.repository == "production/api"]
    assert csv_rows(report_path(out_dir, REGISTRY)) == expected_rows(REGISTRY, api)
    warned = [m.split(" (")[0] for m in one.messages if m.startswith("warn\tThe catalog")]
    assert warned == ["warn\tThe catalog cannot be listed"]
    whole = tcs("registry", URL, "--mode=dry-run", *login, pm=pm)
    assert whole.code == 3
    assert whole.messages[-1].endswith("a repository-scoped token has none): name a repository in the URL")
    outside = tcs("registry", f"{URL}/testing/tool", "--mode=dry-run", *login, pm=pm)
    assert outside.code == 4, outside.err
    assert next(m for m in outside.messages if m.startswith("error")) == (
        "error\tFailed to list tags repository=testing/tool error=ACR tags of testing/tool: ACR answers 401: it grants"
        " the user 'ci-token' (Basic) no read of it (a repository-scoped token's scope map does not name it, the"
        " identity has no role on it, or there is no such repository)"
    ), outside.messages


def test_admin_user_wrong_password(tcs, pm, azure_env):
    result = tcs("registry", URL, "--mode=dry-run", "--username=myregistry", "--password=nope", pm=pm)
    assert result.code == 3
    assert result.messages[-1] == (
        "error\tthe registry's token service refused the credentials of user 'myregistry', from --username/--password"
    )


@pytest.fixture
def identity(managed_identity, monkeypatch):
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"{managed_identity.url}/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", "identity-header-secret")
    return managed_identity


def test_the_refresh_token_is_exchanged_again_before_it_ends(
    tcs, pm, azure_env, identity, acr_expected, out_dir, monkeypatch, small_pages
):
    """Refresh tokens of two seconds, access tokens of one, pages of half a second: a run outlives both."""
    monkeypatch.setattr(azure_env, "refresh_lifetime", 2.0)
    monkeypatch.setattr(azure_env, "access_lifetime", 1.0)
    monkeypatch.setattr(azure_env, "delay", 0.5)
    before, refused = len(azure_env.requests), azure_env.refused
    result = tcs("registry", URL, "--mode=dry-run", "--concurrency=1", pm=pm)
    assert result.code == 0, result.err
    assert csv_rows(report_path(out_dir, REGISTRY)) == expected_rows(REGISTRY, acr_expected)
    assert [r.path for r in azure_env.requests[before:]].count("/oauth2/exchange") >= 2
    assert azure_env.refused == refused  # no expired token was ever shown


def test_a_refresh_token_revoked_during_the_run_is_exchanged_for_again(
    tcs, pm, azure_env, identity, acr_expected, out_dir, monkeypatch
):
    """The first exchanged refresh token is refused after its second use (revoked): the Entra ID token is
    exchanged once more and the run goes on, where it used to fail every repository after it."""

    class RevokedAfterTwoUses(set):
        first: str | None = None
        uses = 0

        def add(self, token: str) -> None:
            super().add(token)
            self.first = self.first or token

        def __contains__(self, token: object) -> bool:
            if token == self.first:
                self.uses += 1
                return self.uses <= 2
            return super().__contains__(token)

    monkeypatch.setattr(azure_env, "refresh_tokens", RevokedAfterTwoUses())
    before = len(azure_env.requests)
    result = tcs("registry", URL, "--mode=dry-run", "--concurrency=1", pm=pm)
    assert result.code == 0, result.err
    assert csv_rows(report_path(out_dir, REGISTRY)) == expected_rows(REGISTRY, acr_expected)
    assert [r.path for r in azure_env.requests[before:]].count("/oauth2/exchange") == 2
    assert "info\tThe ACR refresh token was refused: exchanging the Entra ID token for a new one" in result.infos


@pytest.mark.parametrize("route", ["/oauth2/exchange", "/oauth2/token"])
def test_token_requests_throttled_or_unavailable_are_sent_again(
    tcs, pm, azure_env, identity, acr_expected, out_dir, monkeypatch, route
):
    """ACR's token service answering 503 or 429 for a moment (POSTs, which urllib3 does not send again by
    itself): the exchange, and each access token (at the login, and for a repository while a request of
    the registry waits for it), is asked for again as a GET would be; no image is lost."""
    throttle = {route: [503, 429, 429] if route == "/oauth2/exchange" else [503, 0, 0, 429, 503]}
    monkeypatch.setattr(azure_env, "throttle", throttle)
    before = len(azure_env.requests)
    result = tcs("registry", URL, "--mode=dry-run", pm=pm)
    assert result.code == 0, result.err
    assert csv_rows(report_path(out_dir, REGISTRY)) == expected_rows(REGISTRY, acr_expected)
    assert throttle == {route: []}  # every refusal was met, and outlived
    paths = [r.path for r in azure_env.requests[before:]]
    assert paths.count("/oauth2/exchange") == (4 if route == "/oauth2/exchange" else 1)  # once it answers


def test_a_refresh_token_from_expose_token(tcs, pm, azure_env, acr_expected, out_dir):
    """`az acr login --expose-token` prints a refresh token for the null GUID user: no Entra ID, no Basic."""
    token = azure_env.mint_refresh_token()
    before = len(azure_env.requests)
    result = tcs(
        "registry", URL, "--mode=dry-run", "--username=00000000-0000-0000-0000-000000000000", "--password-stdin",
        stdin=token + "\n", pm=pm,
    )  # fmt: skip
    assert result.code == 0, result.err
    assert csv_rows(report_path(out_dir, REGISTRY)) == expected_rows(REGISTRY, acr_expected)
    requests = azure_env.requests[before:]
    assert not any(r.path == "/oauth2/exchange" or r.basic() for r in requests)
    assert all(r.form()["scope"] for r in requests if r.method == "POST" and r.path == "/oauth2/token")


@pytest.mark.parametrize("user", ["00000000-0000-0000-0000-000000000000", None])
def test_the_refresh_token_az_acr_login_had_docker_keep(tcs, pm, azure_env, acr_expected, out_dir, user):
    """`az acr login` runs `docker login` with the null GUID user and a refresh token, which docker keeps as
    the entry's identitytoken, its password empty (Azure/acr docs/AAD-OAuth.md); a credential helper gives
    it back with no user. The run takes it, as with `--expose-token`; no Entra ID is asked."""
    config = Path(os.environ["HOME"]) / ".docker" / "config.json"
    config.parent.mkdir(parents=True, exist_ok=True)
    entry = {"identitytoken": azure_env.mint_refresh_token()}
    if user:
        entry["auth"] = base64.b64encode(f"{user}:".encode()).decode()
    config.write_text(json.dumps({"auths": {REGISTRY: entry}}))
    before = len(azure_env.requests)
    result = tcs("registry", URL, "--mode=dry-run", pm=pm)
    assert result.code == 0, result.err
    assert csv_rows(report_path(out_dir, REGISTRY)) == expected_rows(REGISTRY, acr_expected)
    requests = azure_env.requests[before:]
    assert not any(r.path == "/oauth2/exchange" or r.basic() for r in requests)


def test_a_geo_replicas_regional_endpoint(tcs, pm, azure_env, identity, acr_expected, out_dir):
    """The token service is the registry's (the challenge's service), not the regional host's name."""
    host = "myregistry.westeurope.geo.azurecr.io"
    result = tcs("registry", f"https://{host}", "--mode=dry-run", pm=pm)
    assert result.code == 0, result.err
    assert csv_rows(report_path(out_dir, host)) == expected_rows(host, acr_expected)
    posts = [r.form()["service"] for r in azure_env.requests if r.method == "POST"]
    assert set(posts[-3:]) == {REGISTRY}


@pytest.mark.parametrize(
    ("cloud", "authority"),
    [("io", "login.microsoftonline.com"), ("cn", "login.chinacloudapi.cn"), ("us", "login.microsoftonline.us")],
)
def test_a_sovereign_clouds_authority_and_acrs_own_audience(tcs, pm, azure_env, identity, cloud, authority):
    """The cloud's authority; ACR's audience everywhere (ARM audience tokens may be turned off)."""
    assert _entra_options(cloud) == {"authority": authority}
    tcs("registry", f"https://myregistry.azurecr.{cloud}", "--mode=dry-run", pm=pm)
    assert identity.requests[-1].arg("resource") == "https://containerregistry.azure.net"


@pytest.mark.parametrize(
    "way_in", ["managed identity", "service principal", "admin", "refresh token", "repository-scoped token"]
)
def test_scan(tcs, pm, azure_env, identity, authority, out_dir, vulnerability_database, monkeypatch, way_in):
    login = {
        "managed identity": [],
        "service principal": [f"--username={CLIENT[0]}", f"--password={CLIENT[1]}"],
        "admin": ["--username=myregistry", "--password=acr-admin-password"],
        "repository-scoped token": [f"--username={SCOPED_TOKEN[0]}", f"--password={SCOPED_TOKEN[1]}"],
        "refresh token": ["--username=00000000-0000-0000-0000-000000000000", "--password-stdin"],
    }[way_in]
    if way_in == "service principal":
        monkeypatch.setenv("AZURE_TENANT_ID", TENANT)
        monkeypatch.setenv("AZURE_AUTHORITY_HOST", authority.url)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(authority.ca_file))
    stdin = azure_env.mint_refresh_token() + "\n" if way_in == "refresh token" else None
    url = f"{URL}/production/debian9" if way_in == "repository-scoped token" else URL  # (it lists no catalog)
    result = tcs("registry", url, "--format=json", "--allowList=production/debian9", *login, stdin=stdin, pm=pm)
    assert result.code == 0, result.err
    assert vulnerabilities(out_dir, REGISTRY, "production/debian9", "1") == DEBIAN9_FINDINGS


@pytest.mark.parametrize("url", ["https://registry.example.com", "http://myregistry.azurecr.io"])
def test_entra_tokens_go_to_azure_over_https_only(tcs, pm, identity, monkeypatch, url):
    """A forced --registry-type=ACR on another host, or plain HTTP: refused before any token is asked."""
    monkeypatch.delenv("TCS_ACR_REGISTRY_URL", raising=False)
    asked = len(identity.requests)
    result = tcs("registry", url, "--mode=dry-run", "--registry-type=ACR", pm=pm)
    assert result.code == 2  # (the URL is wrong for the type: usage)
    host = url.split("//")[1]
    assert result.messages[-1] in (
        f"error\t{host} is not an Azure Container Registry host (<name>.azurecr.io, .cn, .us)",
        f"error\t{host}: Azure Container Registry is reached over HTTPS only",
    )
    assert len(identity.requests) == asked


def test_a_refused_entra_identity_is_named(tcs, pm, azure_env, identity, monkeypatch):
    monkeypatch.setattr(azure_env, "grants", {})  # every access token refused, as for an identity without AcrPull
    monkeypatch.setattr(azure_env, "_access", lambda scopes, service: "not-a-token-the-registry-knows")
    result = tcs("registry", URL, "--mode=dry-run", pm=pm)
    assert result.code == 3
    assert result.messages[-1] == "error\tthe registry refused the Entra ID (DefaultAzureCredential)"


@pytest.mark.parametrize(
    ("host", "match"),
    [
        ("myregistry.azurecr.io", True),
        ("contoso.azurecr.cn", True),
        ("govregistry.azurecr.us", True),
        ("myregistry.westeurope.geo.azurecr.io", True),
        ("myregistry.westeurope.data.azurecr.io", False),  # layer downloads only, no login server
        ("myregistry-h5dwbxhhc3ftbga4.azurecr.io", True),  # a domain name label scope
        ("myregistry.privatelink.azurecr.io", True),
        ("abc.azurecr.io", False),  # registry names have 5 to 50 characters
        ("azurecr.io", False),
        ("myregistry.azurecr.io.evil.example", False),
    ],
)
def test_host_names(host, match):
    assert bool(hooks.plugin.sniff(f"https://{host}")) == match


def test_a_repository_deleted_after_the_catalog_listed_it_has_no_tags(
    tcs, pm, azure_env, identity, acr_expected, out_dir, monkeypatch
):
    """As over /v2/: a 404 for a listed repository's tags is a repository gone meanwhile, not a failure."""
    gone = "testing/tool"
    monkeypatch.setattr(azure_env, "gone", {gone})
    result = tcs("registry", URL, "--mode=dry-run", pm=pm)
    assert result.code == 0, result.err
    kept = [e for e in acr_expected if e.repository != gone]
    assert len(kept) < len(acr_expected)
    assert csv_rows(report_path(out_dir, REGISTRY)) == expected_rows(REGISTRY, kept)


@pytest.mark.parametrize(("tenant", "authority"), [("not a tenant!", None), (TENANT, "http://127.0.0.1:9")])
def test_azure_settings_that_cannot_be_used_are_one_usage_line(tcs, pm, azure_env, monkeypatch, tenant, authority):
    """MSAL refuses a malformed tenant and an authority that is not HTTPS (ValueError): a setting to mend,
    exit 2, not "unexpected error", the line kept for our own bugs."""
    monkeypatch.setenv("AZURE_TENANT_ID", tenant)
    if authority:
        monkeypatch.setenv("AZURE_AUTHORITY_HOST", authority)
    result = tcs("registry", URL, "--mode=dry-run", f"--username={CLIENT[0]}", f"--password={CLIENT[1]}", pm=pm)
    assert result.code == 2, result.err
    assert result.messages[-1].startswith("error\tAzure's settings cannot be used to log in: "), result.messages
    chained = tcs("registry", URL, "--mode=dry-run", pm=pm)  # (DefaultAzureCredential reads them as it tries)
    assert chained.code in (2, 3) and "unexpected error" not in chained.err, chained.err


def test_azure_identitys_own_warnings_stay_in_the_log_format(azure_env, tmp_path):
    """azure-identity logs a warning for each credential DefaultAzureCredential tried: with no handler of
    its own, logging would write it raw (13 lines, not JSON, not starred out). In our format, with -v only."""
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "TCS_ACR_REGISTRY_URL": azure_env.url}
    command = [
        console_script(),
        "registry",
        URL,
        "--mode=dry-run",
        f"--state-dir={tmp_path}",
        f"--output-dir={tmp_path}",
    ]
    quiet = subprocess.run([*command, "--log-format=json"], env=env, capture_output=True, text=True, timeout=120)
    assert quiet.returncode == 3
    lines = [json.loads(line) for line in quiet.stderr.splitlines()]  # every line one JSON object
    assert [line["level"] for line in lines if line["level"] != "info"] == ["error"], lines
    assert lines[-1]["message"].startswith("Entra ID refused the Entra ID (DefaultAzureCredential): ")
    verbose = subprocess.run([*command, "-v"], env=env, capture_output=True, text=True, timeout=120)
    assert verbose.returncode == 3
    assert any(
        "\twarn\tDefaultAzureCredential failed to retrieve a token" in line for line in verbose.stderr.splitlines()
    )


def test_a_refresh_token_that_ends_during_the_run_stops_it_once(tcs, pm, azure_env, small_pages, monkeypatch):
    """A refresh token from `az acr login --expose-token` lasts about 3 hours and cannot be renewed here
    (Azure/acr docs/AAD-OAuth.md): past its `exp` the run stops asking, with one line saying so and when,
    keeps what it did, and the next run resumes it (here it lasts 2 s, each answer takes 0.6 s)."""
    monkeypatch.setattr(azure_env, "refresh_lifetime", 2.0)
    monkeypatch.setattr(azure_env, "access_lifetime", 1.0)
    monkeypatch.setattr(azure_env, "delay", 0.6)
    token = azure_env.mint_refresh_token()
    result = tcs(
        "registry", URL, "--mode=dry-run", "--concurrency=1", "--username=00000000-0000-0000-0000-000000000000",
        "--password-stdin", stdin=token + "\n", pm=pm,
    )  # fmt: skip
    assert result.code == 4, result.err
    errors = [m for m in result.messages if m.startswith("error")]
    assert len(errors) == 2 and errors[1].endswith("; run again with new credentials"), errors  # (what was undone)
    assert re.fullmatch(
        r"error\tStopping: the refresh token \(az acr login --expose-token\) expired at \d{4}-\d\d-\d\d \d\d:\d\d UTC: "
        r"get a new one(; the listing is incomplete .*)?",
        errors[0],
    ), errors


def test_with_no_azure_identity_a_registry_open_to_anonymous_pulls_is_read_anonymously(
    tcs, pm, azure_env, acr_expected, out_dir, monkeypatch
):
    """No credentials, and DefaultAzureCredential finds no identity: a registry with anonymous pull on is
    read as docker reads it then (anonymous tokens), with a warning naming why; one without it is the
    identity's error, exit 3."""
    refused = tcs("registry", URL, "--mode=dry-run", pm=pm)
    assert refused.code == 3
    assert refused.messages[-1].startswith("error\tEntra ID refused the Entra ID (DefaultAzureCredential): ")
    monkeypatch.setattr(azure_env, "anonymous_pull", True)
    result = tcs("registry", URL, "--mode=dry-run", pm=pm)
    assert result.code == 0, result.err
    assert csv_rows(report_path(out_dir, REGISTRY)) == expected_rows(REGISTRY, acr_expected)
    warned = [m for m in result.messages if m.startswith("warn")]
    assert len(warned) == 1 and warned[0].endswith("; reading the registry anonymously, as its anonymous pull allows")


def test_a_path_names_a_namespace(tcs, pm, azure_env, identity, acr_expected, out_dir):
    """`https://<registry>/testing` is the testing/ namespace, as a docker user reads it: not the registry."""
    namespace_run(tcs, URL, "testing", acr_expected, out_dir, pm=pm)


def test_an_identity_that_may_not_list_the_catalog(tcs, pm, azure_env, identity, acr_expected, out_dir, monkeypatch):
    """The token service grants what the identity may do: no catalog for a repository-scoped token, nor in
    a registry with ABAC without the Catalog Lister role. The error says what is missing, not that the
    login failed; with a repository in the URL, that repository is read."""
    monkeypatch.setattr(azure_env, "catalog_refused", True)
    refused = tcs("registry", URL, "--mode=dry-run", pm=pm)
    assert refused.code == 3
    assert refused.messages[-1].endswith(
        "; listing the catalog needs the registry:catalog:* scope (with ABAC repository permissions, the "
        "Container Registry Repository Catalog Lister role; a repository-scoped token has none): name a "
        "repository in the URL"
    ), refused.messages[-1]
    one = tcs("registry", f"{URL}/production/api", "--mode=dry-run", pm=pm)
    assert one.code == 0, one.err
    api = [e for e in acr_expected if e.repository == "production/api"]
    assert csv_rows(report_path(out_dir, REGISTRY)) == expected_rows(REGISTRY, api)
    warned = [m for m in one.messages if m.startswith("warn")]
    assert len(warned) == 1 and "The catalog cannot be listed" in warned[0], warned
    assert warned[0].endswith("taking production/api for one repository"), warned
    namespace = tcs("registry", f"{URL}/production", "--mode=dry-run", pm=pm)  # a namespace is no repository
    assert namespace.code == 4, namespace.err
    assert next(m for m in namespace.messages if m.startswith("error")).startswith(
        "error\tFailed to list tags repository=production"
    ), namespace.messages
    # a token whose scope map has a wildcard (team/*) reads the catalog empty (Azure/acr#751)
    monkeypatch.setattr(azure_env, "catalog_refused", False)
    monkeypatch.setattr(azure_env, "catalog_empty", True)
    empty = tcs("registry", f"{URL}/production/api", "--mode=dry-run", pm=pm)
    assert empty.code == 0, empty.err
    assert csv_rows(report_path(out_dir, REGISTRY)) == expected_rows(REGISTRY, api)
    assert [m for m in empty.messages if m.startswith("warn")] == [
        "warn\tThe catalog lists no repository (an empty registry, or a repository-scoped token whose scope map has"
        " a wildcard other than *): taking production/api for one repository"
    ]
    nothing = tcs("registry", URL, "--mode=dry-run", pm=pm)
    assert (
        "warn\tThe catalog lists no repository (an empty registry, or a repository-scoped token whose scope map "
        "has a wildcard other than *): name a repository in the URL" in nothing.messages
    ), nothing.messages


def test_an_exchange_acr_refuses_gives_acrs_reason(tcs, pm, azure_env, identity, monkeypatch):
    """An Entra ID token ACR does not take (another tenant's, a registry that does not trust it): ACR's
    own words (its error body) say why."""

    class Untrusted(dict):
        def __setitem__(self, token: str, audience: str) -> None:  # (issued, but not by an authority it trusts)
            pass

    monkeypatch.setattr(azure_env.entra, "issued", Untrusted())
    result = tcs("registry", URL, "--mode=dry-run", pm=pm)
    assert result.code == 3
    assert result.messages[-1] == (
        f"error\t{REGISTRY} refused the Entra ID token of the Entra ID (DefaultAzureCredential) "
        "(UNAUTHORIZED invalid AAD token)"
    ), result.messages[-1]


@pytest.mark.parametrize("path", ["", "/production"])
def test_a_catalog_refused_part_way_or_missing_is_no_repository_taken(azure_env, monkeypatch, path):
    """Taking the URL's path for one repository is for a catalog refused from its start, or listed empty:
    not for one refused after some pages (a token ended), nor for a catalog that is not there (404: no ACR
    behind the URL), which are the errors they are."""
    from tcs_registry_acr.client import AcrClient

    from tcs_registry import AuthError, Credentials, Registry, RegistryError

    client = AcrClient(Registry(f"{URL}{path}", "https", REGISTRY, path, "ACR"), Credentials(*ADMIN_LOGIN))

    def part_way(*args, **kwargs):
        yield "production/api"
        raise AuthError("the registry requires credentials", 401)

    def missing(*args, **kwargs):
        raise RegistryError("ACR catalog: the registry answered 404", 404)
        yield

    for listing, error in ((part_way, AuthError), (missing, RegistryError)):
        monkeypatch.setattr(client, "paginate", listing)
        seen = []
        with pytest.raises(error):
            seen.extend(client.repositories())
        assert client.assumed is None and "" not in seen and seen.count("production/api") <= 1


def test_a_tag_locked_for_reading_is_failed_as_acr_lists_it(
    tcs, pm, azure_env, identity, acr_expected, out_dir, monkeypatch
):
    """`az acr repository update --read-enabled false`: the tags list says so, and the image fails with that
    reason, unread; the other images are described."""
    monkeypatch.setattr(azure_env, "read_disabled", {("production/api", "1.1")})
    monkeypatch.setattr(azure_env, "requests", [])
    result = tcs("registry", URL, "--mode=dry-run", pm=pm)
    assert result.code == 4, result.err
    kept = [e for e in acr_expected if (e.repository, e.tag) != ("production/api", "1.1")]
    assert csv_rows(report_path(out_dir, REGISTRY)) == expected_rows(REGISTRY, kept)
    assert csv_rows(failures_path(out_dir, REGISTRY))[1:] == [
        [
            f"{REGISTRY}/production/api",
            "1.1",
            "auth",
            "ACR: reading this tag is disabled (its readEnabled attribute is false; az acr repository "
            "update --read-enabled true allows it)",
        ]
    ]
    assert not [r for r in azure_env.requests if r.path.endswith("/production/api/manifests/1.1")]
