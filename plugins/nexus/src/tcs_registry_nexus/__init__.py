"""Sonatype Nexus Repository 3 support for tcs-registry."""

__version__ = "0.1.0"
