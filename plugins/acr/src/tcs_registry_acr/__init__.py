"""Azure Container Registry support for tcs-registry."""

__version__ = "0.1.0"
