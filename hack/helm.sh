#!/usr/bin/env bash
# Build (once) and cache the Helm v4 CLI, compiled from the helm.sh/helm/v4
# module fetched through the Go module proxy with the local Go toolchain.
#
# Usage:
#   HELM_DIR="$(hack/helm.sh)"
#   "$HELM_DIR/helm" version
#   export PATH="$(hack/helm.sh):$PATH"
#
# Only the directory holding the `helm` binary is printed on stdout; progress
# goes to stderr. When the binary is already built (stamp file present and
# matching the pinned version) the script only prints the directory.
#
# Environment:
#   HELM_BUILD_DIR      use/build this directory instead of the default cache
#   HELM_BUILD_VERSION  override the pinned Helm version (4.x.y; 3.x.y builds Helm 3 from
#                       helm.sh/helm/v3, which hack/skaffold.sh needs: skaffold 2.16 passes
#                       itself as a post-renderer executable, and Helm 4 takes plugins only)
#   XDG_CACHE_HOME      default cache root ($HOME/.cache)
#   GO                  go command to use (default: go on PATH, else /usr/local/go/bin/go)
#   GOMODCACHE, GOCACHE, GOPROXY, GOTOOLCHAIN are honoured as usual.
set -euo pipefail

# --- pinned versions ----------------------------------------------------------
# Helm 4.3.1: newest helm.sh/helm/v4 release on the module proxy; its go
# directive is 1.26.0, so the machine's Go 1.26 builds it without a toolchain
# download. Its go.mod has no replace directives, so plain `go install
# helm.sh/helm/v4/cmd/helm@v4.3.1` works (no wrapper module needed).
HELM_VERSION="${HELM_BUILD_VERSION:-4.3.1}"
# ------------------------------------------------------------------------------

HELM_MODULE="helm.sh/helm/v${HELM_VERSION%%.*}"
BINARIES=(helm)
STAMP_NAME=".helm.stamp"
STAMP_CONTENT="helm=v${HELM_VERSION} binaries=${BINARIES[*]}"

log() { printf '[helm] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# step VERB WHAT ESTIMATE CMD...: the first run says what it builds while it builds it.
source "$(dirname "${BASH_SOURCE[0]}")/lib/progress.sh"

bin_dir="${HELM_BUILD_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/temporal-gateway/helm/helm-v${HELM_VERSION}}"

# A binary put into an explicitly given HELM_BUILD_DIR by other means (no
# stamp or lock file of ours) is used as it is, never overwritten.
is_foreign() {
  local b
  [[ -n "${HELM_BUILD_DIR:-}" ]] || return 1
  [[ ! -e "$bin_dir/$STAMP_NAME" && ! -e "$bin_dir/.lock" ]] || return 1
  for b in "${BINARIES[@]}"; do
    [[ -x "$bin_dir/$b" ]] || return 1
  done
}

is_complete() {
  local b
  [[ -f "$bin_dir/$STAMP_NAME" ]] || return 1
  [[ "$(cat "$bin_dir/$STAMP_NAME")" == "$STAMP_CONTENT" ]] || return 1
  for b in "${BINARIES[@]}"; do
    [[ -x "$bin_dir/$b" ]] || return 1
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

_go_install() { (cd "$work" && GOBIN="$stage" "$GO" install -trimpath -ldflags "$1" "$2") >&2; }

# --- helm ---------------------------------------------------------------------
# The version variables are the ones helm's own Makefile sets for a release
# build (helm.sh/helm/v4/internal/version, the same in v3): version=<tag>, metadata empty for
# a tagged build, gitCommit and gitTreeState. Module zips carry no VCS
# information, so gitCommit stays empty; the tree is exactly the tagged one,
# hence gitTreeState=clean.
build_helm() {
  local mod="${HELM_MODULE}@v${HELM_VERSION}" gomod go_directive
  log "resolving $mod"
  gomod="$(module_field "$mod" GoMod)"
  [[ -n "$gomod" && -f "$gomod" ]] || die "could not download $mod"
  go_directive="$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$gomod" | head -n1)"
  log "$mod: go directive ${go_directive:-unknown}"
  if grep -Eq '^[[:space:]]*(replace|exclude)([[:space:](]|$)' "$gomod"; then
    die "$mod has replace/exclude directives: go install @version cannot build it"
  fi

  local pkg="${HELM_MODULE}/internal/version"
  local ldflags=(
    -s -w
    "-X '$pkg.version=v${HELM_VERSION}'"
    "-X '$pkg.metadata='"
    "-X '$pkg.gitCommit='"
    "-X '$pkg.gitTreeState=clean'"
  )

  log "building helm (${HELM_MODULE}/cmd/helm@v${HELM_VERSION}) ..."
  # About 8 minutes the first time on two cores shared with hack/assets.sh's other groups
  # (its dependencies' download included).
  step build helm 480 _go_install "${ldflags[*]}" "${HELM_MODULE}/cmd/helm@v${HELM_VERSION}"
  [[ -x "$stage/helm" ]] || die "go install produced no $stage/helm"
  log "built helm ($(du -h "$stage/helm" | cut -f1))"
}

# The whole run is inside main so that bash has parsed all of it before it
# starts: editing or updating this file during a long build is then harmless.
main() {
  # Fast path: nothing to do.
  if is_complete; then
    printf '%s\n' "$bin_dir"
    return 0
  fi
  if is_foreign; then
    log "using the binary already in HELM_BUILD_DIR=$bin_dir (not built by this script)"
    printf '%s\n' "$bin_dir"
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

  mkdir -p "$bin_dir"
  bin_dir="$(cd "$bin_dir" && pwd -P)"

  # --- serialise concurrent callers -------------------------------------------
  lock_file="$bin_dir/.lock"
  exec 9>"$lock_file"
  if ! flock -n 9; then
    log "another build holds $lock_file; waiting for it"
    flock 9
  fi
  # Somebody else may have finished the build while we waited.
  if is_complete; then
    printf '%s\n' "$bin_dir"
    return 0
  fi

  # We hold the lock, so staging dirs left by a killed build are garbage.
  rm -rf "$bin_dir"/.stage.*
  work="$(mktemp -d "${TMPDIR:-/tmp}/helm-build.XXXXXX")"
  stage="$(mktemp -d "$bin_dir/.stage.XXXXXX")"   # same filesystem => atomic mv
  cleanup() { rm -rf "$work" "$stage"; }
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  # Build for the host, in module mode, independently of any surrounding
  # go.work, vendor dir or GOFLAGS of the caller. (`go install pkg@version`
  # ignores the current module anyway; $work is an empty directory.)
  export CGO_ENABLED=0 GO111MODULE=on GOWORK=off GOFLAGS=
  unset GOOS GOARCH GOBIN

  log "bin dir: $bin_dir"
  log "go: $("$GO" version)"
  log "helm v${HELM_VERSION}"

  t_start=$(date +%s)
  build_helm

  # Sanity check before publishing: the version must be the pinned one.
  local have
  have="$("$stage/helm" version --template '{{.Version}}')"
  "$stage/helm" version >&2
  [[ "$have" == "v${HELM_VERSION}" ]] || die "built helm reports version '$have', want v${HELM_VERSION}"

  # Publish: each rename is atomic; the stamp goes last.
  rm -f "$bin_dir/$STAMP_NAME"
  for b in "${BINARIES[@]}"; do
    mv -f "$stage/$b" "$bin_dir/$b"
  done
  printf '%s\n' "$STAMP_CONTENT" >"$stage/$STAMP_NAME"
  mv -f "$stage/$STAMP_NAME" "$bin_dir/$STAMP_NAME"

  log "done in $(( $(date +%s) - t_start ))s"
  printf '%s\n' "$bin_dir"
}

main "$@"
