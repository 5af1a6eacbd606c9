"""The GHCR example plugin's test servers (tcs_registry_ghcr.testing) over the kit's registry: the vendor
plugin this auth override is tested with."""

from __future__ import annotations

from tcs_registry_ghcr.testing import ghcr, ghcr_seeded  # noqa: F401 - fixtures
