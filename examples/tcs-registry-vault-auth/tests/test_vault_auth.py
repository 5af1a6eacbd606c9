"""The auth override changes credentials for its hosts only, and the vendor plugin still does its work."""

from __future__ import annotations

import json
import sys

import pytest
import tcs_registry_ghcr
import tcs_registry_vault_auth
from tcs_registry_ghcr.testing import ACCOUNT

from tcs_registry.plugins import get_plugin_manager
from tcs_registry.testing.fixtures import USERS
from tcs_registry.testing.helpers import csv_rows, report_path


@pytest.fixture
def pm():
    return get_plugin_manager(
        load_entrypoints=False, plugins=[tcs_registry_ghcr.plugin, tcs_registry_vault_auth.plugin]
    )


def configure(tmp_path, monkeypatch, host: str, source: str) -> None:
    config = tmp_path / "vault-auth.toml"
    config.write_text(f'[hosts."{host}"]\nusername = "{ACCOUNT[0]}"\n{source}\n')
    monkeypatch.setenv("TCS_VAULT_AUTH_CONFIG", str(config))


def test_a_configured_host_logs_in_with_the_secret_and_the_vendor_plugin_lists(
    tcs, pm, ghcr, tmp_path, monkeypatch, out_dir
):
    registry, api = ghcr
    secret = tmp_path / "ghcr-token"
    secret.write_text(ACCOUNT[1] + "\n")
    configure(tmp_path, monkeypatch, registry.host, f'password_file = "{secret}"')
    # no credentials on the command line: they come from the secret file
    result = tcs("registry", f"{registry.url}/octo-org", "--registry-type=GHCR", "--mode=dry-run", "-v", pm=pm)
    assert result.code == 0, result.err
    assert len(csv_rows(report_path(out_dir, registry.host))) == 1 + 109  # the GHCR client listed through the API
    assert {r.headers.get("Authorization") for r in api.requests} == {f"Bearer {ACCOUNT[1]}"}
    assert ACCOUNT[1] not in result.err + result.out
    assert "debug\tAuthenticated registry=" + registry.url + "/octo-org credentials=vault-auth" in result.messages


def test_a_password_command_works_like_a_secret_manager(tcs, pm, ghcr, tmp_path, monkeypatch):
    registry, _api = ghcr
    command = [sys.executable, "-c", f"print({ACCOUNT[1]!r})"]
    configure(tmp_path, monkeypatch, registry.host, f"password_command = {json.dumps(command)}")
    result = tcs("registry", f"{registry.url}/mona", "--registry-type=GHCR", "--mode=dry-run", pm=pm)
    assert result.code == 0, result.err


def test_other_hosts_are_left_to_the_usual_credentials(tcs, pm, basic_registry, tmp_path, monkeypatch):
    ran = tmp_path / "ran"
    command = [sys.executable, "-c", f"open({str(ran)!r}, 'w').write('x')"]
    configure(tmp_path, monkeypatch, "ghcr.io", f"password_command = {json.dumps(command)}")
    user, password = next(iter(USERS.items()))
    result = tcs(
        "registry", basic_registry.url, f"--username={user}", f"--password={password}", "--mode=dry-run", pm=pm
    )
    assert result.code == 0, result.err
    assert not ran.exists()  # the secret manager was not asked for a host it does not manage


def test_a_failing_secret_manager_is_one_error_line(tcs, pm, ghcr, tmp_path, monkeypatch):
    registry, _api = ghcr
    command = [sys.executable, "-c", "import sys; sys.exit(3)"]
    configure(tmp_path, monkeypatch, registry.host, f"password_command = {json.dumps(command)}")
    result = tcs("registry", f"{registry.url}/octo-org", "--registry-type=GHCR", "--mode=dry-run", pm=pm)
    assert result.code == 3
    assert result.messages[1:] == [
        f"error\tvault-auth: the password command for {registry.host} ({sys.executable}) exited with 3"
    ]


@pytest.mark.parametrize(
    ("entry", "code", "message"),
    [
        ('username = "mona"\npassword_command = "vault kv get"', 2, "password_command must be a list of strings"),
        ('username = "mona"', 2, "needs exactly one of password_file, password_command"),
        ('username = "mona"\npassword_file = "/x"\npasword = "typo"', 2, "unknown key 'pasword'"),
        ('username = "mona"\npassword_file = "{empty}"', 3, "the secret for {host} is empty"),
        ('username = "mona"\npassword_file = "/nonexistent/token"', 3, "cannot read the password file for {host}"),
    ],
)
def test_configuration_and_secret_errors_are_one_line(tcs, pm, ghcr, tmp_path, monkeypatch, entry, code, message):
    registry, _api = ghcr
    empty = tmp_path / "empty"
    empty.write_text("\n")
    config = tmp_path / "vault-auth.toml"
    config.write_text(f'[hosts."{registry.host}"]\n' + entry.format(empty=empty) + "\n")
    monkeypatch.setenv("TCS_VAULT_AUTH_CONFIG", str(config))
    result = tcs("registry", f"{registry.url}/octo-org", "--registry-type=GHCR", "--mode=dry-run", pm=pm)
    assert result.code == code
    assert result.messages[-1].startswith("error\tvault-auth: ")
    assert message.format(host=registry.host) in result.messages[-1]
    assert "Traceback" not in result.err
