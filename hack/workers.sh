#!/usr/bin/env bash
# Build (once) and cache the example workers in other languages (examples/workers/): the Go
# worker and codec server, the TypeScript worker, and the Java worker when its Maven project is
# there. The tests run them against the gateway as real processes.
#
# Usage:
#   WORKERS_DIR="$(hack/workers.sh)"
#   "$WORKERS_DIR/go/worker" --task-queue q          # and "$WORKERS_DIR/go/codec-server"
#   node "$WORKERS_DIR/typescript/lib/worker.js"     # WORKER_TASK_QUEUE=q
#   java -jar "$WORKERS_DIR/java/worker.jar"         # WORKER_TASK_QUEUE=q (needs java, mvn)
#
# Only the directory is printed on stdout; progress goes to stderr. The directory is named by
# a hash of the workers' sources, this script and the toolchains' versions, so an edit builds
# anew and an unchanged tree only prints the path. The Go module and build caches, npm's cache
# and Maven's local repository are the usual ones, so a rebuild downloads nothing new.
#
# Environment:
#   WORKERS_BUILD_DIR   use/build this directory instead of the default cache
#   WORKERS_KEEP        how many other builds to keep in the cache (2)
#   XDG_CACHE_HOME      default cache root ($HOME/.cache)
#   GO                  go command to use (default: go on PATH, else /usr/local/go/bin/go)
#   GOMODCACHE, GOCACHE, GOPROXY, npm_config_cache are honoured as usual.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
root="$(cd "$here/.." && pwd -P)"
src="$root/examples/workers"
STAMP_NAME=".workers.stamp"

log() { printf '[workers] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# step VERB WHAT ESTIMATE CMD...: the first run says what it builds while it builds it.
source "$(dirname "${BASH_SOURCE[0]}")/lib/progress.sh"

find_go() {
  if [[ -n "${GO:-}" ]]; then
    return
  elif command -v go >/dev/null 2>&1; then
    GO=go
  elif [[ -x /usr/local/go/bin/go ]]; then
    GO=/usr/local/go/bin/go
  else
    die "no Go toolchain found (set GO=/path/to/go)"
  fi
}

# The files a build reads (build outputs and installed modules excluded), in a stable order.
sources() {
  (cd "$src" && find . -type f \
    -not -path '*/node_modules/*' -not -path './typescript/lib/*' -not -path './java/target/*' \
    -not -name '*.md' -not -name 'routes.yaml' -print | LC_ALL=C sort)
}

have_java() { [[ -f "$src/java/pom.xml" ]]; }

fingerprint() {
  {
    sha256sum < "$here/workers.sh"  # its content, not its path: a clone elsewhere is the same build
    (cd "$src" && sources | xargs -d '\n' sha256sum)
    "$GO" version
    node --version
    if have_java; then
      # sed reads to the end: head would close the pipe early, and pipefail would fail on the
      # writer's SIGPIPE.
      java -version 2>&1 | sed -n 1p
      mvn --version 2>&1 | sed -n 1p
    fi
  } | sha256sum | cut -c1-16
}

build_go() {
  local t0=$SECONDS
  log "building the Go worker and codec server ..."
  mkdir -p "$stage/go"
  # GOWORK=off: the module alone, whatever go.work surrounds the checkout.
  (cd "$src/go" && CGO_ENABLED=0 GOWORK=off GOFLAGS=-trimpath \
    "$GO" build -ldflags '-s -w' -o "$stage/go/" ./cmd/worker ./cmd/codec-server) >&2
  [[ -x "$stage/go/worker" && -x "$stage/go/codec-server" ]] || die "go build produced no binaries"
  log "built Go in $((SECONDS - t0))s"
}

build_typescript() {
  local t0=$SECONDS ts="$stage/typescript"
  log "building the TypeScript worker (npm ci, tsc, workflow bundles) ..."
  mkdir -p "$ts"
  cp -R "$src/typescript/package.json" "$src/typescript/package-lock.json" \
    "$src/typescript/tsconfig.json" "$src/typescript/src" "$ts/"
  (cd "$ts" && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build) >&2
  [[ -f "$ts/lib/worker.js" && -f "$ts/lib/workflow-bundle.js" ]] || die "no TypeScript worker built"
  log "built TypeScript in $((SECONDS - t0))s"
}

build_java() {
  local t0=$SECONDS
  log "building the Java worker (mvn package) ..."
  mkdir -p "$stage/java-src" "$stage/java"
  cp -R "$src/java/pom.xml" "$src/java/src" "$stage/java-src/"
  (cd "$stage/java-src" && mvn -B -q -DskipTests package) 2>&1 | sed 's/\x1b\[[0-9;]*m//g' >&2
  [[ -f "$stage/java-src/target/worker.jar" ]] || die "mvn package produced no worker.jar"
  # The jar's manifest names its dependencies in lib/ beside it.
  mv "$stage/java-src/target/worker.jar" "$stage/java-src/target/lib" "$stage/java/"
  rm -rf "$stage/java-src"
  log "built Java in $((SECONDS - t0))s"
}

# Drops the least recently used other builds (one per source change), keeping WORKERS_KEEP;
# a build whose lock another process holds is in use and stays.
prune() {
  local parent keep="${WORKERS_KEEP:-2}" d
  parent="$(dirname "$out")"
  [[ -z "${WORKERS_BUILD_DIR:-}" ]] || return 0
  # shellcheck disable=SC2012  # names are hex hashes
  { ls -1dt "$parent"/*/ 2>/dev/null || true; } | sed 's:/$::' | { grep -vxF "$out" || true; } |
    tail -n +"$((keep + 1))" | while read -r d; do
      if (exec 8>"$d/.lock" && flock -n 8); then
        log "removing the old build $d"
        rm -rf "$d"
      fi
    done
}

main() {
  find_go
  command -v node >/dev/null 2>&1 || die "node is required for the TypeScript worker"
  command -v flock >/dev/null 2>&1 || die "flock(1) not found (util-linux)"
  if have_java; then
    command -v java >/dev/null 2>&1 && command -v mvn >/dev/null 2>&1 ||
      die "java and mvn are required for the Java worker (Debian: openjdk-17-jdk-headless maven)"
  fi
  local hash
  hash="$(fingerprint)"
  out="${WORKERS_BUILD_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/temporal-gateway/workers/$hash}"

  if [[ -f "$out/$STAMP_NAME" && "$(cat "$out/$STAMP_NAME")" == "$hash" ]]; then
    touch "$out"  # most recently used: kept by prune
    printf '%s\n' "$out"
    return 0
  fi

  mkdir -p "$out"
  out="$(cd "$out" && pwd -P)"
  exec 9>"$out/.lock"
  if ! flock -n 9; then
    log "another build holds $out/.lock; waiting for it"
    flock 9
  fi
  if [[ -f "$out/$STAMP_NAME" && "$(cat "$out/$STAMP_NAME")" == "$hash" ]]; then
    printf '%s\n' "$out"
    return 0
  fi

  # We hold the lock: staging directories left by a killed build are garbage.
  rm -rf "$out"/.stage.*
  stage="$(mktemp -d "$out/.stage.XXXXXX")"  # same filesystem: each mv below is a rename
  trap 'rm -rf "$stage"' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  log "building into $out ($("$GO" version | cut -d' ' -f3), node $(node --version))"
  local t_start=$SECONDS part
  # A first build with empty Go, npm and Maven caches took 71 s, 13 s and 11 s here alone.
  step build "the Go example worker" 90 build_go
  step build "the TypeScript example worker" 30 build_typescript
  if have_java; then
    step build "the Java example worker" 30 build_java
  fi

  # Publish: each part is renamed into place; the stamp goes last.
  rm -f "$out/$STAMP_NAME"
  for part in go typescript java; do
    [[ -d "$stage/$part" ]] || continue
    rm -rf "${out:?}/$part"
    mv "$stage/$part" "$out/$part"
  done
  printf '%s\n' "$hash" >"$out/$STAMP_NAME"
  log "done in $((SECONDS - t_start))s"
  prune
  printf '%s\n' "$out"
}

main "$@"
