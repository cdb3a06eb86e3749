// The post-conversation export end to end: conversations driven over the real HTTP API on a real
// dev server, exported by in-process workers to S3 (moto) and to a local folder, read back and
// compared with the conversation. Re-runs (the export started again, the conversation reset to
// before its end, an export with other content under the same key) write nothing more.
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { WorkflowFailedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { ApplicationFailure, WorkflowIdReusePolicy } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { ENCRYPTED_ENCODING } from '../../src/security/payload-codec';
import { OutboxFilePeer } from '../../src/channels/peers';
import { ExportErrorType, FolderExportSink, PAYMENT_ID_PATTERN, S3ExportSink, TEMP_PREFIX, type ExportDocument, type ExportResult, type ExportSink } from '../../src/export';
import { type ConversationView, DEFAULT_SETTINGS, workflowIdFor } from '../../src/conversation/messages';
import type { ParticipantDataStore } from '../../src/store';
import { exportWorkflow } from '../../src/conversation/workflows/export';
import { type ApiStack, startApiStack } from '../../rigs/api-stack';
import { authedFetch, testCredentials } from '../../rigs/credentials';
import { testKeyServices } from '../../rigs/keys';
import { captureLogs } from '../../rigs/logs';
import { MOTO_REGION, type MotoServer, startMoto } from '../../rigs/moto';
import { createBucket, listKeys, motoS3Client, readObject } from '../../rigs/s3';
import { tempDir, uniqueId } from '../../rigs/temp';
import { recordHistory } from '../support/histories';
import { exportIdOf, exportOutcomeOf, exportStartEvents } from '../support/s3';
import { webhookEvents } from '../support/conversation';

const SECRET_VALUE = 'Card-4111-1111-1111-1111-Secret';
const BUCKET = 'parley-exports-test';
const PREFIX = 'conversations';
const credentials = testCredentials();
// A short grace window after CLOSED: the export starts once it is over.
const SETTINGS = { ...DEFAULT_SETTINGS, closedGracePeriodMs: 500 };

let stack: ApiStack;
let moto: MotoServer;
let s3: S3Client;
let client: Client;
let store: ParticipantDataStore;
let exportDir: string;
const { logger, lines: logLines } = captureLogs('debug');
const sinks: ExportSink[] = [];
let s3Stack: { baseUrl: string; taskQueue: string };
let folderStack: { baseUrl: string; taskQueue: string };

/** A worker exporting to `sink` and an API starting conversations on its task queue. */
async function startExporting(sink: ExportSink, exportInlineWriteMs?: number) {
  const taskQueue = uniqueId('export-tests');
  sinks.push(sink);
  // Customer notifications go to local outbox files: these tests read the transcript, not the deliveries.
  const outbox = tempDir('export-outbox');
  const channels = { gateway: new OutboxFilePeer(path.join(outbox, 'gateway.jsonl')), routing: new OutboxFilePeer(path.join(outbox, 'routing.jsonl')) };
  await stack.startWorker({ taskQueue, activities: { exportSink: sink, exportInlineWriteMs, channels } });
  const api = await stack.startApi({ taskQueue });
  return { baseUrl: api.baseUrl, taskQueue };
}

beforeAll(async () => {
  [stack, moto] = await Promise.all([startApiStack({ name: 'export', logger, credentials, conversation: SETTINGS, worker: false }), startMoto()]);
  ({ client, store } = stack);
  exportDir = path.join(stack.dir, 'exports');
  s3 = motoS3Client(moto.endpoint);
  await createBucket(s3, BUCKET);
  // The S3 worker sends every export through its own workflow (the path an export takes when the
  // destination does not take it at once); the folder worker writes them inline, as by default.
  s3Stack = await startExporting(new S3ExportSink({ bucket: BUCKET, prefix: PREFIX, region: MOTO_REGION, endpoint: moto.endpoint, forcePathStyle: true }, motoS3Client(moto.endpoint)), 0);
  folderStack = await startExporting(new FolderExportSink(exportDir));
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  for (const sink of sinks) await sink.close();
  s3?.destroy();
  await moto?.close();
});

async function call(baseUrl: string, method: string, url: string, body?: unknown) {
  const res = await authedFetch(credentials, `${baseUrl}${url}`, { method, body });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

const event = webhookEvents('export-evt', 'task-9');

/** Through the API as the routing platform, a flow and an operator would: events, plain and secured data, a transfer, the close. */
async function closeConversation(baseUrl: string, id: string): Promise<ConversationView> {
  const post = async (e: Record<string, unknown>) => expect((await call(baseUrl, 'POST', '/webhooks/routing-events', e)).status).toBe(202);
  await post(event(id, 'CREATED', 0, { queue: 'billing', taskContext: { cv_1: 'gold' } }));
  await post(event(id, 'QUEUED', 1, { queue: 'billing', estimatedWaitTime: 90 }));
  expect((await call(baseUrl, 'POST', `/conversations/${id}/attributes`, { attributes: { Foo: 'Hello', lang: 'fr' } })).status).toBe(200);
  expect((await call(baseUrl, 'POST', `/conversations/${id}/attributes`, { attributes: { card: SECRET_VALUE }, secured: true })).status).toBe(200);
  await post(event(id, 'ROUTED', 2, { agentId: 'agent-1' }));
  await post(event(id, 'TRANSFERRED', 3, { destination: 'retention' }));
  await post(event(id, 'ROUTED', 4, { agentId: 'agent-2', queue: 'retention' }));
  await post(event(id, 'CLOSED', 5, { dispositionCode: 'RESOLVED' }));
  await client.workflow.getHandle(workflowIdFor(id)).result();
  const view = await call(baseUrl, 'GET', `/conversations/${id}`);
  expect(view.status).toBe(200);
  return view.body as ConversationView;
}

/** The export's content against the conversation as the API shows it and the store holds it. */
async function expectExportMatches(text: string, id: string, view: ConversationView, result: ExportResult): Promise<ExportDocument> {
  // The secured value is in the object only as its ciphertext.
  expect(text).not.toContain(SECRET_VALUE);
  const doc = JSON.parse(text) as ExportDocument;
  expect(doc).toMatchObject({ format: 'parley-conversation-export/v1', exportId: result.exportId, conversationId: id, paymentId: result.paymentId });
  expect(doc.paymentId).toMatch(PAYMENT_ID_PATTERN);
  const { attributeNames: _names, conversationId: _id, ...record } = view;
  expect(doc.conversation).toEqual(record);
  expect(doc.conversation.transfers).toEqual([expect.objectContaining({ fromAgentId: 'agent-1', destination: 'retention' })]);
  expect(doc.conversation.recentEvents.map((e) => e.eventType)).toEqual(['CREATED', 'QUEUED', 'ROUTED', 'TRANSFERRED', 'ROUTED', 'CLOSED']);
  const stored = await store.listAttributes(id);
  expect(doc.participantData).toEqual(stored.map(({ name, value, secured, batchSeq, version, updatedAt }) => ({ name, value, secured, batchSeq, version, updatedAt })));
  expect(doc.participantData.map(({ name, secured }) => [name, secured])).toEqual([['Foo', false], ['card', true], ['lang', false]]);
  expect(doc.participantData.find((a) => a.name === 'Foo')?.value).toBe('Hello');
  // The exported ciphertext is the stored one, and the customer's key opens it.
  const card = doc.participantData.find((a) => a.name === 'card')!;
  expect(card.value).not.toBe(SECRET_VALUE);
  expect(await testKeyServices().securedValues.decrypt(id, 'card', card.value)).toBe(SECRET_VALUE);
  expect(doc.transcript).toEqual([]);
  return doc;
}

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(dir, f)).isFile()).sort();
}

test('S3: a conversation closed through the API is exported exactly once, secured values still ciphertext', async () => {
  const id = uniqueId('s3');
  const view = await closeConversation(s3Stack.baseUrl, id);
  const handle = client.workflow.getHandle(workflowIdFor(id));
  const exportId = await exportIdOf(client, workflowIdFor(id));
  const chainId = (await handle.describe()).runId;
  expect(exportId).toBe(`export-${id}-${chainId}`);
  const exportHandle = client.workflow.getHandle<typeof exportWorkflow>(exportId);
  const result = await exportHandle.result();
  const key = `${PREFIX}/2026/11/22/${id}/${exportId}.json`;
  expect(result).toEqual({ exportId, location: `s3://${BUCKET}/${key}`, paymentId: expect.stringMatching(PAYMENT_ID_PATTERN), written: true });

  expect(await listKeys(s3, BUCKET, `${PREFIX}/2026/11/22/${id}/`)).toEqual([key]);
  const object = await readObject(s3, BUCKET, key);
  await expectExportMatches(object.text, id, view, result);
  expect(object.metadata['content-sha256']).toBe(createHash('sha256').update(object.text).digest('hex'));

  // Neither Temporal's history of the export nor the logs hold the secured value in plaintext.
  const exportHistory = await exportHandle.fetchHistory();
  // Started from an activity with the worker's client: its input went through the payload codec too.
  const input = exportHistory.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads ?? [];
  expect(input.map((p) => Buffer.from(p.metadata?.encoding ?? []).toString())).toEqual([ENCRYPTED_ENCODING]);
  const historyBytes = Buffer.from(temporal.api.history.v1.History.encode(exportHistory).finish());
  expect(historyBytes.includes(SECRET_VALUE)).toBe(false);
  expect(logLines.join('')).not.toContain(SECRET_VALUE);
  await recordHistory(handle, 'export-on-close');
  await recordHistory(exportHandle, 'export-workflow');
});

test('S3: the export started again, and the conversation reset to before its end, write nothing more; other content under the key is refused', async () => {
  const id = uniqueId('s3-rerun');
  const view = await closeConversation(s3Stack.baseUrl, id);
  const exportId = await exportIdOf(client, workflowIdFor(id));
  const first = await client.workflow.getHandle<typeof exportWorkflow>(exportId).result();
  const prefix = `${PREFIX}/2026/11/22/${id}/`;
  const [key] = await listKeys(s3, BUCKET, prefix);
  const before = await readObject(s3, BUCKET, key);
  const doc = await expectExportMatches(before.text, id, view, first);
  const input = { conversationId: id, chainId: doc.chainId, record: doc.conversation };

  // Started again by id after it completed: the object is there with the same content.
  const again = await client.workflow.execute(exportWorkflow, {
    workflowId: exportId,
    taskQueue: s3Stack.taskQueue,
    args: [input],
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
  });
  expect(again).toEqual({ ...first, written: false });

  // The conversation re-executes its end (reset to the workflow task before the one that started
  // the export): its export id is taken, so it completes without starting another.
  const handle = client.workflow.getHandle(workflowIdFor(id));
  const { runId } = await handle.describe();
  const events = (await handle.fetchHistory()).events ?? [];
  const [startedBy] = await exportStartEvents(client, workflowIdFor(id));
  const initiated = events.findIndex((e) => e.eventId?.toString() === startedBy.event.eventId?.toString());
  const completions = events.slice(0, initiated).filter((e) => e.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED);
  const reset = await client.workflowService.resetWorkflowExecution({
    namespace: 'default',
    workflowExecution: { workflowId: workflowIdFor(id), runId },
    workflowTaskFinishEventId: completions.at(-2)!.eventId,
    requestId: randomUUID(),
    reason: 'test: re-execute the end of the conversation',
  });
  const resetHandle = client.workflow.getHandle(workflowIdFor(id), reset.runId ?? undefined);
  expect(await resetHandle.result()).toMatchObject({ conversationId: id, closeReason: 'closed-event' });
  expect(await exportIdOf(client, workflowIdFor(id))).toBe(exportId);
  // Its start found the id taken: the export workflow has the two runs it had (the first, the re-run above), no third.
  const runsOf = async () => {
    let n = 0;
    for await (const _ of client.workflow.list({ query: `WorkflowId = "${exportId}"` })) n++;
    return n;
  };
  expect(await runsOf()).toBe(2);

  // An export with other content under the same key (another workflow, an altered record) is refused and changes nothing.
  const conflicting = client.workflow.execute(exportWorkflow, {
    workflowId: `${exportId}-conflict`,
    taskQueue: s3Stack.taskQueue,
    args: [{ ...input, record: { ...input.record, queue: 'tampered' } }],
  });
  const failure = await conflicting.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(failure).toBeInstanceOf(WorkflowFailedError);
  const cause = (failure as WorkflowFailedError).cause?.cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  expect((cause as ApplicationFailure).type).toBe(ExportErrorType.ExportConflict);

  expect(await listKeys(s3, BUCKET, prefix)).toEqual([key]);
  const after = await readObject(s3, BUCKET, key);
  expect([after.text, after.etag, after.lastModified]).toEqual([before.text, before.etag, before.lastModified]);
  expect(logLines.join('')).not.toContain(SECRET_VALUE);
});

test('local folder: a conversation closed through the API is exported exactly once, at once, and a re-run leaves the file as it was', async () => {
  const id = uniqueId('folder');
  const view = await closeConversation(folderStack.baseUrl, id);
  const { exportId, result, how } = await exportOutcomeOf(client, workflowIdFor(id));
  // Written by the conversation's own end: no export workflow was needed.
  expect(how).toBe('inline');
  await expect(client.workflow.getHandle(exportId).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
  const relative = path.join('2026', '11', '22', id, `${exportId}.json`);
  expect(result).toEqual({ exportId, location: path.join(exportDir, relative), paymentId: expect.stringMatching(PAYMENT_ID_PATTERN), written: true });
  const mine = () => filesUnder(exportDir).filter((f) => f.includes(id));
  expect(mine()).toEqual([relative]);
  const file = path.join(exportDir, relative);
  const text = fs.readFileSync(file, 'utf8');
  const doc = await expectExportMatches(text, id, view, result);
  const statBefore = fs.statSync(file);

  const again = await client.workflow.execute(exportWorkflow, {
    workflowId: exportId,
    taskQueue: folderStack.taskQueue,
    args: [{ conversationId: id, chainId: doc.chainId, record: doc.conversation }],
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
  });
  expect(again).toEqual({ ...result, written: false });
  // Same file (inode), same bytes, not rewritten; no temporary file left beside it.
  expect(mine()).toEqual([relative]);
  const statAfter = fs.statSync(file);
  expect([statAfter.ino, statAfter.mtimeMs, fs.readFileSync(file, 'utf8')]).toEqual([statBefore.ino, statBefore.mtimeMs, text]);
  expect(filesUnder(exportDir).filter((f) => path.basename(f).startsWith(TEMP_PREFIX))).toEqual([]);
});

test('local folder: a chat started by the customer\'s messages is exported with its transcript, and never with the customer\'s address', async () => {
  const id = uniqueId('chat');
  const customer = '+15550199876';
  const message = (eventId: string, text: string, minute: number) => ({
    eventId,
    conversationId: id,
    channel: 'chat',
    from: customer,
    text,
    destination: 'web-chat',
    occurredAt: new Date(Date.UTC(2026, 10, 22, 11, minute)).toISOString(),
  });
  const base = folderStack.baseUrl;
  for (const [n, text] of ['Hello, my parcel 7741 is late', 'Can someone help?'].entries()) {
    const answer = await call(base, 'POST', '/webhooks/inbound-messages', message(`${id}-m${n}`, text, n));
    expect([answer.status, answer.body?.conversationId]).toEqual([202, id]);
  }
  for (const [eventType, minute, extra] of [['CREATED', 2, { queue: 'support' }], ['ROUTED', 3, { agentId: 'agent-7' }], ['CLOSED', 4, {}]] as const) {
    expect((await call(base, 'POST', '/webhooks/routing-events', { ...event(id, eventType, minute, extra), occurredAt: new Date(Date.UTC(2026, 10, 22, 11, minute)).toISOString() })).status).toBe(202);
  }
  await client.workflow.getHandle(workflowIdFor(id)).result();
  const { result } = await exportOutcomeOf(client, workflowIdFor(id));
  const text = fs.readFileSync(result.location, 'utf8');
  const doc = JSON.parse(text) as ExportDocument;
  // The transcript as the store holds it, the customer's lines first.
  expect(doc.transcript).toEqual(await store.listMessages(id));
  expect(doc.transcript.filter((m) => m.direction === 'inbound').map((m) => m.text)).toEqual(['Hello, my parcel 7741 is late', 'Can someone help?']);
  expect(text).not.toContain(customer);
  expect(filesUnder(exportDir).filter((f) => f.includes(id))).toHaveLength(1);
});
