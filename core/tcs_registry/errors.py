"""Errors that end a run, or one image, with a clear line and a documented exit code."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1  # findings at or above --fail-on
EXIT_USAGE = 2  # bad flags, URL, config file, patterns; no scanner installed
EXIT_REGISTRY = 3  # registry unreachable, TLS failure, bad credentials, not a registry; no data to work on
EXIT_PARTIAL = 4  # the run finished but some repositories or images failed


class TcsError(Exception):
    """Base class: the message is one line meant for the user."""

    exit_code = EXIT_REGISTRY


class UsageError(TcsError):
    """Bad input from the user: flags, URL, config file, patterns."""

    exit_code = EXIT_USAGE


class PluginError(UsageError):
    """A plugin failed to load or broke the hook contract."""


class RegistryError(TcsError):
    """The registry cannot be reached or answered something unusable."""

    exit_code = EXIT_REGISTRY

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status behind the error, if there was one


class AuthError(RegistryError):
    """The registry refused the credentials (or wanted some and got none)."""


class ImageError(RegistryError):
    """One image could not be described or scanned; the run goes on without it."""


class QuotaExhausted(RegistryError):
    """The registry's request quota is used up (Docker Hub pulls): asking on only makes it worse,
    so the run stops describing images, keeps what it has, and says how many were left undone."""
