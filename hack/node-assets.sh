#!/usr/bin/env bash
# Build (once) and cache what a real single-node cluster needs besides the envtest control plane
# (hack/envtest-assets.sh) and Debian's containerd, runc and CNI plugins: kubelet, kube-proxy,
# kube-controller-manager and kube-scheduler from the same k8s.io/kubernetes release and wrapper
# module (one `go build`, so they share the compile cache), the pause binary from the module's
# own build/pause/linux/pause.c (gcc -static), and CoreDNS and Traefik (the ingress controller
# k8s/ingress/traefik.yaml runs) from their Go modules, each built inside its module directory so
# its own go.mod (and its replace directives) apply.
#
# Usage:
#   NODE_ASSETS="$(hack/node-assets.sh)"
#
# Only the directory is printed on stdout; progress goes to stderr.
#
# Environment:
#   NODE_ASSETS      use/build this directory instead of the default cache
#   XDG_CACHE_HOME   default cache root ($HOME/.cache)
#   GO               go command (default: go on PATH, else /usr/local/go/bin/go)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"

# The same release as the tests' kube-apiserver.
K8S_VERSION="$(sed -n 's/^K8S_VERSION="\${ENVTEST_K8S_VERSION:-\([0-9.]*\)}"$/\1/p' "$here/envtest-assets.sh")"
# CoreDNS 1.15.0: served by the module proxy; its go directive is met by the machine's Go.
COREDNS_VERSION=1.15.0
# Traefik 3.6.12, the version k8s/ingress/traefik.yaml names. Not 3.7.x: the module proxy serves
# v3.7.11 to v3.7.13, but not the containous/go-http-auth pseudo-version their go.mod replaces
# abbot/go-http-auth with (nor, for v3.7.13, fourteen of lego's DNS-provider SDKs); every
# dependency of v3.6.12 is served. The web UI is not built: the module ships webui/static with
# only a placeholder file, which is all its //go:embed needs, and the manifest leaves the
# dashboard off.
TRAEFIK_VERSION=3.6.12
GIT_COMMIT_PLACEHOLDER="0000000000000000000000000000000000000000"
BINARIES=(kubelet kube-proxy kube-controller-manager kube-scheduler pause coredns traefik)
STAMP_CONTENT="k8s=v${K8S_VERSION} coredns=v${COREDNS_VERSION} traefik=v${TRAEFIK_VERSION} binaries=${BINARIES[*]}"

log() { printf '[node-assets] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# step VERB WHAT ESTIMATE CMD...: the first run says what it builds while it builds it.
source "$(dirname "${BASH_SOURCE[0]}")/lib/progress.sh"
module_info() {
  (cd "$work" && "$GO" mod download -json "$1") |
    sed -n 's/^[[:space:]]*"\([A-Za-z]*\)": "\(.*\)",\{0,1\}$/\1=\2/p'
}
module_field() { module_info "$1" | sed -n "s/^$2=//p" | head -n1; }
_in() { local dir="$1"; shift; (cd "$dir" && "$@") >&2; }  # _in DIR CMD...: CMD run in DIR
source "$here/lib/k8s-module.sh"

[[ -n "$K8S_VERSION" ]] || die "could not read K8S_VERSION from hack/envtest-assets.sh"
dir="${NODE_ASSETS:-${XDG_CACHE_HOME:-$HOME/.cache}/temporal-gateway/node/k8s-${K8S_VERSION}-coredns-${COREDNS_VERSION}-traefik-${TRAEFIK_VERSION}}"

is_complete() {
  local b
  [[ "$(cat "$dir/.node-assets.stamp" 2>/dev/null)" == "$STAMP_CONTENT" ]] || return 1
  for b in "${BINARIES[@]}"; do [[ -x "$dir/$b" ]] || return 1; done
}

main() {
  if is_complete; then printf '%s\n' "$dir"; return 0; fi
  GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
  command -v gcc >/dev/null || { apt-get update -qq && apt-get install -y -qq gcc libc6-dev; } >&2
  mkdir -p "$dir"
  exec 9>"$dir/.lock"
  flock 9
  if is_complete; then printf '%s\n' "$dir"; return 0; fi
  work="$(mktemp -d "${TMPDIR:-/tmp}/node-assets.XXXXXX")"
  stage="$(mktemp -d "$dir/.stage.XXXXXX")"
  trap 'rm -rf "$work" "$stage"' EXIT
  export CGO_ENABLED=0 GO111MODULE=on GOWORK=off GOFLAGS=-mod=mod
  unset GOOS GOARCH
  local t0 moddir="$work/k8s" k8s_dir coredns_dir traefik_dir traefik_date
  t0=$(date +%s)

  k8s_wrapper_module "$moddir"
  # The estimates are a first run's on two busy cores, after hack/envtest-assets.sh (whose
  # compiled k8s.io packages these reuse from Go's build cache).
  log "building kubelet, kube-proxy, kube-controller-manager, kube-scheduler (one go build)"
  step build "kubelet, kube-proxy, kube-controller-manager, kube-scheduler" 300 \
    _in "$moddir" "$GO" build -trimpath -ldflags "$K8S_LDFLAGS" -o "$stage/" \
    k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy \
    k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler

  k8s_dir="$(module_field "k8s.io/kubernetes@v${K8S_VERSION}" Dir)"
  gcc -Os -static -o "$stage/pause" "$k8s_dir/build/pause/linux/pause.c" \
    -DVERSION="\"${K8S_VERSION}\"" >&2
  strip "$stage/pause"

  step download "the CoreDNS module" 60 module_field "github.com/coredns/coredns@v${COREDNS_VERSION}" Dir >/dev/null
  coredns_dir="$(module_field "github.com/coredns/coredns@v${COREDNS_VERSION}" Dir)"
  [[ -d "$coredns_dir" ]] || die "could not download CoreDNS v${COREDNS_VERSION}"
  log "building coredns v${COREDNS_VERSION} in its module directory"
  GOFLAGS=-mod=readonly step build coredns 180 \
    _in "$coredns_dir" "$GO" build -trimpath -ldflags "-s -w" -o "$stage/coredns" .

  step download "the Traefik module" 90 \
    module_field "github.com/traefik/traefik/v3@v${TRAEFIK_VERSION}" Dir >/dev/null
  traefik_dir="$(module_field "github.com/traefik/traefik/v3@v${TRAEFIK_VERSION}" Dir)"
  [[ -d "$traefik_dir" ]] || die "could not download Traefik v${TRAEFIK_VERSION}"
  # The release's publication time as its build date, so a rebuild is the same binary.
  traefik_date="$(sed -n 's/.*"Time": *"\([^"]*\)".*/\1/p' \
    "$(module_field "github.com/traefik/traefik/v3@v${TRAEFIK_VERSION}" Info)")"
  log "building traefik v${TRAEFIK_VERSION} in its module directory"
  GOFLAGS=-mod=readonly step build traefik 900 \
    _in "$traefik_dir" "$GO" build -trimpath -ldflags "-s -w \
    -X github.com/traefik/traefik/v3/pkg/version.Version=v${TRAEFIK_VERSION} \
    -X github.com/traefik/traefik/v3/pkg/version.BuildDate=${traefik_date}" \
    -o "$stage/traefik" ./cmd/traefik

  "$stage/kubelet" --version >&2
  "$stage/coredns" -version >&2
  "$stage/traefik" version >&2
  for b in "${BINARIES[@]}"; do mv -f "$stage/$b" "$dir/$b"; done
  printf '%s\n' "$STAMP_CONTENT" >"$dir/.node-assets.stamp"
  log "done in $(( $(date +%s) - t0 ))s"
  printf '%s\n' "$dir"
}

main "$@"
