#!/usr/bin/env bash
# Get (once) and cache Debian's Prometheus: `prometheus` and `promtool`, unpacked from the
# distribution's package (hack/lib/deb.sh), so no service is started.
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
DEB_TOOL=prometheus
source "$(dirname "${BASH_SOURCE[0]}")/lib/deb.sh"

install() { # ROOT DIR
  local b
  for b in prometheus promtool; do
    [[ -x "$1/usr/bin/$b" ]] || die "the package has no /usr/bin/$b"
    mv -f "$1/usr/bin/$b" "$2/$b"
  done
  "$2/prometheus" --version >&2
}

# Debian bookworm's package; its version names the cache folder.
deb_tool prometheus "${PROMETHEUS_BUILD_DIR:-}" prometheus
