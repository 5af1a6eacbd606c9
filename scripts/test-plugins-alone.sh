#!/usr/bin/env bash
# Each plugin in its own fresh virtual environment with only the core: it must install, be listed
# by `tcs-registry plugins`, and pass its own tests (which run dry runs against its facade).
set -euo pipefail
cd "$(dirname "$0")/.."
root="${TMPDIR:-/tmp}/tcs-registry-plugin-venvs"
for pyproject in plugins/*/pyproject.toml; do
    [ -e "$pyproject" ] || continue
    plugin="$(dirname "$pyproject")"
    name="$(basename "$plugin")"
    venv="$root/$name"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check '.[test]' "./$plugin[test]" 2>&1 | grep -v '^WARNING: Location' || true
    echo "== $name, alone with the core"
    "$venv/bin/tcs-registry" plugins --json | "$venv/bin/python" -c "
import json, sys
names = sorted(p['name'] for p in json.load(sys.stdin))
assert names == ['tcs-registry-$name', 'tcs_registry.default_plugins.scanner', 'tcs_registry.default_plugins.v2'], names
print('listed:', names)"
    "$venv/bin/python" -m pytest -q -p no:cacheprovider "$plugin/tests"
done
