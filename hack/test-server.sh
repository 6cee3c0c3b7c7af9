#!/usr/bin/env bash
# Build (once) and cache Temporal's Java test server, the time-skipping server behind the SDK's
# WorkflowEnvironment.start_time_skipping(): the io.temporal:temporal-test-server artifact and its
# dependencies, resolved from Maven Central with Maven, run by the machine's Java (17 or newer).
# The SDK would otherwise download a native build of it from Temporal's CDN, which not every
# machine (nor CI here) can reach.
#
# Usage:
#   TEST_SERVER_DIR="$(hack/test-server.sh)"
#   "$TEST_SERVER_DIR/temporal-test-server" 7233      # what the SDK runs: <port> [extra args]
#
# The directory holds lib/ (the jars) and temporal-test-server, a launcher that execs java with
# that classpath and passes its arguments on. Only the directory is printed on stdout; progress
# goes to stderr. When it is already built (stamp file present and matching the pinned version)
# the script only prints the directory.
#
# Environment:
#   TEST_SERVER_BUILD_DIR      use/build this directory instead of the default cache
#   TEST_SERVER_BUILD_VERSION  override the pinned version of io.temporal:temporal-test-server
#   XDG_CACHE_HOME             default cache root ($HOME/.cache)
#   MVN                        mvn command to use (default: mvn on PATH)
#   Maven's own settings (~/.m2/settings.xml, MAVEN_OPTS, its local repository) are honoured.
set -euo pipefail

# --- pinned versions ----------------------------------------------------------
# 1.38.0: the newest release on Maven Central when this was written. The server speaks the same
# API as the SDK's default download, and each Java SDK release ships the server of its day.
VERSION="${TEST_SERVER_BUILD_VERSION:-1.38.0}"
# ------------------------------------------------------------------------------

ARTIFACT="io.temporal:temporal-test-server:${VERSION}"
MAIN_CLASS="io.temporal.testserver.TestServer"
LAUNCHER="temporal-test-server"
STAMP_NAME=".test-server.stamp"
STAMP_CONTENT="artifact=${ARTIFACT} launcher=1"

log() { printf '[test-server] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# step VERB WHAT ESTIMATE CMD...: the first run says what it builds while it builds it.
source "$(dirname "${BASH_SOURCE[0]}")/lib/progress.sh"

dir="${TEST_SERVER_BUILD_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/temporal-gateway/test-server/${VERSION}}"

# (Debian's Maven prints colour resets even in batch mode; they are stripped from the log.)
copy_dependencies() {
  (cd "$stage" && "$mvn" -B -q -Dstyle.color=never -f pom.xml \
    org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$stage/lib") 2>&1 |
    sed 's/\x1b\[[0-9;]*m//g' >&2 # (pipefail)
}

is_complete() {
  [[ -f "$dir/$STAMP_NAME" ]] || return 1
  [[ "$(cat "$dir/$STAMP_NAME")" == "$STAMP_CONTENT" ]] || return 1
  [[ -x "$dir/$LAUNCHER" && -d "$dir/lib" ]]
}

# The launcher. The SDK (sdk-core's ephemeral server) runs it as `<path> <port> [extra args]`,
# which is exactly what TestServer's main takes, so the arguments pass through unchanged. The
# JVM flags favour start-up over peak speed (a test session starts the server a few times, and
# the SDK waits at most its startup timeout): C1 only, the serial collector, a small heap.
write_launcher() { # PATH
  cat >"$1" <<'EOF'
#!/bin/sh
# Temporal's Java test server (io.temporal:temporal-test-server), built by hack/test-server.sh.
# Usage: temporal-test-server <port> [--enable-time-skipping]
# (Without the flag time skipping starts locked, as the SDK expects: it unlocks it while a test
# waits for a workflow's result.)
here="$(cd "$(dirname "$0")" && pwd -P)"
java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
exec "$java" -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xss512k -Xmx512m \
  -cp "$here/lib/*" io.temporal.testserver.TestServer "$@"
EOF
  chmod +x "$1"
}

# The whole run is inside main so that bash has parsed all of it before it starts: editing or
# updating this file during a build is then harmless.
main() {
  if is_complete; then
    printf '%s\n' "$dir"
    return 0
  fi

  local mvn="${MVN:-mvn}"
  command -v "$mvn" >/dev/null 2>&1 || die "no Maven found (apt-get install maven, or set MVN)"
  command -v java >/dev/null 2>&1 || [[ -n "${JAVA_HOME:-}" ]] || die "no java found (Java 17+)"
  command -v flock >/dev/null 2>&1 || die "flock(1) not found (util-linux)"

  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd -P)"

  # --- serialise concurrent callers -------------------------------------------
  exec 9>"$dir/.lock"
  if ! flock -n 9; then
    log "another build holds $dir/.lock; waiting for it"
    flock 9
  fi
  if is_complete; then
    printf '%s\n' "$dir"
    return 0
  fi

  # We hold the lock, so staging dirs left by a killed build are garbage.
  rm -rf "$dir"/.stage.*
  stage="$(mktemp -d "$dir/.stage.XXXXXX")" # same filesystem => atomic mv
  trap 'rm -rf "$stage"' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  log "dir: $dir"
  log "$("$mvn" -B -v 2>/dev/null | head -n1 | sed 's/\x1b\[[0-9;]*m//g')"
  log "resolving $ARTIFACT and its runtime dependencies from Maven Central ..."
  local t0
  t0=$(date +%s)
  # A throwaway project whose only dependency is the server: copy-dependencies then puts the
  # server and everything it needs at run time into lib/, the classpath of the launcher.
  cat >"$stage/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.temporal-gateway</groupId>
  <artifactId>test-server-classpath</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>io.temporal</groupId>
      <artifactId>temporal-test-server</artifactId>
      <version>${VERSION}</version>
    </dependency>
  </dependencies>
</project>
EOF
  step download "Temporal's Java test server (Maven Central)" 30 copy_dependencies ||
    die "mvn could not resolve $ARTIFACT"
  rm -f "$stage/pom.xml"
  ls "$stage/lib"/temporal-test-server-"${VERSION}".jar >/dev/null 2>&1 ||
    die "no temporal-test-server-${VERSION}.jar among the resolved jars"
  log "resolved $(find "$stage/lib" -name '*.jar' | wc -l) jars ($(du -sh "$stage/lib" | cut -f1)) in $(($(date +%s) - t0))s"
  write_launcher "$stage/$LAUNCHER"

  # Sanity check before publishing: the server starts and listens on the port it is given.
  local port pid ok=0
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  "$stage/$LAUNCHER" "$port" >"$stage/check.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 600); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      ok=1
      break
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  [[ $ok == 1 ]] || die "the test server did not listen on port $port: $(tail -n 20 "$stage/check.log")"
  rm -f "$stage/check.log"
  log "the server listened on port $port"

  # Publish: each rename is atomic; the stamp goes last.
  rm -f "$dir/$STAMP_NAME"
  rm -rf "$dir/lib"
  mv -f "$stage/lib" "$dir/lib"
  mv -f "$stage/$LAUNCHER" "$dir/$LAUNCHER"
  printf '%s\n' "$STAMP_CONTENT" >"$stage/$STAMP_NAME"
  mv -f "$stage/$STAMP_NAME" "$dir/$STAMP_NAME"

  log "done in $(($(date +%s) - t0))s"
  printf '%s\n' "$dir"
}

main "$@"
