# shellcheck shell=bash
# Sourced by hack/images.sh and hack/skaffold-build.sh: builds one of the project's images with
# podman (hack/podman.sh) where the public base images cannot be pulled (these machines reach no
# container registry). The base images are built here first and handed in as build arguments:
#   - a Debian base: `debootstrap --variant=minbase` with Debian's python3 (3.11, linked at
#     /usr/local/bin/python3 as in python:3.11-slim) and ca-certificates, imported with
#     `podman import`; its tag is a stamp of what went into it, so it is built once per content;
#   - uv: the uv binary of the tool cache (the Makefile's pinned version), in a scratch image.
# podman keeps its layers in the tool cache.
#
#   images_init                              the base images (built once), the log folder
#   build_image NAME DOCKERFILE CONTEXT REF  REF built (or found up to date); prints
#                                            `NAME REF SIZE_BYTES`
#
# Environment: PYTHON_IMAGE (base of the Python images; default: the local Debian base),
# UV_IMAGE (image holding /uv; default: the local one), XDG_CACHE_HOME ($HOME/.cache).
# The caller sets `root` (the repository) and `set -euo pipefail`.

# shellcheck disable=SC2154 # root: the caller's
podman() { "$root/hack/podman.sh" "$@"; }
log() { printf '[images] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# step VERB WHAT ESTIMATE CMD...: the first run says what it builds while it builds it.
source "$root/hack/lib/progress.sh"

cache="${XDG_CACHE_HOME:-$HOME/.cache}/temporal-gateway"
uv_version="$(sed -n 's/^UV_VERSION := //p' "$root/Makefile")"
suite=bookworm
mirror="$(sed -n 's#^URIs: *\(http[^ ]*/debian\)$#\1#p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)"
mirror="${mirror:-http://deb.debian.org/debian}"
base_packages=python3,ca-certificates
ca_bundle=/etc/ssl/certs/ca-certificates.crt
# The label holding an image's inputs digest (inputs_digest).
inputs_label=dev.temporal-gateway.inputs

need() { # COMMAND PACKAGE
  command -v "$1" >/dev/null && return 0
  log "installing $2 from Debian"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2"; } >&2
}

# The Debian base, named by a stamp of its recipe (this function, _debootstrap and its inputs).
base_image() {
  local stamp ref work t0
  stamp="$( { declare -f base_image _debootstrap; echo "$suite $mirror $base_packages"; } | sha256sum | cut -c1-12)"
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
    step build "the Debian base image (debootstrap)" 180 _debootstrap "$work" "$ref"
    rm -rf "$work"
    log "built $ref in $(( $(date +%s) - t0 ))s"
  fi
  flock -u 8
  printf '%s\n' "$ref"
}

_debootstrap() { # WORK REF
  local work="$1"
  debootstrap --variant=minbase --include="$base_packages" "$suite" "$work/rootfs" "$mirror" \
    >"$work/debootstrap.log" 2>&1 || { tail -n 20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
  # What python:3.11-slim has where it has it; nothing a runtime image does not need.
  ln -sf /usr/bin/python3 "$work/rootfs/usr/local/bin/python3"
  rm -rf "$work/rootfs"/var/lib/apt/lists/* "$work/rootfs"/var/cache/apt/* \
    "$work/rootfs"/usr/share/doc/* "$work/rootfs"/usr/share/man/* "$work/rootfs"/usr/share/info/* \
    "$work/rootfs"/usr/share/locale/* "$work/rootfs"/var/log/*.log "$work/rootfs"/dev/*
  tar -C "$work/rootfs" --numeric-owner -c . |
    podman import --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' - "$2" >&2
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

# The files a build reads from its context, relative to it, NUL-separated: those its COPY lines
# take (less caches and bytecode, which .dockerignore drops too). skaffold watches the same
# list (hack/skaffold-build.sh --dependencies).
build_inputs() { # DOCKERFILE CONTEXT
  local sources
  sources="$(awk '$1 == "COPY" && $2 !~ /^--from/ { for (i = 2; i < NF; i++) print $i }' "$1")"
  [[ -n "$sources" ]] || return 0
  # shellcheck disable=SC2086 # one word per source
  (cd "$2" && find $sources -type f ! -path '*/__pycache__/*' ! -name '*.py[co]' ! -path '*/.venv/*' \
    ! -path '*/.mypy_cache/*' ! -path '*/.pytest_cache/*' ! -path '*/.ruff_cache/*' ! -name Dockerfile \
    -print0 | sort -z)
}

# A digest of what a build reads: the Dockerfile, its input files and the build arguments.
# podman's layer cache alone still spends minutes per image on vfs even when every step is
# cached; with this stamp (an image label) an unchanged image is not rebuilt at all, as
# skaffold's inputDigest does.
inputs_digest() { # DOCKERFILE CONTEXT
  {
    cat "$1"
    echo "$python_image $uv_ref $(podman image inspect --format '{{.Id}}' "$python_image" "$uv_ref" | tr '\n' ' ')"
    build_inputs "$1" "$2" | (cd "$2" && xargs -0 --no-run-if-empty sha256sum)
  } | sha256sum | cut -c1-16
}

images_init() {
  mkdir -p "$cache/podman"
  build_logs="$cache/podman/logs"
  mkdir -p "$build_logs"
  python_image="${PYTHON_IMAGE:-$(base_image)}"
  uv_ref="${UV_IMAGE:-$(uv_image)}"
}

labelled() { # IMAGE DIGEST: IMAGE exists and carries inputs DIGEST
  [[ "$(podman image inspect --format "{{index .Labels \"$inputs_label\"}}" "$1" 2>/dev/null)" == "$2" ]]
}

# The ID of the last image built for each inputs digest, one file per digest. The label alone
# cannot find it: podman puts a build's labels on its builder stage and layers too.
remember() { # REF DIGEST
  mkdir -p "$cache/podman/inputs"
  podman image inspect --format '{{.Id}}' "$1" >"$cache/podman/inputs/$2"
}

# REF up to date: already labelled with these inputs, or a new name for the image built from
# them (the same inputs under another tag, as skaffold's inputDigest tags give), or built now.
build_image() { # NAME DOCKERFILE CONTEXT REF
  local name="$1" t0 t1 digest same
  t0=$(date +%s)
  digest="$(inputs_digest "$2" "$3")"
  same="$(cat "$cache/podman/inputs/$digest" 2>/dev/null || true)"
  if labelled "$4" "$digest"; then
    log "$4 is up to date (inputs $digest)"
    [[ -n "$same" ]] || remember "$4" "$digest"
  elif [[ -n "$same" ]] && labelled "$same" "$digest"; then
    podman tag "$same" "$4"
    log "$4 is ${same:0:12} (inputs $digest)"
  else
    log "building $name (inputs $digest)"
    # The estimate is a first build's (empty layer cache) on two cores shared with
    # hack/assets.sh's other groups; a rebuild after a change records its own time.
    : >"$build_logs/$name.log"
    step build "the $name image" "$( [[ $name == temporal-dev ]] && echo 60 || echo 150 )" \
      quietly "$build_logs/$name.log" \
      podman build --pull=never --layers --label "$inputs_label=$digest" \
      --build-arg PYTHON_IMAGE="$python_image" --build-arg UV_IMAGE="$uv_ref" \
      --build-arg SSL_CERT_FILE="$ca_bundle" -v /etc/ssl/certs:/etc/ssl/certs:ro \
      -f "$2" -t "$4" "$3" || die "building $name failed (log: $build_logs/$name.log)"
    remember "$4" "$digest"
    # On vfs storage every layer is a whole copy of its image: the untagged images earlier
    # builds left (an image this one replaced, their builder stages) would fill the disk within
    # days of builds (47 GB here in one). This build's own builder stage is kept, and with it
    # the layers the next build reuses.
    podman image prune -f --filter "until=$t0" >/dev/null
    t1=$(date +%s)
    log "built $4 in $((t1 - t0))s"
  fi
  printf '%s %s %s\n' "$name" "$4" "$(podman image inspect --format '{{.Size}}' "$4")"
}
