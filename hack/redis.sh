#!/usr/bin/env bash
# Get (once) and cache Debian's Redis server, for the tests of the shared rate limits:
# unpacked from the distribution's packages rather than installed, so no service is started
# and nothing outside the cache folder changes. The binary needs two libraries the base image
# lacks (liblzf1, libjemalloc2): they are unpacked beside it, and `redis-server` is a wrapper
# that points the loader at them and execs the real binary (same pid).
#
# Usage:
#   REDIS_DIR="$(hack/redis.sh)"   # $REDIS_DIR/redis-server, $REDIS_DIR/redis-cli
#
# Only the directory is printed on stdout; progress goes to stderr.
#
# Environment:
#   REDIS_BUILD_DIR  use this directory instead of the default cache
#   XDG_CACHE_HOME   default cache root ($HOME/.cache)
set -euo pipefail

# Debian bookworm's packages; the server's version names the cache folder.
PACKAGE="redis-tools"           # holds the binaries (redis-server is a symlink into it)
LIBRARIES=(liblzf1 libjemalloc2)

log() { printf '[redis] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

candidate() { apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p'; }

main() {
  command -v apt-get >/dev/null || die "apt-get not found: this script unpacks Debian's packages"
  local version
  version="$(candidate "$PACKAGE")"
  if [[ -z "$version" || "$version" == "(none)" ]]; then
    log "no package list yet: apt-get update"
    apt-get update -qq >&2 || die "apt-get update failed"
    version="$(candidate "$PACKAGE")"
  fi
  [[ -n "$version" && "$version" != "(none)" ]] || die "no '$PACKAGE' package in the apt sources"

  local dir="${REDIS_BUILD_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/temporal-gateway/redis/${version//[:+~]/_}}"
  local stamp="$dir/.redis.stamp"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$version" ]]; then
    printf '%s\n' "$dir"
    return 0
  fi

  mkdir -p "$dir"
  exec 9>"$dir/.lock"
  flock 9
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$version" ]]; then
    printf '%s\n' "$dir"
    return 0
  fi

  work="$(mktemp -d "${TMPDIR:-/tmp}/redis-deb.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  # apt's sandbox user cannot write to a root-owned mktemp folder; let it.
  chmod 0777 "$work"
  log "downloading $PACKAGE=$version ${LIBRARIES[*]}"
  (cd "$work" && apt-get download -qq "$PACKAGE=$version" "${LIBRARIES[@]}") >&2 \
    || die "apt-get download failed"
  local deb
  for deb in "$work"/*.deb; do
    dpkg-deb -x "$deb" "$work/root"
  done
  mkdir -p "$dir/libexec" "$dir/lib"
  # The same binary is the server unless its name says redis-check-rdb.
  mv -f "$work/root/usr/bin/redis-check-rdb" "$dir/libexec/redis-server"
  mv -f "$work/root/usr/bin/redis-cli" "$dir/libexec/redis-cli"
  cp -a "$work"/root/usr/lib/x86_64-linux-gnu/*.so* "$dir/lib/"
  local b
  for b in redis-server redis-cli; do
    cat >"$dir/$b" <<WRAPPER
#!/bin/sh
LD_LIBRARY_PATH="$dir/lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" exec "$dir/libexec/$b" "\$@"
WRAPPER
    chmod +x "$dir/$b"
  done
  if LD_LIBRARY_PATH="$dir/lib" ldd "$dir/libexec/redis-server" | grep -q 'not found'; then
    die "redis-server still misses a library: $(ldd "$dir/libexec/redis-server" | grep 'not found')"
  fi
  "$dir/redis-server" --version >&2
  printf '%s\n' "$version" >"$stamp"
  printf '%s\n' "$dir"
}

main "$@"
