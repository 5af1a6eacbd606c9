#!/usr/bin/env bash
# Set up (scripts/setup.sh, plus Debian's skopeo for the comparison loop), then run the whole-registry
# benchmarks: benchmarks/registry_scale.py (arguments are passed on; --help lists them). Prints the
# table and the targets, and writes benchmark-results.json. Takes a few minutes; run it on an idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if ! command -v skopeo >/dev/null; then
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends skopeo >/dev/null
fi
exec .venv/bin/python benchmarks/registry_scale.py "$@"
