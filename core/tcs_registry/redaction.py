"""Secrets that are never shown: the user's password, every credential sent in an Authorization header
(a Basic pair, a registry's bearer token, a vendor's access token), and what a plugin passes to
``redact``. Every log line goes through ``hide``, and so does every error's message, so what a
registry echoes back (``"invalid token <token>"``) reaches neither the logs, nor the failures report,
the store or the console."""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
import threading
from urllib.parse import quote, quote_plus, urlsplit, urlunsplit

SHORTEST = 3  # shorter strings are not hidden: "ab" would be starred out of every line
KEY = 8  # a secret this long is looked for by its last KEY characters, so a run's thousands of tokens
# (one per repository scope, renewed as they expire) cost a log line no more than a few do: its last, as
# the tokens of one issuer share their first hundred (a JWT's header), not their signature's end


class Secrets:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: set[str] = set()
        self._short: tuple[str, ...] = ()
        self._by_end: dict[str, tuple[str, ...]] = {}  # replaced whole, never changed: read without the lock

    def add(self, secret: str | None) -> None:
        """Keep ``secret`` hidden, and its URL-encoded form (a registry may echo a query or a form)."""
        if not secret or len(secret) < SHORTEST or secret in self._known:
            return
        with self._lock:
            for form in dict.fromkeys((secret, quote(secret, safe=""), quote_plus(secret, safe=""))):
                if form in self._known:
                    continue
                self._known.add(form)
                if len(form) < KEY:
                    self._short = (*self._short, form)
                else:
                    self._by_end[form[-KEY:]] = (*self._by_end.get(form[-KEY:], ()), form)

    def __contains__(self, secret: str) -> bool:
        return secret in self._known

    def hide(self, text: str, short: bool = True) -> str:
        """``text`` with every secret starred out; ``short=False``: a secret shorter than KEY only if it is
        the whole of ``text``."""
        if not short and text in self._known:
            return "***"
        found = [secret for secret in self._short if secret in text] if short else []
        if self._by_end:
            get = self._by_end.get
            for end in range(KEY, len(text) + 1):
                if candidates := get(text[end - KEY : end]):
                    found += [secret for secret in candidates if text.endswith(secret, 0, end)]
        for secret in sorted(found, key=len, reverse=True):  # a secret inside a longer one: the longer first
            text = text.replace(secret, "***")
        return text


SECRETS = Secrets()


def redact(*secrets: str | None) -> None:
    """Never show these strings (passwords, tokens) in a log line or an error."""
    for secret in secrets:
        SECRETS.add(secret)


# a secret's value in a URL's query (a signed URL's X-Amz-Signature and X-Amz-Credential, an Azure SAS's
# sig, a token), as urllib3's and requests' messages quote them ("... with url: /blob?X-Amz-Signature=...")
QUERY_VALUE = re.compile(r"(?<=[?&])([\w.-]+)=[^&#\s'\")]+")  # (linear: no keyword inside the name's run)
SECRET_NAME = re.compile(r"sig|token|key|credential|secret|pass|pwd|jwt|auth|session|code", re.IGNORECASE)


def hide(text: str) -> str:
    """``text`` with every secret in it written as ``***``, and the values of a URL query's secrets."""
    return QUERY_VALUE.sub(_query_value, SECRETS.hide(text))


def _query_value(match: re.Match[str]) -> str:
    return f"{match.group(1)}=***" if SECRET_NAME.search(match.group(1)) else match.group()


def hide_in_name(name: str) -> str:
    """A name a registry listed (a repository, a tag), a secret it echoes starred out: a short one (a
    password like "team") only if it is the whole name, as names hold such words by chance, and a name
    starred out of a report does not name its image any more (--plan reads the report)."""
    return SECRETS.hide(name, short=False)


def authorization(header: str | None) -> None:
    """Keep the credential of an ``Authorization`` header secret: a bearer token (or any scheme's
    credential), and a Basic pair both base64-encoded and its password decoded."""
    if not header:
        return
    scheme, _, credential = header.partition(" ")
    credential = credential.strip() or header
    if credential in SECRETS:  # every request sends one: read once
        return
    if scheme.lower() == "basic":
        with contextlib.suppress(binascii.Error, UnicodeDecodeError):
            SECRETS.add(base64.b64decode(credential, validate=True).decode().partition(":")[2])
    SECRETS.add(credential)  # last: a thread that finds it known finds the password kept too


def shown_url(url: str) -> str:
    """A URL as a line, a report or a store may keep it: no user information (``user:password@``) and no
    query value (a signed URL's signature, a token), each written ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:  # (no URL: a broken IPv6 host) its user part and query's values starred out all the same
        return re.sub(r"(?<=[?&#])([^=&]*)=[^&]*", r"\1=***", re.sub(r"^([^:/]*://)?[^/]*@", r"\1***@", url))
    host = parts.netloc.rpartition("@")[2]
    netloc = f"***@{host}" if "@" in parts.netloc else host
    hidden = [
        re.sub(r"=[^&]*", "=***", part) if "=" in part else "***" if part else ""
        for part in (parts.query, parts.fragment)
    ]
    return urlunsplit((parts.scheme, netloc, parts.path, *hidden))
