#!/usr/bin/env bash
# A real Debian 12 root made offline from Debian's own packages (debootstrap --variant=minbase), packed as
# one reproducible image layer (layer.tar.gz) with its diff_id, and the list of installed packages that
# dpkg-query prints when run inside that root (dpkg-query.tsv). Built once and cached outside the
# checkout, in $TCS_TEST_CACHE (default ~/.cache/tcs-registry-tests). Needs root, as debootstrap does.
# Tests and benchmarks push the layer to a local registry. Safe to run again.
set -euo pipefail
cache="${TCS_TEST_CACHE:-$HOME/.cache/tcs-registry-tests}"
out="$cache/debian-bookworm-minbase-v1"
[ -f "$out/.complete" ] && exit 0

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
if ! command -v debootstrap >/dev/null; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi

work="$(mktemp -d)"
trap '$SUDO rm -rf "$work"' EXIT
echo "Building a Debian 12 minbase root with debootstrap (about 30 s)..."
$SUDO debootstrap --variant=minbase bookworm "$work/root" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" \
    >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log"; exit 1; }
mkdir -p "$out"
format='${db:Status-Status}\t${Package}\t${Version}\t${source:Package}\t${source:Version}\t${Architecture}\n'
$SUDO chroot "$work/root" dpkg-query -W -f "$format" | awk -F'\t' '$1 == "installed"' | cut -f2- | sort >"$out/dpkg-query.tsv"
$SUDO tar --numeric-owner --sort=name --mtime=@0 --xattrs --xattrs-include='*' -C "$work/root" -cf "$work/layer.tar" .
sha256sum "$work/layer.tar" | awk '{print "sha256:" $1}' >"$out/diff_id"
gzip -n -6 -c "$work/layer.tar" >"$out/layer.tar.gz"
touch "$out/.complete"
echo "Cached $(wc -l <"$out/dpkg-query.tsv") packages and a $(du -h "$out/layer.tar.gz" | cut -f1) layer in $out"
