"""Logging in: htpasswd Basic, the Bearer token flow, TLS with a private CA, docker config.json."""

from __future__ import annotations

import base64
import json
import os
import stat

import pytest
import requests

from tcs_registry.http import error_detail
from tcs_registry.logs import redact
from tcs_registry.testing.facade import Facade
from tcs_registry.testing.fixtures import USERS
from tcs_registry.testing.helpers import csv_rows, expected_rows, failures_path
from tcs_registry.testing.proxy import Proxy


def _report(out_dir, server):
    return out_dir / f"127-0-0-1-{server.port}-report.csv"


def test_basic_auth_with_flags(tcs, basic_registry, standard, out_dir):
    result = tcs("registry", basic_registry.url, "--mode=dry-run", "--username=alice", f"--password={USERS['alice']}")
    assert result.code == 0, result.err
    assert csv_rows(_report(out_dir, basic_registry)) == expected_rows(basic_registry.host, standard.expected)
    assert USERS["alice"] not in result.err + result.out


def test_basic_auth_from_env_and_password_stdin(tcs, basic_registry, monkeypatch):
    monkeypatch.setenv("TCS_REGISTRY_USERNAME", "robot$ci")
    monkeypatch.setenv("TCS_REGISTRY_PASSWORD", USERS["robot$ci"])
    assert tcs("registry", basic_registry.url, "--mode=dry-run").code == 0
    monkeypatch.delenv("TCS_REGISTRY_PASSWORD")
    piped = tcs("registry", basic_registry.url, "--mode=dry-run", "--password-stdin", stdin=USERS["robot$ci"] + "\n")
    assert piped.code == 0, piped.err


def test_basic_auth_wrong_password_is_one_error_line(tcs, basic_registry):
    result = tcs("registry", basic_registry.url, "--mode=dry-run", "--username=alice", "--password=wrong-password")
    assert result.code == 3
    assert (
        result.messages[-1] == "error\tthe registry refused the credentials of user 'alice', from --username/--password"
    )
    assert "wrong-password" not in result.err
    assert "Traceback" not in result.err


def test_basic_auth_without_credentials_says_what_to_do(tcs, basic_registry):
    result = tcs("registry", basic_registry.url, "--mode=dry-run")
    assert result.code == 3
    assert result.messages[-1] == (
        "error\tthe registry requires credentials: pass --username and --password (or --password-stdin)"
    )


def test_token_auth_caches_one_token_per_scope(tcs, token_registry, token_server, standard, out_dir):
    before = len(token_server.requests)
    result = tcs(
        "registry",
        token_registry.url,
        "--mode=dry-run",
        "--username=alice",
        f"--password={USERS['alice']}",
        "--concurrency=4",
    )
    assert result.code == 0, result.err
    assert csv_rows(_report(out_dir, token_registry)) == expected_rows(token_registry.host, standard.expected)
    asked = token_server.requests[before:]
    assert all(r["account"] == "alice" for r in asked)
    scopes = [tuple(r["scopes"]) for r in asked]
    repositories = sorted({e.repository for e in standard.expected})
    # one token for the ping, one for the catalog, one per repository: never one per request
    assert sorted(scopes) == sorted([(), ("registry:catalog:*",)] + [(f"repository:{r}:pull",) for r in repositories])


def test_a_token_with_a_line_break_in_it_is_never_sent(tcs, anonymous_registry):
    """A token service's token is the registry's text: one holding a line break would add a header of its
    own choosing to every request it is sent with. It is refused, in one line, before anything is sent."""
    facade = Facade(anonymous_registry.url, name="injecting")
    challenge = {"WWW-Authenticate": f'Bearer realm="{facade.url}/token",service="registry"'}
    sent: list[dict[str, str]] = []

    @facade.route("GET", "/token")
    def token(request):
        return 200, {"Content-Type": "application/json"}, json.dumps({"token": "good\r\nX-Injected: yes"}).encode()

    @facade.route("GET", "/v2/.*")
    def v2(request):
        if request.headers.get("Authorization"):
            sent.append(dict(request.headers))
        return 401, challenge, b""

    with facade:
        result = tcs("registry", facade.url, "--mode=dry-run")
    assert result.code == 3, result.err
    assert result.messages[-1] == (
        f"error\ttoken service {facade.host} answered a token with spaces or control characters in it"
    )
    assert sent == []
    assert "Traceback" not in result.err


def test_the_tokens_kept_are_bounded(tcs, token_registry, token_server, standard, out_dir, monkeypatch):
    """A token is needed only while its repository's images are described: a run over 100,000 repositories
    does not keep one for each. Room for 2 here (one slot): the run is complete and exact, and a token
    dropped while it was still in use is fetched again."""
    from tcs_registry import http
    from tcs_registry.http import RegistryClient

    monkeypatch.setattr(http, "TOKENS_PER_SLOT", 2)
    clients: list[RegistryClient] = []
    made = RegistryClient.__init__

    def kept(self, *args, **kwargs):
        made(self, *args, **kwargs)
        clients.append(self)

    monkeypatch.setattr(RegistryClient, "__init__", kept)
    before = len(token_server.requests)
    result = tcs(
        "registry", token_registry.url, "--mode=dry-run", "--username=alice", f"--password={USERS['alice']}",
        "--concurrency=1",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert csv_rows(_report(out_dir, token_registry)) == expected_rows(token_registry.host, standard.expected)
    assert clients and all(len(client._tokens) <= 2 for client in clients)
    repositories = {e.repository for e in standard.expected}
    assert len(token_server.requests) - before > 2 + len(repositories)  # (ping, catalog, one each: kept)


def test_token_auth_bad_password(tcs, token_registry):
    result = tcs("registry", token_registry.url, "--mode=dry-run", "--username=alice", "--password=nope-nope")
    assert result.code == 3
    assert (
        result.messages[-1]
        == "error\tthe registry's token service refused the credentials of user 'alice', from --username/--password"
    )


def test_token_auth_anonymous_gets_no_access(tcs, token_registry):
    result = tcs("registry", token_registry.url, "--mode=dry-run")
    assert result.code == 3
    assert result.messages[-1].startswith("error\trepository catalog: the registry requires credentials")


def test_tls_needs_the_ca(tcs, tls_registry, ca_file, standard, out_dir):
    refused = tcs("registry", tls_registry.url, "--mode=dry-run")
    assert refused.code == 3
    assert refused.messages[-1].startswith(f"error\tTLS verification failed for {tls_registry.host}: ")
    assert refused.messages[-1].endswith("pass --ca-cert PATH (or --insecure to skip verification)")

    trusted = tcs("registry", tls_registry.url, "--mode=dry-run", f"--ca-cert={ca_file}")
    assert trusted.code == 0, trusted.err
    assert csv_rows(_report(out_dir, tls_registry)) == expected_rows(tls_registry.host, standard.expected)

    insecure = tcs("registry", tls_registry.url, "--mode=dry-run", "--insecure")
    assert insecure.code == 0, insecure.err
    warned = "warn\tTLS verification is disabled (--insecure): the registry's identity is not checked"
    assert [m for m in insecure.messages if m.startswith("warn")] == [warned]


def test_insecure_on_a_plain_http_registry_says_what_it_turns_off(tcs, anonymous_registry):
    result = tcs("registry", anonymous_registry.url, "--mode=dry-run", "--insecure")
    assert result.code == 0, result.err
    assert [m for m in result.messages if m.startswith("warn")] == [
        "warn\tTLS verification is disabled (--insecure) for the HTTPS services the registry names"
    ]


def _docker_config(home, content: dict) -> None:
    path = home / ".docker" / "config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content))


def test_docker_config_auths(tcs, basic_registry, isolated):
    home = isolated.parent / "home"
    auth = base64.b64encode(f"alice:{USERS['alice']}".encode()).decode()
    _docker_config(home, {"auths": {basic_registry.host: {"auth": auth}}})
    result = tcs("registry", basic_registry.url, "--mode=dry-run", "-v")
    assert result.code == 0, result.err
    assert f"debug\tAuthenticated registry={basic_registry.url} credentials=auth-file:config.json" in result.messages


def test_docker_credential_helper(tcs, basic_registry, isolated, monkeypatch):
    """A real credential helper program on PATH, speaking the docker-credential-helpers protocol."""
    home = isolated.parent / "home"
    bin_dir = isolated.parent / "bin"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-tcstest"
    answer = json.dumps({"ServerURL": basic_registry.host, "Username": "alice", "Secret": USERS["alice"]})
    helper.write_text(
        "#!/bin/sh\n"
        '[ "$1" = get ] || exit 1\n'
        "read server\n"
        f'if [ "$server" = "{basic_registry.host}" ]; then echo \'{answer}\'; exit 0; fi\n'
        'echo "credentials not found in native keychain"; exit 1\n'
    )
    helper.chmod(helper.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    _docker_config(home, {"credHelpers": {basic_registry.host: "tcstest"}})
    result = tcs("registry", basic_registry.url, "--mode=dry-run", "-v")
    assert result.code == 0, result.err
    assert "credentials=docker-credential-tcstest" in result.err

    _docker_config(home, {"credsStore": "tcstest"})
    assert tcs("registry", basic_registry.url, "--mode=dry-run").code == 0


@pytest.mark.parametrize("kept", ["auths", "credential-helper"])
def test_an_identity_token_docker_login_kept_is_sent_as_a_refresh_grant(
    tcs, token_registry, token_server, standard, out_dir, isolated, monkeypatch, kept
):
    """`docker login` to a registry whose token service gave a refresh token keeps it as `identitytoken`,
    its password empty (`az acr login` writes one); a credential helper answers it as the user `<token>`.
    It goes to the token service as OAuth2's refresh grant (distribution's oauth.md), never as a password;
    one the service did not issue is one line, exit 3."""
    home = isolated.parent / "home"
    identity = "identity-4f1c9a2e77d0"
    token_server.refresh_tokens[identity] = "alice"
    if kept == "auths":
        empty = base64.b64encode(b"00000000-0000-0000-0000-000000000000:").decode()
        _docker_config(home, {"auths": {token_registry.host: {"auth": empty, "identitytoken": identity}}})
    else:
        helper = isolated.parent / "bin" / "docker-credential-tcstoken"
        helper.parent.mkdir()
        answer = json.dumps({"ServerURL": token_registry.host, "Username": "<token>", "Secret": identity})
        helper.write_text(f"#!/bin/sh\n[ \"$1\" = get ] || exit 1\necho '{answer}'\n")
        helper.chmod(helper.stat().st_mode | stat.S_IEXEC)
        monkeypatch.setenv("PATH", f"{helper.parent}{os.pathsep}{os.environ['PATH']}")
        _docker_config(home, {"credsStore": "tcstoken"})
    before = len(token_server.requests)
    result = tcs("registry", token_registry.url, "--mode=dry-run")
    assert result.code == 0, result.err
    assert csv_rows(_report(out_dir, token_registry)) == expected_rows(token_registry.host, standard.expected)
    asked = token_server.requests[before:]
    assert asked and all(r.get("grant") == "refresh_token" and r["account"] == "alice" for r in asked), asked
    assert identity not in result.err

    del token_server.refresh_tokens[identity]  # (revoked, or another server's)
    refused = tcs("registry", token_registry.url, "--mode=dry-run")
    assert refused.code == 3
    assert refused.messages[-1].startswith(
        "error\tthe registry's token service refused the credentials of an identity token (docker login's), from "
    ), refused.messages[-1]
    assert identity not in refused.err


@pytest.mark.parametrize("flag_user", [True, False])
def test_flags_beat_docker_config(tcs, basic_registry, isolated, flag_user):
    home = isolated.parent / "home"
    auth = base64.b64encode(b"alice:stale-password").decode()
    _docker_config(home, {"auths": {basic_registry.host: {"auth": auth}}})
    args = ["--username=alice", f"--password={USERS['alice']}"] if flag_user else []
    result = tcs("registry", basic_registry.url, "--mode=dry-run", *args)
    assert result.code == (0 if flag_user else 3)


def test_netrc_is_never_used(tcs, basic_registry, isolated):
    netrc = isolated.parent / "home" / ".netrc"
    netrc.write_text(f"machine 127.0.0.1 login alice password {USERS['alice']}\n")
    netrc.chmod(0o600)
    result = tcs("registry", basic_registry.url, "--mode=dry-run")
    assert result.code == 3
    assert result.messages[-1].startswith("error\tthe registry requires credentials")


def test_ca_cert_wins_over_requests_ca_bundle(tcs, tls_registry, ca_file, monkeypatch):
    import certifi

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
    assert tcs("registry", tls_registry.url, "--mode=dry-run", f"--ca-cert={ca_file}").code == 0
    assert tcs("registry", tls_registry.url, "--mode=dry-run").code == 3


def test_credentials_are_not_sent_to_a_plain_http_token_service_of_an_https_registry(
    tcs, standard, work, token_server, ca, ca_file, tmp_path
):
    from tcs_registry.testing.registry import RegistryServer

    cert = ca.issue_cert("127.0.0.1")
    cert_path, key_path = tmp_path / "server.pem", tmp_path / "server.key"
    cert.cert_chain_pems[0].write_to_path(str(cert_path))
    cert.private_key_pem.write_to_path(str(key_path))
    before = len(token_server.requests)
    with RegistryServer(
        standard.storage, tmp_path, auth=token_server.registry_auth(), tls=(cert_path, key_path)
    ) as server:
        result = tcs(
            "registry",
            server.url,
            "--mode=dry-run",
            f"--ca-cert={ca_file}",
            "--username=alice",
            f"--password={USERS['alice']}",
        )
    assert result.code == 3
    assert result.messages[-1] == (
        f"error\tthe registry's token service {token_server.realm} is not HTTPS; refusing to send credentials over it"
    )
    assert token_server.requests[before:] == []


def test_registry_auth_file_and_malformed_entries(tcs, basic_registry, isolated, monkeypatch):
    home = isolated.parent / "home"
    _docker_config(home, {"auths": ["not", "a", "mapping"], "credHelpers": "nope"})
    podman = isolated.parent / "auth.json"
    auth = base64.b64encode(f"alice:{USERS['alice']}".encode()).decode()
    podman.write_text(json.dumps({"auths": {basic_registry.host: {"auth": auth}}}))
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(podman))
    result = tcs("registry", basic_registry.url, "--mode=dry-run", "-v")
    assert result.code == 0, result.err
    assert "credentials=auth-file:auth.json" in result.err
    monkeypatch.delenv("REGISTRY_AUTH_FILE")
    anonymous = tcs("registry", basic_registry.url, "--mode=dry-run")  # the malformed docker file gives nothing
    assert anonymous.code == 3
    assert "Traceback" not in anonymous.err


def test_creds_store_wins_over_stale_auths_like_docker(tcs, basic_registry, isolated, monkeypatch):
    home = isolated.parent / "home"
    bin_dir = isolated.parent / "bin"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-tcsstore"
    answer = json.dumps({"Username": "alice", "Secret": USERS["alice"]})
    helper.write_text(f"#!/bin/sh\nread server\necho '{answer}'\n")
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    stale = base64.b64encode(b"alice:stale").decode()
    _docker_config(home, {"auths": {basic_registry.host: {"auth": stale}}, "credsStore": "tcsstore"})
    assert tcs("registry", basic_registry.url, "--mode=dry-run").code == 0


def test_token_lifetime_is_measured_by_the_local_clock(tcs, standard, tmp_path):
    """A token server whose clock is 10 minutes behind: tokens are still reused, not fetched per request."""
    from tcs_registry.testing.registry import RegistryServer
    from tcs_registry.testing.tokens import TokenServer

    skewed = TokenServer(tmp_path / "tokens", USERS, lifetime=300, clock_skew=-600).start()
    try:
        with RegistryServer(standard.storage, tmp_path, auth=skewed.registry_auth()) as server:
            result = tcs("registry", server.url, "--mode=dry-run", "--username=alice", f"--password={USERS['alice']}")
    finally:
        skewed.stop()
    assert result.code == 0, result.err
    repositories = {e.repository for e in standard.expected}
    assert len(skewed.requests) == 2 + len(repositories)  # ping, catalog, one per repository


def test_token_lifetime_comes_from_the_answer_or_the_token_itself():
    """expires_in when the token service says; else a JWT's own exp - iat (Quay says nothing and issues
    hour-long JWTs); else the token is kept until the registry refuses it."""
    import base64
    import json

    from tcs_registry.http import token_lifetime

    def jwt(claims: dict) -> str:
        encode = lambda data: base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()  # noqa: E731
        return f"{encode({'typ': 'JWT'})}.{encode(claims)}.signature"

    assert token_lifetime("opaque", 300) == 300.0
    assert token_lifetime(jwt({"iat": 1000, "exp": 4600})) == 3600.0
    assert token_lifetime(jwt({"iat": 1000, "exp": 4600}), 120) == 120.0
    assert token_lifetime("opaque") == float("inf")
    assert token_lifetime("a.%%%.b") == float("inf")
    assert token_lifetime(jwt({"iat": 5000, "exp": 4600})) == 60.0  # never below distribution's minute
    assert token_lifetime("opaque", 0) == 60.0


def test_a_refusal_says_where_the_credentials_came_from(tcs, basic_registry, monkeypatch, isolated):
    """The same wrong password from each place a user may have put it: the error names the place."""
    refused = "error\tthe registry refused the credentials of user 'alice', from "
    monkeypatch.setenv("TCS_REGISTRY_USERNAME", "alice")
    monkeypatch.setenv("TCS_REGISTRY_PASSWORD", "wrong-password")
    result = tcs("registry", basic_registry.url, "--mode=dry-run")
    assert result.messages[-1] == refused + "TCS_REGISTRY_USERNAME/TCS_REGISTRY_PASSWORD"
    monkeypatch.delenv("TCS_REGISTRY_USERNAME")
    monkeypatch.delenv("TCS_REGISTRY_PASSWORD")
    config = isolated / "config"
    config.write_text('username = "alice"\npassword = "wrong-password"\n')
    config.chmod(0o600)
    assert tcs("registry", basic_registry.url, "--mode=dry-run").messages[-1] == refused + "the config file"
    config.unlink()
    docker = isolated.parent / "home" / ".docker"
    docker.mkdir()
    auth = base64.b64encode(b"alice:wrong-password").decode()
    (docker / "config.json").write_text(json.dumps({"auths": {basic_registry.host: {"auth": auth}}}))
    assert tcs("registry", basic_registry.url, "--mode=dry-run").messages[-1] == refused + "the auth file config.json"
    (docker / "config.json").write_text(json.dumps({"credsStore": "not-installed"}))
    helper = tcs("registry", basic_registry.url, "--mode=dry-run")
    assert [m for m in helper.messages if not m.startswith("info")] == [
        f"warn\tThe credential helper docker-credential-not-installed (credsStore in {docker / 'config.json'}) is not"
        f" installed: {basic_registry.host} is asked without it",
        "error\tthe registry requires credentials: pass --username and --password (or --password-stdin)",
    ]


def test_a_password_alone_or_an_empty_one_says_what_is_missing(tcs, basic_registry, monkeypatch):
    alone = tcs("registry", basic_registry.url, "--mode=dry-run", "--password-stdin", stdin="some-token\n")
    assert alone.code == 3
    assert alone.messages[-1] == (
        "error\tthe registry refused the credentials of a password without --username (a token), from --password-stdin"
    )
    wrong = tcs("registry", basic_registry.url, "--mode=dry-run", "--username=alice", "--password-stdin", stdin="no\n")
    assert wrong.messages[-1] == (
        "error\tthe registry refused the credentials of user 'alice', from --username/--password-stdin"
    )
    monkeypatch.setenv("TCS_REGISTRY_USERNAME", "alice")
    named = tcs("registry", basic_registry.url, "--mode=dry-run", "--password-stdin", stdin="no\n")
    assert named.messages[-1] == (
        "error\tthe registry refused the credentials of user 'alice', from TCS_REGISTRY_USERNAME and --password-stdin"
    )
    empty = tcs("registry", basic_registry.url, "--mode=dry-run", "--username=alice", "--password-stdin", stdin="\n")
    assert (empty.code, empty.messages) == (
        2,
        ["error\t--password-stdin read an empty password: pipe the password or token in"],
    )
    blank = tcs("registry", basic_registry.url, "--mode=dry-run", "--username=alice", "--password=")
    assert (blank.code, blank.messages[-1]) == (
        2,
        "error\t--password is empty: give the password or token, or leave both out to go anonymous",
    )


def test_plain_http_to_a_tls_port_says_use_https(tcs, tls_registry):
    host = tls_registry.host.replace("127.0.0.1", "localhost")  # a loopback host without a scheme: http, as docker
    for url in (host, f"http://{host}"):
        result = tcs("registry", url, "--mode=dry-run")
        assert result.code == 3
        assert result.messages[-1] == f"error\t{host} speaks TLS on this port: use https://{host}"


def test_a_ca_cert_that_is_no_certificate_says_so(tcs, tls_registry, tmp_path, ca_file):
    for junk in ("not a certificate\n", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"):
        bad = tmp_path / "ca.pem"
        bad.write_text(junk)
        result = tcs("registry", tls_registry.url, "--mode=dry-run", f"--ca-cert={bad}")
        assert (result.code, result.messages) == (
            2,
            [
                f"error\t--ca-cert '{bad}' holds no certificate: give the CA's certificate in PEM"
                " (-----BEGIN CERTIFICATE-----)"
            ],
        )
    key = tmp_path / "key.pem"  # a private key given for the CA: refused without echoing it
    key.write_text("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n")
    result = tcs("registry", tls_registry.url, "--mode=dry-run", f"--ca-cert={key}")
    assert result.code == 2 and "MIIEvQ" not in result.err


ECHOED = "/v2/alpine/manifests/3.19"  # the one answer that repeats the credential it was sent with
PASSWORD = "pässwörd-Zk9-long-enough"  # escaped in an error line (\xe4): must be starred out all the same


def _echo(request, said: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """403 with the request's Authorization header (or what it ``said``) in the V2 error message, as a
    careless gateway does."""
    message = f"not allowed: {said or request.headers.get('Authorization')}"
    return (
        403,
        {"Content-Type": "application/json"},
        json.dumps({"errors": [{"code": "DENIED", "message": message}]}).encode(),
    )


class _EchoingProxy(Proxy):
    def __init__(self, upstream: str, said: str | None = None) -> None:
        super().__init__(upstream, lambda *_: None)
        self.said = said

    def _any(self, request):
        return _echo(request, self.said) if request.target == ECHOED else super()._any(request)


def _opaque_token_registry(upstream: str) -> Facade:
    """A registry whose token service hands out short opaque tokens (not JWTs, as GHCR's are not)."""
    facade = Facade(upstream, name="opaque-tokens")
    challenge = {"WWW-Authenticate": f'Bearer realm="{facade.url}/token",service="opaque"'}

    @facade.route("GET", "/token")
    def token(request):
        if request.basic() != ("alice", USERS["alice"]):
            return 401, challenge, b""
        return 200, {"Content-Type": "application/json"}, json.dumps({"token": facade.issue_token("alice")}).encode()

    @facade.route("GET", "/v2/.*")
    def v2(request):
        if request.bearer() not in facade.tokens:
            return 401, challenge, b""
        return _echo(request) if request.target == ECHOED else facade.forward(request)

    return facade


@pytest.mark.parametrize("echoed", ["basic", "opaque token", "jwt", "password"])
def test_a_credential_the_registry_echoes_is_starred_out_of_logs_reports_and_the_store(
    tcs, basic_registry, token_registry, anonymous_registry, echoed, state_dir, out_dir
):
    """A Basic pair, an opaque token, a distribution token server's JWT (523 characters: longer than
    the 200 an error message keeps), a password with letters an error line escapes."""
    user, password = ("bob", PASSWORD) if echoed == "password" else ("alice", USERS["alice"])
    server = {
        "basic": lambda: _EchoingProxy(basic_registry.url),
        "opaque token": lambda: _opaque_token_registry(anonymous_registry.url),
        "jwt": lambda: _EchoingProxy(token_registry.url),
        "password": lambda: _EchoingProxy(anonymous_registry.url, said=f"user bob password {PASSWORD}"),
    }[echoed]()
    with server:
        result = tcs("registry", server.url, "--mode=dry-run", f"--username={user}", f"--password={password}")
        (header,) = {r.headers.get("Authorization") for r in server.requests if r.target == ECHOED}
    assert result.code == 4, result.err
    scheme, _, credential = (header or "").partition(" ")
    shown = f"{scheme} ***" if header else "user bob password ***"
    failed = csv_rows(failures_path(out_dir, server.host))
    assert failed[1:] == [
        [
            f"{server.host}/alpine",
            "3.19",
            "auth",
            f"{server.host}/alpine:3.19: access denied (DENIED not allowed: {shown})",
        ]
    ]
    assert f"error={server.host}/alpine:3.19: access denied (DENIED not allowed: {shown})" in result.err
    secrets = {credential or password, ascii(password)[1:-1], (credential or password)[-20:]}  # (any piece)
    for secret in secrets:
        assert secret not in result.err + result.out
        for path in [*state_dir.rglob("*"), *out_dir.rglob("*")]:  # the reports and the store
            assert not path.is_file() or secret.encode() not in path.read_bytes(), path


def test_a_secret_with_spaces_in_it_is_starred_out_of_a_registry_message():
    """A registry's message has its runs of spaces squeezed to one: a password with a tab or two spaces
    in it is found before that."""
    redact("correct  horse\tbattery-staple")
    answer = requests.Response()
    answer.status_code, answer._content = (
        403,
        json.dumps(
            {"errors": [{"code": "DENIED", "message": "bad password correct  horse\tbattery-staple for bob"}]}
        ).encode(),
    )
    assert error_detail(answer) == "DENIED bad password *** for bob"


@pytest.mark.parametrize("host", ["hub.docker.com", "docker.io", "registry-1.docker.io", "index.docker.io"])
def test_docker_hubs_login_is_found_whichever_of_its_names_the_url_gives(tmp_path, host):
    """`docker login` keeps Docker Hub's credentials under https://index.docker.io/v1/; the plugin's own
    URL form, https://hub.docker.com/u/<namespace>, must find them too, or the run goes anonymous unsaid."""
    from tcs_registry.dockerconfig import docker_credentials

    config = tmp_path / "config.json"
    auth = base64.b64encode(b"alice:dckr_pat_0123456789").decode()
    config.write_text(json.dumps({"auths": {"https://index.docker.io/v1/": {"auth": auth}}}))
    found = docker_credentials(host, config)
    assert found is not None and (found.username, found.password) == ("alice", "dckr_pat_0123456789")


def test_an_identity_token_is_never_sent_as_a_password(tcs, basic_registry, isolated):
    """A registry that asks for Basic credentials gets no identity token as a password: one line, exit 3."""
    home = isolated.parent / "home"
    _docker_config(home, {"auths": {basic_registry.host: {"identitytoken": "identity-77aa01"}}})
    result = tcs("registry", basic_registry.url, "--mode=dry-run", "-v")
    assert result.code == 3
    assert result.messages[-1] == (
        f"error\t{basic_registry.host} asks for a user and password (Basic), and the credentials are an identity "
        "token (docker login's, from the auth file config.json): pass --username and --password"
    )
    assert "identity-77aa01" not in result.err


def test_docker_hubs_login_in_a_credential_store_is_found(tmp_path, monkeypatch):
    """Docker Desktop keeps Docker Hub's login in its credential store under https://index.docker.io/v1/,
    with no `auths` entry: the store is asked for that name, whichever of Docker Hub's names the URL gives."""
    from tcs_registry.dockerconfig import docker_credentials

    helper = tmp_path / "bin" / "docker-credential-desktop"
    helper.parent.mkdir()
    answer = json.dumps({"ServerURL": "https://index.docker.io/v1/", "Username": "alice", "Secret": "dckr_pat_1"})
    helper.write_text(
        f"#!/bin/sh\nread server\n[ \"$server\" = https://index.docker.io/v1/ ] && echo '{answer}' && exit 0\nexit 1\n"
    )
    helper.chmod(helper.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{helper.parent}{os.pathsep}{os.environ['PATH']}")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"credsStore": "desktop"}))
    for host in ("hub.docker.com", "docker.io"):
        found = docker_credentials(host, config)
        assert found is not None and (found.username, found.password) == ("alice", "dckr_pat_1"), host


def test_a_token_service_that_is_not_there_is_named_as_the_token_service(tcs, standard, token_server, tmp_path):
    """The registry is up and its challenge names a token service that refuses connections: the error says
    which of the two could not be reached, not a bare address that looks like the registry's."""
    from tcs_registry.testing.registry import RegistryServer, free_port

    dead = f"127.0.0.1:{free_port()}"
    auth = token_server.registry_auth()
    auth["token"]["realm"] = f"http://{dead}/token"
    with RegistryServer(standard.storage, tmp_path, auth=auth) as server:
        result = tcs("registry", server.url, "--mode=dry-run", "--username=alice", f"--password={USERS['alice']}")
    assert result.code == 3
    assert result.messages[-1] == f"error\tcannot connect to the registry's token service {dead}: Connection refused"
