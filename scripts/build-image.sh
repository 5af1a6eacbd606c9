#!/usr/bin/env bash
# Build the container image from the top-level Dockerfile with Debian's buildah, offline from any image
# registry: the base is a Debian 12 root made with debootstrap (python3 included; cached in
# $TCS_TEST_CACHE), the tool comes from the wheels that scripts/build-dists.sh builds (and proves) first.
# Then push the image to a local CNCF registry and let the image's own tcs-registry, as its non-root
# user, scan that registry (itself included). Runs as root, as debootstrap and buildah's chroot need.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
    echo "scripts/build-image.sh needs root (debootstrap, buildah): run it with sudo" >&2
    exit 2
fi
missing=()
command -v buildah >/dev/null || missing+=(buildah)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
export STORAGE_DRIVER=vfs BUILDAH_ISOLATION=chroot  # no overlay or user namespaces needed

# fresh wheels: the image never holds older code than the checkout (TCS_DISTS_FRESH=1: dist/ was just built)
[ "${TCS_DISTS_FRESH:-}" = 1 ] || bash scripts/build-dists.sh

cache="${TCS_TEST_CACHE:-$HOME/.cache/tcs-registry-tests}/debian-bookworm-python-v1"
if [ ! -f "$cache/.complete" ]; then
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    echo "Building a Debian 12 root with python3 (debootstrap, about a minute)..."
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$work/root" \
        "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$work/log" 2>&1 || { tail -20 "$work/log"; exit 1; }
    mkdir -p "$cache"
    tar --numeric-owner -C "$work/root" -cf "$cache/root.tar" .
    touch "$cache/.complete"
fi

base="localhost/tcs-registry-base:bookworm"
if ! buildah inspect --type image "$base" >/dev/null 2>&1; then
    ctr="$(buildah from scratch)"
    trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
    buildah add "$ctr" "$cache/root.tar" / >/dev/null
    buildah commit --quiet "$ctr" "$base" >/dev/null
fi
version="$(.venv/bin/python -c 'import tcs_registry; print(tcs_registry.__version__)')"
image="localhost/tcs-registry:$version"
buildah rmi "$image" >/dev/null 2>&1 || true  # vfs keeps whole copies: do not pile them up
options=(--pull=never --build-arg "BASE=$base")
if [ -n "${PIP_CERT:-}" ]; then  # behind a TLS-intercepting proxy: its CA for pip, for this build only
    options+=(--build-arg "PIP_CERT=/tmp/pip-ca.crt" --volume "$PIP_CERT:/tmp/pip-ca.crt:ro")
fi
echo "Building $image from the Dockerfile..."
buildah build --quiet "${options[@]}" -t "$image" . >/dev/null

.venv/bin/python -m tcs_registry.testing.image_check "$image"
