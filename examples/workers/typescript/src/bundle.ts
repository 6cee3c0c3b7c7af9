// Build step (npm run build): bundle the workflow code once, so the worker starts without
// running webpack. Two bundles, since the failure converter is compiled into the bundle: one
// with the default converter, one that encodes failure messages (used with the codec). Both
// have the payload converter with protobuf support (payload-converter.ts).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';

async function main(): Promise<void> {
  const workflowsPath = require.resolve('./workflows');
  const payloadConverterPath = require.resolve('./payload-converter');
  const logger = new DefaultLogger('WARN'); // webpack's module list is noise here
  const bundles: [string, string | undefined][] = [
    ['workflow-bundle.js', undefined],
    ['workflow-bundle-encoded-failures.js', require.resolve('./failure-converter')],
  ];
  for (const [name, failureConverterPath] of bundles) {
    const { code } = await bundleWorkflowCode({ workflowsPath, payloadConverterPath, failureConverterPath, logger });
    writeFileSync(join(__dirname, name), code);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
