#!/usr/bin/env bash
# Is each component running, and does the API answer? Exits non-zero if anything is down.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

status=0
for name in "${COMPONENTS[@]}"; do
  [[ "$name" == temporal && "$TEMPORAL_EMBEDDED" != 1 ]] && continue
  if pid="$(pid_of "$name")"; then
    echo "✓ $name running (pid $pid)"
  else
    echo "✗ $name not running"
    status=1
  fi
done
if health="$(curl -fsS --max-time 5 "http://127.0.0.1:$API_PORT/")"; then
  echo "✓ API answers on port $API_PORT: $health"
  [[ "$health" == *'"temporal_connected":true'* ]] || { echo "✗ the API cannot reach Temporal"; status=1; }
else
  echo "✗ API does not answer on port $API_PORT"
  status=1
fi
exit "$status"
