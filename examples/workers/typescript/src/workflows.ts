// The TypeScript example worker's workflows. This file runs in the SDK's deterministic
// sandbox, so it imports only @temporalio/workflow, the activities' types and the protobuf
// messages (./protos, which imports protobufjs alone). Every message is registered by name
// with a description (defineSignal/defineQuery/defineUpdate, then setHandler), so the
// built-in __temporal_workflow_metadata query lists them.
import {
  ApplicationFailure,
  condition,
  defineQuery,
  defineSignal,
  defineUpdate,
  proxyActivities,
  setHandler,
} from '@temporalio/workflow';
import type { Message } from 'protobufjs';
import type * as activities from './activities';
import { Receipt, Struct } from './protos';

const { tsChargeOrder, tsReserveStock } = proxyActivities<typeof activities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '200 milliseconds', maximumAttempts: 3 },
});

// --- orders -------------------------------------------------------------------------------

export interface Item {
  sku: string;
  quantity: number;
}
export interface OrderInput {
  customer: string;
  items?: Item[];
}
export interface Approval {
  approver: string;
}
export interface OrderStatus {
  state: 'awaiting-approval' | 'charging' | 'completed' | 'cancelled';
  customer: string;
  items: Item[];
  units: number;
  notes: string[];
  approved_by?: string;
}
export interface OrderResult {
  customer: string;
  items: Item[];
  units: number;
  notes: string[];
  approved_by: string;
  charge: string;
}

export const approve = defineSignal<[Approval]>('approve');
/** Two positional arguments: a caller must send two payloads. */
export const note = defineSignal<[string, string]>('note');
export const status = defineQuery<OrderStatus>('status');
export const quantityOf = defineQuery<Item, [{ sku: string }]>('quantity_of');
export const addItem = defineUpdate<OrderStatus, [Item]>('add_item');
export const removeItem = defineUpdate<OrderStatus, [{ sku: string }]>('remove_item');
/** Two positional arguments: a caller must send two payloads. */
export const setQuantity = defineUpdate<OrderStatus, [string, number]>('set_quantity');

const MAX_QUANTITY = 100;

function checkItem(sku: string, quantity: number): void {
  if (!sku) {
    throw ApplicationFailure.create({ type: 'InvalidItem', message: 'sku must not be empty' });
  }
  if (!Number.isInteger(quantity) || quantity < 1 || quantity > MAX_QUANTITY) {
    throw ApplicationFailure.create({
      type: 'InvalidItem',
      message: `quantity must be 1 to ${MAX_QUANTITY}, got ${quantity}`,
      details: [{ sku, quantity }],
    });
  }
}

/**
 * Holds an order until it is approved (signal approve) or the workflow is cancelled, then
 * charges it in an activity. add_item's and set_quantity's validators refuse a bad line or
 * a closed order with an ApplicationFailure (InvalidItem, OrderNotOpen): the update is
 * rejected before it is written to the history. remove_item fails as an accepted update
 * (ApplicationFailure ItemNotFound): in TypeScript a plain Error thrown by an update handler
 * would fail the workflow task instead, and the update would never answer.
 */
export async function TsOrderWorkflow(input: OrderInput): Promise<OrderResult> {
  const order: OrderStatus = {
    state: 'awaiting-approval',
    customer: input.customer,
    items: [...(input.items ?? [])],
    units: 0,
    notes: [],
  };
  const snapshot = (): OrderStatus => ({
    ...order,
    items: order.items.map((it) => ({ ...it })),
    notes: [...order.notes],
    units: order.items.reduce((n, it) => n + it.quantity, 0),
  });
  const index = (sku: string) => order.items.findIndex((it) => it.sku === sku);
  const checkOpen = () => {
    if (order.state !== 'awaiting-approval' || order.approved_by !== undefined) {
      throw ApplicationFailure.create({
        type: 'OrderNotOpen',
        message: 'the order is approved or closed: items can only change while it awaits approval',
      });
    }
  };

  setHandler(status, snapshot, {
    description: 'The order: state, customer, items, units, notes, approver.',
  });
  setHandler(
    quantityOf,
    ({ sku }) => {
      const i = index(sku);
      if (i < 0) {
        throw ApplicationFailure.create({ type: 'ItemNotFound', message: `the order has no item ${sku}` });
      }
      return { sku, quantity: order.items[i].quantity };
    },
    { description: "How many of one sku the order holds; fails (ItemNotFound) if it holds none." },
  );
  setHandler(
    approve,
    ({ approver }) => {
      if (order.approved_by === undefined && approver) order.approved_by = approver;
    },
    { description: 'Approve the order so it is charged; only the first approval counts.' },
  );
  setHandler(
    note,
    (author, text) => {
      order.notes.push(`${author}: ${text}`);
    },
    { description: 'Attach a note: two arguments, author and text.' },
  );
  setHandler(
    addItem,
    (item) => {
      const i = index(item.sku);
      if (i >= 0) order.items[i].quantity += item.quantity;
      else order.items.push({ sku: item.sku, quantity: item.quantity });
      return snapshot();
    },
    {
      description: 'Add a line (or more of a sku); refused for a bad line or a closed order.',
      validator: (item) => {
        checkOpen();
        checkItem(item.sku, item.quantity);
      },
    },
  );
  setHandler(
    removeItem,
    ({ sku }) => {
      const i = index(sku);
      if (i < 0) {
        throw ApplicationFailure.create({ type: 'ItemNotFound', message: `the order has no item ${sku}` });
      }
      order.items.splice(i, 1);
      return snapshot();
    },
    { description: "Remove a sku's line; fails (ItemNotFound) if the order has none." },
  );
  setHandler(
    setQuantity,
    (sku, quantity) => {
      const i = index(sku);
      if (i >= 0) order.items[i].quantity = quantity;
      else order.items.push({ sku, quantity });
      return snapshot();
    },
    {
      description: "Set one sku's quantity: two arguments, sku (string) and quantity (number).",
      validator: (sku, quantity) => {
        checkOpen();
        checkItem(sku, quantity);
      },
    },
  );

  try {
    // Throws CancelledFailure once the workflow is asked to cancel: rethrown, the workflow
    // closes as CANCELED.
    await condition(() => order.approved_by !== undefined);
  } catch (err) {
    order.state = 'cancelled';
    throw err;
  }
  order.state = 'charging';
  const s = snapshot();
  const charge = await tsChargeOrder({ customer: s.customer, units: s.units });
  order.state = 'completed';
  return {
    customer: s.customer,
    items: s.items,
    units: s.units,
    notes: s.notes,
    approved_by: s.approved_by ?? '',
    charge,
  };
}

// --- failures -----------------------------------------------------------------------------

export interface FailureInput {
  /**
   * activity  the activity's ApplicationFailure OutOfStock (non-retryable, details [{sku}])
   *           propagates: the workflow fails with ActivityFailure -> ApplicationFailure
   * declined  ApplicationFailure PaymentDeclined with two details
   * plain     throw new Error(...): in TypeScript this fails the workflow TASK, again and
   *           again, and the workflow stays RUNNING (only TemporalFailures fail a workflow)
   * none      no failure
   */
  kind: 'activity' | 'declined' | 'plain' | 'none';
  sku?: string;
}

export async function TsFailureWorkflow(input: FailureInput): Promise<string> {
  switch (input.kind) {
    case 'activity':
      await tsReserveStock({ sku: input.sku ?? 'APPLE-1', quantity: 1 });
      return 'reserved';
    case 'declined':
      throw ApplicationFailure.create({
        type: 'PaymentDeclined',
        message: 'payment declined',
        details: [{ reason: 'insufficient funds', amount_cents: 4200 }, 'card ending 4242'],
      });
    case 'plain':
      throw new Error('the warehouse robot is stuck');
    case 'none':
      return 'no failure';
  }
  throw ApplicationFailure.nonRetryable(`unknown kind ${JSON.stringify(input.kind)}`, 'InvalidKind');
}

// --- several parameters -------------------------------------------------------------------

export interface ShipResult {
  customer: string;
  count: number;
  express: boolean;
  summary: string;
}

/**
 * Three positional arguments: a caller must send three payloads. Given one object, customer
 * is that object, and count and express are undefined (TypeScript does not check at run time).
 */
export async function TsShipWorkflow(customer: string, count: number, express: boolean): Promise<ShipResult> {
  return {
    customer,
    count,
    express,
    summary: `${count} parcels for ${typeof customer === 'string' ? customer : JSON.stringify(customer)}, ${
      express ? 'express' : 'standard'
    }`,
  };
}

// --- integers -----------------------------------------------------------------------------

export interface IntegerResult {
  value: number;
  text: string;
  next: number;
  safe: boolean;
}

/**
 * Echoes a number. JavaScript numbers are doubles: an integer beyond ±(2^53−1) is rounded
 * when the payload is parsed (9007199254740993 arrives as 9007199254740992), and text shows
 * what the workflow saw; safe says whether the value was exact.
 */
export async function TsIntegerWorkflow(input: { value: number }): Promise<IntegerResult> {
  return {
    value: input.value,
    text: String(input.value),
    next: input.value + 1,
    safe: Number.isSafeInteger(input.value),
  };
}

// --- protobuf -----------------------------------------------------------------------------

/** TsReceiptWorkflow's and TsStructWorkflow's argument (plain JSON). */
export interface ReceiptRequest {
  order_id: string;
  customer: string;
  units: number;
  unit_cents: number;
}

/**
 * Returns gateway.examples.v1.Receipt, the Go worker's message defined again in ./protos: the
 * payload converter (payload-converter.ts) sends it as json/protobuf, proto JSON with metadata
 * messageType "gateway.examples.v1.Receipt", the proto JSON Go's default converter writes.
 */
export async function TsReceiptWorkflow(input: ReceiptRequest): Promise<Message> {
  // Date.now() is the workflow's clock in the sandbox: the same value on replay.
  const now = Date.now();
  return Receipt.fromObject({
    order_id: input.order_id,
    customer: input.customer,
    lines: [{ sku: 'APPLE-1', quantity: input.units, unit_cents: input.unit_cents }],
    // An int64, exact beyond 2^53 as a decimal string (a JavaScript number would round).
    total_cents: (BigInt(input.units) * BigInt(input.unit_cents)).toString(),
    status: 'STATUS_PAID',
    issued_at: { seconds: Math.floor(now / 1000), nanos: (now % 1000) * 1_000_000 },
  });
}

/** Returns a google.protobuf.Struct (json/protobuf, messageType "google.protobuf.Struct"). */
export async function TsStructWorkflow(input: ReceiptRequest): Promise<Message> {
  return Struct.fromObject({
    fields: {
      order_id: { stringValue: input.order_id },
      customer: { stringValue: input.customer },
      total: { numberValue: input.units * input.unit_cents },
      tags: { listValue: { values: [{ stringValue: 'struct' }, { stringValue: 'protobuf' }] } },
      paid: { boolValue: true },
    },
  });
}
