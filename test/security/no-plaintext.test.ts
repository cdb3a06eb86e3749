// No plaintext anywhere: conversations set secured and plain attributes with distinctive canary
// values — also through a rejected write, a write confirmed at the edge (202) and refused after the close, a continue-as-new, a flush that fails and retries, and a
// worker that restarts while KMS is down — and flows read the secured ones back through the explicit
// secured read (Get Secured Data) before and after each flush; then the raw Temporal histories, the
// dev server's SQLite file, the participant-data store, the export, every log line of the API and
// the worker, the spans the worker exported over OTLP, the metrics and every answer to a caller
// without the right to the plaintext are searched. Secured canaries appear only in the answers to the secured read and to agent scripts;
// plain canaries only in the store, the export and what an operator decodes. KMS is a real endpoint
// (moto), the worker a real process.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { createKeyServices, type KeyServices } from '../../src/security/key-services';
import { ENCRYPTED_ENCODING } from '../../src/security/payload-codec';
import { workflowIdFor } from '../../src/conversation/messages';
import { type ApiStack, startApiStack } from '../../rigs/api-stack';
import { testCredentials } from '../../rigs/credentials';
import { kmsKeyConfig } from '../../rigs/keys';
import { captureLogs } from '../../rigs/logs';
import { MOTO_CREDENTIALS, MOTO_REGION, type MotoServer, startMoto } from '../../rigs/moto';
import { tempDir, uniqueId } from '../../rigs/temp';
import { waitFor } from '../../rigs/wait';
import { ensureWorkerBuilt, type WorkerProcess } from '../../rigs/worker-process';
import { type OtlpReceiver, startOtlpReceiver } from '../../rigs/otlp-receiver';
import { historyPayloads } from '../support/histories';

const canary = (kind: string) => `${kind}-CANARY-${crypto.randomBytes(6).toString('hex')}`;
const SECURED = [canary('SECURED'), canary('SECURED'), canary('SECURED'), canary('SECURED')];
const PLAIN = [canary('PLAIN'), canary('PLAIN'), canary('PLAIN')];

const dir = tempDir('no-plaintext');
const dbFile = path.join(dir, 'temporal.sqlite');
const storeFile = path.join(dir, 'participant-data.sqlite');
const credentials = testCredentials();
const { logger, lines: apiLog } = captureLogs('trace');
/** Every answer given to a caller not reading secured values (a flow's plain read, operator, nobody). */
const unprivilegedAnswers: string[] = [];
/** The answers to a flow's explicit secured read: the one place a flow gets the plaintext. */
const securedReadAnswers: string[] = [];

let moto: MotoServer;
let stack: ApiStack;
let keys: KeyServices;
let rawClient: Client;
let workerEnv: NodeJS.ProcessEnv;
/** The workers trace (OTLP): their spans, failed flushes included, are searched too. */
let spans: OtlpReceiver;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  ensureWorkerBuilt();
  moto = await startMoto();
  spans = await startOtlpReceiver();
  const keyArn = await moto.createKey('parley no-plaintext test');
  workerEnv = {
    KMS_KEY_ID: keyArn,
    AWS_ENDPOINT_URL: moto.endpoint,
    AWS_REGION: MOTO_REGION,
    AWS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey,
    KMS_REQUEST_TIMEOUT: '2s',
    // As much as the worker will ever say, so the search below covers it.
    LOG_LEVEL: 'trace',
    OTEL_EXPORTER_OTLP_ENDPOINT: spans.endpoint,
    // Exported as they end: a worker killed below loses no span the search should see.
    OTEL_BSP_SCHEDULE_DELAY: '200',
  };
  keys = createKeyServices(kmsKeyConfig(moto, { KMS_KEY_ID: keyArn }), { namespace: 'default' });
  stack = await startApiStack({
    name: 'no-plaintext',
    dir,
    keys,
    credentials,
    logger,
    requestTimeoutMs: 10_000,
    // The lowest threshold, so a few dozen events make the conversation continue as new.
    conversation: { continueAsNewAfterEvents: 100, closedGracePeriodMs: 2_000 },
    worker: false,
  });
  // What an attacker holding the history would see: no data converter, no codec.
  rawClient = new Client({ connection: await Connection.connect({ address: stack.devServer.address }) });
  await startWorker('worker-1');
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  await rawClient?.connection.close();
  await moto?.close();
  await spans?.close();
});

/** A worker process on the stack (its SQLite store) with KMS keys; stopped with the stack. */
async function startWorker(name: string, opts: { waitForPolling?: boolean } = {}): Promise<WorkerProcess> {
  const worker = await stack.spawnWorker(name, workerEnv, opts);
  workers.push(worker);
  return worker;
}

type Who = 'flow' | 'agent-script' | 'operator';
async function call(who: Who | 'webhook', method: string, url: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await stack.fetch(url, {
    method,
    body,
    headers: who === 'webhook' ? headers : { authorization: `Bearer ${credentials.tokens[who]}`, ...headers },
  });
  const text = await res.text();
  if (who !== 'agent-script') unprivilegedAnswers.push(text);
  return { status: res.status, body: text ? JSON.parse(text) : undefined, text };
}

/** Get Secured Data by a flow, through the route or the data action: the plaintext, and nowhere else. */
async function securedRead(via: 'route' | 'data-action', conversationId: string, name: string) {
  const res =
    via === 'route'
      ? await stack.fetch(`/conversations/${conversationId}/attributes/${name}?secured=true`, { headers: { authorization: `Bearer ${credentials.tokens.flow}` } })
      : await stack.fetch('/data-actions/participant-data/get', { method: 'POST', body: { inputs: { conversationId, name, secured: true } }, headers: { authorization: `Bearer ${credentials.tokens.flow}` } });
  const text = await res.text();
  securedReadAnswers.push(text);
  const body = text ? JSON.parse(text) : undefined;
  return { status: res.status, value: via === 'route' ? body?.value : body?.outputs?.value, source: via === 'route' ? body?.source : body?.outputs?.source };
}

let minute = 0;
const event = (conversationId: string, eventType: string, extra: Record<string, unknown> = {}) => ({
  eventId: `evt-${crypto.randomUUID()}`,
  eventType,
  conversationId,
  taskId: 'task-1',
  channel: 'chat',
  occurredAt: new Date(Date.UTC(2026, 10, 27, 9, 0) + ++minute * 1000).toISOString(),
  ...extra,
});

const id = uniqueId('leak');

test("secured writes are encrypted at the edge; their plaintext goes only to an agent script and to a flow's explicit secured read", async () => {
  expect((await call('webhook', 'POST', '/webhooks/routing-events', event(id, 'CREATED', { queue: 'billing', taskContext: { user_note: PLAIN[0] } }))).status).toBe(202);
  expect(await call('flow', 'POST', `/conversations/${id}/attributes`, { attributes: { plainNote: PLAIN[1] } })).toMatchObject({ status: 200 });
  expect(await call('flow', 'POST', `/conversations/${id}/attributes`, { attributes: { card: SECURED[0], cvv: SECURED[1] }, secured: true })).toMatchObject({
    status: 200,
    body: { conversationId: id, queued: ['card', 'cvv'], secured: true },
  });

  // Refused writes carry canaries too; neither their answers nor the logs may repeat them.
  const refusedSecured = await call('flow', 'POST', `/conversations/${id}/attributes`, { attributes: { pin: `${SECURED[2]}\u0000` }, secured: true });
  expect(refusedSecured.status).toBe(400);
  const refusedPlain = await call('flow', 'POST', `/conversations/${id}/attributes`, { attributes: { big: PLAIN[2].repeat(200) } });
  expect(refusedPlain.status).toBe(400);

  expect((await call('flow', 'GET', `/conversations/${id}/attributes/card`)).body).toEqual({ name: 'card', source: 'pending', secured: true });
  expect((await call('flow', 'POST', '/data-actions/participant-data/get', { inputs: { conversationId: id, name: 'card' } })).body).toEqual({ outputs: { found: true, name: 'card', source: 'pending', secured: true } });
  expect((await call('agent-script', 'GET', `/conversations/${id}/attributes/card`)).body).toEqual({ name: 'card', value: SECURED[0], source: 'pending', secured: true });
  // Get Secured Data: the flow asks for the plaintext explicitly, from the running conversation.
  expect(await securedRead('route', id, 'card')).toEqual({ status: 200, value: SECURED[0], source: 'pending' });
  expect(await securedRead('data-action', id, 'cvv')).toEqual({ status: 200, value: SECURED[1], source: 'pending' });
  // An operator is refused it.
  expect((await call('operator', 'GET', `/conversations/${id}/attributes/card?secured=true`)).status).toBe(403);
  expect((await call('operator', 'POST', '/data-actions/participant-data/get', { inputs: { conversationId: id, name: 'card', secured: true } })).status).toBe(403);
  expect((await call('flow', 'GET', `/conversations/${id}/attributes/plainNote`)).body).toEqual({ name: 'plainNote', value: PLAIN[1], source: 'pending' });
  const state = await call('operator', 'GET', `/conversations/${id}`);
  expect(state.body).toMatchObject({ status: 'queued', attributeNames: { pending: ['card', 'cvv', 'plainNote'] }, taskContext: { user_note: PLAIN[0] } });
});

test('a continue-as-new hands secured values over and writes them to the store still encrypted', async () => {
  const handle = rawClient.workflow.getHandle(workflowIdFor(id));
  for (let i = 0; (await call('operator', 'GET', `/conversations/${id}`)).body.runCount === 1; i++) {
    if (i > 120) throw new Error('the conversation never continued as new');
    expect((await call('webhook', 'POST', '/webhooks/routing-events', event(id, 'QUEUED', { estimatedWaitTime: 300 - i }))).status).toBe(202);
  }
  await waitFor('the hand-over batch', async () => (await storedRows(id)).length === 3);
  expect((await handle.describe()).status.name).toBe('RUNNING');
  expect((await call('agent-script', 'GET', `/conversations/${id}/attributes/cvv`)).body).toEqual({ name: 'cvv', value: SECURED[1], source: 'stored', secured: true });
  expect((await call('flow', 'GET', `/conversations/${id}/attributes/cvv`)).body).toEqual({ name: 'cvv', source: 'stored', secured: true });
  expect(await securedRead('route', id, 'cvv')).toEqual({ status: 200, value: SECURED[1], source: 'stored' });
  expect(await securedRead('data-action', id, 'card')).toEqual({ status: 200, value: SECURED[0], source: 'stored' });
});

test('a flush that fails and retries, and a worker restarted while KMS is down, lose nothing', async () => {
  expect((await call('flow', 'POST', `/conversations/${id}/attributes`, { attributes: { pin: SECURED[3] }, secured: true })).status).toBe(200);

  // The worker that held the conversation's keys in its cache dies; its successor starts while KMS is
  // unreachable, so it cannot read the history until KMS returns.
  await workers[0].kill('SIGKILL');
  await moto.setState('down');
  // A new conversation still starts: the API holds the namespace's payload data key, unwrapped.
  const other = uniqueId('leak-kms-down');
  expect((await call('webhook', 'POST', '/webhooks/routing-events', event(other, 'CREATED'))).status).toBe(202);
  // A write that needs a new data key (its first secured value) is refused with nothing changed; the sender may retry.
  const refused = await call('flow', 'POST', `/conversations/${other}/attributes`, { attributes: { pin: SECURED[3] }, secured: true });
  expect([refused.status, refused.body.message]).toEqual([503, expect.stringMatching(/key service/)]);

  expect((await call('webhook', 'POST', '/webhooks/routing-events', event(id, 'CLOSED'))).status).toBe(202);
  // A write confirmed at the edge while no worker runs, after the CLOSED event: answered 202 (its
  // ciphertext recorded by Temporal), then refused by the conversation; its canary is searched below.
  const late = await call('flow', 'POST', `/conversations/${id}/attributes`, { attributes: { late: SECURED[2] }, secured: true }, { prefer: 'respond-async' });
  expect(late.status).toBe(202);
  await startWorker('worker-2');
  // The store is locked as well, so once the worker can read the history again its final flush fails at least once.
  const locker = new Database(storeFile, { timeout: 5_000 });
  locker.exec('BEGIN EXCLUSIVE');
  try {
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    expect((await storedRows(id)).map((r) => r.name)).toEqual(['card', 'cvv', 'plainNote']);
    await moto.setState('up');
    await waitFor('a failed flush attempt', async () => /SQLITE_BUSY|database is locked/.test(workers[1].output()), { timeoutMs: 60_000 });
  } finally {
    locker.exec('ROLLBACK');
    locker.close();
  }
  await waitFor('the conversation to complete', async () => (await rawClient.workflow.getHandle(workflowIdFor(id)).describe()).status.name === 'COMPLETED', { timeoutMs: 60_000 });
  // The refused writes left nothing behind; the late one's refusal names it, not its value.
  expect(await call('flow', 'GET', `/conversations/${other}/attributes/pin`)).toMatchObject({ status: 404 });
  expect((await call('flow', 'GET', late.body.outcome)).body).toMatchObject({ status: 'refused', reason: 'ConversationClosed', names: ['late'] });
  const rows = await storedRows(id);
  expect(rows.map((r) => [r.name, r.secured])).toEqual([
    ['card', 1],
    ['cvv', 1],
    ['pin', 1],
    ['plainNote', 0],
  ]);
  expect(rows.find((r) => r.name === 'plainNote')?.value).toBe(PLAIN[1]);
  const batches = new Database(storeFile, { readonly: true }).prepare('SELECT batch_seq FROM participant_data_batches WHERE conversation_id = ?').all(id);
  expect(batches).toHaveLength(2);
  expect((await call('agent-script', 'GET', `/conversations/${id}/attributes/pin`)).body).toEqual({ name: 'pin', value: SECURED[3], source: 'stored', secured: true });
  expect(await securedRead('data-action', id, 'pin')).toEqual({ status: 200, value: SECURED[3], source: 'stored' });
  expect((await call('flow', 'GET', `/conversations/${id}/attributes/pin`)).body).toEqual({ name: 'pin', source: 'stored', secured: true });
});

test('the secured canaries are nowhere but in the secured reads; the plain ones only in the store, the export and what an operator decodes', async () => {
  // The conversation's export, written by the worker once it completed.
  const exportDir = path.join(dir, 'exports');
  await waitFor('the export', () => exportFiles(exportDir).some((f) => f.includes(id)), { timeoutMs: 60_000 });
  const exported = exportFiles(exportDir).map((f) => fs.readFileSync(f, 'utf8')).join('\n');
  expect(exported).toContain(PLAIN[1]);
  // The metrics (Prometheus text) join the answers searched below.
  const metrics = await stack.fetch('/metrics', { headers: { authorization: `Bearer ${credentials.tokens.operator}` } });
  const metricsText = await metrics.text();
  expect([metrics.status, metricsText]).toEqual([200, expect.stringContaining('parley_')]);
  unprivilegedAnswers.push(metricsText);

  const histories = await rawHistories(id);
  expect(histories.length).toBeGreaterThanOrEqual(2);
  const historyBytes = Buffer.concat(histories.map((h) => Buffer.from(temporal.api.history.v1.History.encode(h).finish())));
  const devServerFiles = Buffer.concat([dbFile, `${dbFile}-wal`].filter((f) => fs.existsSync(f)).map((f) => fs.readFileSync(f)));
  const storeFiles = Buffer.concat([storeFile, `${storeFile}-wal`].filter((f) => fs.existsSync(f)).map((f) => fs.readFileSync(f)));
  const logs = [...apiLog, ...workers.map((w) => w.output())].join('\n');
  // The spans include the final flush, and the attempt that failed on the locked store (its error on the span).
  await waitFor('the flush spans', () => spans.spans().some((s) => s.name === 'participant-data write-batch' && s.attributes['parley.conversation_id'] === id && s.status.code !== 2), { timeoutMs: 30_000 });
  expect(spans.spans().some((s) => s.name === 'RunActivity:flushParticipantData' && s.attributes.temporalWorkflowId === workflowIdFor(id) && s.status.code === 2)).toBe(true);
  const spanBytes = Buffer.concat(spans.bodies).toString('utf8');
  const answers = unprivilegedAnswers.join('\n');
  expect(logs.length).toBeGreaterThan(1000);
  // The secured reads happened and were logged (by attribute and caller), so the search below covers them.
  expect(apiLog.filter((line) => line.includes('secured value read') && line.includes('"caller":"test flow"')).length).toBeGreaterThanOrEqual(5);
  expect(securedReadAnswers.join('\n')).toContain(SECURED[3]);

  for (const secret of SECURED) {
    expect(historyBytes.includes(secret)).toBe(false);
    expect(devServerFiles.includes(secret)).toBe(false);
    expect(storeFiles.includes(secret)).toBe(false);
    expect(logs).not.toContain(secret);
    expect(answers).not.toContain(secret);
    expect(exported).not.toContain(secret);
    expect(spanBytes).not.toContain(secret);
  }
  for (const plain of PLAIN) {
    expect(historyBytes.includes(plain)).toBe(false);
    expect(devServerFiles.includes(plain)).toBe(false);
    expect(logs).not.toContain(plain);
    expect(spanBytes).not.toContain(plain);
  }
  // Plain participant data is stored as it is (the store holds values; secured ones as ciphertext).
  expect(storeFiles.includes(PLAIN[1])).toBe(true);

  // An operator reading the history through the codec sees plain data, and secured values still as ciphertext.
  const payloads = histories.flatMap((h) => historyPayloads(h));
  expect(payloads.length).toBeGreaterThan(10);
  // The worker traces but the API does not, so no call carries trace context into the workflow:
  // its history has no trace header, and every payload is encrypted.
  expect(payloads.filter((p) => Buffer.from(p.metadata?.encoding ?? []).toString() !== ENCRYPTED_ENCODING).map((p) => JSON.stringify(p))).toEqual([]);
  const codecBody = { payloads: payloads.map((p) => ({ metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])), data: Buffer.from(p.data ?? []).toString('base64') })) };
  // The codec server is the operator's: a flow token is refused.
  expect((await call('flow', 'POST', '/codec/decode', codecBody)).status).toBe(403);
  const decoded = await call('operator', 'POST', '/codec/decode', codecBody);
  expect(decoded.status).toBe(200);
  const decodedText = (decoded.body.payloads as Array<{ data: string }>).map((p) => Buffer.from(p.data, 'base64').toString()).join('\n');
  expect(decodedText).toContain(PLAIN[0]);
  expect(decodedText).toContain(PLAIN[1]);
  for (const secret of SECURED) expect(decodedText).not.toContain(secret);
});

/** Every export object in the folder, at any depth. */
function exportFiles(folder: string): string[] {
  if (!fs.existsSync(folder)) return [];
  return fs.readdirSync(folder, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.json') && !path.basename(f).startsWith('.tmp')).map((f) => path.join(folder, f));
}

async function storedRows(conversationId: string): Promise<Array<{ name: string; value: string; secured: number }>> {
  const db = new Database(storeFile, { readonly: true, timeout: 10_000 });
  try {
    return db.prepare('SELECT name, value, secured FROM participant_data WHERE conversation_id = ? ORDER BY name').all(conversationId) as Array<{ name: string; value: string; secured: number }>;
  } finally {
    db.close();
  }
}

/** Every run of the conversation, as stored by the server (payloads as they are, not decoded). */
async function rawHistories(conversationId: string): Promise<temporal.api.history.v1.IHistory[]> {
  const histories: temporal.api.history.v1.IHistory[] = [];
  for await (const execution of rawClient.workflow.list({ query: `WorkflowId = "${workflowIdFor(conversationId)}"` })) {
    const response = await rawClient.workflowService.getWorkflowExecutionHistory({
      namespace: 'default',
      execution: { workflowId: execution.workflowId, runId: execution.runId },
      maximumPageSize: 10_000,
    });
    histories.push(response.history ?? {});
  }
  return histories;
}
