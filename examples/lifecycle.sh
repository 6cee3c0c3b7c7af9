#!/usr/bin/env bash
# Every lifecycle operation on the shipped `orders` route, with curl: start, query, update
# (and a refused one), signal, result, describe, cancel, terminate, the with-start operations,
# list and count, and a schedule (create, describe, trigger, pause, delete). Each answer is printed on a line of its own, prefixed with what was asked.
# API_URL defaults to http://localhost:8000; API_AUTH (e.g. "Authorization: Bearer tgw_…") is
# sent with every call when set.
set -euo pipefail
API_URL="${API_URL:-http://localhost:8000}"
auth=()
[[ -n "${API_AUTH:-}" ]] && auth=(-H "$API_AUTH")
json=(-H "Content-Type: application/json")
key="demo-$(date +%s)-$$"

call() { # call LABEL curl-args...: print "LABEL <status> <body>"
  local label=$1; shift
  printf '%s ' "$label"
  curl -sS "${auth[@]}" -w ' %{http_code}\n' "$@"
}
id_of() { sed -E 's/.*"workflow_id":"([^"]+)".*/\1/' <<<"$1"; }

# Start an order at once; it reserves the stock and waits for approval.
started="$(call start "${json[@]}" -X POST "$API_URL/workflows/orders/async" \
  -H "Idempotency-Key: $key-1" -d '{"customer":"alice","items":[{"fruit":"APPLE","amount":2}]}')"
echo "$started"
id="$(id_of "$started")"

call progress "$API_URL/workflows/$id/queries/progress"
call add_item -X POST "${json[@]}" "$API_URL/workflows/$id/updates/add_item" \
  -H "Idempotency-Key: $key-add" -d '{"fruit":"ORANGE","amount":1}'
call add_item_again -X POST "${json[@]}" "$API_URL/workflows/$id/updates/add_item" \
  -H "Idempotency-Key: $key-add" -d '{"fruit":"ORANGE","amount":1}'
call bad_item -X POST "${json[@]}" "$API_URL/workflows/$id/updates/add_item" \
  -d '{"fruit":"KIWI","amount":1}'
call approve -X POST "${json[@]}" "$API_URL/workflows/$id/signals/approve" -d '{"approver":"bob"}'
call result -H "Prefer: wait=20" "$API_URL/workflows/$id/result"
call describe "$API_URL/workflows/$id"
call late_item -X POST "${json[@]}" "$API_URL/workflows/$id/updates/add_item" \
  -d '{"fruit":"BANANA","amount":1}'

# A second order, cancelled: the workflow releases its stock, then closes as cancelled.
second="$(curl -sS "${auth[@]}" "${json[@]}" -X POST "$API_URL/workflows/orders/async" \
  -d '{"customer":"carol","items":[{"fruit":"BANANA","amount":4}]}')"
call cancel -X POST "$API_URL/workflows/$(id_of "$second")/cancel"
call cancelled_result -H "Prefer: wait=20" "$API_URL/workflows/$(id_of "$second")/result"

# A third, terminated at once with a reason.
third="$(curl -sS "${auth[@]}" "${json[@]}" -X POST "$API_URL/workflows/orders/async" \
  -d '{"customer":"dave","items":[{"fruit":"APPLE","amount":1}]}')"
call terminate -X POST "${json[@]}" "$API_URL/workflows/$(id_of "$third")/terminate" \
  -d '{"reason":"duplicate order"}'

# With-start: the same Idempotency-Key reaches the same order, started by the first call (the
# id is the route's prefix, the caller's scope and the key: read it from the answer).
with_start="$(call update_with_start -X POST "${json[@]}" "$API_URL/workflows/orders/update-with-start/add_item" \
  -H "Idempotency-Key: $key-2" \
  -d '{"input":{"customer":"erin","items":[{"fruit":"APPLE","amount":1}]},"arg":{"fruit":"BANANA","amount":2}}')"
echo "$with_start"
call signal_with_start -X POST "${json[@]}" "$API_URL/workflows/orders/signal-with-start/approve" \
  -H "Idempotency-Key: $key-2" \
  -d '{"input":{"customer":"erin","items":[{"fruit":"APPLE","amount":1}]},"arg":{"approver":"frank"}}'
call with_start_result -H "Prefer: wait=20" "$API_URL/workflows/$(id_of "$with_start")/result"

call list -G "$API_URL/workflows" --data-urlencode "query=WorkflowType = 'OrderWorkflow'" \
  --data-urlencode "page_size=2"
call count -G "$API_URL/workflows/count" --data-urlencode "query=WorkflowType = 'OrderWorkflow'"

# A standing order: a schedule that starts one every Monday at 09:00 in Paris, created paused
# (nothing runs by itself while this script lives), described, triggered once by hand (the
# order it started is cancelled), paused with a note, and deleted.
scheduled="$(call schedule "${json[@]}" -X POST "$API_URL/workflows/orders/schedules" \
  -H "Idempotency-Key: $key-weekly" \
  -d '{"input":{"customer":"grace","items":[{"fruit":"BANANA","amount":6}]},
       "spec":{"cron_expressions":["0 9 * * MON"],"time_zone":"Europe/Paris"},
       "policy":{"overlap":"Skip"},"paused":true,"note":"created by lifecycle.sh"}')"
echo "$scheduled"
schedule_id="$(sed -E 's/.*"schedule_id":"([^"]+)".*/\1/' <<<"$scheduled")"
call schedule_describe "$API_URL/schedules/$schedule_id"
call schedule_trigger -X POST "$API_URL/schedules/$schedule_id/trigger"
for _ in $(seq 50); do  # the run shows in the description once it has started
  run="$(curl -sS "${auth[@]}" "$API_URL/schedules/$schedule_id")"
  grep -q '"recent_actions":\[{' <<<"$run" && break
  sleep 0.2
done
call scheduled_order_cancel -X POST "$API_URL/workflows/$(id_of "$run")/cancel"
call schedule_pause -X POST "${json[@]}" "$API_URL/schedules/$schedule_id/pause" \
  -d '{"note":"shop closed for the holidays"}'
call schedule_delete -X DELETE "$API_URL/schedules/$schedule_id"
