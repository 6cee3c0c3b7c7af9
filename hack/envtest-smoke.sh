#!/usr/bin/env bash
# Manual smoke check of the envtest control plane built by envtest-assets.sh.
#
# Usage:
#   hack/envtest-smoke.sh [ASSETS_DIR]
#
# ASSETS_DIR defaults to $KUBEBUILDER_ASSETS, else to the output of
# hack/envtest-assets.sh (which builds the binaries if needed).
#
# Starts etcd and kube-apiserver on free loopback ports inside a temporary
# directory (envtest style: no kubelet, no controller-manager), talks to the
# apiserver with kubectl as user "admin" (group system:masters, client cert),
# then stops both processes by PID and removes the temporary directory.
# Every flag used is printed so it can be copied into documentation.
# Exits non-zero on any failure.
#
# Needs: openssl, curl, ss (iproute2) or bash /dev/tcp.
set -euo pipefail

log() { printf '[envtest-smoke] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
assets="${1:-${KUBEBUILDER_ASSETS:-}}"
if [[ -z "$assets" ]]; then
  assets="$("$here/envtest-assets.sh")"
fi
[[ -d "$assets" ]] || die "assets dir $assets does not exist"
assets="$(cd "$assets" && pwd -P)"
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

for b in etcd kube-apiserver kubectl; do
  [[ -x "$assets/$b" ]] || die "$assets/$b missing (run hack/envtest-assets.sh)"
done
for c in openssl curl; do
  command -v "$c" >/dev/null 2>&1 || die "$c not found"
done

tmp="$(mktemp -d "${TMPDIR:-/tmp}/envtest-smoke.XXXXXX")"
etcd_pid=""
apiserver_pid=""

stop_pid() { # name pid
  local name="$1" pid="$2" i t0
  [[ -n "$pid" ]] || return 0
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  log "stopping $name (pid $pid)"
  t0="$(now)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name did not stop in 10s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
  log "$name stopped after $(elapsed "$t0")s"
}

cleanup() {
  local rc=$?
  stop_pid kube-apiserver "$apiserver_pid"
  stop_pid etcd "$etcd_pid"
  if [[ $rc -ne 0 ]]; then
    for f in etcd.log kube-apiserver.log; do
      if [[ -s "$tmp/$f" ]]; then
        log "---- last lines of $f ----"
        tail -n 40 "$tmp/$f" >&2 || true
      fi
    done
    log "FAILED (exit $rc)"
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- free loopback ports --------------------------------------------------------
port_in_use() {
  if command -v ss >/dev/null 2>&1; then
    [[ -n "$(ss -Htan "( sport = :$1 )" 2>/dev/null)" ]]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}
taken_ports=" "
free_port() {
  local p i
  for ((i = 0; i < 200; i++)); do
    p=$((20000 + RANDOM % 30000))
    [[ "$taken_ports" == *" $p "* ]] && continue
    port_in_use "$p" && continue
    taken_ports+="$p "
    echo "$p"
    return 0
  done
  die "no free port found"
}
etcd_client_port="$(free_port)"
etcd_peer_port="$(free_port)"
apiserver_port="$(free_port)"

# --- certificates and keys ------------------------------------------------------
pki="$tmp/pki"
mkdir -p "$pki" "$tmp/apiserver-certs"
log "generating client CA, admin client cert and service-account key pair"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 \
  -subj "/CN=temporal-gateway-envtest-client-ca" \
  -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -keyout "$pki/client-ca.key" -out "$pki/client-ca.crt" 2>/dev/null
openssl req -newkey rsa:2048 -nodes \
  -subj "/O=system:masters/CN=admin" \
  -keyout "$pki/admin.key" -out "$pki/admin.csr" 2>/dev/null
printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' \
  >"$pki/admin.ext"
openssl x509 -req -days 1 -in "$pki/admin.csr" \
  -CA "$pki/client-ca.crt" -CAkey "$pki/client-ca.key" -CAcreateserial \
  -extfile "$pki/admin.ext" -out "$pki/admin.crt" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$pki/sa.key" 2>/dev/null
openssl pkey -in "$pki/sa.key" -pubout -out "$pki/sa.pub"

# --- flags -----------------------------------------------------------------------
etcd_flags=(
  --name=envtest
  --data-dir="$tmp/etcd-data"
  --listen-client-urls="http://127.0.0.1:$etcd_client_port"
  --advertise-client-urls="http://127.0.0.1:$etcd_client_port"
  --listen-peer-urls="http://127.0.0.1:$etcd_peer_port"
  --initial-advertise-peer-urls="http://127.0.0.1:$etcd_peer_port"
  --initial-cluster="envtest=http://127.0.0.1:$etcd_peer_port"
  --unsafe-no-fsync=true
  --log-level=warn
)
apiserver_flags=(
  --etcd-servers="http://127.0.0.1:$etcd_client_port"
  --bind-address=127.0.0.1
  --advertise-address=127.0.0.1
  # Since 1.37 the default (lease) endpoint reconciler rejects a loopback
  # advertise address; envtest has no kubernetes Service endpoints to keep.
  --endpoint-reconciler-type=none
  --secure-port="$apiserver_port"
  --cert-dir="$tmp/apiserver-certs"
  --client-ca-file="$pki/client-ca.crt"
  --authorization-mode=RBAC
  --service-cluster-ip-range=10.0.0.0/24
  --service-account-issuer="https://127.0.0.1:$apiserver_port"
  --service-account-key-file="$pki/sa.pub"
  --service-account-signing-key-file="$pki/sa.key"
  --disable-admission-plugins=ServiceAccount
  --allow-privileged=true
)

print_cmd() { # binary flags...
  printf '  %s' "$1"
  shift
  printf ' \\\n      %s' "$@"
  printf '\n'
}
echo "assets:    $assets"
echo "temp dir:  $tmp"
echo "etcd command line:"
print_cmd "$assets/etcd" "${etcd_flags[@]}"
echo "kube-apiserver command line:"
print_cmd "$assets/kube-apiserver" "${apiserver_flags[@]}"

# --- etcd -------------------------------------------------------------------------
t_etcd="$(now)"
"$assets/etcd" "${etcd_flags[@]}" >"$tmp/etcd.log" 2>&1 &
etcd_pid=$!
log "etcd started (pid $etcd_pid)"
for ((i = 0; ; i++)); do
  kill -0 "$etcd_pid" 2>/dev/null || die "etcd exited"
  if curl -fsS --max-time 1 "http://127.0.0.1:$etcd_client_port/health" 2>/dev/null | grep -q '"health":"true"'; then
    break
  fi
  ((i < 300)) || die "etcd not healthy after 30s"
  sleep 0.1
done
echo "etcd healthy after $(elapsed "$t_etcd")s"

# --- kube-apiserver ------------------------------------------------------------
t_api="$(now)"
"$assets/kube-apiserver" "${apiserver_flags[@]}" >"$tmp/kube-apiserver.log" 2>&1 &
apiserver_pid=$!
log "kube-apiserver started (pid $apiserver_pid)"

# The self-signed serving cert (with its CA appended) appears in --cert-dir.
serving_cert="$tmp/apiserver-certs/apiserver.crt"
kubeconfig="$tmp/kubeconfig"
kc() { "$assets/kubectl" --kubeconfig="$kubeconfig" --cache-dir="$tmp/kubectl-cache" "$@"; }

for ((i = 0; ; i++)); do
  kill -0 "$apiserver_pid" 2>/dev/null || die "kube-apiserver exited"
  if [[ -s "$serving_cert" ]]; then
    if [[ ! -f "$kubeconfig" ]]; then
      cat >"$kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: envtest
  cluster:
    server: https://127.0.0.1:$apiserver_port
    certificate-authority: $serving_cert
users:
- name: admin
  user:
    client-certificate: $pki/admin.crt
    client-key: $pki/admin.key
contexts:
- name: envtest
  context:
    cluster: envtest
    user: admin
current-context: envtest
EOF
    fi
    if [[ "$(kc get --raw /readyz 2>/dev/null || true)" == "ok" ]]; then
      break
    fi
  fi
  ((i < 1200)) || die "kube-apiserver not ready after 120s"
  sleep 0.1
done
echo "kube-apiserver /readyz ok after $(elapsed "$t_api")s"
echo "kubeconfig:"
sed 's/^/  /' "$kubeconfig"

# --- checks ------------------------------------------------------------------------
echo "+ kubectl version"
kc version
echo "+ kubectl get --raw /version"
kc get --raw /version
echo
echo "+ kubectl get --raw /readyz"
ready="$(kc get --raw /readyz)"
echo "$ready"
[[ "$ready" == "ok" ]] || die "/readyz: $ready"
echo "+ kubectl auth whoami"
kc auth whoami
echo "+ kubectl api-resources | head"
resources="$(kc api-resources)"
head -n 10 <<<"$resources"
echo "($(wc -l <<<"$resources") lines)"
echo "+ etcd --version"
"$assets/etcd" --version

cm="envtest-smoke-$$"
echo "+ kubectl create configmap $cm"
kc -n default create configmap "$cm" --from-literal=greeting=hello
got="$(kc -n default get configmap "$cm" -o 'jsonpath={.data.greeting}')"
[[ "$got" == "hello" ]] || die "configmap data: got '$got'"
echo "configmap data.greeting=$got"
echo "+ kubectl delete configmap $cm"
kc -n default delete configmap "$cm" --wait=true
if kc -n default get configmap "$cm" >/dev/null 2>&1; then
  die "configmap $cm still exists after delete"
fi

echo "SMOKE OK"
