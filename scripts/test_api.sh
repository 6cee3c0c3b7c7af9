#!/usr/bin/env bash
# Exercise the running API as the seed guide does: health, sync, async, status, result.
# Exits non-zero on the first failure.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BASE="${API_URL:-http://localhost:$API_PORT}"
failures=0

field() {  # json field: print one top-level field of a JSON document
  "$VENV/bin/python" -c 'import json,sys; v=json.loads(sys.argv[1]).get(sys.argv[2]); print("null" if v is None else str(v).lower() if isinstance(v,bool) else v)' "$1" "$2"
}

check() {  # description expected actual
  if [[ "$2" == "$3" ]]; then
    echo "✓ $1"
  else
    echo "✗ $1: expected '$2', got '$3'"
    failures=$((failures + 1))
  fi
}

echo "Testing $BASE"
health="$(curl -fsS "$BASE/")"
check "health: running" running "$(field "$health" status)"
check "health: temporal_connected" true "$(field "$health" temporal_connected)"

sync="$(curl -fsS -X POST "$BASE/workflows/shopping" -H "Content-Type: application/json" \
  -d '{"items":[{"fruit":"APPLE","amount":5},{"fruit":"BANANA","amount":3}]}')"
check "sync workflow: completed" completed "$(field "$sync" status)"
check "sync workflow: result" "Ordered 5 Apples...Ordered 3 Bananas..." "$(field "$sync" result)"

async="$(curl -fsS -X POST "$BASE/workflows/shopping/async" -H "Content-Type: application/json" \
  -d '{"items":[{"fruit":"ORANGE","amount":10}]}')"
check "async workflow: started" started "$(field "$async" status)"
id="$(field "$async" workflow_id)"
[[ -n "$id" && "$id" != null ]] || { echo "✗ async workflow: no workflow_id"; exit 1; }

result="$(curl -fsS "$BASE/workflows/$id/result")"
check "result: completed" completed "$(field "$result" status)"
check "result: value" "Ordered 10 Oranges..." "$(field "$result" result)"

status="$(curl -fsS "$BASE/workflows/$id/status")"
check "status: COMPLETED" COMPLETED "$(field "$status" status)"
[[ "$(field "$status" close_time)" != null ]] && echo "✓ status: close_time set" \
  || { echo "✗ status: close_time missing"; failures=$((failures + 1)); }

if ((failures)); then
  echo "$failures check(s) failed"
  exit 1
fi
echo "All API checks passed"
