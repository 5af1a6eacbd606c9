#!/usr/bin/env bash
# Build what the last steps of scripts/test.sh install from: every wheel, proven (scripts/build-dists.sh),
# each plugin's own environment from them (scripts/test-plugins-alone.sh install), and the container image,
# which scans itself (scripts/build-image.sh, as root: sudo when not). scripts/test.sh runs this beside the
# core's timing tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build-dists.sh
export TCS_DISTS_FRESH=1
bash scripts/test-plugins-alone.sh install
echo "== the container image"
if [ "$(id -u)" = 0 ]; then bash scripts/build-image.sh; else sudo -E bash scripts/build-image.sh; fi
