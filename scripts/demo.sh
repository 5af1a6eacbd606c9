#!/usr/bin/env bash
# Set up (scripts/setup.sh), start a demo registry on loopback with a few real images, and run
# tcs-registry against it. Reports go to ./demo-output.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m tcs_registry.testing.demo --osv tests/fixtures/osv --pkgdb tests/fixtures/pkgdb "$@"
