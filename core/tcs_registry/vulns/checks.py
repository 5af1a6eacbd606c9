"""Misconfigurations read from an image's config and build history (no layer needs to be opened).

Each check has a stable id, a severity and a short remedy. Secret values are never repeated: a finding
names the variable or the history step, never what it holds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from ..models import Package, Violation
from ..oci import parse_time

OLD_BASE = timedelta(days=365)
REPRODUCIBLE_EPOCH_BEFORE = 1990


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    severity: str
    remedy: str


ROOT = Check("TCS-CFG-001", "Image runs as root", "HIGH", "Add a USER instruction with an unprivileged user.")
SECRET_ENV = Check(
    "TCS-CFG-002",
    "Secret in an environment variable",
    "CRITICAL",
    "Remove the secret from ENV, rotate it, and pass it at run time or as a build secret.",
)
SECRET_HISTORY = Check(
    "TCS-CFG-003",
    "Secret in the build history",
    "CRITICAL",
    "Rotate the secret; use `RUN --mount=type=secret` instead of build arguments or inline values.",
)
NO_HEALTHCHECK = Check(
    "TCS-CFG-004", "No HEALTHCHECK", "LOW", "Add a HEALTHCHECK instruction so the runtime can tell it is healthy."
)
ADD_URL = Check(
    "TCS-CFG-005",
    "ADD from a URL",
    "MEDIUM",
    "Download with a checksum-verified RUN (or ADD --checksum) instead of ADD <url>.",
)
SUDO = Check(
    "TCS-CFG-006", "sudo is installed or used", "MEDIUM", "Remove sudo; run the steps that need root before USER."
)
SSH = Check("TCS-CFG-007", "SSH port exposed", "MEDIUM", "Do not run an SSH server in a container; remove EXPOSE 22.")
OLD = Check(
    "TCS-CFG-008",
    "Very old base image",
    "MEDIUM",
    "Rebuild on a current release of the base image to get its security fixes.",
)
CHECKS = (ROOT, SECRET_ENV, SECRET_HISTORY, NO_HEALTHCHECK, ADD_URL, SUDO, SSH, OLD)
CHECK_IDS = tuple(check.id for check in CHECKS)

_SECRET_NAME = re.compile(
    r"(?:PASSWORD|PASSWD|(?:^|_)(?:PASS|SECRET|SECRET_KEY|SECRET_KEY_BASE|ACCESS_KEY|SECRET_ACCESS_KEY|PRIVATE_KEY"
    r"|API_KEY|APIKEY|TOKEN|AUTH_TOKEN|ACCESS_TOKEN|CLIENT_SECRET|SESSION_TOKEN|CREDENTIALS))$",
    re.IGNORECASE,
)
_NOT_SECRET = re.compile(r"_(?:FILE|PATH|DIR|URL|URI|HOST|PORT|USER|USERNAME|NAME|ID|ENV|VERSION)$", re.IGNORECASE)
# settings, not secrets: ALLOW_EMPTY_PASSWORD=yes, MYSQL_RANDOM_ROOT_PASSWORD=true
_FLAG_VALUE = re.compile(r"(?:yes|no|true|false|on|off|[01])?", re.IGNORECASE)
# (a scheme starts where no scheme character precedes: a run of letters is tried once, not at each of its
# characters - linear, where the plain pattern was quadratic on a long value)
_URL_CREDENTIALS = re.compile(r"(?<![a-z0-9+.-])[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@", re.IGNORECASE)
_SECRET_VALUE = re.compile(
    r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"  # AWS access key id
    r"|\bgh[pousr]_[A-Za-z0-9]{36,}\b|\bgithub_pat_[A-Za-z0-9_]{22,}\b"  # GitHub tokens
    r"|\bglpat-[A-Za-z0-9_-]{20,}\b"  # GitLab
    r"|\bxox[abposr]-[A-Za-z0-9-]{10,}\b"  # Slack
    r"|\bsk_live_[A-Za-z0-9]{20,}\b"  # Stripe
    r"|\bnpm_[A-Za-z0-9]{36}\b|\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{20,}"  # package registry tokens
    r"|-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----"
)
_LOGIN = re.compile(
    r"aws\s+configure\s+set\s+aws_(?:secret_access_key|session_token)"
    r"|gcloud\s+auth\s+activate-service-account"
    r"|\baz\s+login\b.*(?:-p|--password)\s"
    r"|\b(?:docker|podman|helm)\s+(?:registry\s+)?login\b.*(?:-p|--password)[=\s]+[^-\s$]"
)
_ADD_URL = re.compile(r"(?:^|#\(nop\)\s+|\s)ADD\s+(?:--\S+\s+)*https?://", re.IGNORECASE)
_SUDO_RUN = re.compile(r"(?:^|&&|;|\|\||-c\s)\s*sudo\s")  # (one \s after -c: two runs of \s were quadratic)
MAX_TEXT = 64 * 1024  # characters of an Env entry or a history line the checks read
_ROOT = re.compile(r"^(?:root|0)(?::.*)?$")
# build arguments as the classic builder (`|1 NAME=value /bin/sh -c ...`) and BuildKit (`RUN |1 NAME=...`) record them
_BUILD_ARGS = re.compile(r"^(?:RUN\s+)?\|\d+\s+((?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)+)")


def _violation(check: Check, detail: str, platform: str) -> Violation:
    return Violation(check.id, check.title, check.severity, detail, check.remedy, platform)


def _secret_named(name: str, value: str) -> bool:
    named = bool(_SECRET_NAME.search(name)) and not _NOT_SECRET.search(name)
    return named and not _FLAG_VALUE.fullmatch(value.strip())


def _secret_value(value: str) -> bool:
    """A value shaped like a credential: a known token format, a private key, a URL with a password."""
    return bool(_SECRET_VALUE.search(value) or _URL_CREDENTIALS.search(value))


def _shown_url(url: str) -> str:
    """A URL fit for a report: no user, password or query (tokens travel there)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}{parts.path}"


def check_image(
    config: dict[str, Any], packages: Iterable[Package], platform: str = "", now: datetime | None = None
) -> list[Violation]:
    """Every violation the config, its history and the installed packages show."""
    now = now or datetime.now(UTC)
    settings = config.get("config") if isinstance(config.get("config"), dict) else {}
    history = [h for h in config.get("history") or () if isinstance(h, dict)]
    found: list[Violation] = []

    user = str(settings.get("User") or "")
    if not user or _ROOT.match(user):
        found.append(_violation(ROOT, f"USER is {user!r}" if user else "no USER is set", platform))

    for item in settings.get("Env") or ():
        name, _, value = str(item)[:MAX_TEXT].partition("=")
        if _secret_named(name, value) or _secret_value(value):
            found.append(_violation(SECRET_ENV, f"ENV {name} (value withheld)", platform))

    for step, entry in enumerate(history, 1):
        created_by = str(entry.get("created_by") or "")[:MAX_TEXT]
        reasons = []
        arguments = _BUILD_ARGS.match(created_by)
        for pair in arguments.group(1).split() if arguments else ():
            name, _, value = pair.partition("=")
            if _secret_named(name, value):
                reasons.append(f"build argument {name}")
        if _secret_value(created_by):
            reasons.append("a credential-shaped value")
        if _LOGIN.search(created_by):
            reasons.append("a login with an inline credential")
        if reasons:
            detail = f"history step {step}: {', '.join(reasons)} (value withheld)"
            found.append(_violation(SECRET_HISTORY, detail, platform))
        if _ADD_URL.search(created_by):
            url = re.search(r"https?://\S+", created_by)
            shown = _shown_url(url.group(0)) if url else ""
            found.append(_violation(ADD_URL, f"history step {step}: ADD {shown}", platform))

    health = settings.get("Healthcheck")
    test = health.get("Test") if isinstance(health, dict) else None
    if not test or test == ["NONE"]:
        found.append(_violation(NO_HEALTHCHECK, "the config has no Healthcheck", platform))

    names = {p.name for p in packages}
    sudo_steps = [
        i
        for i, h in enumerate(history, 1)
        if _SUDO_RUN.search(str(h.get("created_by") or "")[:MAX_TEXT].split("#(nop)")[0])
    ]
    if "sudo" in names or sudo_steps:
        where = "package sudo is installed" if "sudo" in names else f"history step {sudo_steps[0]} runs sudo"
        found.append(_violation(SUDO, where, platform))

    ports = settings.get("ExposedPorts") if isinstance(settings.get("ExposedPorts"), dict) else {}
    if any(str(port).split("/")[0] == "22" for port in ports):
        server = " and openssh-server is installed" if "openssh-server" in names else ""
        found.append(_violation(SSH, f"EXPOSE 22{server}", platform))

    dates = [parse_time(h.get("created")) for h in history[:1]] + [parse_time(config.get("created"))]
    # reproducible builds stamp 1970 (SOURCE_DATE_EPOCH=0): that says nothing about the base's age
    base = next((d for d in dates if d is not None and d.year >= REPRODUCIBLE_EPOCH_BEFORE), None)
    if base is not None and now - base > OLD_BASE:
        # the detail stays the same from one day to the next: `results --changes` compares it
        found.append(_violation(OLD, f"base layer built {base:%Y-%m-%d}, over a year before the scan", platform))
    return found
