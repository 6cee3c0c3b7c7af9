# Shared by the scripts in this folder: where things live and how a component starts and stops.
# Every knob is an environment variable with the seed guide's default.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
API_PORT="${API_PORT:-8000}"
TEMPORAL_PORT="${TEMPORAL_PORT:-7233}"
TEMPORAL_UI_PORT="${TEMPORAL_UI_PORT:-8080}"
TEMPORAL_EMBEDDED="${TEMPORAL_EMBEDDED:-1}"   # 0: use the Temporal at TEMPORAL_ADDRESS instead
RUN_DIR="${RUN_DIR:-$ROOT/.run}"              # pid files
LOG_DIR="${LOG_DIR:-$ROOT}"                   # api.log, worker.log, temporal.log (as in the seed)
DATA_DIR="${DATA_DIR:-$ROOT/.data}"           # the embedded Temporal's SQLite file
TRACING="${TRACING:-0}"                       # 1: also Jaeger, and the worker and API export to it
COMPONENTS=(temporal worker api)              # start order; stopped in reverse
if [[ "$TRACING" == 1 ]]; then
  COMPONENTS=(temporal jaeger worker api)
fi
# What stop_api_services.sh looks for, whatever TRACING says when it runs.
KNOWN_COMPONENTS=(temporal jaeger worker api)

if [[ "$TEMPORAL_EMBEDDED" == 1 ]]; then
  export TEMPORAL_ADDRESS="127.0.0.1:$TEMPORAL_PORT"
fi
export API_PORT
export API_METRICS_PORT="${API_METRICS_PORT:-9464}"        # Prometheus metrics of the API
export WORKER_METRICS_PORT="${WORKER_METRICS_PORT:-9465}"  # and of the worker
# The queue the worker polls (it has no default): the one the shipped routes (k8s/routes) name.
export WORKER_TASK_QUEUE="${WORKER_TASK_QUEUE:-shopping-task-queue}"
# Metrics have no authentication: on a developer's machine only this machine may scrape them
# (in a pod they bind all interfaces and the chart's NetworkPolicy decides who may connect).
export API_METRICS_HOST="${API_METRICS_HOST:-127.0.0.1}"
export WORKER_METRICS_HOST="${WORKER_METRICS_HOST:-127.0.0.1}"
export API_ROUTES_PATH="${API_ROUTES_PATH:-$ROOT/k8s/routes}"
# A developer's machine: authentication off unless API_KEYS_FILE or API_JWT_ISSUER is set (the
# API says so loudly in its log and at GET /). Anywhere else the API refuses to start without it.
export API_ENVIRONMENT="${API_ENVIRONMENT:-development}"
if [[ -z "${API_KEYS_FILE:-}" && -z "${API_JWT_ISSUER:-}" ]]; then
  export API_AUTH_DISABLED="${API_AUTH_DISABLED:-true}"
fi
# Jaeger's ports under TRACING=1 (hack/jaeger-local.yaml reads the same variables).
JAEGER_OTLP_HTTP_PORT="${JAEGER_OTLP_HTTP_PORT:-4318}"    # OTLP/HTTP: where spans go
JAEGER_QUERY_HTTP_PORT="${JAEGER_QUERY_HTTP_PORT:-16686}" # query API (/api/traces/ID)
JAEGER_HEALTH_PORT="${JAEGER_HEALTH_PORT:-13133}"

say() { printf '%s\n' "$*" >&2; }

pid_of() {  # the pid of a component we started, if it is still alive
  local file="$RUN_DIR/$1.pid" pid
  [[ -f "$file" ]] || return 1
  pid="$(<"$file")"
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

start_component() {  # name command...: start in its own session, log to LOG_DIR/name.log
  local name="$1"; shift
  if pid_of "$name" >/dev/null; then
    say "$name already running (pid $(pid_of "$name"))"
    return 0
  fi
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  # setsid: Ctrl-C in the terminal reaches only the script, which then stops components in order.
  setsid "$@" >>"$LOG_DIR/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN_DIR/$name.pid"
  say "started $name (pid $!, log $LOG_DIR/$name.log)"
}

stop_component() {  # name: SIGTERM by pid file, wait for the drain, SIGKILL only as a last resort
  local name="$1" pid i
  pid="$(pid_of "$name")" || { rm -f "$RUN_DIR/$name.pid"; return 0; }
  kill -TERM "$pid"
  for ((i = 0; i < 450; i++)); do  # up to 45 s: the API's and worker's drains are shorter
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "$name (pid $pid) did not stop in time; killing it"
    kill -KILL "$pid"
  fi
  rm -f "$RUN_DIR/$name.pid"
  say "stopped $name (pid $pid)"
}

wait_until() {  # seconds description command...: poll until the command succeeds
  local seconds="$1" what="$2" i; shift 2
  for ((i = 0; i < seconds * 5; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  say "timed out after ${seconds}s waiting for $what"
  return 1
}

api_ready() { curl -fsS "http://127.0.0.1:$API_PORT/readyz"; }
temporal_ready() { "$VENV/bin/temporal" operator cluster health --address "$TEMPORAL_ADDRESS"; }
jaeger_ready() { curl -fsS "http://127.0.0.1:$JAEGER_HEALTH_PORT/status"; }
