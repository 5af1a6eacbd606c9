"""tcs-registry: scan whole container registries. The names here are the public API for plugins."""

from .errors import AuthError, ImageError, QuotaExhausted, RegistryError, TcsError, UsageError
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

__all__ = [
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
    "UsageError",
    "VendorPlugin",
    "__version__",
    "hookimpl",
    "log_in",
]
