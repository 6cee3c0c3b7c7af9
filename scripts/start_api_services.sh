#!/usr/bin/env bash
# Start the embedded Temporal dev server, the worker and the API in the background.
# Logs: api.log, worker.log, temporal.log; pid files in .run/. Stop with stop_api_services.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ -x "$VENV/bin/python" ]] || { say "no $VENV: run 'make install' first"; exit 1; }

if [[ "$TEMPORAL_EMBEDDED" == 1 ]]; then
  mkdir -p "$DATA_DIR"
  start_component temporal "$VENV/bin/temporal" server start-dev \
    --ip 127.0.0.1 --port "$TEMPORAL_PORT" --ui-port "$TEMPORAL_UI_PORT" \
    --db-filename "$DATA_DIR/temporal.db" --log-level warn
  wait_until 60 "Temporal on $TEMPORAL_ADDRESS" temporal_ready
fi
start_component worker "$VENV/bin/python" -m gateway_worker
start_component api "$VENV/bin/python" -m gateway_api
wait_until 60 "the API on port $API_PORT" api_ready || {
  say "see $LOG_DIR/api.log and $LOG_DIR/worker.log"
  exit 1
}

say ""
say "API:         http://localhost:$API_PORT   (docs: /docs, /redoc)"
[[ "$TEMPORAL_EMBEDDED" == 1 ]] && say "Temporal UI: http://localhost:$TEMPORAL_UI_PORT"
say "Try:         curl -X POST http://localhost:$API_PORT/workflows/shopping -H 'Content-Type: application/json' -d '{\"items\":[{\"fruit\":\"APPLE\",\"amount\":5}]}'"
