// The protobuf messages of the TypeScript worker, as a protobufjs Root built by reflection from
// JSON definitions: no .proto compiler and no generated code. gateway.examples.v1 mirrors
// examples/workers/go/proto/gateway/examples/v1/receipt.proto field for field (same names,
// numbers and types), so a Receipt has one proto JSON whichever worker wrote it; Timestamp and
// Struct are the well-known types protobufjs ships.
//
// Imported by the payload converter (payload-converter.ts) and by the workflows, which build
// their messages from its types; both run inside the workflow sandbox. protobufjs holds int64
// fields as Longs (its `long` dependency, bundled too), so they are exact beyond 2^53.
import { common, Root, type Type } from 'protobufjs';

const receipts = {
  nested: {
    gateway: {
      nested: {
        examples: {
          nested: {
            v1: {
              nested: {
                Receipt: {
                  fields: {
                    order_id: { type: 'string', id: 1 },
                    customer: { type: 'string', id: 2 },
                    lines: { rule: 'repeated', type: 'Line', id: 3 },
                    total_cents: { type: 'int64', id: 4 },
                    status: { type: 'Status', id: 5 },
                    issued_at: { type: 'google.protobuf.Timestamp', id: 6 },
                  },
                },
                Line: {
                  fields: {
                    sku: { type: 'string', id: 1 },
                    quantity: { type: 'int32', id: 2 },
                    unit_cents: { type: 'int64', id: 3 },
                  },
                },
                Status: { values: { STATUS_UNSPECIFIED: 0, STATUS_PAID: 1, STATUS_REFUNDED: 2 } },
              },
            },
          },
        },
      },
    },
  },
};

function build(): Root {
  const root = new Root();
  for (const file of ['google/protobuf/timestamp.proto', 'google/protobuf/struct.proto']) {
    const json = common.get(file);
    if (!json) throw new Error(`protobufjs does not ship ${file}`);
    Root.fromJSON(json, root);
  }
  return Root.fromJSON(receipts, root);
}

/** Every message the worker sends or reads: DefaultPayloadConverterWithProtobufs's protobufRoot. */
export const root = build();
export const Receipt: Type = root.lookupType('gateway.examples.v1.Receipt');
export const Struct: Type = root.lookupType('google.protobuf.Struct');
