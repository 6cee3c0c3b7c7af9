#!/usr/bin/env bash
# The seed guide's curl commands. API_URL defaults to the seed's http://localhost:8000.
set -euo pipefail
API_URL="${API_URL:-http://localhost:8000}"

# Synchronous
curl -sS -X POST "$API_URL/workflows/shopping" \
  -H "Content-Type: application/json" \
  -d '{"items":[{"fruit":"APPLE","amount":5}]}'
echo

# Asynchronous
response="$(curl -sS -X POST "$API_URL/workflows/shopping/async" \
  -H "Content-Type: application/json" \
  -d '{"items":[{"fruit":"BANANA","amount":3}]}')"
echo "$response"
workflow_id="$(printf '%s' "$response" | sed -E 's/.*"workflow_id":"([^"]+)".*/\1/')"

# Check status
curl -sS "$API_URL/workflows/$workflow_id/status"
echo

# Get result
curl -sS "$API_URL/workflows/$workflow_id/result"
echo
