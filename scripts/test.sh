#!/usr/bin/env bash
# Set up (scripts/setup.sh), lint, run the whole test suite, then build every distribution and install
# tcs-registry[all] from the wheels, then test each plugin alone with the core (from those wheels), then
# build the container image with buildah and let it scan itself.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check --no-cache .
.venv/bin/ruff format --check --no-cache .
if [ $# -gt 0 ]; then
    exec .venv/bin/pytest "$@"
fi
phase() { echo "== $1 ($(( SECONDS / 60 )) min $(( SECONDS % 60 )) s in)"; }
# the core's tests: those that time themselves alone on a quiet machine, the rest first, one worker a core
# (at most 4); each plugin's tests (and the example plugin's) run once, below, installed from the wheels
# as a user installs them
status=0
phase "the core's tests"
.venv/bin/pytest tests -m "not timing" -n "$(( $(nproc) < 4 ? $(nproc) : 4 ))" --dist loadfile --durations=10 || status=$?
phase "the core's timing tests, alone"
.venv/bin/pytest tests -m timing --durations=10 || status=$?
[ "$status" = 0 ] || exit "$status"
phase "the distributions"
bash scripts/build-dists.sh  # every wheel, proven; the two steps after it install from them
export TCS_DISTS_FRESH=1
phase "each plugin alone with the core"
bash scripts/test-plugins-alone.sh
phase "the container image"
# debootstrap and buildah need root
if [ "$(id -u)" = 0 ]; then bash scripts/build-image.sh; else sudo -E bash scripts/build-image.sh; fi
phase "done"
