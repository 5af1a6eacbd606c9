"""Every test of this repository (core, plugins, examples) runs isolated from the user's environment."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated(isolated):
    return isolated
