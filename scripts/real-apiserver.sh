#!/usr/bin/env bash
# A REAL kube-apiserver (+ etcd) on loopback for tests, built only from Debian's mirror.
#
# Debian's source package `kubernetes` (bookworm: 1.20.5+really1.20.2) ships the full upstream tree
# with vendor/ but only builds kubectl; cmd/kube-apiserver is built from it the way debian/rules builds
# kubectl (upstream `make WHAT=...`, GOPATH mode, vendor/, Debian's golang-go, CGO_ENABLED=0). etcd is
# Debian's etcd-server. The result is Kubernetes v1.20.2, older than today's clusters: an
# events.k8s.io/v1 Event about a cluster-scoped object (a Node) is accepted only in kube-system there.
#
# Usage:
#   real-apiserver.sh build        build or reuse $CACHE/bin/kube-apiserver (about 3-4 minutes of 2 CPUs
#                                  the first time; CACHE=/var/cache/kube-harden/apiserver unless
#                                  KUBE_HARDEN_APISERVER_CACHE is set). Needs root (apt-get) only when
#                                  something is missing. Idempotent.
#   real-apiserver.sh start DIR    start etcd + kube-apiserver (never builds: run `build` first) with all
#                                  state in DIR on free loopback ports; writes DIR/env and the
#                                  kubeconfigs below and prints DIR/env's path (the only stdout line).
#   real-apiserver.sh stop DIR     stop exactly the PIDs recorded in DIR/env (each checked to still be
#                                  our etcd / kube-apiserver by its command line).
#
# DIR/env (KEY=VALUE lines): KH_APISERVER_URL KH_APISERVER_PID KH_ETCD_URL KH_ETCD_PID KH_CA
#   KH_ADMIN_TOKEN (user "admin", group system:masters), KH_SA_TOKEN (a static token authenticated
#   exactly as the ServiceAccount kube-harden:kube-harden: user system:serviceaccount:kube-harden:kube-harden,
#   groups system:serviceaccounts, system:serviceaccounts:kube-harden, system:authenticated; it has no
#   rights until RBAC binds that ServiceAccount), KH_ADMIN_KUBECONFIG, KH_SA_KUBECONFIG, KH_VERSION.
# DIR/audit.log: the server's audit log (level Metadata, every request: user, verb, object, code).
# Without a controller manager there is no token controller: ServiceAccount admission is disabled, the
# endpoint reconciler is off, pods stay Pending, namespaces are never finalized on delete.
set -euo pipefail

CACHE=${KUBE_HARDEN_APISERVER_CACHE:-/var/cache/kube-harden/apiserver}
BIN=$CACHE/bin
log() { echo "[real-apiserver] $*" >&2; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }

built() { [ -x "$BIN/kube-apiserver" ] && command -v etcd >/dev/null && "$BIN/kube-apiserver" --version >/dev/null 2>&1; }

build() {
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.lock"
  flock 9 # one build at a time; a second caller waits and then reuses the result
  if built; then
    log "reusing $("$BIN/kube-apiserver" --version) in $BIN"
    flock -u 9
    return 0
  fi
  export DEBIAN_FRONTEND=noninteractive
  local t
  t=$(now)
  # Source packages come from the mirror the machine already uses (deb822 or one-line format).
  if ! grep -rqsE '^(deb-src|Types:.*deb-src)' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    local suite mirror
    suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
    mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null |
      grep -v '^\s*#' | grep -oE 'https?://[^ ]+/debian/?( |$)' | head -n1 | tr -d ' ' || true)
    printf 'Types: deb-src\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "${mirror:-http://deb.debian.org/debian}" "$suite" >/etc/apt/sources.list.d/kube-harden-src.sources
  fi
  apt-get update -qq >/dev/null
  # What upstream's make needs (without rsync and jq it fails obscurely) + apt-get source + etcd + the
  # start step's tools. Only the missing ones: naming an installed package would upgrade it.
  local p missing=()
  for p in golang-go rsync jq dpkg-dev etcd-server curl openssl iproute2; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] || apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  log "apt update + build dependencies: $(since "$t")s"

  t=$(now)
  local src=""
  rm -rf "$CACHE/src" && mkdir -p "$CACHE/src" "$BIN" "$CACHE/home" # a failed build may leave a tree
  (cd "$CACHE/src" && apt-get source -qq kubernetes >/dev/null 2>&1) || { log "apt-get source kubernetes failed"; exit 1; }
  for src in "$CACHE"/src/kubernetes-*/; do break; done
  src=${src%/}
  [ -f "$src/debian/rules" ] || { log "no unpacked source under $CACHE/src"; exit 1; }
  log "source ($src): $(since "$t")s"

  t=$(now)
  mkdir -p "$src/.go/src/k8s.io"
  ln -sfn ../../.. "$src/.go/src/k8s.io/kubernetes"
  # As debian/rules: GOPATH=$src/.go (hack/ runs in GOPATH mode with vendor/), no cgo, no network.
  (cd "$src" && env GOPATH="$src/.go" CGO_ENABLED=0 GOPROXY=off GOFLAGS= HOME="$CACHE/home" \
    nice -n 19 make WHAT=cmd/kube-apiserver >"$CACHE/build.log" 2>&1) ||
    { log "build failed, see $CACHE/build.log"; tail -20 "$CACHE/build.log" >&2; exit 1; }
  install -m 0755 "$src/_output/bin/kube-apiserver" "$BIN/kube-apiserver.new"
  mv "$BIN/kube-apiserver.new" "$BIN/kube-apiserver"
  log "build: $(since "$t")s ($(du -h "$BIN/kube-apiserver" | cut -f1))"
  rm -rf "$CACHE/src" "$CACHE/home" # the tree is 1.8 GB with _output/; the binary is what is kept
  log "built: $("$BIN/kube-apiserver" --version)"
  flock -u 9
}

free_port() { # a random loopback TCP port that nothing listens on now and that we have not handed out
  local p
  while :; do
    p=$((20000 + RANDOM % 30000))
    case " ${USED_PORTS:-} " in *" $p "*) continue ;; esac
    if ! ss -Htln "sport = :$p" 2>/dev/null | grep -q .; then
      USED_PORTS="${USED_PORTS:-} $p"
      echo "$p"
      return
    fi
  done
}

wait_http() { # url, timeout seconds, pid that must stay alive, extra curl args...
  local url=$1 to=$2 pid=$3
  shift 3
  local end=$(($(date +%s) + to))
  while [ "$(date +%s)" -lt "$end" ]; do
    kill -0 "$pid" 2>/dev/null || return 1
    if curl -fsS --max-time 2 "$@" "$url" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  return 1
}

ours() { # pid, substring its command line must hold (guards against PID reuse)
  [ -n "$1" ] && [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF -- "$2"
}

stop_pid() { # pid, expected substring of its command line
  local pid=$1 want=$2 _
  ours "$pid" "$want" || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

kubeconfig() { # file user token
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: real-apiserver
  cluster:
    server: $URL
    certificate-authority: $DIR/pki/ca.crt
users:
- name: $2
  user:
    token: $3
contexts:
- name: real-apiserver
  context: {cluster: real-apiserver, user: $2}
current-context: real-apiserver
EOF
  chmod 600 "$1"
}

start() {
  DIR=${1:?usage: real-apiserver.sh start DIR}
  built || { log "no kube-apiserver in $BIN (or no etcd): run 'bash scripts/real-apiserver.sh build' first"; exit 3; }
  mkdir -p "$DIR"
  DIR=$(cd "$DIR" && pwd)
  [ ! -f "$DIR/env" ] || stop "$DIR" # leftovers of an earlier run in the same DIR: stop them, start afresh
  rm -rf "$DIR/pki" "$DIR/etcd-data" "$DIR/env" "$DIR/audit.log"
  local t0 t
  t0=$(now)
  mkdir -m 700 "$DIR/pki"
  local pki=$DIR/pki
  # CA, serving cert (127.0.0.1/localhost/kubernetes*), service-account key pair, static tokens
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=kube-harden-test-ca" \
    -keyout "$pki/ca.key" -out "$pki/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" \
    -keyout "$pki/apiserver.key" -out "$pki/apiserver.csr" 2>/dev/null
  printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\n' >"$pki/apiserver.ext"
  openssl x509 -req -in "$pki/apiserver.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 3650 -extfile "$pki/apiserver.ext" -out "$pki/apiserver.crt" 2>/dev/null
  openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
  local admin_token sa_token
  admin_token=$(openssl rand -hex 16)
  sa_token=$(openssl rand -hex 16)
  {
    printf '%s,admin,admin-uid,"system:masters"\n' "$admin_token"
    printf '%s,system:serviceaccount:kube-harden:kube-harden,sa-kube-harden-uid,"system:serviceaccounts,system:serviceaccounts:kube-harden,system:authenticated"\n' "$sa_token"
  } >"$pki/tokens.csv"
  chmod 600 "$pki"/*.key "$pki/tokens.csv"
  # Every request's user, verb, object and response code in DIR/audit.log (JSON lines): tests read the
  # 403s a ServiceAccount met and the operations it performed from the server's own record.
  printf 'apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n  - level: Metadata\n' >"$DIR/audit-policy.yaml"
  log "pki: $(since "$t0")s"

  local attempt etcd_pid as_pid ecp epp asp etcd_url
  for attempt in 1 2 3; do # fresh ports on retry, in case one was taken between choosing and binding
    USED_PORTS=""
    ecp=$(free_port)
    epp=$(free_port)
    asp=$(free_port)
    etcd_url="http://127.0.0.1:$ecp"
    URL="https://127.0.0.1:$asp"
    rm -rf "$DIR/etcd-data"
    mkdir -m 700 "$DIR/etcd-data"
    t=$(now)
    etcd --name kube-harden-test --data-dir "$DIR/etcd-data" \
      --listen-client-urls "$etcd_url" --advertise-client-urls "$etcd_url" \
      --listen-peer-urls "http://127.0.0.1:$epp" --initial-advertise-peer-urls "http://127.0.0.1:$epp" \
      --initial-cluster "kube-harden-test=http://127.0.0.1:$epp" --initial-cluster-state new \
      --logger zap --log-outputs stderr \
      >"$DIR/etcd.log" 2>&1 </dev/null &
    etcd_pid=$!
    if ! wait_http "$etcd_url/health" 30 "$etcd_pid"; then
      log "etcd not healthy (attempt $attempt), see $DIR/etcd.log"
      tail -3 "$DIR/etcd.log" >&2
      stop_pid "$etcd_pid" "$DIR/etcd-data"
      continue
    fi
    log "etcd ready on $etcd_url (pid $etcd_pid): $(since "$t")s"

    t=$(now)
    # shellcheck disable=SC2086
    "$BIN/kube-apiserver" \
      --etcd-servers="$etcd_url" \
      --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$asp" --insecure-port=0 \
      --cert-dir="$pki" --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
      --client-ca-file="$pki/ca.crt" \
      --token-auth-file="$pki/tokens.csv" \
      --authorization-mode=Node,RBAC \
      --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
      --service-account-issuer=https://kubernetes.default.svc \
      --api-audiences=https://kubernetes.default.svc \
      --service-cluster-ip-range=10.96.0.0/16 \
      --disable-admission-plugins=ServiceAccount \
      --endpoint-reconciler-type=none \
      --allow-privileged=true --profiling=false \
      --audit-policy-file="$DIR/audit-policy.yaml" --audit-log-path="$DIR/audit.log" --audit-log-mode=blocking \
      ${KUBE_HARDEN_APISERVER_EXTRA_ARGS:-} \
      >"$DIR/apiserver.log" 2>&1 </dev/null &
    as_pid=$!
    kubeconfig "$DIR/admin.kubeconfig" admin "$admin_token"
    kubeconfig "$DIR/sa.kubeconfig" kube-harden "$sa_token"
    {
      echo "KH_APISERVER_URL=$URL"
      echo "KH_APISERVER_PID=$as_pid"
      echo "KH_ETCD_URL=$etcd_url"
      echo "KH_ETCD_PID=$etcd_pid"
      echo "KH_CA=$pki/ca.crt"
      echo "KH_ADMIN_TOKEN=$admin_token"
      echo "KH_SA_TOKEN=$sa_token"
      echo "KH_ADMIN_KUBECONFIG=$DIR/admin.kubeconfig"
      echo "KH_SA_KUBECONFIG=$DIR/sa.kubeconfig"
      echo "KH_VERSION=$("$BIN/kube-apiserver" --version | awk '{print $2}')"
    } >"$DIR/env"
    chmod 600 "$DIR/env"
    if wait_http "$URL/readyz" 120 "$as_pid" --cacert "$pki/ca.crt" -H "Authorization: Bearer $admin_token"; then
      log "kube-apiserver ready on $URL (pid $as_pid): $(since "$t")s; start to ready $(since "$t0")s"
      echo "$DIR/env"
      return 0
    fi
    log "kube-apiserver not ready (attempt $attempt), see $DIR/apiserver.log"
    tail -5 "$DIR/apiserver.log" >&2
    stop "$DIR"
  done
  log "giving up after 3 attempts"
  exit 1
}

stop() {
  local dir=${1:?usage: real-apiserver.sh stop DIR}
  [ -f "$dir/env" ] || { log "no $dir/env; nothing to stop"; return 0; }
  dir=$(cd "$dir" && pwd)
  local pid_as pid_etcd
  pid_as=$(sed -n 's/^KH_APISERVER_PID=//p' "$dir/env")
  pid_etcd=$(sed -n 's/^KH_ETCD_PID=//p' "$dir/env")
  stop_pid "$pid_as" "$dir/pki"
  stop_pid "$pid_etcd" "$dir/etcd-data"
  log "stopped kube-apiserver $pid_as and etcd $pid_etcd (those still running)"
}

cmd=${1:-build}
shift || true
case "$cmd" in
  build) build ;;
  start) start "$@" ;;
  stop) stop "$@" ;;
  *)
    echo "usage: $0 build | start DIR | stop DIR" >&2
    exit 2
    ;;
esac
