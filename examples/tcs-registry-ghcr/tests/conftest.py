"""Fixtures: the ghcr.io and api.github.com facades of tcs_registry_ghcr.testing over the kit's registry."""

from __future__ import annotations

import pytest
from tcs_registry_ghcr.testing import GhcrFacade, GitHubApiFacade, seed_ghcr

from tcs_registry.testing.datasets import Expected
from tcs_registry.testing.facade import StoredRegistry
from tcs_registry.testing.fixtures import seed
from tcs_registry.testing.registry import RegistryServer


@pytest.fixture(scope="session")
def ghcr_seeded(work):
    return seed(work, "ghcr", seed_ghcr)


@pytest.fixture
def ghcr(ghcr_seeded, work, monkeypatch):
    """(registry facade, API facade), with TCS_GHCR_API_URL pointing at the API facade."""
    with (
        RegistryServer(ghcr_seeded.storage, work) as registry,
        GitHubApiFacade(registry.url, StoredRegistry(ghcr_seeded.storage)) as api,
        GhcrFacade(registry.url) as facade,
    ):
        monkeypatch.setenv("TCS_GHCR_API_URL", api.url)
        yield facade, api


@pytest.fixture
def ghcr_expected(ghcr_seeded) -> list[Expected]:
    return ghcr_seeded.expected
