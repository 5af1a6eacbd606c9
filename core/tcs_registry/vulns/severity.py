"""A finding's severity: the distribution's own rating when it gives one, else the CVSS vector's
(v4, then v3, then v2), else the advisory database's word, else the upstream record's."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from cvss import CVSS2, CVSS3, CVSS4

LEVELS = ("UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL")
_WORDS = {
    "negligible": "LOW",
    "low": "LOW",
    "moderate": "MEDIUM",
    "medium": "MEDIUM",
    "important": "HIGH",
    "high": "HIGH",
    "critical": "CRITICAL",
}


def rank(level: str) -> int:
    return LEVELS.index(level) if level in LEVELS else 0


@dataclass(frozen=True)
class Severity:
    level: str = "UNKNOWN"  # one of LEVELS
    source: str = ""  # "Ubuntu", "Debian", "CVSS_V3", "GHSA", ...
    score: float | None = None  # CVSS base score, when a vector was given
    vector: str = ""


def from_cvss(kind: str, vector: str) -> Severity | None:
    try:
        if kind == "CVSS_V4":
            parsed = CVSS4(vector)
            score, word = float(parsed.base_score), str(parsed.severity)
        elif kind == "CVSS_V3":
            parsed3 = CVSS3(vector)
            score, word = float(parsed3.scores()[0]), str(parsed3.severities()[0])
        elif kind == "CVSS_V2":
            parsed2 = CVSS2(vector.removeprefix("CVSS:2.0/"))
            score, word = float(parsed2.scores()[0]), str(parsed2.severities()[0])
        else:
            return None
    except Exception:  # cvss raises its own error types for a malformed vector: treat it as absent
        return None
    level = word.upper() if word.upper() in LEVELS else ("LOW" if score == 0 else "UNKNOWN")
    return Severity(level, kind, score, vector)


def _best_cvss(entries: Iterable[Any]) -> Severity | None:
    by_kind = {e.get("type"): e.get("score") for e in entries if isinstance(e, dict)}
    for kind in ("CVSS_V4", "CVSS_V3", "CVSS_V2"):
        if isinstance(by_kind.get(kind), str) and (found := from_cvss(kind, by_kind[kind])):
            return found
    return None


def distro_word(record: dict[str, Any], affected: dict[str, Any]) -> tuple[str, str] | None:
    """(source, word) of the distribution's own rating: Ubuntu priority or Debian urgency."""
    for entry in [*(affected.get("severity") or ()), *(record.get("severity") or ())]:
        if isinstance(entry, dict) and entry.get("type") == "Ubuntu" and isinstance(entry.get("score"), str):
            return "Ubuntu", entry["score"].lower()
    specific = affected.get("ecosystem_specific") or {}
    if isinstance(specific, dict):
        if isinstance(specific.get("ubuntu_priority"), str):
            return "Ubuntu", specific["ubuntu_priority"].lower()
        if isinstance(specific.get("urgency"), str):
            return "Debian", specific["urgency"].lower().rstrip("*")
    return None


def unimportant(record: dict[str, Any], affected: dict[str, Any]) -> bool:
    """Debian's `unimportant` and Ubuntu's `negligible`: the distribution says it needs no fix."""
    word = distro_word(record, affected)
    return word in (("Debian", "unimportant"), ("Ubuntu", "negligible"))


def of_record(
    record: dict[str, Any], affected: dict[str, Any], lookup: Callable[[str], dict[str, Any] | None] | None = None
) -> Severity:
    cvss = _best_cvss(affected.get("severity") or ()) or _best_cvss(record.get("severity") or ())
    word = distro_word(record, affected)
    if word and word[1] in _WORDS:
        level = _WORDS[word[1]]
        return Severity(level, word[0], cvss.score if cvss else None, cvss.vector if cvss else "")
    if cvss:
        return cvss
    database = record.get("database_specific") or {}
    if isinstance(database, dict) and isinstance(database.get("severity"), str):
        level = _WORDS.get(database["severity"].lower())
        if level:
            return Severity(level, record.get("id", "").split("-", 1)[0] or "database")
    for upstream in record.get("upstream") or () if lookup else ():
        other = lookup(upstream) if isinstance(upstream, str) else None
        if other:
            # the upstream record's entry for the same package carries the distribution's urgency
            same = [a for a in other.get("affected") or () if _package(a) == _package(affected)]
            found = _best_cvss(other.get("severity") or ())
            word = distro_word(other, same[0] if same else {})
            if word and word[1] in _WORDS:
                return Severity(_WORDS[word[1]], word[0], found.score if found else None, found.vector if found else "")
            if found:
                return found
    return Severity()


def _package(affected: Any) -> tuple[Any, Any] | None:
    package = affected.get("package") if isinstance(affected, dict) else None
    return (package.get("ecosystem"), package.get("name")) if isinstance(package, dict) else None


def highest(severities: Iterable[Severity]) -> Severity:
    return max(severities, key=lambda s: (rank(s.level), s.score or 0.0), default=Severity())
