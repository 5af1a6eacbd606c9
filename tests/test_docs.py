"""The plugin guide cannot drift: its hook reference is generated from hookspecs.py, and the kit's
fixtures and helpers it names exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tcs_registry import hookdocs
from tcs_registry.testing import fixtures, helpers

GUIDE = Path(__file__).parents[1] / "docs" / "plugins.md"


def test_the_hook_reference_is_the_generated_one():
    text = GUIDE.read_text()
    assert hookdocs.rewrite(text) == text, "run: python -m tcs_registry.hookdocs docs/plugins.md"
    assert [name for name, _ in hookdocs.specs()] == [
        "registry_types",
        "sniff_registry",
        "authenticate",
        "list_repositories",
        "list_tags",
        "describe_image",
        "submit_scan",
    ]


def test_every_fixture_and_helper_the_guide_names_exists():
    text = GUIDE.read_text()
    rows = text[text.index("| fixture |") : text.index("And the building blocks")].splitlines()[2:]
    named = {name for row in rows if row.startswith("|") for name in re.findall(r"`([a-z_]+)`", row.split("|")[1])}
    assert {"fresh_registry", "pusher", "tcs", "basic_registry", "isolated"} <= named
    assert sorted(name for name in named if not hasattr(fixtures, name)) == []
    for name in ("csv_rows", "expected_rows", "report_path", "inventory", "store_rows"):
        assert callable(getattr(helpers, name)), name


@pytest.mark.parametrize("example", ["tcs-registry-ghcr", "tcs-registry-vault-auth"])
def test_the_worked_examples_are_where_the_guide_says(example):
    assert f"examples/{example}" in GUIDE.read_text()
    assert (GUIDE.parents[1] / "examples" / example / "pyproject.toml").is_file()
