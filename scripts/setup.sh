#!/usr/bin/env bash
# Set up a fresh Debian machine for tcs-registry: the CNCF registry (for tests and the demo), PostgreSQL
# (for the store's tests), Chromium (for the console's), a virtual environment in .venv with the core,
# every plugin in plugins/, and the test dependencies, the cached test image of a real Debian root
# (scripts/build-debian-image.sh) and Debian 11's Go 1.15 (scripts/fetch-go1.15.sh).
# Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
missing=()
command -v docker-registry >/dev/null || missing+=(docker-registry)
command -v go >/dev/null || missing+=(golang-go)  # builds a Go binary for the Go build-info tests
command -v curl >/dev/null || missing+=(curl)  # fetches Go 1.15 (scripts/fetch-go1.15.sh)
# the version orders are checked against each ecosystem's own comparator: Maven's (its maven-artifact jar),
# Composer's (PHP's version_compare and composer/semver), dpkg's, rpm's (python3-rpm, for Debian's own
# python3), RubyGems' (ruby), npm's (node-semver), Go's (golang.org/x/mod/semver), and apk-tools' own table
# of comparisons (as the Go port Trivy uses ships it)
[ -e /usr/share/maven/lib/maven-artifact-3.x.jar ] || missing+=(maven)
command -v php >/dev/null || missing+=(php-cli)
[ -e /usr/share/php/Composer/Semver/VersionParser.php ] || missing+=(php-composer-semver)
/usr/bin/python3 -c "import rpm" 2>/dev/null || missing+=(python3-rpm)
command -v rpmbuild >/dev/null || missing+=(rpm)  # writes a real rpm database holding a vendor's package
[ -e /usr/share/gocode/src/github.com/knqyf263/go-apk-version/version_testcase.go ] ||
    missing+=(golang-github-knqyf263-go-apk-version-dev)
command -v ruby >/dev/null || missing+=(ruby)
[ -e /usr/share/nodejs/semver/package.json ] || missing+=(node-semver)
[ -e /usr/share/gocode/src/golang.org/x/mod/semver/semver.go ] || missing+=(golang-golang-x-mod-dev)
# the store's tests start a throwaway PostgreSQL cluster (initdb, pg_ctl)
compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null || missing+=(postgresql)
python3 -c "import venv, ensurepip" 2>/dev/null || missing+=(python3-venv)
# the console's pages are tested in a real browser: Debian's Chromium and its WebDriver
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
if [ ${#missing[@]} -gt 0 ]; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
pip=(.venv/bin/python -m pip install -q --disable-pip-version-check)
editable=(-e '.[test]')
for plugin in plugins/*/pyproject.toml examples/*/pyproject.toml; do
    extra=""  # its test dependencies, if it declares any (pip warns of an extra that is not there)
    grep -q '^test = ' "$plugin" && extra="[test]"
    [ -e "$plugin" ] && editable+=(-e "$(dirname "$plugin")$extra")
done
# one resolution for them all (vault-auth needs ghcr: both are here), by uv: the same set as pip's, in 36 s
# against pip's 113 s on a fresh clone here; by pip if uv cannot be had or fails
if "${pip[@]}" uv && .venv/bin/uv pip install -q --compile-bytecode --python .venv/bin/python \
    ${PIP_FIND_LINKS:+--find-links "$PIP_FIND_LINKS"} "${editable[@]}"; then
    :
else
    "${pip[@]}" "${editable[@]}"
fi
# byte-compiled once (uv's --compile-bytecode above, and the checkout's own sources here): where
# PYTHONDONTWRITEBYTECODE is set, as on some CI machines, every process the tests start compiled them again
.venv/bin/python -m compileall -q core plugins examples >/dev/null
bash scripts/build-debian-image.sh
bash scripts/fetch-go1.15.sh
true
