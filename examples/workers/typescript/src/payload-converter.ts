// The worker's payload converter, loaded by path (payloadConverterPath) by the worker for its
// activities and compiled into both workflow bundles (src/bundle.ts). The SDK's default
// converters in the same order, with the protobuf ones added before JSON: a protobufjs message
// (from ./protos) is sent as json/protobuf with its messageType, everything else as before
// (json/plain, binary/plain, binary/null).
import { DefaultPayloadConverterWithProtobufs } from '@temporalio/common/lib/protobufs';
import { root } from './protos';

// protobufRoot is typed for a pbjs-generated json-module; at run time the converters need a
// protobufjs Root (they check that and call its lookupType), which a reflected one is.
export const payloadConverter = new DefaultPayloadConverterWithProtobufs({
  protobufRoot: root as unknown as Record<string, unknown>,
});
