// A Temporal worker written with the TypeScript SDK, for the gateway to serve. Configured by
// the environment, as the Go worker's flags are:
//   TEMPORAL_ADDRESS     Temporal frontend host:port (localhost:7233)
//   TEMPORAL_NAMESPACE   namespace (default)
//   WORKER_TASK_QUEUE    task queue to poll (ts-workers)
//   CODEC_KEY_FILE       AES-256 key, 64 hex characters: encrypt payloads and failures
import { NativeConnection, Worker } from '@temporalio/worker';
import * as activities from './activities';
import { AesGcmCodec } from './codec';

async function main(): Promise<void> {
  const address = process.env.TEMPORAL_ADDRESS || 'localhost:7233';
  const namespace = process.env.TEMPORAL_NAMESPACE || 'default';
  const taskQueue = process.env.WORKER_TASK_QUEUE || 'ts-workers';
  const keyFile = process.env.CODEC_KEY_FILE;
  const codec = keyFile ? AesGcmCodec.fromKeyFile(keyFile) : undefined;

  const connection = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection,
    namespace,
    taskQueue,
    activities,
    // Prebuilt by src/bundle.ts; the encoded-failures bundle goes with the codec.
    workflowBundle: {
      codePath: require.resolve(codec ? './workflow-bundle-encoded-failures.js' : './workflow-bundle.js'),
    },
    // The payload converter the bundles have too: protobuf messages as json/protobuf, for the
    // activities' values.
    dataConverter: {
      payloadConverterPath: require.resolve('./payload-converter'),
      ...(codec ? { payloadCodecs: [codec], failureConverterPath: require.resolve('./failure-converter') } : {}),
    },
  });
  console.log(
    `polling task queue ${JSON.stringify(taskQueue)} in namespace ${JSON.stringify(namespace)} at ${address}` +
      (codec ? ` (payloads encrypted with key id ${codec.keyId})` : ''),
  );
  // Runs until SIGINT or SIGTERM (the SDK's default shutdown signals), then drains.
  await worker.run();
  await connection.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
