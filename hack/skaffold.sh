#!/usr/bin/env bash
# Build (once) and cache skaffold from its Go module, inside its module directory so that its
# go.mod's replace directives apply (`go install ...@version` refuses a module with them).
# The version is the one hack/kube-schemas.sh takes skaffold.yaml's schema from.
#
# The directory also holds the helm that skaffold runs: Helm 3 (hack/helm.sh), as skaffold 2.16
# asks it `helm version --client` and passes itself as a `--post-renderer` executable, and
# Helm 4 refuses both (its post-renderers are plugins; skaffold learns that after 2.16).
#
# Usage:
#   SKAFFOLD_DIR="$(hack/skaffold.sh)"   # $SKAFFOLD_DIR/skaffold, $SKAFFOLD_DIR/helm
#   PATH="$SKAFFOLD_DIR:$PATH" skaffold run ...
# Only the directory is printed on stdout; progress goes to stderr.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
module="$(sed -n 's/^SKAFFOLD="\(.*\)"$/\1/p' "$here/kube-schemas.sh")"
version="${module##*@}"
# The newest Helm 3 on the module proxy.
helm3_version=3.22.0
dir="${SKAFFOLD_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/temporal-gateway/skaffold/$version}"
log() { printf '[skaffold] %s\n' "$*" >&2; }

if [[ ! -x "$dir/skaffold" ]]; then
  GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
  mkdir -p "$dir"
  exec 9>"$dir/.lock"
  flock 9
  if [[ ! -x "$dir/skaffold" ]]; then
    export CGO_ENABLED=0 GO111MODULE=on GOWORK=off
    work="$(mktemp -d "${TMPDIR:-/tmp}/skaffold.XXXXXX")"
    trap 'rm -rf "$work"' EXIT
    src="$(cd "$work" && GOFLAGS=-mod=mod "$GO" mod download -json "$module" |
      sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
    [[ -d "$src" ]] || { log "ERROR: could not download $module"; exit 1; }
    log "building skaffold $version in $src"
    t0=$(date +%s)
    (cd "$src" && GOFLAGS=-mod=readonly "$GO" build -trimpath \
      -ldflags "-s -w -X github.com/GoogleContainerTools/skaffold/v2/pkg/skaffold/version.version=$version" \
      -o "$work/skaffold" ./cmd/skaffold) >&2
    mv -f "$work/skaffold" "$dir/skaffold"
    log "built in $(( $(date +%s) - t0 ))s"
  fi
fi
helm3="$(HELM_BUILD_VERSION="$helm3_version" HELM_BUILD_DIR='' "$here/helm.sh")/helm"
[[ "$(readlink "$dir/helm" 2>/dev/null)" == "$helm3" ]] || ln -sfn "$helm3" "$dir/helm"
printf '%s\n' "$dir"
