#!/usr/bin/env bash
# Each plugin in its own fresh virtual environment with only the core and its test kit
# (tcs-registry[testing]), both from the wheels in dist/: it must install, be listed by
# `tcs-registry plugins`, and pass its own tests. The third-party example (examples/tcs-registry-ghcr)
# is checked the same way: the kit is all it needs. The wheels are built first (scripts/build-dists.sh)
# unless TCS_DISTS_FRESH=1 says dist/ was just built from this checkout. `install` only makes the
# environments, `check` only tests those made (scripts/test.sh makes them while the core's timing tests run).
set -euo pipefail
step="${1:-both}"
cd "$(dirname "$0")/.."
[ "${TCS_DISTS_FRESH:-}" = 1 ] || [ "$step" = check ] || bash scripts/build-dists.sh >/dev/null
export version root
version="$(.venv/bin/python -c 'import tcs_registry; print(tcs_registry.__version__)')"
root="${TMPDIR:-/tmp}/tcs-registry-plugin-venvs"
name_of() {
    python3 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["project"]["name"])' "$1/pyproject.toml"
}
install() {  # a fresh venv for one plugin, filled by the checkout's uv (or pip): it needs no pip of its own
    local name venv wheels
    name="$(name_of "$1")"
    venv="$root/$name"
    rm -rf "$venv"
    python3 -m venv --without-pip "$venv"
    # the wheels by file (no name of ours looked up on an index), the libraries from the index
    wheels=("dist/tcs_registry-$version-py3-none-any.whl[testing]" "dist/${name//-/_}-$version-py3-none-any.whl[test]")
    if [ -x .venv/bin/uv ]; then
        .venv/bin/uv pip install -q --compile-bytecode --python "$venv/bin/python" \
            ${PIP_FIND_LINKS:+--find-links "$PIP_FIND_LINKS"} \
            "${wheels[@]}" 2> >(grep -v 'does not have an extra' >&2)
    else
        .venv/bin/python -m pip --python "$venv/bin/python" install -q --no-compile --disable-pip-version-check \
            "${wheels[@]}" 2> >(grep -v -e '^WARNING: Location' -e 'does not provide the extra' >&2)
    fi
}
export -f name_of install
plugins=(plugins/*/ examples/tcs-registry-ghcr/)
plugins=("${plugins[@]%/}")
if [ "$step" != check ]; then
    printf '%s\n' "${plugins[@]}" | xargs -P 2 -I{} bash -c 'install {}'  # two at a time: pip is CPU-bound
fi
[ "$step" != install ] || exit 0
check() {  # one plugin: listed by `tcs-registry plugins`, then its own tests
    local name venv
    name="$(name_of "$1")"
    venv="$root/$name"
    echo "== $name, alone with the core"
    "$venv/bin/tcs-registry" plugins --json | "$venv/bin/python" -c "
import json, sys
names = sorted(p['name'] for p in json.load(sys.stdin))
assert names == ['$name', 'tcs_registry.default_plugins.scanner', 'tcs_registry.default_plugins.v2'], names
print('listed:', names)"
    "$venv/bin/python" -m pytest -q -p no:cacheprovider "$1/tests"
}
export -f check
# three plugins at a time (their tests wait out Retry-After and servers more than they compute), each
# one's output kept whole and shown in order; any failure fails the script
logs="$(mktemp -d)"
status=0
printf '%s\n' "${plugins[@]}" | xargs -P 3 -I{} bash -c 'set -euo pipefail; check {} > "$0/$(basename {}).log" 2>&1' "$logs" || status=$?
for plugin in "${plugins[@]}"; do cat "$logs/$(basename "$plugin").log"; done
rm -rf "$logs"
exit "$status"
