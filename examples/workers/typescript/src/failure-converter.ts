// Loaded by path (inside the workflow sandbox and by the worker) when the codec is on: a
// failure's message and stack trace move into an encoded payload, so the codec encrypts them
// too, and Temporal stores the message as "Encoded failure".
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
