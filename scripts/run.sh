#!/usr/bin/env bash
# `make run`: the whole system in the foreground on the embedded Temporal.
# Ctrl-C stops the API, then the worker, then Temporal. If one of them dies, all stop.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
export LOG_FORMAT="${LOG_FORMAT:-console}"

stopping=0
stop_all() {
  ((stopping)) && return
  stopping=1
  # tail got the same Ctrl-C or SIGTERM and may be gone: under set -e a failed kill here would
  # end this trap before anything is stopped.
  [[ -n "${tail_pid:-}" ]] && kill "$tail_pid" 2>/dev/null || true
  say ""
  say "stopping…"
  "$ROOT/scripts/stop_api_services.sh"
}
trap stop_all EXIT
trap 'exit 0' INT  # Ctrl-C is how a user stops it: not an error
trap 'exit 143' TERM

for name in "${COMPONENTS[@]}"; do
  if pid_of "$name" >/dev/null; then
    say "$name is already running (pid $(pid_of "$name")): stop it with scripts/stop_api_services.sh"
    trap - EXIT
    exit 1
  fi
done

"$ROOT/scripts/start_api_services.sh"
say "Ctrl-C stops everything."
say ""
tail -n 0 -F "$LOG_DIR/api.log" "$LOG_DIR/worker.log" &
tail_pid=$!

while true; do
  for name in "${COMPONENTS[@]}"; do
    [[ "$name" == temporal && "$TEMPORAL_EMBEDDED" != 1 ]] && continue
    if ! pid_of "$name" >/dev/null; then
      say "$name exited; see $LOG_DIR/$name.log"
      exit 1
    fi
  done
  sleep 1
done
