"""Every command's --help shows an example, and shell completion (click's) knows commands and options."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tcs_registry.testing.helpers import console_script


@pytest.mark.parametrize("command", [[], ["registry"], ["results"], ["plugins"]])
def test_every_command_has_examples_in_its_help(tcs, command):
    result = tcs(*command, "--help")
    assert result.code == 0
    examples = result.out.split("Examples:\n", 1)[1].splitlines()
    assert examples[0].strip().startswith("tcs-registry ")


@pytest.mark.parametrize("command", [[], ["db"], ["console", "token"]])
def test_a_command_group_alone_shows_its_help(command):
    """`tcs-registry` with nothing more, the first command a user types: the help, not an error line."""
    done = subprocess.run([console_script(), *command], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith(
        f"Usage: tcs-registry {' '.join(command)}".rstrip() + " [OPTIONS] COMMAND [ARGS]...\n"
    )


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


@pytest.mark.parametrize(
    "how",
    [["--help"], ["registry", "--help"], ["db", "status", "--help"], "tcs-registry registry x --format "],
    ids=["help", "registry-help", "db-help", "completion"],
)
def test_help_and_completion_load_neither_the_client_nor_the_store(how):
    """A Tab runs the program: it imports what the options need, not the registry client, the store or
    the scanner (0.7 s a Tab before, 0.1 s since)."""
    words = how if isinstance(how, str) else ""
    args = [] if words else how
    env = {**os.environ, "_TCS_REGISTRY_COMPLETE": "bash_complete", "COMP_WORDS": words} if words else None
    if env is not None:
        env["COMP_CWORD"] = str(len(words.split()))
    shown = (
        "import sys; from tcs_registry.cli import main; code = main(sys.argv[1:]);"
        " print('loaded:', *sorted(m for m in sys.modules"
        " if m.split('.')[0] in ('requests', 'sqlalchemy', 'tcs_registry')))"
    )
    done = subprocess.run([sys.executable, "-c", shown, *args], env=env, capture_output=True, text=True, check=True)
    loaded = done.stdout.rpartition("loaded:")[2].split()
    assert "tcs_registry.cli" in loaded
    assert not {"requests", "sqlalchemy", "tcs_registry.http", "tcs_registry.store"} & set(loaded), loaded
    assert "tcs_registry.discovery" not in loaded and "tcs_registry.analysis" not in loaded


def test_the_public_names_are_each_found_where_they_are_defined():
    import tcs_registry

    assert sorted(tcs_registry.__all__) == sorted([*tcs_registry._WHERE, "__version__"])
    for name in tcs_registry.__all__:
        assert getattr(tcs_registry, name) is not None


def test_the_package_s_modules_are_there_as_before():
    """`import tcs_registry` then `tcs_registry.logs.redact(...)`: what plugins were told to call."""
    done = subprocess.run(
        [sys.executable, "-c", "import tcs_registry; print(tcs_registry.logs.redact, tcs_registry.errors.TcsError)"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with pytest.raises(AttributeError):
        import tcs_registry

        tcs_registry.no_such_thing  # noqa: B018
