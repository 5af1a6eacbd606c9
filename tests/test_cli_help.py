"""Every command's --help shows an example, and shell completion (click's) knows commands and options."""

from __future__ import annotations

import os
import subprocess

import pytest

from tcs_registry.testing.helpers import console_script


@pytest.mark.parametrize("command", [[], ["registry"], ["results"], ["plugins"]])
def test_every_command_has_examples_in_its_help(tcs, command):
    result = tcs(*command, "--help")
    assert result.code == 0
    examples = result.out.split("Examples:\n", 1)[1].splitlines()
    assert examples[0].strip().startswith("tcs-registry ")


def _complete(words: str) -> list[str]:
    env = {**os.environ, "_TCS_REGISTRY_COMPLETE": "bash_complete", "COMP_WORDS": words}
    env["COMP_CWORD"] = str(len(words.split()) - (0 if words.endswith(" ") else 1))
    done = subprocess.run([console_script()], env=env, capture_output=True, text=True, check=True)
    return [line.split(",", 1)[1] for line in done.stdout.splitlines()]


def test_shell_completion_knows_commands_and_options():
    assert _complete("tcs-registry re") == ["registry", "rematch", "results"]
    assert "--platform" in _complete("tcs-registry registry localhost:5000 --p")
    assert _complete("tcs-registry results --format ") == ["table", "json", "sarif", "cyclonedx"]


def test_shell_completion_offers_the_values_of_the_registry_options():
    scan = "tcs-registry registry localhost:5000"
    assert _complete(f"{scan} --mode ") == ["scan", "dry-run"]
    assert _complete(f"{scan} --fail-on h") == ["high"]
    assert _complete(f"{scan} --format table,") == ["table,json", "table,sarif", "table,cyclonedx"]
    assert _complete(f"{scan} --format table,cy") == ["table,cyclonedx"]
    types = _complete(f"{scan} --registry-type ")
    assert {"DEFAULT_V2", "HARBOR", "QUAY", "ECR", "ACR"} <= set(types), types  # the installed plugins'
