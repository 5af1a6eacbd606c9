#!/usr/bin/env bash
# Go 1.15, as Debian 11 packaged it (golang-1.15-go and golang-1.15-src, unpacked, not installed), for the
# tests of Go binaries built before Go 1.18: their build info holds pointers, not the strings themselves.
# Fetched once from Debian's archive, checked against the SHA-256 sums of bullseye's package index, and
# cached outside the checkout in $TCS_TEST_CACHE (default ~/.cache/tcs-registry-tests). Safe to run again.
set -euo pipefail
cache="${TCS_TEST_CACHE:-$HOME/.cache/tcs-registry-tests}"
out="$cache/go1.15"
[ -f "$out/.complete" ] && exit 0

version="1.15.15-1~deb11u4"
declare -A sums=(
    [golang-1.15-go]=33f6680406698b60370322aa5710be199006b3d66fbb0974b44da012de3aa82a
    [golang-1.15-src]=e580f570f706d801191f9a17e55156736fc5979a6a878bab9304ca007ae29941
)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for package in "${!sums[@]}"; do
    file="${package}_${version}_amd64.deb"
    # bullseye's packages move to archive.debian.org when it leaves the mirrors
    for mirror in "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" http://archive.debian.org/debian; do
        curl -fsS -o "$work/$file" "$mirror/pool/main/g/golang-1.15/$file" && break
    done
    echo "${sums[$package]}  $work/$file" | sha256sum --quiet -c -
    dpkg-deb -x "$work/$file" "$work/root"
done
rm -rf "$out"
mkdir -p "$out"
mv "$work/root/usr" "$out/usr"  # (GOROOT usr/lib/go-1.15 links to its sources in usr/share/go-1.15)
touch "$out/.complete"
echo "Cached Go $("$out/usr/lib/go-1.15/bin/go" version | cut -d' ' -f3) in $out"
