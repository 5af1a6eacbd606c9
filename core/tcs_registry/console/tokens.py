"""API tokens: made once, shown once; the store keeps only their SHA-256."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy.engine import RowMapping

from ..errors import UsageError
from ..store import Store

ROLES = ("submit", "read", "admin")  # submit: send scans; read: see them; admin: see them and manage tokens
PREFIX = "tcs_"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create(store: Store, project: str, role: str, name: str = "") -> tuple[int, str]:
    """(id, the secret) of a new token; the secret is not kept."""
    if role not in ROLES:
        raise UsageError(f"unknown --role {role!r}: use {', '.join(ROLES)}")
    if not project.strip():
        raise UsageError("--project must not be empty")
    secret = PREFIX + secrets.token_urlsafe(32)
    return store.add_token(project.strip(), role, digest(secret), name), secret


def check(store: Store, secret: str) -> RowMapping | None:
    """The token a secret is, if it is one and not revoked."""
    if not secret.startswith(PREFIX) or len(secret) > 200:
        return None
    wanted = digest(secret)
    row = store.token(wanted)
    return row if row is not None and hmac.compare_digest(row["digest"], wanted) else None
