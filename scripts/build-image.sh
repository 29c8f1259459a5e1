#!/usr/bin/env bash
# Builds the Dockerfile with buildah (no Docker engine, no registry here) from a local base image
# (debootstrap bookworm minbase + this machine's Node.js and npm), then checks the image: `kube-harden
# version` and an audit of a fixture host run inside it, a static bandwidth plugin, no dev tools.
# Elsewhere the same Dockerfile builds FROM the official Node 22 slim image (its BASE_IMAGE default).
#   usage: scripts/build-image.sh [IMAGE_TAG]     (default localhost/kube-harden:test)
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:-localhost/kube-harden:test}
cache=${KUBE_HARDEN_IMAGE_CACHE:-/var/cache/kube-harden/image}
plugins=${KUBE_HARDEN_TEST_PLUGIN_DIR:-/var/cache/kube-harden/cni}
base=localhost/kube-harden-base:bookworm
storage=(--storage-driver "${KUBE_HARDEN_STORAGE_DRIVER:-overlay}")
say() { echo "build-image: $*"; }
fail() { echo "build-image: FAILED: $*" >&2; exit 1; }

for tool in buildah debootstrap; do command -v "$tool" >/dev/null || fail "$tool missing (apt-get install buildah debootstrap runc)"; done
[ -x "$plugins/bandwidth" ] || fail "no static plugin in $plugins (run scripts/build-bandwidth.sh $plugins)"
mkdir -p "$cache"

if ! buildah "${storage[@]}" inspect --type image "$base" >/dev/null 2>&1; then
  if [ ! -f "$cache/base.tar" ]; then
    mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null |
      grep -v '^\s*#' | grep -oE 'https?://[^ ]+/debian/?( |$)' | head -n1 | tr -d ' ' || true)
    rootfs=$(mktemp -d "$cache/rootfs.XXXXXX")
    say "debootstrap bookworm minbase into $rootfs"
    debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" "${mirror:-http://deb.debian.org/debian}" >/dev/null
    # This machine's Node.js and npm stand in for the official image's (same /usr/local layout).
    install -m 0755 "$(command -v node)" "$rootfs/usr/local/bin/node"
    mkdir -p "$rootfs/usr/local/lib/node_modules"
    cp -a "$(npm root -g)/npm" "$rootfs/usr/local/lib/node_modules/npm"
    ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
    ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
    # This machine's trust store too: registry traffic may pass a TLS-inspecting egress proxy whose CA
    # only the host knows. npm reads it through its global config (it does not use the system store).
    cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
    mkdir -p "$rootfs/usr/local/etc"
    echo 'cafile=/etc/ssl/certs/ca-certificates.crt' > "$rootfs/usr/local/etc/npmrc"
    tar -C "$rootfs" -cf "$cache/base.tar" .
    rm -rf "$rootfs"
  fi
  say "importing the local base $base"
  ctr=$(buildah "${storage[@]}" from scratch)
  buildah "${storage[@]}" add "$ctr" "$cache/base.tar" / >/dev/null
  buildah "${storage[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$ctr"
  buildah "${storage[@]}" commit --quiet "$ctr" "$base" >/dev/null
  buildah "${storage[@]}" rm "$ctr" >/dev/null
fi

mkdir -p build/cni
cp "$plugins/bandwidth" build/cni/bandwidth
say "building $tag"
buildah "${storage[@]}" bud --quiet --isolation chroot --pull-never --layers=false \
  --build-arg BASE_IMAGE="$base" --build-arg PLUGIN_FROM=context -t "$tag" . >/dev/null

ctr=$(buildah "${storage[@]}" from --pull-never "$tag")
trap 'buildah "${storage[@]}" rm "$ctr" >/dev/null 2>&1 || true' EXIT
run() { buildah "${storage[@]}" run --isolation chroot "$@"; }

entrypoint=$(buildah "${storage[@]}" inspect --format '{{.OCIv1.Config.Entrypoint}} {{.OCIv1.Config.Cmd}}' "$tag")
[ "$entrypoint" = "[node --max-semi-space-size=1 --no-opt /app/dist/bundle/kube-harden.mjs] [run]" ] || fail "entrypoint is $entrypoint"
version=$(run "$ctr" -- node /app/dist/bundle/kube-harden.mjs version)
echo "$version" | grep -q '^kube-harden ' || fail "version printed: $version"
say "version in the image: $version"

fixture=$(pwd)/test/fixtures/hosts/kubeadm-worker
set +e
audit=$(run -v "$fixture:/host:ro" "$ctr" -- node /app/dist/bundle/kube-harden.mjs audit --host-root /host --node-ip 10.0.12.7 --output json 2>"$cache/audit.err")
code=$?
[ "$code" = 1 ] || cat "$cache/audit.err" >&2
set -e
[ "$code" = 1 ] || fail "audit in the image exited $code (1 = findings expected on the fixture)"
echo "$audit" | node -e '
  const report = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const s = report.summary;
  if (report.node.distribution !== "kubeadm" || s.fail === 0 || s.pass === 0) { console.error(JSON.stringify(s)); process.exit(1); }
  console.log(`build-image: audit in the image: ${s.pass} pass, ${s.fail} fail, ${s.unknown} unknown, ${s.skip} skip`);
' || fail "unexpected audit JSON"

run "$ctr" -- sh -c 'test ! -e /usr/local/bin/npm && test ! -e /usr/local/lib/node_modules/npm' || fail "npm is still in the image"
# The bundle carries every dependency: no node_modules at all, and every chunk (the Kubernetes client's
# included) loads without one.
run "$ctr" -- sh -c 'test ! -e /app/node_modules' || fail "node_modules in the image (the bundle needs none)"
run "$ctr" -- node --input-type=module -e 'import { readdirSync } from "node:fs"; const dir = "/app/dist/bundle/chunks"; for (const f of readdirSync(dir).filter((n) => n.endsWith(".mjs"))) await import(`${dir}/${f}`);' ||
  fail "a bundle chunk does not load in the image"
run "$ctr" -- sh -c 'CNI_COMMAND=VERSION /usr/lib/kube-harden/cni/bandwidth </dev/null' | grep -q '"cniVersion"' || fail "the shipped plugin does not run"
run "$ctr" -- nsenter --version >/dev/null || fail "nsenter missing"
say "ok: $tag"
