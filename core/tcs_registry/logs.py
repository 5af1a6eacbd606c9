"""Log lines in the seed's format: ``2023-08-15T13:01:57.950+0200<TAB>info<TAB>message key=value``."""

from __future__ import annotations

import logging
import sys
from datetime import datetime

LOGGER = "tcs_registry"  # plugins log under "tcs_registry.<name>" to share the format and level
_LEVELS = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warn", logging.ERROR: "error"}


class SeedFormatter(logging.Formatter):
    """Formats records as the seed does and blanks out every registered secret, wherever it appears."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created).astimezone()
        stamp = f"{when:%Y-%m-%dT%H:%M:%S}.{int(record.msecs):03d}{when:%z}"
        level = _LEVELS.get(record.levelno, record.levelname.lower())
        message = record.getMessage()
        if record.exc_info and logging.getLogger(LOGGER).isEnabledFor(logging.DEBUG):
            message += "\n" + self.formatException(record.exc_info)
        for secret in self.secrets:
            message = message.replace(secret, "***")
        return f"{stamp}\t{level}\t{message}"


_formatter = SeedFormatter()


def setup(verbosity: int = 0) -> None:
    """verbosity: -1 quiet (warnings and errors), 0 info, 1+ debug. Logs go to standard error."""
    logger = logging.getLogger(LOGGER)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_formatter)
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.WARNING if verbosity < 0 else logging.DEBUG if verbosity > 0 else logging.INFO)


def redact(*secrets: str | None) -> None:
    """Never show these strings in a log line (passwords, tokens)."""
    _formatter.secrets.update(s for s in secrets if s and len(s) >= 3)
