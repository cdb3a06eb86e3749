// Bundles the workflow code once at build time (as in the `production` sample), so a worker
// started with WORKFLOW_BUNDLE_PATH skips webpack at start-up: faster starts, less memory, and
// every worker of a deployment runs byte-identical workflow code.
import fs from 'node:fs';
import path from 'node:path';
import { bundleParleyWorkflows } from '../src/worker/workflow-bundle';

async function main(): Promise<void> {
  const out = path.resolve(process.argv[2] ?? path.join(__dirname, '..', 'workflow-bundle.js'));
  const { code } = await bundleParleyWorkflows();
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, code);
  console.log(`workflow bundle: ${out} (${(code.length / 1024).toFixed(0)} KiB)`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
