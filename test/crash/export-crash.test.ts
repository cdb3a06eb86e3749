// The real worker process SIGKILLed while it uploads an export to S3 (moto behind a relay that holds
// the upload): before the object landed, and after it landed but before the worker heard back, in
// the export workflow's activity and in the inline write at the conversation's end. Either way
// another worker finishes the export and the bucket holds exactly one object, with the
// conversation's data. And a destination that does not answer in time hands the export to its workflow.
import type { S3Client } from '@aws-sdk/client-s3';
import { type ExportDocument, PAYMENT_ID_PATTERN } from '../../src/export';
import { DEFAULT_SETTINGS, setAttributesUpdate, workflowIdFor } from '../../src/conversation/messages';
import type { exportWorkflow } from '../../src/conversation/workflows/export';
import { MOTO_CREDENTIALS, MOTO_REGION, type MotoServer, startMoto } from '../../rigs/moto';
import { createBucket, listKeys, motoS3Client, readObject } from '../../rigs/s3';
import { uniqueId } from '../../rigs/temp';
import { waitFor } from '../../rigs/wait';
import { CrashHarness } from '../support/crash-harness';
import { routingEvent, sendEvent } from '../support/conversation';
import { exportIdOf, exportOutcomeOf, type RelayMode, startS3Relay, type S3Relay } from '../support/s3';

const h = new CrashHarness('crash-export');
const BUCKET = 'parley-crash-exports';
let moto: MotoServer;
let s3: S3Client;
const relays: S3Relay[] = [];

beforeAll(async () => {
  [moto] = await Promise.all([startMoto(), h.setUp()]);
  s3 = motoS3Client(moto.endpoint);
  await createBucket(s3, BUCKET);
}, 120_000);

afterAll(async () => {
  await h.tearDown();
  for (const relay of relays) await relay.close();
  s3?.destroy();
  await moto?.close();
}, 60_000);

/** A worker exporting to the bucket through `relay`. */
function s3Env(relay: S3Relay, inlineWriteMs = 0): NodeJS.ProcessEnv {
  return {
    EXPORT_DIR: '',
    EXPORT_S3_BUCKET: BUCKET,
    EXPORT_S3_PREFIX: 'crash',
    EXPORT_S3_ENDPOINT: relay.endpoint,
    EXPORT_S3_REGION: MOTO_REGION,
    AWS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey,
    // 0: the export workflow's upload is the one held (no inline attempt first).
    EXPORT_INLINE_WRITE_MS: String(inlineWriteMs),
  };
}

async function killDuringUpload(mode: Exclude<RelayMode, 'pass'>): Promise<{ relay: S3Relay; written: boolean }> {
  const taskQueue = uniqueId(`export-crash-${mode}`);
  const relay = await startS3Relay(moto.endpoint, mode);
  relays.push(relay);
  const first = await h.startPollingWorker(`${mode}-a`, taskQueue, s3Env(relay));
  const id = uniqueId(mode);
  const settings = { ...DEFAULT_SETTINGS, closedGracePeriodMs: 0 };
  const handle = await sendEvent(h.client, taskQueue, routingEvent(id, 'CREATED', 0, { queue: 'billing' }), settings);
  await handle.executeUpdate(setAttributesUpdate, { args: [{ attributes: { intent: 'refund', lang: 'fr' } }] });
  await sendEvent(h.client, taskQueue, routingEvent(id, 'CLOSED', 1), settings);
  await handle.result();

  // The upload is in flight (or landed, unanswered): the worker dies holding it.
  await Promise.race([relay.held, first.exited.then(() => Promise.reject(new Error(`worker exited early:\n${first.output().slice(-3000)}`)))]);
  await first.kill('SIGKILL');
  await h.startPollingWorker(`${mode}-b`, taskQueue, s3Env(relay));

  const exportId = await exportIdOf(h.client, workflowIdFor(id));
  const result = await h.client.workflow.getHandle<typeof exportWorkflow>(exportId).result();
  const key = `crash/2026/11/22/${id}/${exportId}.json`;
  expect(result.location).toBe(`s3://${BUCKET}/${key}`);
  expect(await listKeys(s3, BUCKET, `crash/2026/11/22/${id}/`)).toEqual([key]);
  const doc = JSON.parse((await readObject(s3, BUCKET, key)).text) as ExportDocument;
  expect(doc).toMatchObject({ exportId, conversationId: id, paymentId: result.paymentId, conversation: { status: 'closed', closeReason: 'closed-event', queue: 'billing' } });
  expect(doc.paymentId).toMatch(PAYMENT_ID_PATTERN);
  expect(doc.participantData.map((a) => [a.name, a.value])).toEqual([['intent', 'refund'], ['lang', 'fr']]);
  // The retry was a second attempt of the same activity on the other worker.
  const events = (await h.client.workflow.getHandle(exportId).fetchHistory()).events ?? [];
  const started = events.filter((e) => e.activityTaskStartedEventAttributes);
  expect(started.map((e) => e.activityTaskStartedEventAttributes?.attempt)).toEqual([2]);
  await waitFor('the relay to see both uploads', () => relay.puts.length === 2, { timeoutMs: 5_000 });
  return { relay, written: result.written };
}

test('killed after the upload landed, before the worker heard back: the retry finds the same object and writes nothing', async () => {
  const { relay, written } = await killDuringUpload('hold-after');
  expect(written).toBe(false);
  // The first upload stored the object (moto answered 200, withheld); the retry's conditional put got 412.
  expect(relay.puts.map((p) => p.status)).toEqual([200, 412]);
}, 180_000);

test('killed before the upload landed: the retry writes the one object', async () => {
  const { relay, written } = await killDuringUpload('hold-before');
  expect(written).toBe(true);
  expect(relay.puts.map((p) => p.status)).toEqual([undefined, 200]);
}, 180_000);

/** A conversation with two attributes, closed; its export goes through `relay` on a worker started here. */
async function closeThrough(relay: S3Relay, mode: string, inlineWriteMs: number) {
  const taskQueue = uniqueId(`export-inline-${mode}`);
  const worker = await h.startPollingWorker(`${mode}-a`, taskQueue, s3Env(relay, inlineWriteMs));
  const id = uniqueId(mode);
  const settings = { ...DEFAULT_SETTINGS, closedGracePeriodMs: 0 };
  const handle = await sendEvent(h.client, taskQueue, routingEvent(id, 'CREATED', 0, { queue: 'billing' }), settings);
  await handle.executeUpdate(setAttributesUpdate, { args: [{ attributes: { intent: 'refund', lang: 'fr' } }] });
  await sendEvent(h.client, taskQueue, routingEvent(id, 'CLOSED', 1), settings);
  return { taskQueue, worker, id, handle };
}

async function expectOneObject(id: string, exportId: string): Promise<void> {
  const key = `crash/2026/11/22/${id}/${exportId}.json`;
  expect(await listKeys(s3, BUCKET, `crash/2026/11/22/${id}/`)).toEqual([key]);
  const doc = JSON.parse((await readObject(s3, BUCKET, key)).text) as ExportDocument;
  expect(doc).toMatchObject({ exportId, conversationId: id, conversation: { status: 'closed', closeReason: 'closed-event' } });
  expect(doc.participantData.map((a) => [a.name, a.value])).toEqual([['intent', 'refund'], ['lang', 'fr']]);
}

test('killed during the inline write at the conversation\'s end, after the upload landed: the retried workflow task finds the same object and writes nothing', async () => {
  const relay = await startS3Relay(moto.endpoint, 'hold-after');
  relays.push(relay);
  // Long enough that the kill, not the deadline, ends the first attempt.
  const { taskQueue, worker, id, handle } = await closeThrough(relay, 'inline-kill', 20_000);
  await Promise.race([relay.held, worker.exited.then(() => Promise.reject(new Error(`worker exited early:\n${worker.output().slice(-3000)}`)))]);
  await worker.kill('SIGKILL');
  await h.startPollingWorker('inline-kill-b', taskQueue, s3Env(relay, 20_000));
  await handle.result();
  const { exportId, result, how } = await exportOutcomeOf(h.client, workflowIdFor(id));
  expect([how, result.written]).toEqual(['inline', false]);
  await expectOneObject(id, exportId);
  expect(relay.puts.map((p) => p.status)).toEqual([200, 412]);
}, 180_000);

test('a destination that does not answer within EXPORT_INLINE_WRITE_MS: the export workflow takes the export over and writes it once', async () => {
  const relay = await startS3Relay(moto.endpoint, 'hold-before');
  relays.push(relay);
  const { id, handle } = await closeThrough(relay, 'inline-slow', 1_000);
  await handle.result();
  const { exportId, result, how } = await exportOutcomeOf(h.client, workflowIdFor(id));
  expect([how, result.written]).toEqual(['workflow', true]);
  await expectOneObject(id, exportId);
  // The held inline upload never landed; the workflow's went through.
  expect(relay.puts.map((p) => p.status)).toEqual([undefined, 200]);
}, 180_000);
