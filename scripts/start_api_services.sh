#!/usr/bin/env bash
# Start the embedded Temporal dev server, the worker and the API in the background.
# Logs: api.log, worker.log, temporal.log; pid files in .run/. Stop with stop_api_services.sh.
# TRACING=1: also Jaeger (jaeger.log; built once by hack/jaeger.sh, or JAEGER_BIN_DIR), and the
# worker and API export their spans to it over OTLP/HTTP.
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
if [[ "$TRACING" == 1 ]]; then
  if ! pid_of jaeger >/dev/null && [[ -z "${JAEGER_BIN_DIR:-}" ]]; then
    # Built once from its Go module: the first time it says what it does every minute (its
    # lines on fd 3, this terminal), the Go tool's own lines go to jaeger-build.log.
    mkdir -p "$LOG_DIR"
    JAEGER_BIN_DIR="$(PROGRESS_TAG=run PROGRESS_FD=3 "$ROOT/hack/jaeger.sh" 3>&2 \
      2>"$LOG_DIR/jaeger-build.log")" || {
      tail -n 20 "$LOG_DIR/jaeger-build.log" >&2
      say "building Jaeger failed; see $LOG_DIR/jaeger-build.log"
      exit 1
    }
  fi
  export JAEGER_OTLP_HTTP_PORT JAEGER_QUERY_HTTP_PORT JAEGER_HEALTH_PORT
  start_component jaeger "${JAEGER_BIN_DIR:-}/jaeger" --config "$ROOT/hack/jaeger-local.yaml"
  wait_until 60 "Jaeger (health port $JAEGER_HEALTH_PORT)" jaeger_ready || {
    say "see $LOG_DIR/jaeger.log"
    exit 1
  }
  export OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$JAEGER_OTLP_HTTP_PORT"
  export OTEL_BSP_SCHEDULE_DELAY="${OTEL_BSP_SCHEDULE_DELAY:-1000}"  # ms: traces show up within a second
fi
# Completion webhooks: a secret per route (its `callbacks.signingSecret`), so a receiver that
# trusts one route's deliveries trusts no other's. Each one the routes name is made here once
# and kept across runs, so receivers keep verifying; the worker reads the directory, and
# checks each attempt against the route's current `callbacks` block in the API's route files.
export WORKER_CALLBACK_SECRETS_DIR="${WORKER_CALLBACK_SECRETS_DIR:-$DATA_DIR/webhook-secrets}"
export WORKER_ROUTES_PATH="${WORKER_ROUTES_PATH:-$API_ROUTES_PATH}"
mkdir -p "$WORKER_CALLBACK_SECRETS_DIR"
(umask 077 && "$VENV/bin/python" - "$API_ROUTES_PATH" "$WORKER_CALLBACK_SECRETS_DIR" <<'PY'
import sys
from pathlib import Path

from gateway_core.routes import load_routes
from gateway_workflows.callbacks.signing import new_secret

routes, secrets = Path(sys.argv[1]), Path(sys.argv[2])
for route in load_routes(routes).routes.values():
    block = route.spec.callbacks
    if block is not None and not (secrets / block.signing_secret).exists():
        (secrets / block.signing_secret).write_text(new_secret() + "\n")
        print(f"made the webhook signing secret of route {route.name}: "
              f"{secrets / block.signing_secret}", file=sys.stderr)
PY
)
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
if [[ "$TRACING" == 1 ]]; then
  # The Jaeger built from its Go module has no UI assets: its page at this port is a placeholder.
  say "Traces:      every response's X-Trace-Id; read one from Jaeger's query API (spans in .data[0].spans):"
  say "             curl http://localhost:$JAEGER_QUERY_HTTP_PORT/api/traces/<X-Trace-Id>"
fi
