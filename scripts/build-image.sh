#!/usr/bin/env bash
# Build the container image from the top-level Dockerfile with Debian's buildah, offline from any image
# registry: the base is a Debian 12 root made with debootstrap (python3 included; cached in
# $TCS_TEST_CACHE), the tool comes from the wheels of scripts/build-dists.sh. Then push the image to a
# local CNCF registry and let the image's own tcs-registry, as its non-root user, scan that registry
# (itself included). Needs root, as debootstrap does.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
missing=()
command -v buildah >/dev/null || missing+=(buildah)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
export STORAGE_DRIVER=vfs BUILDAH_ISOLATION=chroot  # no overlay or user namespaces needed
version="$(.venv/bin/python -c 'import tcs_registry; print(tcs_registry.__version__)')"

cache="${TCS_TEST_CACHE:-$HOME/.cache/tcs-registry-tests}/debian-bookworm-python-v1"
if [ ! -f "$cache/.complete" ]; then
    work="$(mktemp -d)"
    echo "Building a Debian 12 root with python3 (debootstrap, about a minute)..."
    $SUDO debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$work/root" \
        "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$work/log" 2>&1 || { tail -20 "$work/log"; exit 1; }
    mkdir -p "$cache"
    $SUDO tar --numeric-owner -C "$work/root" -cf "$cache/root.tar" .
    $SUDO rm -rf "$work"
    touch "$cache/.complete"
fi
[ -n "$(ls dist/tcs_registry-"$version"-*.whl 2>/dev/null)" ] || bash scripts/build-dists.sh

base="localhost/tcs-registry-base:bookworm"
if ! $SUDO buildah inspect --type image "$base" >/dev/null 2>&1; then
    ctr="$($SUDO buildah from scratch)"
    $SUDO buildah add "$ctr" "$cache/root.tar" / >/dev/null
    $SUDO buildah commit --quiet "$ctr" "$base" >/dev/null
    $SUDO buildah rm "$ctr" >/dev/null
fi
image="localhost/tcs-registry:$version"
echo "Building $image from the Dockerfile..."
options=(--pull=never --build-arg "BASE=$base" --build-arg "VERSION=$version")
if [ -n "${PIP_CERT:-}" ]; then  # behind a TLS-intercepting proxy: its CA for pip, for this build only
    options+=(--build-arg "PIP_CERT=/tmp/pip-ca.crt" --volume "$PIP_CERT:/tmp/pip-ca.crt:ro")
fi
$SUDO buildah build --quiet "${options[@]}" -t "$image" . >/dev/null

exec .venv/bin/python -m tcs_registry.testing.image_check "$image"
