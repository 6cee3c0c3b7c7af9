#!/usr/bin/env bash
# Get (once) and cache the schemas the chart's tests check against that no Kubernetes API
# server has built in: the CRDs of the optional objects the chart renders (prometheus-operator's
# ServiceMonitor and PrometheusRule, Gateway API's HTTPRoute, KEDA's ScaledObject and
# TriggerAuthentication) and skaffold's JSON schema for skaffold.yaml. Each ships in its
# project's Go module, fetched with `go mod download` (no build) at a pinned version.
#
# Usage:
#   KUBE_SCHEMAS_DIR="$(hack/kube-schemas.sh)"   # $KUBE_SCHEMAS_DIR/crds/*.yaml, skaffold-*.json
#
# Only the directory is printed on stdout; progress goes to stderr.
#
# Environment:
#   KUBE_SCHEMAS_BUILD_DIR  use this directory instead of the default cache
#   XDG_CACHE_HOME          default cache root ($HOME/.cache)
#   GO                      go command (default: go on PATH, else /usr/local/go/bin/go)
set -euo pipefail

# --- pinned versions ----------------------------------------------------------
PROMETHEUS_OPERATOR="github.com/prometheus-operator/prometheus-operator@v0.85.0"
GATEWAY_API="sigs.k8s.io/gateway-api@v1.4.1"
KEDA="github.com/kedacore/keda/v2@v2.21.0"
# skaffold 2.16's newest config schema is skaffold/v4beta13 (skaffold.yaml's apiVersion).
SKAFFOLD="github.com/GoogleContainerTools/skaffold/v2@v2.16.1"
SKAFFOLD_SCHEMA="v4beta13"
# ------------------------------------------------------------------------------

# module@version  path-in-module  file-name-in-cache
FILES=(
  "$PROMETHEUS_OPERATOR example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml crds/monitoring.coreos.com_servicemonitors.yaml"
  "$PROMETHEUS_OPERATOR example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml crds/monitoring.coreos.com_prometheusrules.yaml"
  "$GATEWAY_API config/crd/standard/gateway.networking.k8s.io_httproutes.yaml crds/gateway.networking.k8s.io_httproutes.yaml"
  "$KEDA config/crd/bases/keda.sh_scaledobjects.yaml crds/keda.sh_scaledobjects.yaml"
  "$KEDA config/crd/bases/keda.sh_triggerauthentications.yaml crds/keda.sh_triggerauthentications.yaml"
  "$SKAFFOLD docs-v2/content/en/schemas/$SKAFFOLD_SCHEMA.json skaffold-$SKAFFOLD_SCHEMA.json"
)
STAMP_CONTENT="$(printf '%s\n' "${FILES[@]}" | sha256sum | cut -c1-16)"

log() { printf '[kube-schemas] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# step VERB WHAT ESTIMATE CMD...: the first run says what it builds while it builds it.
source "$(dirname "${BASH_SOURCE[0]}")/lib/progress.sh"

is_complete() {
  local entry
  [[ -f "$dir/.stamp" && "$(cat "$dir/.stamp")" == "$STAMP_CONTENT" ]] || return 1
  for entry in "${FILES[@]}"; do
    set -- $entry
    [[ -s "$dir/$3" ]] || return 1
  done
}

main() {
  dir="${KUBE_SCHEMAS_BUILD_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/temporal-gateway/kube-schemas/$STAMP_CONTENT}"
  if is_complete; then
    printf '%s\n' "$dir"
    return 0
  fi
  if [[ -z "${GO:-}" ]]; then
    if command -v go >/dev/null 2>&1; then GO=go
    elif [[ -x /usr/local/go/bin/go ]]; then GO=/usr/local/go/bin/go
    else die "no Go toolchain found (set GO=/path/to/go)"; fi
  fi
  mkdir -p "$dir/crds"
  exec 9>"$dir/.lock"
  flock 9
  if is_complete; then
    printf '%s\n' "$dir"
    return 0
  fi

  work="$(mktemp -d "${TMPDIR:-/tmp}/kube-schemas.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  export GO111MODULE=on GOWORK=off GOFLAGS=-mod=mod
  step download "the optional CRDs' and skaffold's schemas" 60 fetch_schemas
  printf '%s\n' "$STAMP_CONTENT" >"$dir/.stamp"
  log "done: $dir"
  printf '%s\n' "$dir"
}

# Each file from its module (go mod download), into $dir.
fetch_schemas() {
  local entry module_dir
  declare -A dirs=()
  for entry in "${FILES[@]}"; do
    set -- $entry
    if [[ -z "${dirs[$1]:-}" ]]; then
      log "go mod download $1"
      module_dir="$(cd "$work" && "$GO" mod download -json "$1" |
        sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
      [[ -n "$module_dir" && -d "$module_dir" ]] || die "could not download $1"
      dirs[$1]="$module_dir"
    fi
    [[ -s "${dirs[$1]}/$2" ]] || die "$1 has no $2"
    cp -f "${dirs[$1]}/$2" "$dir/$3.tmp"
    chmod 0644 "$dir/$3.tmp"
    mv -f "$dir/$3.tmp" "$dir/$3"
  done
}

main "$@"
