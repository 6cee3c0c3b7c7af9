#!/usr/bin/env bash
# Build the project's images with podman (hack/podman.sh): the API, the worker, the operator and
# the dev Temporal the chart runs. Where the public base images cannot be pulled (these machines
# reach no container registry) it builds its own first, and hands them in as build arguments:
#   - a Debian base: `debootstrap --variant=minbase` with Debian's python3 (3.11, linked at
#     /usr/local/bin/python3 as in python:3.11-slim) and ca-certificates, imported with
#     `podman import`; its tag is a stamp of what went into it, so it is built once per content;
#   - uv: the uv binary of the tool cache (the Makefile's pinned version), in a scratch image.
# podman keeps its layers in the tool cache: an unchanged Dockerfile and context rebuild in seconds.
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
podman() { "$root/hack/podman.sh" "$@"; }
log() { printf '[images] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

cache="${XDG_CACHE_HOME:-$HOME/.cache}/temporal-gateway"
uv_version="$(sed -n 's/^UV_VERSION := //p' "$root/Makefile")"
chart_version="$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$root/charts/temporal-gateway/Chart.yaml")"
temporal_version="$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$root/charts/temporal-gateway/charts/temporal-dev/Chart.yaml")"
tag="${IMAGE_TAG:-$chart_version}"
suite=bookworm
mirror="$(sed -n 's#^URIs: *\(http[^ ]*/debian\)$#\1#p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)"
mirror="${mirror:-http://deb.debian.org/debian}"
base_packages=python3,ca-certificates
ca_bundle=/etc/ssl/certs/ca-certificates.crt

need() { # COMMAND PACKAGE
  command -v "$1" >/dev/null && return 0
  log "installing $2 from Debian"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2"; } >&2
}

# The Debian base, named by a stamp of its recipe (this function and its inputs).
base_image() {
  local stamp ref work t0
  stamp="$( { declare -f base_image; echo "$suite $mirror $base_packages"; } | sha256sum | cut -c1-12)"
  ref="localhost/temporal-gateway-base:$suite-$stamp"
  if podman image exists "$ref"; then
    printf '%s\n' "$ref"
    return
  fi
  need debootstrap debootstrap
  exec 8>"$cache/podman/.base.lock"
  flock 8
  if ! podman image exists "$ref"; then
    t0=$(date +%s)
    work="$(mktemp -d "${TMPDIR:-/tmp}/tg-base.XXXXXX")"
    log "debootstrap $suite ($base_packages) from $mirror"
    debootstrap --variant=minbase --include="$base_packages" "$suite" "$work/rootfs" "$mirror" \
      >"$work/debootstrap.log" 2>&1 || { tail -n 20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
    # What python:3.11-slim has where it has it; nothing a runtime image does not need.
    ln -sf /usr/bin/python3 "$work/rootfs/usr/local/bin/python3"
    rm -rf "$work/rootfs"/var/lib/apt/lists/* "$work/rootfs"/var/cache/apt/* \
      "$work/rootfs"/usr/share/doc/* "$work/rootfs"/usr/share/man/* "$work/rootfs"/usr/share/info/* \
      "$work/rootfs"/usr/share/locale/* "$work/rootfs"/var/log/*.log "$work/rootfs"/dev/*
    tar -C "$work/rootfs" --numeric-owner -c . |
      podman import --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' - "$ref" >&2
    rm -rf "$work"
    log "built $ref in $(( $(date +%s) - t0 ))s"
  fi
  flock -u 8
  printf '%s\n' "$ref"
}

# The uv binary the Makefile installs, alone in an image (the Dockerfiles copy /uv from it).
uv_image() {
  local ref="localhost/temporal-gateway-uv:$uv_version" uv="$cache/uv-$uv_version/bin/uv" work
  if podman image exists "$ref"; then
    printf '%s\n' "$ref"
    return
  fi
  [[ -x "$uv" ]] || (cd "$root" && make --no-print-directory "$uv" >&2)
  work="$(mktemp -d "${TMPDIR:-/tmp}/tg-uv.XXXXXX")"
  cp "$uv" "$work/uv"
  printf 'FROM scratch\nCOPY uv /uv\n' >"$work/Containerfile"
  podman build --quiet -t "$ref" "$work" >&2
  rm -rf "$work"
  printf '%s\n' "$ref"
}

# A digest of what a build reads: the Dockerfile, the files its COPY lines take from the context
# (less what .dockerignore drops) and the build arguments. podman's layer cache alone still
# spends minutes per image on vfs even when every step is cached; with this stamp (an image
# label) an unchanged image is not rebuilt at all, as skaffold's inputDigest does.
inputs_digest() { # DOCKERFILE CONTEXT
  local sources
  sources="$(awk '$1 == "COPY" && $2 !~ /^--from/ { for (i = 2; i < NF; i++) print $i }' "$1")"
  {
    cat "$1"
    echo "$python_image $uv_ref $(podman image inspect --format '{{.Id}}' "$python_image" "$uv_ref" | tr '\n' ' ')"
    if [[ -n "$sources" ]]; then
      # shellcheck disable=SC2086 # one word per source
      (cd "$2" && find $sources -type f ! -path '*/__pycache__/*' ! -name '*.py[co]' ! -path '*/.venv/*' \
        ! -path '*/.mypy_cache/*' ! -path '*/.pytest_cache/*' ! -path '*/.ruff_cache/*' ! -name Dockerfile \
        -print0 | sort -z | xargs -0 sha256sum)
    fi
  } | sha256sum | cut -c1-16
}

build() { # NAME DOCKERFILE CONTEXT REF
  local name="$1" t0 t1 digest
  t0=$(date +%s)
  digest="$(inputs_digest "$2" "$3")"
  if [[ "$(podman image inspect --format '{{index .Labels "dev.temporal-gateway.inputs"}}' "$4" 2>/dev/null)" == "$digest" ]]; then
    log "$4 is up to date (inputs $digest)"
  else
    log "building $name (inputs $digest)"
    podman build --pull=never --layers --label "dev.temporal-gateway.inputs=$digest" \
      --build-arg PYTHON_IMAGE="$python_image" --build-arg UV_IMAGE="$uv_ref" \
      --build-arg SSL_CERT_FILE="$ca_bundle" -v /etc/ssl/certs:/etc/ssl/certs:ro \
      -f "$2" -t "$4" "$3" >"$build_logs/$name.log" 2>&1 ||
      { tail -n 30 "$build_logs/$name.log" >&2; die "building $name failed (log: $build_logs/$name.log)"; }
    t1=$(date +%s)
    log "built $4 in $((t1 - t0))s"
  fi
  printf '%s %s %s\n' "$name" "$4" "$(podman image inspect --format '{{.Size}}' "$4")"
}

main() {
  local names=("$@") name
  [[ ${#names[@]} -gt 0 ]] || names=(api worker operator temporal-dev)
  mkdir -p "$cache/podman"
  build_logs="$cache/podman/logs"
  mkdir -p "$build_logs"
  python_image="${PYTHON_IMAGE:-$(base_image)}"
  uv_ref="${UV_IMAGE:-$(uv_image)}"
  for name in "${names[@]}"; do
    case "$name" in
      api) build api "$root/services/api/Dockerfile" "$root" "localhost/temporal-gateway-api:$tag" ;;
      worker) build worker "$root/services/worker/Dockerfile" "$root" "localhost/temporal-gateway-worker:$tag" ;;
      operator) build operator "$root/operator/Dockerfile" "$root" "localhost/temporal-gateway-operator:$tag" ;;
      temporal-dev) build temporal-dev "$root/images/temporal-dev/Dockerfile" "$root/images/temporal-dev" \
        "localhost/temporal-gateway-temporal-dev:$temporal_version" ;;
      *) die "unknown image: $name (api, worker, operator, temporal-dev)" ;;
    esac
  done
}

main "$@"
