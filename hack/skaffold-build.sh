#!/usr/bin/env bash
# skaffold's custom builder for the `podman` profile (skaffold.yaml): builds $IMAGE with podman
# from the artifact's Dockerfile, as hack/images.sh does (hack/lib/images.sh: the local base
# images, the CA bundle, the inputs stamp), then pushes it or puts it where the cluster runs it.
#
# skaffold runs it in the artifact's context with IMAGE (name:tag, the tag from its
# inputDigest policy), PUSH_IMAGE and BUILD_CONTEXT set. With PUSH_IMAGE=false skaffold then
# reads the image's ID from a Docker API (DOCKER_HOST: `hack/podman.sh system service`, the
# same storage) and deploys it under the tag `name:<that ID>` (skaffold's "unique, local only"
# tag for an image it did not push), so that name is the one the cluster must have too.
#
# Usage (as skaffold.yaml calls them, in the artifact's context; DOCKERFILE relative to it):
#   hack/skaffold-build.sh DOCKERFILE                  build $IMAGE
#   hack/skaffold-build.sh --dependencies DOCKERFILE   the files the build reads, as a JSON list
#     (skaffold's inputDigest tag and its file watching; no base image is looked up, which
#     skaffold's own Dockerfile parsing would do, in a registry these machines cannot reach)
#
# Environment:
#   TG_CONTAINERD_ADDRESS  a containerd socket: the image is imported there (`ctr images
#                          import`, namespace k8s.io, the snapshotter from CONTAINERD_SNAPSHOTTER
#                          as ctr reads it). Unset: the image stays in podman's storage.
#   and those of hack/lib/images.sh.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
# shellcheck source-path=SCRIPTDIR source=lib/images.sh
source "$root/hack/lib/images.sh"

dependencies() { # DOCKERFILE
  local file sep=''
  printf '['
  while IFS= read -r -d '' file; do
    file="${file//\\/\\\\}"
    printf '%s"%s"' "$sep" "${file//\"/\\\"}"
    sep=,
  done < <(printf '%s\0' "$1"; build_inputs "$1" .)
  printf ']\n'
}

# The name as Docker and the kubelet read it: a bare name is docker.io/library/NAME, which is
# what podman's Docker API and containerd look up for `temporal-gateway-api:...`.
qualified() { # NAME[:TAG]
  local first="${1%%/*}"
  if [[ "$1" != */* ]]; then
    printf 'docker.io/library/%s\n' "$1"
  elif [[ "$first" != *.* && "$first" != *:* && "$first" != localhost ]]; then
    printf 'docker.io/%s\n' "$1"
  else
    printf '%s\n' "$1"
  fi
}

main() {
  if [[ $# -eq 2 && "$1" == --dependencies ]]; then
    dependencies "$2"
    return
  fi
  [[ $# -eq 1 ]] || die "usage: $0 [--dependencies] DOCKERFILE"
  : "${IMAGE:?set by skaffold}" "${BUILD_CONTEXT:?set by skaffold}"
  local ref id local_ref archive name="${IMAGE%:*}"
  name="${name##*/}"
  ref="$(qualified "$IMAGE")"
  images_init
  build_image "$name" "$BUILD_CONTEXT/$1" "$BUILD_CONTEXT" "$ref" >/dev/null

  if [[ "${PUSH_IMAGE:-false}" == true ]]; then
    podman push "$ref" >&2
    return
  fi
  id="$(podman image inspect --format '{{.Id}}' "$ref")"
  local_ref="${ref%:*}:${id#sha256:}"
  podman tag "$ref" "$local_ref"
  if [[ -z "${TG_CONTAINERD_ADDRESS:-}" ]]; then
    log "$ref: in podman's storage only (TG_CONTAINERD_ADDRESS is not set)"
    return
  fi
  archive="$(mktemp "${TMPDIR:-/tmp}/tg-skaffold.XXXXXX.tar")"
  # shellcheck disable=SC2064 # the path is fixed now
  trap "rm -f '$archive'" EXIT
  podman save --multi-image-archive --format docker-archive -o "$archive" "$ref" "$local_ref" >&2
  ctr --address "$TG_CONTAINERD_ADDRESS" --namespace k8s.io images import "$archive" >&2
  log "$ref and $local_ref imported into $TG_CONTAINERD_ADDRESS"
}

main "$@"
