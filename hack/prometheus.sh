#!/usr/bin/env bash
# Get (once) and cache Debian's Prometheus: `prometheus` and `promtool`,
# unpacked from the distribution's package rather than installed, so no
# service is started and nothing outside the cache folder changes.
#
# Usage:
#   PROMETHEUS_DIR="$(hack/prometheus.sh)"   # $PROMETHEUS_DIR/prometheus, $PROMETHEUS_DIR/promtool
#
# Only the directory is printed on stdout; progress goes to stderr.
#
# Environment:
#   PROMETHEUS_BUILD_DIR  use this directory instead of the default cache
#   XDG_CACHE_HOME        default cache root ($HOME/.cache)
set -euo pipefail

# Debian bookworm's package; the version names the cache folder.
PACKAGE="prometheus"
BINARIES=(prometheus promtool)

log() { printf '[prometheus] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

candidate() { apt-cache policy "$PACKAGE" 2>/dev/null | sed -n 's/^ *Candidate: //p'; }

main() {
  command -v apt-get >/dev/null || die "apt-get not found: this script unpacks Debian's package"
  local version
  version="$(candidate)"
  if [[ -z "$version" || "$version" == "(none)" ]]; then
    log "no package list yet: apt-get update"
    apt-get update -qq >&2 || die "apt-get update failed"
    version="$(candidate)"
  fi
  [[ -n "$version" && "$version" != "(none)" ]] || die "no '$PACKAGE' package in the apt sources"

  local dir="${PROMETHEUS_BUILD_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/temporal-gateway/prometheus/${version//[:+~]/_}}"
  local stamp="$dir/.prometheus.stamp" b
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$version" ]]; then
    printf '%s\n' "$dir"
    return 0
  fi

  mkdir -p "$dir"
  exec 9>"$dir/.lock"
  flock 9
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$version" ]]; then
    printf '%s\n' "$dir"
    return 0
  fi

  work="$(mktemp -d "${TMPDIR:-/tmp}/prometheus-deb.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  log "downloading $PACKAGE=$version"
  # apt's sandbox user cannot write to a root-owned mktemp folder; let it.
  chmod 0777 "$work"
  (cd "$work" && apt-get download -qq "$PACKAGE=$version") >&2 || die "apt-get download failed"
  dpkg-deb -x "$work"/"$PACKAGE"_*.deb "$work/root"
  for b in "${BINARIES[@]}"; do
    [[ -x "$work/root/usr/bin/$b" ]] || die "the package has no /usr/bin/$b"
    mv -f "$work/root/usr/bin/$b" "$dir/$b"
  done
  "$dir/prometheus" --version >&2
  printf '%s\n' "$version" >"$stamp"
  printf '%s\n' "$dir"
}

main "$@"
