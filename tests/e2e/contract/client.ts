// Every operation of the live API through a client generated from its own /openapi.json
// (openapi-typescript's `paths`, called with openapi-fetch). tsc compiles this against the
// generated types first, so a body, parameter or response the document gets wrong is a type
// error before it is a test failure. Run by tests/e2e/test_generated_client.py, which passes
// GATEWAY_URL and checks that the operations printed at the end are all the document's.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema.js";

type Problem = components["schemas"]["Problem"];

const api = createClient<paths>({ baseUrl: process.env.GATEWAY_URL! });
const called = new Set<string>();
const record: Middleware = {
  onRequest({ request, schemaPath }) {
    called.add(`${request.method} ${schemaPath}`);
    return undefined;
  },
};
api.use(record);

function ok<T>(result: { data?: T; error?: unknown; response: Response }, status = 200): T {
  assert.equal(result.response.status, status, JSON.stringify(result.error ?? result.data));
  assert.ok(result.data !== undefined);
  return result.data;
}

function problem(result: { error?: Problem; response: Response }, status: number, code: string) {
  assert.equal(result.response.status, status);
  assert.equal(result.response.headers.get("content-type"), "application/problem+json");
  assert.equal(result.error?.code, code);
}

async function eventually<T>(check: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error("not true within 10 s");
}

const key = () => randomUUID().replaceAll("-", "");
const workflow = (workflow_id: string) => ({ params: { path: { workflow_id } } });

// Probes.
assert.equal(ok(await api.GET("/")).status, "running");
assert.equal(ok(await api.GET("/livez")).status, "ok");
assert.equal(ok(await api.GET("/readyz")).status, "ready");

// The shipped shopping route: a synchronous start, an asynchronous one.
const bought = ok(await api.POST("/workflows/shopping", { body: { items: [{ fruit: "APPLE", amount: 2 }] } }));
assert.equal(bought.result, "Ordered 2 Apples...");
const shopping = ok(await api.POST("/workflows/shopping/async", { body: { items: [{ fruit: "ORANGE", amount: 1 }] } }));
assert.equal(shopping.status, "started");

// The tally route: a start that finishes at once, then one that stays open for messages.
assert.equal(ok(await api.POST("/workflows/tally", { body: { start: 7, open: false } })).result, 7);
const started = ok(
  await api.POST("/workflows/tally/async", {
    body: { start: 1 },
    params: { header: { "Idempotency-Key": key() } },
  }),
);
const id = started.workflow_id;
assert.ok(id.startsWith("tally."));
assert.equal(ok(await api.GET("/workflows/{workflow_id}/status", workflow(id))).status, "RUNNING");
const described = ok(await api.GET("/workflows/{workflow_id}", workflow(id)));
assert.equal(described.route, "tally");
assert.equal(described.workflow_type, "TallyWorkflow");

assert.equal(
  ok(await api.POST("/workflows/{workflow_id}/signals/add", { ...workflow(id), body: { amount: 4 } }), 202)
    .status,
  "signaled",
);
const total = async (workflowId: string, expected: number) =>
  eventually(async () => {
    const answer = ok(await api.GET("/workflows/{workflow_id}/queries/total_now", workflow(workflowId)));
    return answer.result === expected ? answer : undefined;
  });
await total(id, 5);
assert.equal(ok(await api.POST("/workflows/{workflow_id}/queries/total_now", workflow(id))).result, 5);
const exceeds = ok(await api.POST("/workflows/{workflow_id}/queries/exceeds", { ...workflow(id), body: { value: 3 } }));
assert.equal(exceeds.result, true);

const updated = ok(
  await api.POST("/workflows/{workflow_id}/updates/set_total", { ...workflow(id), body: { value: 10 } }),
);
assert.deepEqual([updated.status, updated.result], ["completed", 5]);
const again = ok(
  await api.GET("/workflows/{workflow_id}/updates/set_total/{update_id}", {
    params: { path: { workflow_id: id, update_id: updated.update_id } },
  }),
);
assert.equal(again.result, 5);

ok(await api.POST("/workflows/{workflow_id}/signals/finish", workflow(id)), 202);
const result = ok(await api.GET("/workflows/{workflow_id}/result", { params: { path: { workflow_id: id }, query: { wait: 10 } } }));
assert.deepEqual([result.status, result.result], ["completed", 10]);
problem(
  await api.POST("/workflows/{workflow_id}/updates/set_total", { ...workflow(id), body: { value: 1 } }),
  409,
  "workflow-closed",
);

// With-start: the first signal starts the workflow, the second (same key, same id) reaches it.
const business = key();
const signaled = ok(
  await api.POST("/workflows/tally/signal-with-start/add", {
    body: { input: { start: 2 }, arg: { amount: 3 } },
    params: { header: { "Idempotency-Key": business } },
  }),
  202,
);
await total(signaled.workflow_id, 5);
ok(
  await api.POST("/workflows/tally/signal-with-start/finish", {
    body: { input: { start: 2 } },
    params: { header: { "Idempotency-Key": business } },
  }),
  202,
);
const closed = ok(await api.GET("/workflows/{workflow_id}/result", { params: { path: { workflow_id: signaled.workflow_id }, query: { wait: 10 } } }));
assert.equal(closed.result, 5);

const withUpdate = ok(
  await api.POST("/workflows/tally/update-with-start/set_total", {
    body: { input: { start: 0 }, arg: { value: 9 } },
    params: { header: { "Idempotency-Key": key() } },
  }),
);
assert.deepEqual([withUpdate.status, withUpdate.result], ["completed", 0]);

// Stopping: cancel (the workflow closes as canceled), terminate.
const cancel = ok(await api.POST("/workflows/{workflow_id}/cancel", workflow(withUpdate.workflow_id)), 202);
assert.equal(cancel.status, "cancel-requested");
problem(
  await api.GET("/workflows/{workflow_id}/result", { params: { path: { workflow_id: withUpdate.workflow_id }, query: { wait: 10 } } }),
  409,
  "workflow-canceled",
);
const victim = ok(await api.POST("/workflows/tally/async", { body: { start: 0 } })).workflow_id;
const terminated = ok(
  await api.POST("/workflows/{workflow_id}/terminate", { ...workflow(victim), body: { reason: "contract test" } }),
);
assert.equal(terminated.status, "terminated");
assert.equal(ok(await api.GET("/workflows/{workflow_id}/status", workflow(victim))).status, "TERMINATED");

// The shipped orders route: a sync start that outlives its wait (Prefer: wait=1 → 202), an
// async one, its query, update (and the update's poll), signal, and both with-starts.
const order = { customer: "alice", items: [{ fruit: "APPLE" as const, amount: 2 }] };
const waited = await api.POST("/workflows/orders", { body: order, params: { header: { Prefer: "wait=1" } } });
assert.equal(waited.response.status, 202);
assert.equal(waited.response.headers.get("preference-applied"), "wait=1");
const orderId = ok(await api.POST("/workflows/orders/async", { body: order })).workflow_id;
// A query's answer is whatever the workflow returns: the document says nothing of its shape.
type Progress = { state: string; items: number };
const progress = (answer: { result?: unknown }) => answer.result as Progress;
assert.equal(progress(ok(await api.GET("/workflows/{workflow_id}/queries/progress", workflow(orderId)))).state, "awaiting-approval");
assert.equal(progress(ok(await api.POST("/workflows/{workflow_id}/queries/progress", workflow(orderId)))).items, 1);
const added = ok(
  await api.POST("/workflows/{workflow_id}/updates/add_item", {
    ...workflow(orderId),
    body: { fruit: "ORANGE", amount: 1 },
    params: { path: { workflow_id: orderId }, header: { "Idempotency-Key": key() } },
  }),
);
assert.deepEqual(added.result, { items: 2, total_cents: 180 });
const polled = ok(
  await api.GET("/workflows/{workflow_id}/updates/add_item/{update_id}", {
    params: { path: { workflow_id: orderId, update_id: added.update_id } },
  }),
);
assert.deepEqual(polled.result, added.result);
ok(await api.POST("/workflows/{workflow_id}/signals/approve", { ...workflow(orderId), body: { approver: "bob" } }), 202);
const charged = ok(await api.GET("/workflows/{workflow_id}/result", { params: { path: { workflow_id: orderId }, query: { wait: 20 } } }));
assert.equal(charged.result, "Charged 180 cents to alice for 2 items (approved by bob)");
const orderKey = key();
const viaUpdate = ok(
  await api.POST("/workflows/orders/update-with-start/add_item", {
    body: { input: order, arg: { fruit: "BANANA", amount: 2 } },
    params: { header: { "Idempotency-Key": orderKey } },
  }),
);
assert.deepEqual(viaUpdate.result, { items: 2, total_cents: 150 });
const viaSignal = ok(
  await api.POST("/workflows/orders/signal-with-start/approve", {
    body: { input: order, arg: { approver: "carol" } },
    params: { header: { "Idempotency-Key": orderKey } },
  }),
  202,
);
assert.equal(viaSignal.workflow_id, viaUpdate.workflow_id);

// Listing and counting what this caller may read, and a closed workflow's events.
const listed = await eventually(async () => {
  const page = ok(await api.GET("/workflows", { params: { query: { query: "WorkflowType = 'OrderWorkflow'", page_size: "1" } } }));
  return page.workflows.length === 1 && page.next_page_token ? page : undefined;
});
assert.equal(listed.workflows[0]?.route, "orders");
const counted = ok(await api.GET("/workflows/count", { params: { query: { route: "orders" } } }));
assert.ok(counted.count >= 3);
const stream = await api.GET("/workflows/{workflow_id}/events", { ...workflow(orderId), parseAs: "text" });
assert.equal(stream.response.headers.get("content-type")?.split(";")[0], "text/event-stream");
assert.match(String(stream.data), /event: end/);

// Completion webhooks: the order was started without a callback, so there is none to show
// or to send again (the deliveries themselves are tests/e2e/test_webhooks.py's).
const withoutCallback = await api.GET("/workflows/{workflow_id}/callbacks", workflow(orderId));
assert.equal(withoutCallback.response.status, 404);
const noRedelivery = await api.POST("/workflows/{workflow_id}/callbacks/redeliver", workflow(orderId));
assert.equal(noRedelivery.response.status, 404);

// Schedules on the orders route: created paused, described (its ETag), listed, updated with
// If-Match, paused and unpaused, triggered (the order it starts is cancelled), backfilled over
// a range in which it names no run, and deleted.
const scheduled = await api.POST("/workflows/orders/schedules", {
  body: { input: order, spec: { cron_expressions: ["0 3 1 1 *"], time_zone: "UTC" }, paused: true },
  params: { header: { "Idempotency-Key": key() } },
});
const schedule = ok(scheduled, 201);
const scheduleId = schedule.schedule_id;
assert.ok(scheduleId.startsWith("order-"));
const bySchedule = { params: { path: { schedule_id: scheduleId } } };
const etag = scheduled.response.headers.get("etag")!;
const scheduleNow = await api.GET("/schedules/{schedule_id}", bySchedule);
assert.equal(ok(scheduleNow).paused, true);
assert.equal(scheduleNow.response.headers.get("etag"), etag);
await eventually(async () => {
  const page = ok(await api.GET("/schedules", { params: { query: { route: "orders", page_size: "100" } } }));
  return page.schedules.some((s) => s.schedule_id === scheduleId) ? page : undefined;
});
const replaced = ok(
  await api.PUT("/schedules/{schedule_id}", {
    params: { path: { schedule_id: scheduleId }, header: { "If-Match": etag } },
    body: { input: order, spec: { cron_expressions: ["0 4 1 1 *"] } },
  }),
);
assert.deepEqual(replaced.spec.cron_expressions, ["0 4 1 1 *"]);
problem(
  await api.PUT("/schedules/{schedule_id}", {
    params: { path: { schedule_id: scheduleId }, header: { "If-Match": etag } },
    body: { input: order, spec: { cron_expressions: ["0 5 1 1 *"] } },
  }),
  412,
  "precondition-failed",
);
assert.equal(ok(await api.POST("/schedules/{schedule_id}/unpause", { ...bySchedule, body: { note: "open" } })).paused, false);
assert.equal(ok(await api.POST("/schedules/{schedule_id}/pause", { ...bySchedule, body: { note: "closed" } })).paused, true);
assert.equal(ok(await api.POST("/schedules/{schedule_id}/trigger", bySchedule), 202).status, "triggered");
const runId = await eventually(
  async () => ok(await api.GET("/schedules/{schedule_id}", bySchedule)).recent_actions?.[0]?.workflow_id,
);
ok(await api.POST("/workflows/{workflow_id}/cancel", workflow(runId)), 202);
const backfilled = await api.POST("/schedules/{schedule_id}/backfill", {
  ...bySchedule,
  body: { start_time: "2026-06-01T00:00:00Z", end_time: "2026-06-02T00:00:00Z" },
});
assert.equal(ok(backfilled, 202).status, "backfilling");
assert.equal(ok(await api.DELETE("/schedules/{schedule_id}", bySchedule)).status, "deleted");
problem(await api.GET("/schedules/{schedule_id}", bySchedule), 404, "schedule-not-found");

// A typed problem for an id no workflow has.
problem(await api.GET("/workflows/{workflow_id}/status", workflow("tally." + key())), 404, "workflow-not-found");

console.log(JSON.stringify({ called: [...called].sort() }));
