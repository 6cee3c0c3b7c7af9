#!/usr/bin/env bash
# Build the project's images with podman (hack/podman.sh): the API, the worker, the operator and
# the dev Temporal the chart runs, each from its Dockerfile on the local base images
# (hack/lib/images.sh says how). An image whose inputs are unchanged is not rebuilt.
#
# Usage:
#   hack/images.sh [api|worker|operator|temporal-dev]...   (none: all four)
# Prints one line per image on stdout: `NAME REFERENCE SIZE_BYTES`; progress goes to stderr.
#
# Environment:
#   IMAGE_TAG       tag of the service images (default: the chart's appVersion)
#   PYTHON_IMAGE    base image of the Python images; default: the local Debian base
#   UV_IMAGE        image holding /uv; default: the local one from the tool cache
#   XDG_CACHE_HOME  default cache root ($HOME/.cache)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
# shellcheck source-path=SCRIPTDIR source=lib/images.sh
source "$root/hack/lib/images.sh"

chart_version="$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$root/charts/temporal-gateway/Chart.yaml")"
temporal_version="$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$root/charts/temporal-gateway/charts/temporal-dev/Chart.yaml")"
tag="${IMAGE_TAG:-$chart_version}"

main() {
  local names=("$@") name
  [[ ${#names[@]} -gt 0 ]] || names=(api worker operator temporal-dev)
  images_init
  for name in "${names[@]}"; do
    case "$name" in
      api) build_image api "$root/services/api/Dockerfile" "$root" "localhost/temporal-gateway-api:$tag" ;;
      worker) build_image worker "$root/services/worker/Dockerfile" "$root" "localhost/temporal-gateway-worker:$tag" ;;
      operator) build_image operator "$root/operator/Dockerfile" "$root" "localhost/temporal-gateway-operator:$tag" ;;
      temporal-dev) build_image temporal-dev "$root/images/temporal-dev/Dockerfile" "$root/images/temporal-dev" \
        "localhost/temporal-gateway-temporal-dev:$temporal_version" ;;
      *) die "unknown image: $name (api, worker, operator, temporal-dev)" ;;
    esac
  done
}

main "$@"
