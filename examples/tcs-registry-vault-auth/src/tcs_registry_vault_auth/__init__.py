"""An auth-override plugin: credentials for chosen registry hosts from a file or an external command
(what a secret manager such as Vault, ``op`` or ``aws secretsmanager`` provides), every other host
left alone.

Configuration, a TOML file named by ``TCS_VAULT_AUTH_CONFIG`` (default
``~/.config/tcs-registry/vault-auth.toml``)::

    [hosts."ghcr.io"]
    username = "mona"
    password_command = ["vault", "kv", "get", "-field=token", "secret/ci/ghcr"]

    [hosts."registry.example.com:5000"]
    username = "robot$ci"
    password_file = "/run/secrets/registry-token"

Its ``authenticate`` runs first (``tryfirst``): for a configured host it fetches the secret and logs
in with the client of the registry's own type (``tcs_registry.log_in``), so a vendor plugin still
does its vendor's work; for any other host it returns None and the usual chain answers.
"""

from __future__ import annotations

import os
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

from tcs_registry import AuthError, Credentials, Registry, RegistryClient, UsageError, hookimpl, log_in
from tcs_registry.logs import redact

DEFAULT_CONFIG = "~/.config/tcs-registry/vault-auth.toml"
COMMAND_TIMEOUT = 60


KEYS = {"username", "password_file", "password_command"}


@dataclass(frozen=True)
class Source:
    host: str
    username: str
    password_file: str | None = None
    password_command: tuple[str, ...] = ()

    def secret(self) -> str:
        """The password, fetched now; errors name the host and the source, never the secret."""
        if self.password_file:
            try:
                secret = Path(self.password_file).expanduser().read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
                raise AuthError(f"vault-auth: cannot read the password file for {self.host}: {reason}") from None
        else:
            secret = self._run()
        if not secret:
            raise AuthError(f"vault-auth: the secret for {self.host} is empty")
        return secret

    def _run(self) -> str:
        program = self.password_command[0]  # the arguments may hold tokens: never in a message
        try:
            done = subprocess.run(
                list(self.password_command), capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False
            )
        except subprocess.TimeoutExpired:
            raise AuthError(f"vault-auth: the password command for {self.host} ({program}) timed out") from None
        except OSError as exc:
            raise AuthError(f"vault-auth: cannot run {program} for {self.host}: {exc.strerror}") from None
        if done.returncode != 0:
            raise AuthError(
                f"vault-auth: the password command for {self.host} ({program}) exited with {done.returncode}"
            )
        return done.stdout.strip()


def load(path: str | None = None) -> dict[str, Source]:
    """host -> Source, from the config file (none configured: an empty mapping)."""
    config = Path(path or os.environ.get("TCS_VAULT_AUTH_CONFIG") or DEFAULT_CONFIG).expanduser()
    if not config.is_file():
        return {}
    try:
        hosts = tomllib.loads(config.read_text(encoding="utf-8")).get("hosts", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"vault-auth: cannot read {config}: {exc}") from None
    if not isinstance(hosts, dict):
        raise UsageError(f"vault-auth: {config}: [hosts] must be a table of hosts")
    return {host.lower(): _source(config, host, entry) for host, entry in hosts.items()}


def _source(config: Path, host: str, entry: object) -> Source:
    def bad(why: str) -> UsageError:
        return UsageError(f"vault-auth: {config}: host {host!r}: {why}")

    if not isinstance(entry, dict):
        raise bad("must be a table")
    unknown = set(entry) - KEYS
    if unknown:
        raise bad(f"unknown key {sorted(unknown)[0]!r} (known: {', '.join(sorted(KEYS))})")
    username, file, command = entry.get("username"), entry.get("password_file"), entry.get("password_command")
    if not isinstance(username, str) or not username:
        raise bad("needs a username")
    if (file is None) == (command is None):
        raise bad("needs exactly one of password_file, password_command")
    if file is not None and not isinstance(file, str):
        raise bad("password_file must be a path")
    if command is not None and (
        not isinstance(command, list) or not command or not all(isinstance(a, str) for a in command)
    ):
        raise bad('password_command must be a list of strings, e.g. ["vault", "kv", "get", "-field=token", "secret/x"]')
    return Source(host, username, file, tuple(command or ()))


class VaultAuth:
    @hookimpl(tryfirst=True)
    def authenticate(self, registry: Registry, credentials: Credentials) -> RegistryClient | None:
        source = load().get(registry.host.lower())
        if source is None:
            return None  # not a host of ours: the vendor plugin or the generic V2 plugin logs in
        secret = source.secret()
        redact(secret)  # never in a log line, whatever goes wrong later
        return log_in(registry, Credentials(source.username, secret, source="vault-auth"))


plugin = VaultAuth()
