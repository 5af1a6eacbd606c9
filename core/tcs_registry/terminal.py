"""Text that came from a registry or an image, on its way to a terminal: its control characters escaped,
so that a name, an os-release PRETTY_NAME, a violation's detail or an error message cannot move the
cursor, retitle the window, write the clipboard (OSC 52) or forge a log line. The log formatter and every
table go through here."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from tabulate import tabulate

# C0 controls (tab kept), DEL, C1 controls (a lone 0x9b is a CSI on some terminals), and the bidi
# overrides and isolates that reorder what is shown ("Trojan Source"), and lone surrogates (bytes that were
# not UTF-8, which an error handler would write back raw)
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe(text: str) -> str:
    """``text`` with its control characters written as escapes (``\\x1b``), on one line."""
    return _CONTROL.sub(_escaped, text)


def printable(text: str) -> str:
    """``text`` in printable ASCII, every other character escaped as Python writes it (``\\x1b``,
    ``\\u202e``, ``\\\\``), its quotes as they are: for what is kept as well as shown (a stored error, a
    report's cell), where `safe`'s escapes of control characters alone would leave look-alike letters."""
    # (each character alone: ascii() of a text that holds both quotes escapes one of them)
    return "".join(ascii(c)[1:-1] for c in text)


def table(rows: Iterable[Sequence[Any]], headers: Sequence[str], **options: Any) -> str:
    """``tabulate``, each text cell made safe."""
    cells = [[safe(cell) if isinstance(cell, str) else cell for cell in row] for row in rows]
    return tabulate(cells, headers=list(headers), **options)
