#!/usr/bin/env bash
# podman as these machines can run it: vfs storage kept in the tool cache (so the images and the
# build cache outlive a clean clone), cgroupfs, and runc through hack/lib/runc-wrapper (no rlimits,
# no OOM score: the machine refuses both). Installs Debian's podman and runc on first use.
#
# Usage: hack/podman.sh ARGS...   (the same as `podman ARGS...`)
#
# Environment:
#   XDG_CACHE_HOME   default cache root ($HOME/.cache)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/temporal-gateway"

if ! command -v podman >/dev/null || ! [[ -x /usr/bin/runc ]]; then
  printf '[podman] installing podman and runc from Debian\n' >&2
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc; } >&2
fi

mkdir -p "$cache/podman/storage" /run/temporal-gateway-podman
exec podman \
  --root "$cache/podman/storage" \
  --runroot /run/temporal-gateway-podman \
  --storage-driver vfs \
  --cgroup-manager cgroupfs \
  --events-backend file \
  --runtime "$here/lib/runc-wrapper" \
  "$@"
