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
# Prints `export NAME=DIR` lines for the tests; progress and each group's time go to stderr.
# Fails, with the failing group's log, if any group fails.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
logs="$(mktemp -d "${TMPDIR:-/tmp}/tg-assets.XXXXXX")"
trap 'rm -rf "$logs"' EXIT

# group NAME CMD...: runs CMD in the background; its stdout (NAME=DIR lines) and stderr are kept.
pids=() names=()
group() {
  local name="$1"
  shift
  (
    t0=$(date +%s)
    "$@" >"$logs/$name.out" 2>"$logs/$name.err"
    printf '[assets] %s ready in %ss\n' "$name" "$(($(date +%s) - t0))" >&2
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
# once: two apt-get runs at a time would fight over apt's lock. Chromium is the browser of
# tests/e2e/test_docs_ui.py (Playwright drives it; it never downloads one of its own): about
# 35 s and 130 packages on a new machine here.
missing=()
for pkg in podman runc debootstrap gcc libc6-dev binutils chromium; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  printf '[assets] installing %s from Debian\n' "${missing[*]}" >&2
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } >&2
fi
group kubernetes kubernetes
group go-tools go_tools
group debian-and-images debian_and_images
failed=0
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then
    printf '[assets] %s FAILED; its log ends:\n' "${names[$i]}" >&2
    tail -n 40 "$logs/${names[$i]}.err" >&2
    failed=1
  else
    grep -E 'built|done in' "$logs/${names[$i]}.err" >&2 || true
  fi
done
[[ $failed == 0 ]] || exit 1
printf '[assets] all ready in %ss\n' "$(($(date +%s) - t0))" >&2
for name in "${names[@]}"; do
  while IFS='=' read -r key value; do
    printf 'export %s=%q\n' "$key" "$value"
  done <"$logs/$name.out"
done
