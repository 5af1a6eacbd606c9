"""Errors that end a run, or one image, with a clear line and a documented exit code."""

from __future__ import annotations

from .redaction import hide

EXIT_OK = 0
EXIT_FINDINGS = 1  # findings at or above --fail-on
EXIT_USAGE = 2  # bad flags, URL, config file, patterns; no scanner installed
EXIT_REGISTRY = 3  # registry unreachable, TLS failure, bad credentials, not a registry; no data to work on
EXIT_PARTIAL = 4  # the run finished but some repositories or images failed

# the failure codes of HTTP statuses (an error says its own code where it knows better)
STATUS_CODES = {401: "auth", 403: "auth", 404: "not-found", 429: "rate-limited"}


class TcsError(Exception):
    """Base class: the message is one line meant for the user; ``code`` names the kind of failure in
    the failures report (``auth``, ``not-found``, ``timeout``...). A secret in the message (a token a
    registry echoed) is starred out here, before it can reach a log, a report or the store."""

    exit_code = EXIT_REGISTRY
    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(hide(message))
        if code:
            self.code = code


class UsageError(TcsError):
    """Bad input from the user: flags, URL, config file, patterns."""

    exit_code = EXIT_USAGE


class PluginError(UsageError):
    """A plugin failed to load or broke the hook contract."""


class RegistryError(TcsError):
    """The registry cannot be reached or answered something unusable."""

    exit_code = EXIT_REGISTRY
    code = "registry-error"

    def __init__(self, message: str, status: int | None = None, *, code: str | None = None) -> None:
        super().__init__(message, code=code or STATUS_CODES.get(status or 0))
        self.status = status  # the HTTP status behind the error, if there was one


class AuthError(RegistryError):
    """The registry refused the credentials (or wanted some and got none)."""

    code = "auth"


class TokenRefused(AuthError):
    """The registry's token service refused a token (401 or 403): the credentials themselves, or,
    anonymous, any token at all (a registry that grants a token without the scope, as most do, says no to a
    repository in the registry's own answer, an AuthError with its status)."""


def failure_code(exc: BaseException, otherwise: str = "analysis-error") -> str:
    """The failures report's code of an error: its own, or ``otherwise`` for what is not ours (a bug: in
    a plugin listing tags, ``plugin-error``; describing and analysing an image, ``analysis-error``)."""
    return exc.code if isinstance(exc, TcsError) else otherwise


class ImageError(RegistryError):
    """One image could not be described or scanned; the run goes on without it."""

    code = "invalid-image"  # content the registry sent that is not a well-formed image, unless told


class QuotaExhausted(TcsError):
    """The registry's request quota is used up (Docker Hub pulls): asking on only makes it worse,
    so the run stops describing images, keeps what it has, and says how many were left undone.
    Not a RegistryError: a plugin's ``except RegistryError`` (one listing that may fail) must not
    swallow the stop of the whole run."""

    code = "quota"
    status = 429
    again = "when the quota allows it"  # when to run again, as the lines after the stop say


class RegistryUnreachable(QuotaExhausted):
    """The registry, which answered before, cannot be connected to for GONE seconds (stopped, restarting
    for longer than a restart takes, its address gone): every request waits for it meanwhile; then, as with
    a spent quota, the run stops asking, keeps what it has and says what was left undone (the next run
    resumes it)."""

    code = "registry-error"
    status = None
    again = "when the registry answers again"


class CredentialsExpired(QuotaExhausted):
    """Credentials that cannot be renewed (an ACR refresh token from `az acr login --expose-token`) have
    expired during the run: as with a spent quota, every request from now on would be refused, so the run
    stops asking, keeps what it has and says what was left undone (the next run resumes it)."""

    code = "auth"
    status = 401
    again = "with new credentials"
