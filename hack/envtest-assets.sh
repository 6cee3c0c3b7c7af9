#!/usr/bin/env bash
# Build (once) and cache a kubelet-less Kubernetes control plane for tests,
# the way controller-runtime's envtest uses one: kube-apiserver, etcd and
# kubectl, compiled from Go modules fetched through the Go module proxy with
# the local Go toolchain.
#
# Usage:
#   export KUBEBUILDER_ASSETS="$(hack/envtest-assets.sh)"
#
# Only the assets directory is printed on stdout; progress goes to stderr.
# When the binaries are already built (stamp file present and matching the
# pinned versions) the script only prints the directory.
#
# Environment:
#   KUBEBUILDER_ASSETS    use/build this directory instead of the default cache
#   XDG_CACHE_HOME        default cache root ($HOME/.cache)
#   ENVTEST_K8S_VERSION   override the pinned Kubernetes version (x.y.z)
#   ENVTEST_ETCD_VERSION  override the pinned etcd version (x.y.z)
#   GO                    go command to use (default: go on PATH, else /usr/local/go/bin/go)
#   GOMODCACHE, GOCACHE, GOPROXY, GOTOOLCHAIN are honoured as usual.
set -euo pipefail

# --- pinned versions ----------------------------------------------------------
# Kubernetes 1.37.2: newest release on the module proxy; its go directive is
# 1.26.0, so the machine's Go 1.26 builds it without a toolchain download.
K8S_VERSION="${ENVTEST_K8S_VERSION:-1.37.2}"
# etcd 3.6.16: newest 3.6 patch of go.etcd.io/etcd/server/v3 (go directive 1.26.0).
ETCD_VERSION="${ENVTEST_ETCD_VERSION:-3.6.16}"
# Placeholder commit: module zips carry no VCS information.
GIT_COMMIT_PLACEHOLDER="0000000000000000000000000000000000000000"
# ------------------------------------------------------------------------------

BINARIES=(kube-apiserver etcd kubectl)
STAMP_NAME=".envtest-assets.stamp"
STAMP_CONTENT="k8s=v${K8S_VERSION} etcd=v${ETCD_VERSION} binaries=${BINARIES[*]}"

log() { printf '[envtest-assets] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# step VERB WHAT ESTIMATE CMD...: the first run says what it builds while it builds it.
source "$(dirname "${BASH_SOURCE[0]}")/lib/progress.sh"

assets_dir="${KUBEBUILDER_ASSETS:-${XDG_CACHE_HOME:-$HOME/.cache}/temporal-gateway/envtest/k8s-${K8S_VERSION}-etcd-${ETCD_VERSION}}"

# Binaries put into an explicitly given KUBEBUILDER_ASSETS by other means
# (no stamp or lock file of ours) are used as they are, never overwritten.
is_foreign() {
  local b
  [[ -n "${KUBEBUILDER_ASSETS:-}" ]] || return 1
  [[ ! -e "$assets_dir/$STAMP_NAME" && ! -e "$assets_dir/.lock" ]] || return 1
  for b in "${BINARIES[@]}"; do
    [[ -x "$assets_dir/$b" ]] || return 1
  done
}

is_complete() {
  local b
  [[ -f "$assets_dir/$STAMP_NAME" ]] || return 1
  [[ "$(cat "$assets_dir/$STAMP_NAME")" == "$STAMP_CONTENT" ]] || return 1
  for b in "${BINARIES[@]}"; do
    [[ -x "$assets_dir/$b" ]] || return 1
  done
}

# Downloads a module version; prints Dir, GoMod, Info, ... as KEY=VALUE lines.
module_info() {
  (cd "$work" && "$GO" mod download -json "$1") |
    sed -n 's/^[[:space:]]*"\([A-Za-z]*\)": "\(.*\)",\{0,1\}$/\1=\2/p'
}
module_field() { # module@version field
  module_info "$1" | sed -n "s/^$2=//p" | head -n1
}

# Build one binary into $stage, as a step (its time is recorded for the next first run).
# go_build NAME MODULE_DIR PACKAGE LDFLAGS ESTIMATE_SECONDS
go_build() {
  local name="$1" moddir="$2" pkg="$3" ldflags="$4"
  log "building $name ($pkg) ..."
  step build "$name" "$5" _go_build "$moddir" "$stage/$name" "$pkg" "$ldflags"
  log "built $name ($(du -h "$stage/$name" | cut -f1))"
}
_go_build() { (cd "$1" && "$GO" build -trimpath -ldflags "$4" -o "$2" "$3") >&2; }

# --- kube-apiserver + kubectl -------------------------------------------------
# The estimates are a first run's on two cores shared with hack/assets.sh's other groups
# (kube-apiserver took 982 s); kubectl reuses most of kube-apiserver's compiled packages.
source "$(dirname "${BASH_SOURCE[0]}")/lib/k8s-module.sh"
build_kubernetes() {
  local moddir="$work/k8s"
  step download "the k8s.io/kubernetes module" 60 k8s_wrapper_module "$moddir"
  go_build kube-apiserver "$moddir" k8s.io/kubernetes/cmd/kube-apiserver "$K8S_LDFLAGS" 980
  go_build kubectl "$moddir" k8s.io/kubernetes/cmd/kubectl "$K8S_LDFLAGS" 180
}

# --- etcd ---------------------------------------------------------------------
# go.etcd.io/etcd/server/v3 is itself the etcd main package, but its go.mod
# replaces the sibling etcd modules with ../ paths, so it needs a wrapper
# module as well (which simply uses the versions it requires).
build_etcd() {
  local etcd_mod="go.etcd.io/etcd/server/v3@v${ETCD_VERSION}" gomod go_directive
  local moddir="$work/etcd"
  mkdir -p "$moddir"
  log "resolving $etcd_mod"
  gomod="$(module_field "$etcd_mod" GoMod)"
  [[ -n "$gomod" && -f "$gomod" ]] || die "could not download $etcd_mod"
  go_directive="$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$gomod" | head -n1)"
  cat >"$moddir/go.mod" <<EOF
module temporal-gateway.invalid/envtest-etcd

go ${go_directive:-1.26.0}

require go.etcd.io/etcd/server/v3 v${ETCD_VERSION}
EOF
  go_build etcd "$moddir" go.etcd.io/etcd/server/v3 \
    "-s -w -X 'go.etcd.io/etcd/api/v3/version.GitSHA=${GIT_COMMIT_PLACEHOLDER:0:7}'" 180
}

# The whole run is inside main so that bash has parsed all of it before it
# starts: editing or updating this file during a long build is then harmless.
main() {
  # Fast path: nothing to do.
  if is_complete; then
    printf '%s\n' "$assets_dir"
    return 0
  fi
  if is_foreign; then
    log "using binaries already in KUBEBUILDER_ASSETS=$assets_dir (not built by this script)"
    printf '%s\n' "$assets_dir"
    return 0
  fi

  # --- locate the Go toolchain --------------------------------------------------
  if [[ -z "${GO:-}" ]]; then
    if command -v go >/dev/null 2>&1; then
      GO=go
    elif [[ -x /usr/local/go/bin/go ]]; then
      GO=/usr/local/go/bin/go
    else
      die "no Go toolchain found (set GO=/path/to/go)"
    fi
  fi
  command -v flock >/dev/null 2>&1 || die "flock(1) not found (util-linux)"

  mkdir -p "$assets_dir"
  assets_dir="$(cd "$assets_dir" && pwd -P)"

  # --- serialise concurrent callers -------------------------------------------
  lock_file="$assets_dir/.lock"
  exec 9>"$lock_file"
  if ! flock -n 9; then
    log "another build holds $lock_file; waiting for it"
    flock 9
  fi
  # Somebody else may have finished the build while we waited.
  if is_complete; then
    printf '%s\n' "$assets_dir"
    return 0
  fi

  # We hold the lock, so staging dirs left by a killed build are garbage.
  rm -rf "$assets_dir"/.stage.*
  work="$(mktemp -d "${TMPDIR:-/tmp}/envtest-build.XXXXXX")"
  stage="$(mktemp -d "$assets_dir/.stage.XXXXXX")"   # same filesystem => atomic mv
  cleanup() { rm -rf "$work" "$stage"; }
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  # Build for the host, in module mode, independently of any surrounding
  # go.work, vendor dir or GOFLAGS of the caller.
  export CGO_ENABLED=0 GO111MODULE=on GOWORK=off GOFLAGS=-mod=mod
  unset GOOS GOARCH

  log "assets dir: $assets_dir"
  log "go: $("$GO" version)"
  log "kubernetes v${K8S_VERSION}, etcd v${ETCD_VERSION}"

  t_start=$(date +%s)
  build_kubernetes
  build_etcd

  # Sanity check before publishing.
  "$stage/kube-apiserver" --version >&2
  "$stage/kubectl" version --client >&2
  "$stage/etcd" --version >&2

  # Publish: each rename is atomic; the stamp goes last.
  rm -f "$assets_dir/$STAMP_NAME"
  for b in "${BINARIES[@]}"; do
    mv -f "$stage/$b" "$assets_dir/$b"
  done
  printf '%s\n' "$STAMP_CONTENT" >"$stage/$STAMP_NAME"
  mv -f "$stage/$STAMP_NAME" "$assets_dir/$STAMP_NAME"

  log "done in $(( $(date +%s) - t_start ))s"
  printf '%s\n' "$assets_dir"
}

main "$@"
