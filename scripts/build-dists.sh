#!/usr/bin/env bash
# Build the wheel and sdist of every distribution (the core, plugins/*, examples/*) into dist/, then
# prove them: a fresh virtual environment gets tcs-registry[all] — our distributions from these
# wheels only, third-party libraries from the index — and must list every plugin of this release.
set -euo pipefail
cd "$(dirname "$0")/.."
python=.venv/bin/python
quiet_pip() {  # pip without the machine's notes about missing local indexes; its exit status kept
    "$@" 2> >(grep -v '^WARNING: Location' >&2)
}
quiet_pip "$python" -m pip install -q --disable-pip-version-check build "setuptools>=77"
into() {  # pip install into the venv $1, by the checkout's uv where setup installed it (pip's set, faster)
    local venv="$1"
    shift
    if [ -x .venv/bin/uv ]; then
        .venv/bin/uv pip install -q --python "$venv/bin/python" ${PIP_FIND_LINKS:+--find-links "$PIP_FIND_LINKS"} "$@"
    else
        quiet_pip "$venv/bin/python" -m pip install -q --disable-pip-version-check "$@"
    fi
}
rm -rf dist
for project in . plugins/*/ examples/*/; do
    [ -e "$project/pyproject.toml" ] || continue  # examples/kubernetes and the like are no distributions
    "$python" -m build --no-isolation --outdir dist "$project" >/dev/null
done
ls dist

version="$("$python" -c 'import tcs_registry; print(tcs_registry.__version__)')"
venv="${TMPDIR:-/tmp}/tcs-registry-dist-venv"
rm -rf "$venv"
python3 -m venv "$venv"
wheels=(dist/tcs_registry-"$version"-*.whl)
for plugin in plugins/*/; do
    wheels+=(dist/tcs_registry_"$(basename "$plugin")"-"$version"-*.whl)
done
# the wheels by file: no name of ours is ever looked up on an index
into "$venv" "${wheels[@]}"
into "$venv" --no-index --find-links dist "tcs-registry[all]==$version"  # the extra: what is installed
"$venv/bin/tcs-registry" plugins --json | "$venv/bin/python" -c "
import json, sys
names = sorted(p['name'] for p in json.load(sys.stdin))
want = sorted(['tcs-registry-' + n for n in 'acr artifactory dockerhub ecr harbor nexus quay'.split()]
              + ['tcs_registry.default_plugins.scanner', 'tcs_registry.default_plugins.v2'])
assert names == want, names
print('tcs-registry[all] from the wheels lists:', ', '.join(names))"
