"""Credentials from the user's container auth files, as docker, crane, skopeo and podman read them.

Files, first match wins: ``$REGISTRY_AUTH_FILE``, ``$XDG_RUNTIME_DIR/containers/auth.json``,
``~/.config/containers/auth.json``, then docker's ``$DOCKER_CONFIG/config.json`` or
``~/.docker/config.json``. In a file, as docker decides: ``credHelpers.<host>``, else ``credsStore``
(both through the ``docker-credential-<name> get`` protocol: server on stdin, JSON on stdout),
else ``auths.<host>.auth`` (base64 ``user:password``), or the entry's ``identitytoken`` (a refresh
token docker kept for a registry whose token service gave one; a helper answers it as the user
``<token>``), sent as one (`Credentials.identity_token`).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import subprocess
from pathlib import Path
from typing import Any

from .models import Credentials

log = logging.getLogger(__name__)
HELPER_TIMEOUT = 30


def config_path() -> Path:
    base = os.environ.get("DOCKER_CONFIG")
    return Path(base, "config.json") if base else Path.home() / ".docker" / "config.json"


def _host_of(key: str) -> str:
    """``https://index.docker.io/v1/`` -> ``index.docker.io``; ``localhost:5000`` stays as it is."""
    key = key.split("://", 1)[-1]
    return key.split("/", 1)[0].lower()


# Docker Hub's names: its registry's, and its web site's
DOCKER_HUB = frozenset(
    {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com", "hub.docker.com"}
)
HUB_INDEX = "https://index.docker.io/v1/"  # where `docker login` keeps Docker Hub's credentials


def _aliases(host: str) -> set[str]:
    """The names `docker login` may have saved a host's credentials under (Docker Hub's: index.docker.io/v1/,
    whichever of its names a URL gives, its web site's included)."""
    return DOCKER_HUB if host in DOCKER_HUB else {host}


def _from_helper(helper: str, server: str, named_by: str) -> Credentials | None:
    """``named_by``: where the helper is named (``credsStore in ~/.docker/config.json``)."""
    program = f"docker-credential-{helper}"
    try:
        result = subprocess.run(
            [program, "get"], input=server, capture_output=True, text=True, timeout=HELPER_TIMEOUT, check=False
        )
    except FileNotFoundError:
        log.warning("The credential helper %s (%s) is not installed: %s is asked without it", program, named_by, server)
        return None
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("Docker credential helper failed helper=%s error=%s", program, type(exc).__name__)
        return None
    if result.returncode != 0:
        # "credentials not found in native keychain" is the normal answer for an unknown host
        log.debug("Docker credential helper has no credentials helper=%s server=%s", program, server)
        return None
    try:
        answer = json.loads(result.stdout)
        username, secret = answer.get("Username", ""), answer.get("Secret", "")
    except (ValueError, AttributeError):
        log.warning("Docker credential helper answered garbage helper=%s", program)
        return None
    if not secret:
        return None
    if username == "<token>":  # an identity token (docker/cli's native store names it so), not a password
        return Credentials(None, secret, source=f"docker-credential-{helper}", identity_token=True)
    return Credentials(username or None, secret, source=f"docker-credential-{helper}")


def auth_files() -> list[Path]:
    files = []
    if os.environ.get("REGISTRY_AUTH_FILE"):
        files.append(Path(os.environ["REGISTRY_AUTH_FILE"]))
    if os.environ.get("XDG_RUNTIME_DIR"):
        files.append(Path(os.environ["XDG_RUNTIME_DIR"], "containers", "auth.json"))
    files.append(Path.home() / ".config" / "containers" / "auth.json")
    files.append(config_path())
    return files


def docker_credentials(host: str, path: Path | None = None) -> Credentials | None:
    """Credentials for ``host`` from the first auth file that has an entry for it, or None."""
    for candidate in [path] if path else auth_files():
        credentials = _from_file(candidate, host)
        if credentials is not None:
            return credentials
    return None


def _from_file(path: Path, host: str) -> Credentials | None:
    try:
        config: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("Ignoring unreadable auth file path=%s error=%s", path, type(exc).__name__)
        return None
    if not isinstance(config, dict):
        log.warning("Ignoring auth file that is not a JSON object path=%s", path)
        return None
    wanted = _aliases(host.lower())
    auths: dict[str, Any] = config["auths"] if isinstance(config.get("auths"), dict) else {}
    helpers: dict[str, Any] = config["credHelpers"] if isinstance(config.get("credHelpers"), dict) else {}
    for key, helper in helpers.items():
        if _host_of(key) in wanted and isinstance(helper, str):
            return _from_helper(helper, key, f"credHelpers {key!r} in {path}")
    if isinstance(config.get("credsStore"), str) and config["credsStore"]:
        # (docker keeps Docker Hub's under its index's URL, whichever of its names the URL gives)
        server = next((k for k in auths if _host_of(k) in wanted), HUB_INDEX if host in DOCKER_HUB else host)
        return _from_helper(config["credsStore"], server, f"credsStore in {path}")
    for key, entry in auths.items():
        if _host_of(key) not in wanted or not isinstance(entry, dict):
            continue
        username = password = ""
        if isinstance(entry.get("auth"), str) and entry["auth"]:
            try:
                username, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                log.warning("Ignoring malformed auth entry path=%s host=%s", path, _host_of(key))
                continue
        # `docker login` to a registry whose token service gave a refresh token keeps it as the
        # identitytoken, the password left empty (`az acr login` writes one, with a null GUID user)
        if isinstance(entry.get("identitytoken"), str) and entry["identitytoken"]:
            return Credentials(username or None, entry["identitytoken"], f"auth-file:{path.name}", identity_token=True)
        if username or password:
            return Credentials(username, password, source=f"auth-file:{path.name}")
    return None
