#!/usr/bin/env bash
# Set up (scripts/setup.sh), lint, run the core's test suite; while its timing tests run, build every
# distribution and install tcs-registry[all] from the wheels, each plugin's environment from them, and the
# container image (buildah), which scans itself (scripts/build-all.sh); then test each plugin alone with
# the core.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check --no-cache .
.venv/bin/ruff format --check --no-cache .
if [ $# -gt 0 ]; then
    exec .venv/bin/pytest "$@"
fi
phase() { echo "== $1 ($(( SECONDS / 60 )) min $(( SECONDS % 60 )) s in)"; }
# the core's tests: those that time themselves alone on a quiet machine, the rest first, a worker a core
# and one more (a test waiting on its servers leaves its core idle; at most 4); each plugin's tests (and
# the example plugin's) run once, below, installed from the wheels as a user installs them
status=0
phase "the core's tests"
workers=$(( $(nproc) + 1 < 4 ? $(nproc) + 1 : 4 ))
.venv/bin/pytest tests -m "not timing" -n "$workers" --dist loadfile --durations=10 || status=$?
# beside the timing tests, which leave a core idle most of the time: the wheels, each plugin's environment
# and the container image (scripts/build-all.sh), at idle CPU priority (and idle disk priority where the
# disk's I/O scheduler has classes), in a process group of their own that ends with this script
idle=()
command -v chrt >/dev/null && idle+=(chrt --idle 0)
command -v ionice >/dev/null && idle+=(ionice -c 3)
[ "$(id -u)" = 0 ] || sudo -v  # the image is built as root: sudo asks now, not in the background
beside="$(mktemp)"
setsid --wait "${idle[@]}" bash scripts/build-all.sh >"$beside" 2>&1 &
builder=$!
trap 'kill -- -"$builder" 2>/dev/null || true; rm -f "$beside"' EXIT
phase "the core's timing tests, alone (the distributions, the plugins' environments and the image built beside)"
.venv/bin/pytest tests -m timing --durations=10 || status=$?
built=0
wait "$builder" || built=$?
phase "the distributions, the plugins' environments and the container image, built beside the timing tests"
cat "$beside"
[ "$status" = 0 ] || exit "$status"
[ "$built" = 0 ] || exit "$built"
phase "each plugin alone with the core"
TCS_DISTS_FRESH=1 bash scripts/test-plugins-alone.sh check
phase "done"
