#!/usr/bin/env bash
# Build (once) and cache the Jaeger v2 binary (`jaeger`: an OpenTelemetry
# Collector distribution that runs as all-in-one collector + query + storage),
# compiled from the github.com/jaegertracing/jaeger module fetched through the
# Go module proxy with the local Go toolchain.
#
# Usage:
#   JAEGER_DIR="$(hack/jaeger.sh)"          # binary: $JAEGER_DIR/jaeger
#
# Run it locally (in-memory storage, everything on 127.0.0.1, ports from the
# environment, defaults shown; see hack/jaeger-local.yaml):
#   JAEGER_OTLP_GRPC_PORT=4317 JAEGER_OTLP_HTTP_PORT=4318 \
#   JAEGER_QUERY_HTTP_PORT=16686 JAEGER_QUERY_GRPC_PORT=16685 \
#   JAEGER_HEALTH_PORT=13133 JAEGER_METRICS_PORT=8888 \
#     "$JAEGER_DIR/jaeger" --config hack/jaeger-local.yaml &
#   jaeger_pid=$!
#   until curl -fsS http://127.0.0.1:13133/status >/dev/null; do sleep 0.2; done
#   ...
#   kill "$jaeger_pid"; wait "$jaeger_pid"       # stops cleanly on SIGTERM
#
# Endpoints with hack/jaeger-local.yaml (host JAEGER_LISTEN_HOST, default 127.0.0.1):
#   OTLP/gRPC  :$JAEGER_OTLP_GRPC_PORT (4317)  export with OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4317
#   OTLP/HTTP  :$JAEGER_OTLP_HTTP_PORT (4318)  POST /v1/traces (application/json or application/x-protobuf)
#   query HTTP :$JAEGER_QUERY_HTTP_PORT (16686)
#       GET /api/services                          service names seen
#       GET /api/traces?service=NAME               legacy JSON API (.data[].spans[])
#       GET /api/traces/TRACE_ID_HEX
#       GET /api/v3/services
#       GET /api/v3/traces?query.service_name=NAME&query.start_time_min=RFC3339&query.start_time_max=RFC3339
#       GET /api/v3/traces/TRACE_ID_HEX            OTLP JSON (.result.resourceSpans[])
#       GET /                                      UI: only a placeholder page, because the
#                                                  module zip has no built jaeger-ui assets
#   query gRPC :$JAEGER_QUERY_GRPC_PORT (16685)   jaeger.api_v2.QueryService, jaeger.api_v3.QueryService
#   health     :$JAEGER_HEALTH_PORT (13133)       GET /status  (200 once all components are up)
#   metrics    :$JAEGER_METRICS_PORT (8888)       GET /metrics (Prometheus text)
#
# Without --config the binary runs its built-in all-in-one config instead:
# in-memory storage, but more listeners (OTLP 4317/4318, Jaeger 14250/14268/
# 6831/6832 UDP, Zipkin 9411, sampling 5778/5779, health 13133, expvar 27777,
# zpages 27778, metrics 8888 on $JAEGER_LISTEN_HOST, default localhost) and the
# query service on :16686/:16685 on ALL interfaces, self-tracing to
# localhost:4317. Single values can also be overridden with
# --set=receivers::otlp::protocols::http::endpoint=127.0.0.1:14318 (the
# OpenTelemetry Collector's --set syntax; it needs a --config as well).
#
# Only the directory holding the `jaeger` binary is printed on stdout; progress
# goes to stderr. When the binary is already built (stamp file present and
# matching the pinned versions) the script only prints the directory.
#
# Environment:
#   JAEGER_BUILD_DIR             use/build this directory instead of the default cache
#   JAEGER_BUILD_VERSION         override the pinned Jaeger v2 version (2.x.y) ...
#   JAEGER_BUILD_MODULE_VERSION  ... together with its Go module version (1.x.y)
#   XDG_CACHE_HOME               default cache root ($HOME/.cache)
#   GO                           go command to use (default: go on PATH, else /usr/local/go/bin/go)
#   GOMODCACHE, GOCACHE, GOPROXY, GOTOOLCHAIN are honoured as usual.
set -euo pipefail

# --- pinned versions ----------------------------------------------------------
# Jaeger publishes each release under two tags, v1.N.0 / v2.M.0, and the Go
# module github.com/jaegertracing/jaeger only has the v1.x tags (there is no
# /v2 module path). v1.76.0 is the newest version on the module proxy and is
# Jaeger v2.13.0 (its CHANGELOG.md heading "v1.76.0 / v2.13.0"; the build
# checks that pairing). Its go directive is 1.24.6 (toolchain go1.25.4), so
# the machine's Go 1.26 builds it without a toolchain download.
JAEGER_VERSION="${JAEGER_BUILD_VERSION:-2.13.0}"
JAEGER_MODULE_VERSION="${JAEGER_BUILD_MODULE_VERSION:-1.76.0}"
# ------------------------------------------------------------------------------

JAEGER_MODULE="github.com/jaegertracing/jaeger"
BINARIES=(jaeger)
STAMP_NAME=".jaeger.stamp"
STAMP_CONTENT="jaeger=v${JAEGER_VERSION} module=v${JAEGER_MODULE_VERSION} binaries=${BINARIES[*]}"

log() { printf '[jaeger] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# step VERB WHAT ESTIMATE CMD...: the first run says what it builds while it builds it.
source "$(dirname "${BASH_SOURCE[0]}")/lib/progress.sh"

bin_dir="${JAEGER_BUILD_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/temporal-gateway/jaeger/jaeger-v${JAEGER_VERSION}}"

# A binary put into an explicitly given JAEGER_BUILD_DIR by other means (no
# stamp or lock file of ours) is used as it is, never overwritten.
is_foreign() {
  local b
  [[ -n "${JAEGER_BUILD_DIR:-}" ]] || return 1
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

# Prints the replace statements of a go.mod verbatim (single-line and block
# form), comments removed.
replace_statements() {
  awk '
    { sub(/[[:space:]]*\/\/.*$/, "") }
    block && /^[[:space:]]*\)/ { print; block = 0; next }
    block { print; next }
    /^replace[[:space:]]*\($/ { print; block = 1; next }
    /^replace[[:space:]]/ { print }
  ' "$1"
}

# --- jaeger -------------------------------------------------------------------
# The module's go.mod has a replace directive (github.com/Shopify/sarama =>
# an older version), so `go install ...@version` refuses it. A throw-away
# wrapper module requires it and repeats its replace directives (module
# versions only; a local-path replace could not be reproduced). Its go.sum
# starts from the module's own, so the build list is exactly upstream's.
#
# Version variables as upstream's Makefile sets them for `build-jaeger`
# (scripts/makefiles/BuildInfo.mk, BUILD_INFO_V2):
# github.com/jaegertracing/jaeger/internal/version.{latestVersion,commitSHA,date}
# with latestVersion = the v2 tag and date = the release commit's time (the
# module proxy's Time). Module zips carry no VCS information, so commitSHA
# stays empty.
_go_build() { (cd "$1" && "$GO" build -trimpath -ldflags "$2" -o "$stage/jaeger" "$3") >&2; }
build_jaeger() {
  local mod="${JAEGER_MODULE}@v${JAEGER_MODULE_VERSION}" info dir gomod info_file
  local go_directive replaces build_date
  local moddir="$work/jaeger"
  mkdir -p "$moddir"

  log "resolving $mod"
  info="$(module_info "$mod")"
  dir="$(sed -n 's/^Dir=//p' <<<"$info" | head -n1)"
  gomod="$(sed -n 's/^GoMod=//p' <<<"$info" | head -n1)"
  info_file="$(sed -n 's/^Info=//p' <<<"$info" | head -n1)"
  [[ -n "$dir" && -d "$dir" && -f "$gomod" ]] || die "could not download $mod"

  # The module version must be the pinned Jaeger v2 release.
  if ! grep -Eq "^v${JAEGER_MODULE_VERSION//./\\.} / v${JAEGER_VERSION//./\\.}([[:space:]]|$)" "$dir/CHANGELOG.md"; then
    die "$mod is not Jaeger v${JAEGER_VERSION} (no 'v${JAEGER_MODULE_VERSION} / v${JAEGER_VERSION}' in its CHANGELOG.md)"
  fi

  go_directive="$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$gomod" | head -n1)"
  replaces="$(replace_statements "$gomod")"
  log "$mod = Jaeger v${JAEGER_VERSION}: go directive ${go_directive:-unknown}, $(grep -c '=>' <<<"$replaces" || true) replace directive(s)"
  if grep -Eq '=>[[:space:]]*(\.{0,2}/)' <<<"$replaces"; then
    die "$mod replaces modules with local paths; cannot build it from the module proxy"
  fi

  {
    printf 'module temporal-gateway.invalid/jaeger\n\n'
    printf 'go %s\n\n' "${go_directive:-1.26.0}"
    printf 'require %s v%s\n\n' "$JAEGER_MODULE" "$JAEGER_MODULE_VERSION"
    [[ -z "$replaces" ]] || printf '%s\n' "$replaces"
  } >"$moddir/go.mod"
  cp "$dir/go.sum" "$moddir/go.sum"
  chmod u+w "$moddir/go.sum"

  build_date="$(sed -n 's/.*"Time": *"\([^"]*\)".*/\1/p' "$info_file")"
  local pkg="${JAEGER_MODULE}/internal/version"
  local ldflags=(
    -s -w
    "-X '$pkg.latestVersion=v${JAEGER_VERSION}'"
    "-X '$pkg.commitSHA='"
    "-X '$pkg.date=${build_date:-1970-01-01T00:00:00Z}'"
  )

  log "building jaeger (${JAEGER_MODULE}/cmd/jaeger@v${JAEGER_MODULE_VERSION}) ..."
  # About 10 minutes the first time on two cores shared with hack/assets.sh's other groups
  # (its dependencies' download included).
  step build jaeger 600 _go_build "$moddir" "${ldflags[*]}" "${JAEGER_MODULE}/cmd/jaeger"
  log "built jaeger ($(du -h "$stage/jaeger" | cut -f1))"
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
    log "using the binary already in JAEGER_BUILD_DIR=$bin_dir (not built by this script)"
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
  work="$(mktemp -d "${TMPDIR:-/tmp}/jaeger-build.XXXXXX")"
  stage="$(mktemp -d "$bin_dir/.stage.XXXXXX")"   # same filesystem => atomic mv
  cleanup() { rm -rf "$work" "$stage"; }
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  # Build for the host, in module mode, independently of any surrounding
  # go.work, vendor dir or GOFLAGS of the caller.
  export CGO_ENABLED=0 GO111MODULE=on GOWORK=off GOFLAGS=-mod=mod
  unset GOOS GOARCH

  log "bin dir: $bin_dir"
  log "go: $("$GO" version)"
  log "jaeger v${JAEGER_VERSION} (module v${JAEGER_MODULE_VERSION})"

  t_start=$(date +%s)
  build_jaeger

  # Sanity check before publishing: the version must be the pinned one.
  local have
  have="$("$stage/jaeger" version 2>/dev/null)"
  log "jaeger version: $have"
  [[ "$have" == *"\"gitVersion\":\"v${JAEGER_VERSION}\""* ]] ||
    die "built jaeger does not report gitVersion v${JAEGER_VERSION}"

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
