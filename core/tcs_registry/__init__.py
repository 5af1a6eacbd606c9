"""tcs-registry: scan whole container registries. The names here are the public API for plugins, each
imported when first asked for (the command line's --help and shell completion need none of them)."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .errors import AuthError, ImageError, QuotaExhausted, RegistryError, TcsError, TokenRefused, UsageError
    from .hookspecs import hookimpl
    from .http import RegistryClient
    from .models import (
        Confidence,
        Credentials,
        ImageDescription,
        Platform,
        Probe,
        ProbeResponse,
        Registry,
        RegistryMatch,
        RegistryType,
        ScanResult,
    )
    from .vendor import VendorPlugin, log_in

__version__ = "0.1.0"

_MODULES = {
    "errors": ("AuthError", "ImageError", "QuotaExhausted", "RegistryError", "TcsError", "TokenRefused", "UsageError"),
    "hookspecs": ("hookimpl",),
    "http": ("RegistryClient",),
    "models": (
        "Confidence",
        "Credentials",
        "ImageDescription",
        "Platform",
        "Probe",
        "ProbeResponse",
        "Registry",
        "RegistryMatch",
        "RegistryType",
        "ScanResult",
    ),
    "vendor": ("VendorPlugin", "log_in"),
}
_WHERE = {name: module for module, names in _MODULES.items() for name in names}

__all__ = [  # (as the imports above, for type checkers and linters)
    "AuthError",
    "Confidence",
    "Credentials",
    "ImageDescription",
    "ImageError",
    "Platform",
    "Probe",
    "ProbeResponse",
    "QuotaExhausted",
    "Registry",
    "RegistryClient",
    "RegistryError",
    "RegistryMatch",
    "RegistryType",
    "ScanResult",
    "TcsError",
    "TokenRefused",
    "UsageError",
    "VendorPlugin",
    "__version__",
    "hookimpl",
    "log_in",
]


def __getattr__(name: str) -> Any:
    """A public name, or a module of the package (`tcs_registry.logs.redact` after `import tcs_registry`,
    as plugins were told), imported now."""
    if name in _WHERE:
        value = getattr(import_module(f".{_WHERE[name]}", __name__), name)
    else:
        try:
            value = import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})
