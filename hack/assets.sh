#!/usr/bin/env bash
# Build (once, cached) every tool the tests run against, and the four images, side by side rather
# than one after another: on a brand-new machine most of an hour goes into them, and much of it is
# waiting on downloads, on a linker or on podman's vfs copies, time another build can use.
#
#   - the Kubernetes control plane (hack/envtest-assets.sh), then the node's binaries
#     (hack/node-assets.sh): one after the other, so the second reuses the first's compiled
#     k8s.io packages from the Go build cache instead of compiling them a second time at once;
#   - Helm, Jaeger and the CRD schemas (Go builds and a Go module download), then Temporal's Java
#     test server (Maven Central), for the time-skipping workflow tests, and the example workers
#     in Go, TypeScript and Java (hack/workers.sh: a Go build, npm ci and tsc, Maven);
#   - Debian's Prometheus and Redis, then the images (hack/images.sh: debootstrap, uv, podman).
#
# Usage:
#   vars="$(hack/assets.sh)" && eval "$vars"
# Prints `export NAME=DIR` lines for the tests. On stderr, while it works (hack/lib/progress.sh):
# each step as it starts, with how long it took here the last time (or an estimate), and as it
# ends; once a minute, one line of what every group is doing and for how long. The groups' full
# output stays in their logs; a failing group's end is printed, and the run fails.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
source "$here/lib/progress.sh"
logs="$(mktemp -d "${TMPDIR:-/tmp}/tg-assets.XXXXXX")"
watcher=""
# shellcheck disable=SC2317 # run by the trap
cleanup() {
  [[ -z "$watcher" ]] || { kill "$watcher" 2>/dev/null; wait "$watcher" 2>/dev/null; } || true
  rm -rf "$logs"
}
trap cleanup EXIT
# The steps' lines reach this script's stderr even from a group whose stderr is its log.
exec 7>&2
export PROGRESS_FD=7

# group NAME CMD...: runs CMD in the background; its stdout (NAME=DIR lines) and stderr are kept.
pids=() names=()
group() {
  local name="$1"
  shift
  (
    export PROGRESS_GROUP="$name"
    t0=$(date +%s)
    "$@" >"$logs/$name.out" 2>"$logs/$name.err"
    _progress_say "$name ready in $(progress_human $(($(date +%s) - t0)))"
  ) &
  pids+=("$!") names+=("$name")
}
# emit NAME SCRIPT: runs hack/SCRIPT.sh and prints NAME=<the directory it printed>; fails when it
# does, which stops the rest of its group (the && chains).
emit() {
  local dir
  dir="$("$here/$2.sh")" || return
  echo "$1=$dir"
}
kubernetes() { emit KUBEBUILDER_ASSETS envtest-assets && emit NODE_ASSETS node-assets; }
go_tools() {
  emit HELM_DIR helm && emit JAEGER_BIN_DIR jaeger && emit KUBE_SCHEMAS_DIR kube-schemas &&
    emit TEST_SERVER_DIR test-server && emit WORKERS_DIR workers
}
debian_and_images() {
  emit PROMETHEUS_DIR prometheus && emit REDIS_DIR redis && "$here/images.sh" >/dev/null
}

t0=$(date +%s)
# Debian's packages the groups would otherwise each install on first use, installed here first and
# once: two apt-get runs at a time would fight over apt's lock. podman, runc and debootstrap make
# the images; gcc, libc6-dev and binutils the node's pause binary; containerd, the CNI plugins and
# iptables run the single-node cluster; Chromium is the browser of tests/e2e/test_docs_ui.py
# (Playwright drives it and never downloads one of its own; 35 s and 130 packages here alone).
# apt's lines go to a log, printed only if it fails.
DEBIAN_PACKAGES=(podman runc debootstrap gcc libc6-dev binutils containerd containernetworking-plugins
  iptables chromium)
missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
apt_install() {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}
if [[ ${#missing[@]} -gt 0 ]]; then
  step install "${missing[*]} (Debian)" 120 quietly "$logs/debian.log" apt_install "${missing[@]}"
fi
export PROGRESS_DIR="$logs/progress"
mkdir -p "$PROGRESS_DIR"
group kubernetes kubernetes
group go-tools go_tools
group debian-and-images debian_and_images
progress_watch $$ "$t0" </dev/null >/dev/null &
watcher=$!
failed=0
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then
    _progress_say "${names[$i]} FAILED; its log ends:"
    tail -n 40 "$logs/${names[$i]}.err" >&2
    failed=1
  fi
done
[[ $failed == 0 ]] || exit 1
_progress_say "all ready in $(progress_human $(($(date +%s) - t0)))"
for name in "${names[@]}"; do
  while IFS='=' read -r key value; do
    printf 'export %s=%q\n' "$key" "$value"
  done <"$logs/$name.out"
done
