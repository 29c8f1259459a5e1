#!/usr/bin/env bash
# Builds a STATIC CNI bandwidth plugin from Debian's source package, offline from anything but Debian's
# mirror (TEST-ENVIRONMENT.md). Debian's packaged binary is dynamically linked against glibc 2.34+ and
# fails on older hosts, so it must never be the one kube-harden installs.
#   usage: scripts/build-bandwidth.sh OUT_DIR     -> OUT_DIR/bandwidth (static, stripped)
set -euo pipefail
out=${1:?usage: build-bandwidth.sh OUT_DIR}
mkdir -p "$out"
if [ -x "$out/bandwidth" ] && ! file "$out/bandwidth" 2>/dev/null | grep -q dynamically; then
  echo "build-bandwidth: $out/bandwidth already built"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
# Source packages come from the same Debian mirror the machine already uses (deb822 or one-line format).
if ! grep -rqsE '^(deb-src|Types:.*deb-src)' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null |
    grep -v '^\s*#' | grep -oE 'https?://[^ ]+/debian/?( |$)' | head -n1 | tr -d ' ' || true)
  cat > /etc/apt/sources.list.d/kube-harden-src.sources <<SRC
Types: deb-src
URIs: ${mirror:-http://deb.debian.org/debian}
Suites: $suite
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends dpkg-dev file golang-go golang-github-appc-cni-dev golang-github-vishvananda-netlink-dev \
  golang-golang-x-sys-dev golang-github-coreos-go-iptables-dev golang-github-safchain-ethtool-dev golang-github-alexflint-go-filemutex-dev >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get source -qq --download-only containernetworking-plugins >/dev/null && dpkg-source -x --skip-patches ./*.dsc src >/dev/null)
gopath="$work/gopath"
mkdir -p "$gopath/src/github.com/containernetworking"
mv "$work/src" "$gopath/src/github.com/containernetworking/plugins"
(cd "$gopath/src/github.com/containernetworking/plugins" &&
  GOPATH="$gopath:/usr/share/gocode" GO111MODULE=off CGO_ENABLED=0 GOFLAGS=-mod=mod go build -ldflags '-s -w' -o "$out/bandwidth" ./plugins/meta/bandwidth)
file "$out/bandwidth" | grep -q 'statically linked' || { echo "build-bandwidth: result is not static" >&2; exit 1; }
echo "build-bandwidth: built $out/bandwidth"
