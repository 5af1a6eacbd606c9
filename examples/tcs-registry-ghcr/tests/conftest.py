"""The ghcr.io and api.github.com facades of tcs_registry_ghcr.testing, over the kit's registry."""

from __future__ import annotations

import pytest
from tcs_registry_ghcr.testing import ghcr, ghcr_seeded  # noqa: F401 - fixtures

from tcs_registry.testing.datasets import Expected


@pytest.fixture
def ghcr_expected(ghcr_seeded) -> list[Expected]:  # noqa: F811 - the imported fixture
    return ghcr_seeded.expected
