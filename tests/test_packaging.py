"""Every distribution of a release carries one version, and `tcs-registry[all]` names every plugin at it."""

from __future__ import annotations

import tomllib
from pathlib import Path

import tcs_registry

ROOT = Path(__file__).parents[1]


def _project(path: Path) -> dict:
    return tomllib.loads(path.read_text())["project"]


def test_plugins_and_examples_share_the_core_version():
    pyprojects = sorted([*ROOT.glob("plugins/*/pyproject.toml"), *ROOT.glob("examples/*/pyproject.toml")])
    assert len(pyprojects) == 9
    versions = {p.parent.name: _project(p)["version"] for p in pyprojects}
    assert set(versions.values()) == {tcs_registry.__version__}, versions
    for path in pyprojects:
        assert "tcs-registry>=0.1,<1" in _project(path)["dependencies"], path


def test_the_all_extra_installs_every_plugin_of_this_release():
    core = _project(ROOT / "pyproject.toml")
    plugins = sorted(_project(p)["name"] for p in ROOT.glob("plugins/*/pyproject.toml"))
    assert core["optional-dependencies"]["all"] == [f"{name}=={tcs_registry.__version__}" for name in plugins]


def test_every_distribution_registers_its_plugin_under_its_own_name():
    for path in [*ROOT.glob("plugins/*/pyproject.toml"), *ROOT.glob("examples/*/pyproject.toml")]:
        project = _project(path)
        assert list(project["entry-points"]["tcs_registry"]) == [project["name"]], path
