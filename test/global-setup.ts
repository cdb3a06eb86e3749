// One folder per `jest` run for every test's SQLite files, worker logs and data; test/global-teardown.ts
// removes it. KEEP_TEST_DIRS=1 keeps it for a post-mortem.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export default function globalSetup(): void {
  process.env.PARLEY_TEST_TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-test-run-'));
  // One local key file for the run: the tests' clients and the worker processes they start (which
  // inherit this environment) encrypt and decrypt Temporal payloads with the same key.
  process.env.PARLEY_KEY_FILE = path.join(process.env.PARLEY_TEST_TMP, 'keys.json');
}
