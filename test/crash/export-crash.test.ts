// The real worker process SIGKILLed while it uploads an export to S3 (moto behind a relay that holds
// the upload): before the object landed, and after it landed but before the worker heard back.
// Either way another worker finishes the export and the bucket holds exactly one object, with the
// conversation's data.
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
import { exportIdOf, type RelayMode, startS3Relay, type S3Relay } from '../support/s3';

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
function s3Env(relay: S3Relay): NodeJS.ProcessEnv {
  return {
    EXPORT_DIR: '',
    EXPORT_S3_BUCKET: BUCKET,
    EXPORT_S3_PREFIX: 'crash',
    EXPORT_S3_ENDPOINT: relay.endpoint,
    EXPORT_S3_REGION: MOTO_REGION,
    AWS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey,
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
