#!/usr/bin/env bash
# Get (once) and cache Debian's Redis server, for the tests of the shared rate limits: unpacked
# from the distribution's packages (hack/lib/deb.sh), so no service is started. The binary needs
# two libraries the base image lacks (liblzf1, libjemalloc2): they are unpacked beside it, and
# `redis-server` is a wrapper that points the loader at them and execs the real binary (same pid).
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
DEB_TOOL=redis
source "$(dirname "${BASH_SOURCE[0]}")/lib/deb.sh"

install() { # ROOT DIR
  local root="$1" dir="$2" b
  mkdir -p "$dir/libexec" "$dir/lib"
  # The same binary is the server unless its name says redis-check-rdb.
  mv -f "$root/usr/bin/redis-check-rdb" "$dir/libexec/redis-server"
  mv -f "$root/usr/bin/redis-cli" "$dir/libexec/redis-cli"
  cp -a "$root"/usr/lib/x86_64-linux-gnu/*.so* "$dir/lib/"
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
}

# Debian bookworm's packages: redis-tools holds the binaries (redis-server is a symlink into it);
# its version names the cache folder.
deb_tool redis "${REDIS_BUILD_DIR:-}" redis-tools liblzf1 libjemalloc2
