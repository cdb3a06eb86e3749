// The webhook signature is checked over the bytes exactly as received, before the body is parsed:
// an unsigned or badly signed request is 401 whatever its body, size or content type; a body that
// is not valid UTF-8 is verified as the bytes it is; a signed empty body is a bad request. Temporal
// is out of reach here, so a request that passes the signature and the schema ends in a 503.
import crypto from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { buildApi } from '../../src/api/server';
import { DEFAULT_SETTINGS } from '../../src/conversation/messages';
import { createTemporalClient } from '../../src/platform/temporal-client';
import { type ParticipantDataStore, SqliteParticipantDataStore } from '../../src/store';
import { signedHeaders, testCredentials } from '../../rigs/credentials';
import { testKeyServices } from '../../rigs/keys';
import { tempDir, uniqueId } from '../support/temporal';

const credentials = testCredentials();
const stranger = testCredentials();
const logLines: string[] = [];
const logger = pino({ level: 'info' }, new Writable({ write: (chunk, _enc, done) => (logLines.push(String(chunk)), done()) }));

let store: ParticipantDataStore;
let api: ReturnType<typeof buildApi>;
let baseUrl: string;

beforeAll(async () => {
  const dir = tempDir('webhook-raw-body');
  store = new SqliteParticipantDataStore(path.join(dir, 'participant-data.sqlite'));
  await store.init();
  // A port nothing listens on: Temporal is unreachable, so nothing here can change a conversation.
  const closed = net.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as net.AddressInfo).port;
  await new Promise((r) => closed.close(r));
  api = buildApi({
    client: createTemporalClient({ temporalAddress: `127.0.0.1:${port}`, temporalNamespace: 'default', devServerPort: 0 }, testKeyServices().dataConverter),
    store,
    logger,
    config: { taskQueue: uniqueId('raw-body'), temporalRequestTimeoutMs: 1500, conversation: DEFAULT_SETTINGS },
    auth: credentials.settings,
    keys: testKeyServices(),
  });
  await api.listen({ port: 0, host: '127.0.0.1' });
  baseUrl = `http://127.0.0.1:${(api.server.address() as net.AddressInfo).port}`;
});

afterAll(async () => {
  await api?.close();
  await store?.close();
});

interface Answer {
  status: number;
  body: { error?: string; message?: string } | undefined;
}

async function post(url: string, body: string | Buffer | undefined, headers: Record<string, string>): Promise<Answer> {
  const res = await fetch(`${baseUrl}${url}`, { method: 'POST', body, headers });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

const JSON_TYPE = { 'content-type': 'application/json' };
let seq = 0;
const event = () =>
  JSON.stringify({ eventId: `raw-${++seq}`, eventType: 'CREATED', conversationId: uniqueId('raw'), taskId: 't-1', channel: 'chat', occurredAt: new Date().toISOString() });

/** Standard Webhooks headers computed by hand over these exact bytes. */
function signBytes(secret: string, bytes: Buffer): Record<string, string> {
  const id = `msg_${crypto.randomBytes(12).toString('base64url')}`;
  const timestamp = String(Math.floor(Date.now() / 1000));
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const mac = crypto.createHmac('sha256', key).update(`${id}.${timestamp}.`).update(bytes).digest('base64');
  return { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${mac}` };
}

describe('an unsigned or badly signed request is 401 before its body is read as anything', () => {
  const megabytes = `{"eventId":"${'x'.repeat(2 * 1024 * 1024)}"}`;
  // A Buffer goes without a content type (fetch labels a string text/plain).
  const cases: Array<[string, string | Buffer, Record<string, string>]> = [
    ['a body over the size limit', megabytes, JSON_TYPE],
    ['malformed JSON', '{"eventId": ', JSON_TYPE],
    ['a content type the API does not take', '<eventId/>', { 'content-type': 'application/xml' }],
    ['no content type', Buffer.from('eventId=1'), {}],
    ['plain text', 'eventId=1', { 'content-type': 'text/plain' }],
  ];
  test.each(cases)('unsigned, with %s', async (_name, body, headers) => {
    const answer = await post('/webhooks/routing-events', body, headers);
    expect([answer.status, answer.body?.error]).toEqual([401, 'unauthorized']);
    expect(answer.body?.message).toMatch(/headers are required/);
  });
  test.each(cases)('signed with a secret nobody configured, with %s', async (_name, body, headers) => {
    const answer = await post('/webhooks/routing-events', body, { ...headers, ...signedHeaders(stranger.webhookSecret, body.toString()) });
    expect([answer.status, answer.body?.message]).toEqual([401, expect.stringMatching(/no webhook-signature matches/)]);
  });
  test('the inbound-message webhook the same', async () => {
    const answer = await post('/webhooks/inbound-messages', '<from/>', { 'content-type': 'application/xml', ...signedHeaders(stranger.webhookSecret, '<from/>') });
    expect(answer.status).toBe(401);
  });
  test('signed correctly, the same bodies get what is wrong with them', async () => {
    const statuses: number[] = [];
    for (const [, body, headers] of cases) statuses.push((await post('/webhooks/routing-events', body, { ...headers, ...signedHeaders(credentials.webhookSecret, body.toString()) })).status);
    // Plain text is parsed as a string, which the schema refuses: it is no object.
    expect(statuses).toEqual([413, 400, 415, 415, 400]);
  });
});

describe('the signature covers the bytes received, not their decoding', () => {
  // 0xFF never occurs in UTF-8: decoded, it becomes U+FFFD.
  const bytes = Buffer.concat([Buffer.from('{"eventId":"e-'), Buffer.from([0xff]), Buffer.from(`","eventType":"CREATED","conversationId":"${uniqueId('utf8')}","taskId":"t","channel":"chat","occurredAt":"2026-01-01T00:00:00Z"}`)]);

  test('a signature over the decoded text (U+FFFD) does not match the bytes', async () => {
    const answer = await post('/webhooks/routing-events', bytes, { ...JSON_TYPE, ...signedHeaders(credentials.webhookSecret, bytes.toString('utf8')) });
    expect([answer.status, answer.body?.message]).toEqual([401, expect.stringMatching(/no webhook-signature matches/)]);
  });

  test('a signature over the bytes passes, and a body that is not UTF-8 is 400', async () => {
    const answer = await post('/webhooks/routing-events', bytes, { ...JSON_TYPE, ...signBytes(credentials.webhookSecret, bytes) });
    expect([answer.status, answer.body?.error, answer.body?.message]).toEqual([400, 'bad_request', expect.stringMatching(/UTF-8/)]);
  });

  test('a body with multi-byte characters signed over its bytes is taken', async () => {
    const body = Buffer.from(event().replace('"taskId":"t-1"', '"taskId":"tâche-ü-😀"'));
    const answer = await post('/webhooks/routing-events', body, { ...JSON_TYPE, ...signBytes(credentials.webhookSecret, body) });
    // Past the signature and the schema: only Temporal, out of reach, stops it.
    expect([answer.status, answer.body?.message]).toEqual([503, expect.stringMatching(/may have been recorded/)]);
  });
});

describe('a signed empty body is a bad request', () => {
  test.each([
    ['with a JSON content type', JSON_TYPE],
    ['with a text content type', { 'content-type': 'text/plain' }],
    ['without a content type', {}],
  ])('%s', async (_name, headers) => {
    const answer = await post('/webhooks/routing-events', Buffer.alloc(0), { ...headers, ...signedHeaders(credentials.webhookSecret, '') });
    expect([answer.status, answer.body?.error, answer.body?.message]).toEqual([400, 'bad_request', expect.stringMatching(/body is missing/)]);
  });
});

describe('replays', () => {
  test('a delivery answered 5xx is forgotten, so the sender may retry it as is', async () => {
    const body = event();
    const headers = { ...JSON_TYPE, ...signedHeaders(credentials.webhookSecret, body) };
    expect((await post('/webhooks/routing-events', body, headers)).status).toBe(503);
    expect((await post('/webhooks/routing-events', body, headers)).status).toBe(503);
  });

  test('a delivery answered 4xx is remembered: the same one again is a replay', async () => {
    const body = JSON.stringify({ eventId: 'only-this' });
    const headers = { ...JSON_TYPE, ...signedHeaders(credentials.webhookSecret, body) };
    expect((await post('/webhooks/routing-events', body, headers)).status).toBe(400);
    const replay = await post('/webhooks/routing-events', body, headers);
    expect([replay.status, replay.body?.message]).toEqual([401, expect.stringMatching(/already received/)]);
  });
});

test('refusals are logged without the signature', () => {
  const refused = logLines.filter((line) => line.includes('webhook refused'));
  expect(refused.length).toBeGreaterThan(0);
  expect(refused.join('\n')).not.toMatch(/v1,/);
});
