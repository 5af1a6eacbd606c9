"""Allow/deny image patterns, as the seed defines them.

A pattern is ``repository[:tag]``; ``*`` matches any run of characters, ``/`` included; a pattern
without ``:`` means any tag; a pattern matches the whole repository and the whole tag, never a
substring. The deny list wins over the allow list. A pattern never names the registry's host (it
would match nothing): one that does, or names a host with a port, or localhost, is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from .errors import UsageError

_REPOSITORY_CHARS = re.compile(r"^[a-z0-9._/*-]+$")
_TAG_CHARS = re.compile(r"^[A-Za-z0-9._*-]+$")
_SEPARATOR = re.compile(r"\.|_|__|-+")  # what the distribution grammar allows between letters and digits


def _component_problem(component: str) -> bool:
    """Whether no name's path component can match this part of a pattern (between its ``/``): one begins
    and ends with a-z or 0-9, with one separator between letters or digits; ``*`` may supply any of it."""
    if not component:
        return True
    if (component[0] != "*" and not component[0].isalnum()) or (component[-1] != "*" and not component[-1].isalnum()):
        return True
    return any(not _SEPARATOR.fullmatch(run) for run in re.findall(r"[._-]+", component))


def _compile(part: str) -> re.Pattern[str]:
    """A pattern part as a regular expression; runs of ``*`` are one (any tag at all is then ``.*``)."""
    return re.compile(".*".join(re.escape(piece) for piece in re.sub(r"\*+", "*", part).split("*")), re.DOTALL)


@dataclass(frozen=True)
class Pattern:
    text: str
    repository: re.Pattern[str]
    tag: re.Pattern[str]

    @classmethod
    def parse(cls, text: str, host: str | None = None) -> Pattern:
        """``host``: the registry's (``host[:port]``), which a pattern must not name."""
        text = text.strip()
        if not text:
            raise UsageError("empty image pattern: use repository[:tag], e.g. 'team/*:*'")
        first, slash, rest = text.partition("/")
        hosts = {host.lower(), host.lower().rsplit(":", 1)[0]} if host else set()
        if slash and (":" in first or first.lower() == "localhost" or first.lower() in hosts):
            raise UsageError(
                f"image pattern {text!r} names a registry host ({first}): a pattern is repository[:tag] within"
                f" the registry scanned; leave the host out: {rest!r}"
            )
        repository, colon, tag = text.partition(":")
        if not repository or not _REPOSITORY_CHARS.match(repository):
            hint = " (and '*'); leave the registry host out" if slash and "." in first else " (and '*')"
            raise UsageError(
                f"image pattern {text!r} can never match: a repository holds only a-z, 0-9, '.', '_', '-', '/'" + hint
            )
        if any(_component_problem(part) for part in repository.split("/")):
            raise UsageError(
                f"image pattern {text!r} can never match: each part of a repository between '/' (none empty) begins"
                " and ends with a-z or 0-9, with one '.', '_', '__' or a run of '-' between them"
            )
        if colon and not tag:  # `team/api:$TAG` with TAG unset: not every tag
            raise UsageError(f"image pattern {text!r} has an empty tag: use {repository + ':*'!r} for every tag")
        tag = tag or "*"
        if not _TAG_CHARS.match(tag) or tag[0] in ".-":
            raise UsageError(
                f"image pattern {text!r} can never match: a tag holds only A-Z, a-z, 0-9, '.', '_', '-' (and '*'),"
                " and begins with none of '.', '-'"
            )
        return cls(text, _compile(repository), _compile(tag))

    def matches(self, repository: str, tag: str) -> bool:
        return bool(self.repository.fullmatch(repository) and self.tag.fullmatch(tag))


def parse_patterns(value: str | Iterable[str] | None, host: str | None = None) -> tuple[Pattern, ...]:
    """Patterns from a comma-separated string (flags) or a list of strings (config file)."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(Pattern.parse(item, host) for item in items)


@dataclass(frozen=True)
class ImageFilter:
    allow: tuple[Pattern, ...]
    deny: tuple[Pattern, ...] = ()

    @classmethod
    def from_strings(
        cls, allow: str | Iterable[str] | None, deny: str | Iterable[str] | None, host: str | None = None
    ) -> ImageFilter:
        return cls(parse_patterns(allow if allow is not None else "*", host), parse_patterns(deny, host))

    def may_admit(self, repository: str) -> bool:
        """Whether some tag of ``repository`` may be admitted (not denied whole, and allowed for some tag)."""
        if any(p.repository.fullmatch(repository) and p.tag.pattern == ".*" for p in self.deny):
            return False
        return any(p.repository.fullmatch(repository) for p in self.allow)

    def admits(self, repository: str, tag: str) -> bool:
        if any(p.matches(repository, tag) for p in self.deny):
            return False
        return any(p.matches(repository, tag) for p in self.allow)
