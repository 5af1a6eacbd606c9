"""Ignore rules, as `.trivyignore` and Grype's ignore rules: findings a team has judged and set aside.

The file (``--ignore-file``, by default ``.tcsignore`` beside the config file in effect, else in the
working directory) is TOML, one ``[[ignore]]`` table a rule::

    [[ignore]]
    id = "CVE-2023-4911"              # a vulnerability id or alias, or a check id (TCS-CFG-004)
    repository = "team/*"             # optional: an image pattern, repository[:tag], as --allowList
    package = "glibc"                 # optional: vulnerabilities of this package only
    reason = "no setuid binary in our images"   # required
    expires = 2027-01-31              # optional: from the day after, the rule no longer applies

An ignored finding is not dropped: it is counted in the summary as ignored, kept apart in the results
(``ignored``) and not counted for --fail-on. A rule past its date applies no more, and says so.
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..models import Violation, Vulnerability
from ..patterns import Pattern

log = logging.getLogger("tcs_registry")
FILENAME = ".tcsignore"
_KEYS = {"id", "repository", "package", "reason", "expires"}


@dataclass(frozen=True)
class Rule:
    id: str
    reason: str
    pattern: Pattern | None = None
    package: str | None = None
    expires: date | None = None

    def matches(self, repository: str, tag: str, finding: Vulnerability | Violation) -> bool:
        if self.pattern is not None and not self.pattern.matches(repository, tag):
            return False
        if isinstance(finding, Violation):
            return self.package is None and finding.id.upper() == self.id
        ids = {finding.id.upper(), *(alias.upper() for alias in finding.aliases)}
        return self.id in ids and (self.package is None or self.package == finding.package)


class IgnoreRules:
    """The rules of one file, the expired ones left out (and warned about once)."""

    def __init__(self, rules: list[Rule] = (), path: Path | None = None) -> None:  # type: ignore[assignment]
        self.rules, self.path = list(rules), path
        self.ignored = 0  # findings set aside so far

    def __bool__(self) -> bool:
        return bool(self.rules)

    @classmethod
    def load(cls, path: Path, *, required: bool, host: str | None = None, today: date | None = None) -> IgnoreRules:
        """The rules of ``path``; none if it is the default place and holds no file."""
        if not path.is_file():
            if required:
                raise UsageError(f"--ignore-file {str(path)!r} does not exist or is not a file")
            return cls()
        where = str(path)
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise UsageError(f"cannot read the ignore file {where!r}: {exc.strerror}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise UsageError(f"the ignore file {where!r} is not valid TOML: {exc}") from None
        other = sorted(set(raw) - {"ignore"}) or ([] if isinstance(raw.get("ignore", []), list) else ["[ignore]"])
        if other:
            raise UsageError(f"the ignore file {where!r} holds [[ignore]] tables only, not {other[0]!r}")
        today = today or datetime.now(UTC).date()
        rules = []
        for number, table in enumerate(raw.get("ignore", []), 1):
            rule = _rule(table, f"the ignore file {where!r}, rule {number}", host)
            if rule.expires is not None and rule.expires < today:
                log.warning(
                    "The ignore rule for %s in %s expired on %s: its findings count again (it said: %s)",
                    rule.id, where, rule.expires.isoformat(), rule.reason,
                )  # fmt: skip
                continue
            rules.append(rule)
        if rules:
            log.info("Ignore rules: %d in %s", len(rules), where)
        return cls(rules, path)

    def split(
        self, repository: str, tag: str, vulnerabilities: list[Vulnerability], violations: list[Violation]
    ) -> tuple[list[Vulnerability], list[Violation], list[dict[str, Any]]]:
        """(vulnerabilities kept, violations kept, the ignored ones as documents with the rule's reason)."""
        if not self.rules:
            return vulnerabilities, violations, []
        kept: tuple[list[Vulnerability], list[Violation]] = ([], [])
        ignored = []
        for kind, findings, into in (("vulnerability", vulnerabilities, kept[0]), ("violation", violations, kept[1])):
            for finding in findings:
                rule = next((r for r in self.rules if r.matches(repository, tag, finding)), None)
                if rule is None:
                    into.append(finding)  # type: ignore[arg-type]
                    continue
                document = {k: v for k, v in asdict(finding).items() if k != "platform"}
                ignored.append({"kind": kind, **document, "ignored_because": rule.reason})
        self.ignored += len(ignored)
        return kept[0], kept[1], ignored


def _rule(table: Any, where: str, host: str | None) -> Rule:
    if not isinstance(table, dict):
        raise UsageError(f"{where}: an [[ignore]] table, not {type(table).__name__}")
    unknown = set(table) - _KEYS
    if unknown:
        raise UsageError(f"{where}: unknown key {sorted(unknown)[0]!r} (known: {', '.join(sorted(_KEYS))})")
    for key in ("id", "reason"):
        if not isinstance(table.get(key), str) or not table[key].strip():
            raise UsageError(f"{where}: {key!r} is required (a non-empty string)")
    for key in ("repository", "package"):
        if key in table and (not isinstance(table[key], str) or not table[key].strip()):
            raise UsageError(f"{where}: {key!r} must be a non-empty string")
    expires = table.get("expires")
    if isinstance(expires, str):
        try:
            expires = date.fromisoformat(expires.strip())
        except ValueError:
            raise UsageError(f"{where}: 'expires' {expires!r} is not a date: use YYYY-MM-DD") from None
    if isinstance(expires, datetime) or not (expires is None or isinstance(expires, date)):
        raise UsageError(f"{where}: 'expires' must be a date (YYYY-MM-DD)")
    try:
        pattern = Pattern.parse(table["repository"], host) if "repository" in table else None
    except UsageError as exc:
        raise UsageError(f"{where}: 'repository': {exc}") from None
    package = table["package"].strip() if "package" in table else None
    return Rule(table["id"].strip().upper(), table["reason"].strip(), pattern, package, expires)
