"""Log lines in the seed's format: ``2023-08-15T13:01:57.950+0200<TAB>info<TAB>message key=value``, or
one JSON object a line (``--log-format json``) for log collectors."""

from __future__ import annotations

import json
import logging
import math
import re
import sys
from contextlib import suppress
from datetime import datetime
from typing import Any, TextIO

from .redaction import hide
from .redaction import redact as redact  # tcs_registry.logs.redact: where plugins are told to find it
from .terminal import safe

LOGGER = "tcs_registry"  # plugins log under "tcs_registry.<name>" to share the format and level
_LEVELS = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warn", logging.ERROR: "error"}


FORMATS = ("tab", "json")
# a field in a message template: a word of it " image=%s/%s:%s" (the seed's key=value), its value what
# the word's conversions make of their arguments (spaces, '=' and all)
_SPEC = re.compile(r"%(?:\(\w+\))?[-#0 +]*(?:\d+|\*)?(?:\.\d+)?[diouxXeEfFgGcrsa%]")
_FIELD = re.compile(r"(\w+)=(.*)", re.DOTALL)
# a field that is one numeric conversion and nothing else: a number in JSON, in every line alike (a
# field of %s stays text whatever its value, so that a collector's field has one type)
_NUMBER = re.compile(r"%[-#0 +]*(?:\d+)?(?:\.\d+)?[diufFeEgG]")


def fields(record: logging.LogRecord) -> tuple[str, dict[str, str | int | float]]:
    """(the message without its key=value fields, the fields), read off the record's template word by
    word: a word ``key=...`` with a conversion in it is a field, every other word the message's. A field
    that is one numeric conversion and nothing else (``found=%d``, ``took=%.1f``) is a number, the rest text."""
    template, args = str(record.msg), record.args
    if not args or not isinstance(args, tuple):
        return record.getMessage(), {}
    message: list[str] = []
    found: dict[str, str | int | float] = {}
    index, after_field = 0, False
    try:
        for position, word in enumerate(re.split(r"(\s+)", template)):
            if position % 2:  # the space between two words: not the one after a field that begins it
                if not (after_field and not message):
                    message.append(word)
                after_field = False
                continue
            taken = sum(1 for spec in _SPEC.finditer(word) if spec.group() != "%%")
            field = _FIELD.fullmatch(word)
            if field and taken:
                value = field.group(2) % tuple(args[index : index + taken])
                found[field.group(1)] = _number(value) if _NUMBER.fullmatch(field.group(2)) else value
                if message:  # the space before the field goes with it
                    message.pop()
                after_field = True
            else:
                message.append(word % tuple(args[index : index + taken]) if taken else word.replace("%%", "%"))
                after_field = False
            index += taken
        if index != len(args):
            raise TypeError("not all arguments converted")
    except (TypeError, ValueError, KeyError):
        return record.getMessage(), {}
    return "".join(message), found


def _number(text: str) -> str | int | float:
    """A number field's text as a number (as formatted: ``%.1f`` of 99.54 is 99.5)."""
    for kind in (int, float):
        with suppress(ValueError):
            number = kind(text)
            return number if math.isfinite(number) else text  # (JSON has no NaN nor infinity)
    return text


class SeedFormatter(logging.Formatter):
    """Formats records as the seed does and blanks out every secret (``redaction``), wherever it appears."""

    def stamp(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created).astimezone()
        return f"{when:%Y-%m-%dT%H:%M:%S}.{int(record.msecs):03d}{when:%z}"  # the seed's: +0200

    @staticmethod
    def level(record: logging.LogRecord) -> str:
        return _LEVELS.get(record.levelno, record.levelname.lower())

    def trace(self, record: logging.LogRecord) -> str:
        if record.exc_info and logging.getLogger(LOGGER).isEnabledFor(logging.DEBUG):
            return self.formatException(record.exc_info)
        return ""

    def format(self, record: logging.LogRecord) -> str:
        stamp, level = self.stamp(record), self.level(record)
        trace = "\n".join(safe(hide(line)) for line in self.trace(record).splitlines())
        message = safe(hide(record.getMessage())).replace("\t", "\\t")  # three columns, whatever it holds
        return f"{stamp}\t{level}\t{message}" + (f"\n{trace}" if trace else "")


class JsonFormatter(SeedFormatter):
    """One JSON object a line: time, level, message and the seed's key=value fields apart."""

    def stamp(self, record: logging.LogRecord) -> str:
        return datetime.fromtimestamp(record.created).astimezone().isoformat(timespec="milliseconds")  # RFC 3339

    def format(self, record: logging.LogRecord) -> str:
        message, found = fields(record)
        line: dict[str, Any] = {"time": self.stamp(record), "level": self.level(record), "message": safe(hide(message))}
        line["fields"] = {key: safe(hide(value)) if isinstance(value, str) else value for key, value in found.items()}
        if trace := self.trace(record):
            line["traceback"] = "\n".join(safe(hide(text)) for text in trace.splitlines())
        return json.dumps(line, ensure_ascii=False)


OTHERS = "tcs_registry.others"  # the root logger's handler of ours, for the libraries' records
_formatter = SeedFormatter()
_json = JsonFormatter()


def setup(verbosity: int = 0, log_format: str = "tab") -> None:
    """verbosity: -1 quiet (warnings and errors), 0 info, 1+ debug. Logs go to standard error, in the
    seed's tab format or as JSON lines."""
    logger = logging.getLogger(LOGGER)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_json if log_format == "json" else _formatter)
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.WARNING if verbosity < 0 else logging.DEBUG if verbosity > 0 else logging.INFO)
    # Libraries' own records (azure-identity's warning for each credential it tried, urllib3's) would reach
    # standard error raw, through logging's last resort: not JSON, not starred out. In our format, their
    # warnings with -v only (our own line says what failed) and their errors always.
    # (A program that runs the command in its own process and set the root logger up keeps it as it is.)
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == OTHERS]:
        root.removeHandler(handler)
    if root.handlers:
        return
    others = StandardError()
    others.set_name(OTHERS)
    others.setFormatter(_json if log_format == "json" else _formatter)
    least = logging.WARNING if verbosity > 0 else logging.ERROR  # (a filter: the live line's handler keeps it)
    others.addFilter(lambda record: record.levelno >= least)
    root.addHandler(others)


class StandardError(logging.StreamHandler):  # type: ignore[type-arg]
    """Standard error as it is when a line is written (a handler that outlives one run in a process, the
    root logger's, must not keep a stream that was closed or replaced since)."""

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def json_lines() -> bool:
    """The log lines are JSON objects (a collector reads them): nothing else may be written among them."""
    return any(handler.formatter is _json for handler in logging.getLogger(LOGGER).handlers)
