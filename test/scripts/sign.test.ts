// `npm run sign` as the README uses it: its output pasted into a real curl command reaches the
// API authenticated. The API's Temporal is unreachable on purpose: a 503 means the credential was
// accepted (the request got past authentication), a 401 that it was not; no dev server is needed.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { ensureSecretsFile, loadSecrets } from '../../src/security/secrets';
import { SqliteParticipantDataStore } from '../../src/store';
import { type RunningApi, startApi } from '../../rigs/api';
import { freePort } from '../../rigs/ports';
import { tempDir } from '../../rigs/temp';
import { ensureWorkerBuilt, PROJECT_ROOT } from '../../rigs/worker-process';

const dataDir = tempDir('sign');
let api: RunningApi;
let store: SqliteParticipantDataStore;
let baseUrl: string;

beforeAll(async () => {
  ensureWorkerBuilt();
  ensureSecretsFile({}, dataDir);
  store = new SqliteParticipantDataStore(path.join(dataDir, 'participant-data.sqlite'));
  await store.init();
  api = await startApi({ temporalAddress: `127.0.0.1:${await freePort()}`, taskQueue: 'sign-test', store, auth: loadSecrets({}, dataDir), requestTimeoutMs: 500 });
  ({ baseUrl } = api);
}, 180_000);

afterAll(async () => {
  await api?.close();
  await store?.close();
});

/** A shell line as a person types it, from the project folder, with the data folder's secrets. */
function shell(line: string, env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('sh', ['-c', line], { cwd: PROJECT_ROOT, env: { ...process.env, PARLEY_DATA_DIR: dataDir, API: baseUrl, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const status = (line: string, env?: Record<string, string>) => shell(`curl -s -o /dev/null -w '%{http_code}' ${line}`, env).then((r) => r.stdout);

test('a webhook signed by npm run sign passes; the same curl unsigned or with another body does not', async () => {
  const body = '{"eventId": "evt-1", "eventType": "CREATED", "conversationId": "c-1001", "taskId": "task-1",\n  "channel": "chat", "occurredAt": "2026-11-22T09:00:00Z", "queue": "billing"}';
  const env = { BODY: body };
  const post = `-X POST "$API/webhooks/routing-events" -H 'content-type: application/json'`;
  expect(await status(`${post} $(npm run -s sign -- "$BODY") --data-binary "$BODY"`, env)).toBe('503');
  expect(await status(`${post} --data-binary "$BODY"`, env)).toBe('401');
  expect(await status(`${post} $(npm run -s sign -- '{}') --data-binary "$BODY"`, env)).toBe('401');
});

test('npm run sign -- --token <scope> gives curl a bearer token of that scope', async () => {
  expect(await status(`$(npm run -s sign -- --token operator) "$API/conversations/c-1001"`)).toBe('503');
  expect(await status(`$(npm run -s sign -- --token flow) "$API/conversations/c-1001"`)).toBe('403');
  expect(await status(`$(npm run -s sign -- --token flow) "$API/conversations/c-1001/attributes/Foo"`)).toBe('503');
});

test('without secrets it says which variables to set', async () => {
  const res = await shell(`npm run -s sign -- '{}'`, { PARLEY_DATA_DIR: path.join(dataDir, 'empty') });
  expect(res.code).toBe(1);
  expect(res.stderr).toMatch(/PARLEY_WEBHOOK_SECRETS and PARLEY_TOKENS, or PARLEY_SECRETS_FILE/);
  expect(res.stdout).toBe('');
});
