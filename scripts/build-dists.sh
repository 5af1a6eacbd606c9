#!/usr/bin/env bash
# Build the wheel and sdist of every distribution (the core, plugins/*, examples/*) into dist/, then
# prove them: a fresh virtual environment gets `tcs-registry[all]` from those wheels and must list
# every plugin of this release.
set -euo pipefail
cd "$(dirname "$0")/.."
python=.venv/bin/python
"$python" -m pip install -q --disable-pip-version-check build "setuptools>=77" 2>&1 | grep -v '^WARNING: Location' || true
rm -rf dist
for project in . plugins/*/ examples/*/; do
    "$python" -m build --no-isolation --outdir dist "$project" >/dev/null
done
ls dist

venv="${TMPDIR:-/tmp}/tcs-registry-dist-venv"
rm -rf "$venv"
python3 -m venv "$venv"
version="$("$python" -c 'import tcs_registry; print(tcs_registry.__version__)')"
"$venv/bin/python" -m pip install -q --disable-pip-version-check --find-links dist "tcs-registry[all]==$version" \
    2>&1 | grep -v '^WARNING: Location' || true
"$venv/bin/tcs-registry" plugins --json | "$venv/bin/python" -c "
import json, sys
names = sorted(p['name'] for p in json.load(sys.stdin))
want = sorted(['tcs-registry-' + n for n in 'acr artifactory dockerhub ecr harbor nexus quay'.split()]
              + ['tcs_registry.default_plugins.scanner', 'tcs_registry.default_plugins.v2'])
assert names == want, names
print('tcs-registry[all] from the wheels lists:', ', '.join(names))"
