#!/usr/bin/env bash
# Each plugin in its own fresh virtual environment with only the core and its test kit
# (tcs-registry[testing]): it must install, be listed by `tcs-registry plugins`, and pass its own tests.
# The third-party example (examples/tcs-registry-ghcr) is checked the same way: the kit is all it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
root="${TMPDIR:-/tmp}/tcs-registry-plugin-venvs"
for plugin in plugins/*/ examples/tcs-registry-ghcr/; do
    plugin="${plugin%/}"
    name="$(python3 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["project"]["name"])' \
        "$plugin/pyproject.toml")"
    venv="$root/$name"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check '.[testing]' "./$plugin[test]" \
        2> >(grep -v -e '^WARNING: Location' -e 'does not provide the extra' >&2)
    echo "== $name, alone with the core"
    "$venv/bin/tcs-registry" plugins --json | "$venv/bin/python" -c "
import json, sys
names = sorted(p['name'] for p in json.load(sys.stdin))
assert names == ['$name', 'tcs_registry.default_plugins.scanner', 'tcs_registry.default_plugins.v2'], names
print('listed:', names)"
    "$venv/bin/python" -m pytest -q -p no:cacheprovider "$plugin/tests"
done
