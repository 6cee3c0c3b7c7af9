// Verify a temporal-gateway completion webhook (Standard Webhooks) in Node, no dependencies.
// verify(rawBody, headers, secrets, route) returns the parsed event or throws; pass the raw body
// exactly as received, both secrets while a rotation is under way, and the route whose
// deliveries this receiver takes: the signed body names it (data.route), so a delivery another
// route's caller aimed here is refused even if both routes share a secret.
//
// Tried by the tests as: WEBHOOK_SECRETS="whsec_… whsec_…" WEBHOOK_ID=… WEBHOOK_TIMESTAMP=…
// WEBHOOK_SIGNATURE=… WEBHOOK_ROUTE=orders node verify.mjs < body.json
import { createHmac, timingSafeEqual } from "node:crypto";

export function verify(rawBody, headers, secrets, route, toleranceSeconds = 300) {
  const id = headers["webhook-id"];
  const timestamp = headers["webhook-timestamp"];
  const signatures = headers["webhook-signature"];
  if (!id || !timestamp || !signatures) throw new Error("missing webhook headers");
  if (!/^\d+$/.test(timestamp)) throw new Error("bad webhook-timestamp");
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > toleranceSeconds) {
    throw new Error("webhook-timestamp outside the tolerance: refusing a replay");
  }
  const signed = Buffer.concat([Buffer.from(`${id}.${timestamp}.`), Buffer.from(rawBody)]);
  const expected = secrets.map((secret) =>
    createHmac("sha256", Buffer.from(secret.replace(/^whsec_/, ""), "base64")).update(signed).digest(),
  );
  for (const entry of signatures.split(" ")) {
    const [version, encoded] = entry.split(",", 2);
    if (version !== "v1" || !encoded) continue;
    const given = Buffer.from(encoded, "base64");
    if (expected.some((e) => e.length === given.length && timingSafeEqual(e, given))) {
      const event = JSON.parse(Buffer.from(rawBody).toString("utf8"));
      const named = event?.data?.route;
      if (route !== undefined && named !== route) {
        throw new Error(`the delivery is for route ${JSON.stringify(named)}, not ${JSON.stringify(route)}`);
      }
      return event;
    }
  }
  throw new Error("no signature matches");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const headers = {
    "webhook-id": process.env.WEBHOOK_ID,
    "webhook-timestamp": process.env.WEBHOOK_TIMESTAMP,
    "webhook-signature": process.env.WEBHOOK_SIGNATURE,
  };
  try {
    const secrets = process.env.WEBHOOK_SECRETS.split(" ");
    const event = verify(Buffer.concat(chunks), headers, secrets, process.env.WEBHOOK_ROUTE);
    console.log(`verified ${headers["webhook-id"]}: ${event.type}`);
  } catch (err) {
    console.log(`refused: ${err.message}`);
    process.exit(1);
  }
}
