// Tracing over OTLP, end to end with the real processes: the API and the worker run as
// `node dist/src/main/*.js` with OTEL_EXPORTER_OTLP_ENDPOINT pointing at a receiver this test runs.
// A routing platform's webhooks (Genesys-style CREATED/CLOSED), a flow's Set Participant Data and
// Set Secured Data, and a Webex Connect-style chat message with a card number, then a CLOSED that
// flushes the batch to the store. One trace must join the webhook's HTTP span, the client's
// signal-with-start, the workflow's span, the flush activity and the store write; and no byte the
// processes exported may hold an attribute value, the secured value, the customer's number, the
// card number or a credential. The batch processor is told to wait ten minutes, so every span the
// test sees was exported by the SIGTERM shutdown.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ENCRYPTED_ENCODING } from '../../src/security/payload-codec';
import { workflowIdFor } from '../../src/conversation/messages';
import { type ApiStack, startApiStack } from '../../rigs/api-stack';
import { type ApiProcess, spawnApiProcess, waitUntilListening } from '../../rigs/api-process';
import { type ChannelPeer, startChannelPeer } from '../../rigs/channel-peer';
import { authHeaders, credentialsEnv, testCredentials } from '../../rigs/credentials';
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from '../../rigs/otlp-receiver';
import { uniqueId } from '../../rigs/temp';
import { waitFor } from '../../rigs/wait';
import { ensureWorkerBuilt, type WorkerProcess } from '../../rigs/worker-process';
import { Worker } from '@temporalio/worker';
import { historyPayloads } from '../support/histories';

const canary = (kind: string) => `${kind}-CANARY-${crypto.randomBytes(6).toString('hex')}`;
const PLAIN = [canary('PLAIN'), canary('PLAIN'), canary('PLAIN')];
const SECURED = canary('SECURED');
const CUSTOMER = `+44770090${crypto.randomInt(1000, 9999)}`;
const CARD = '4111 1111 1111 1111';
const PEER_TOKEN = `peer-${crypto.randomBytes(8).toString('hex')}`;
const credentials = testCredentials();

let receiver: OtlpReceiver;
let stack: ApiStack;
let gateway: ChannelPeer;
let routing: ChannelPeer;
let api: ApiProcess | undefined;
let worker: WorkerProcess | undefined;

beforeAll(async () => {
  ensureWorkerBuilt();
  [receiver, gateway, routing] = await Promise.all([startOtlpReceiver(), startChannelPeer(PEER_TOKEN), startChannelPeer(PEER_TOKEN)]);
  // Its dev server, store file and task queue; the worker and the API are the processes below.
  stack = await startApiStack({ name: 'tracing', worker: false });
  const destinationsFile = path.join(stack.dir, 'destinations.json');
  fs.writeFileSync(destinationsFile, JSON.stringify({ destinations: [{ id: 'chat-plain', channel: 'chat', callbackThresholdSeconds: null }] }));
  const tracingEnv = {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    // Nothing is exported on a timer during the test: what arrives, the shutdown flushed.
    OTEL_BSP_SCHEDULE_DELAY: '600000',
    CLOSED_GRACE_PERIOD: '0',
  };
  worker = await stack.spawnWorker('traced-worker', {
    ...tracingEnv,
    WORKFLOW_BUNDLE_PATH: path.join(__dirname, '..', '..', 'dist', 'workflow-bundle.js'),
    CHANNEL_GATEWAY_URL: gateway.url,
    CHANNEL_GATEWAY_TOKEN: PEER_TOKEN,
    ROUTING_PLATFORM_URL: routing.url,
    ROUTING_PLATFORM_TOKEN: PEER_TOKEN,
  });
  api = await spawnApiProcess({
    name: 'traced',
    temporalAddress: stack.devServer.address,
    taskQueue: stack.taskQueue,
    databaseUrl: '',
    logFile: path.join(stack.dir, 'api.log'),
    env: {
      ...tracingEnv,
      ...credentialsEnv(credentials),
      LOG_LEVEL: 'warn',
      PARLEY_SQLITE_PATH: stack.storeFile,
      CHANNEL_DESTINATIONS_FILE: destinationsFile,
    },
  });
  await waitUntilListening(api);
});

afterAll(async () => {
  await api?.stop();
  await stack?.stop();
  await Promise.all([receiver?.close(), gateway?.close(), routing?.close()]);
});

async function call(method: string, url: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const text = body === undefined ? undefined : JSON.stringify(body);
  const res = await fetch(`${api!.baseUrl}${url}`, {
    method,
    headers: { ...(text === undefined ? {} : { 'content-type': 'application/json' }), ...authHeaders(credentials, method, url, text) },
    body: text,
  });
  const answer = await res.text();
  return { status: res.status, body: answer ? (JSON.parse(answer) as unknown) : undefined };
}

const at = (second: number) => new Date(Date.UTC(2026, 10, 27, 12, 0, second)).toISOString();

/** From `span` up through its parents, as far as the received spans go. */
function ancestry(span: ReceivedSpan, spans: ReceivedSpan[]): ReceivedSpan[] {
  const chain = [span];
  for (let parent = spans.find((s) => s.spanId === span.parentSpanId); parent; parent = spans.find((s) => s.spanId === parent!.parentSpanId)) chain.push(parent);
  return chain;
}

test('a routing webhook, Set Participant Data, Set Secured Data and a chat message are one trace from the HTTP request to the store write, and no exported span holds a value, the number, the card or a credential', async () => {
  const id = uniqueId('traced');
  const event = (eventType: string, second: number) => ({ eventId: `${id}-${eventType}`, eventType, conversationId: id, taskId: `task-${id}`, channel: 'chat', occurredAt: at(second) });

  expect((await call('POST', '/webhooks/routing-events', { ...event('CREATED', 1), queue: 'billing', taskContext: { user_DR_CustomerName: PLAIN[0] } })).status).toBe(202);
  expect((await call('POST', `/conversations/${id}/attributes`, { attributes: { Foo: PLAIN[1], phone: CUSTOMER } })).status).toBe(200);
  expect((await call('POST', `/conversations/${id}/attributes`, { attributes: { accountPin: SECURED }, secured: true })).status).toBe(200);
  const message = { eventId: `${id}-msg`, conversationId: id, channel: 'chat', from: CUSTOMER, text: `my card is ${CARD}, ref ${PLAIN[2]}`, destination: 'chat-plain', occurredAt: at(2) };
  expect((await call('POST', '/webhooks/inbound-messages', message)).status).toBe(202);
  expect((await call('POST', '/webhooks/routing-events', event('CLOSED', 3))).status).toBe(202);

  // The flush wrote the batch; the conversation then ends (no grace window) and its export runs.
  await waitFor('the batch in the store', async () => (await stack.store.listAttributes(id)).length === 3, { timeoutMs: 60_000 });
  await stack.client.workflow.getHandle(workflowIdFor(id)).result();

  // The history carries the trace context in a header the interceptors wrote, and every payload the
  // SDK wrote on their path is still the codec's ciphertext: they saw headers, never arguments.
  const history = await stack.client.workflow.getHandle(workflowIdFor(id)).fetchHistory();
  const started = history.events?.find((e) => e.workflowExecutionStartedEventAttributes)?.workflowExecutionStartedEventAttributes;
  expect(Object.keys(started?.header?.fields ?? {})).toContain('_tracer-data');
  // The trace header is the SDK's plain JSON payload or the codec's ciphertext; plain, it holds the trace context and nothing else.
  const traceHeader = /^\{"traceparent":"00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]"\}$/;
  const payloads = historyPayloads(history.events);
  expect(payloads.length).toBeGreaterThan(0);
  for (const p of payloads) {
    const encoding = Buffer.from(p.metadata?.encoding ?? []).toString();
    if (encoding !== ENCRYPTED_ENCODING) expect({ encoding, data: Buffer.from(p.data ?? []).toString() }).toEqual({ encoding: 'json/plain', data: expect.stringMatching(traceHeader) });
  }

  // Tracing can be turned on or off worker by worker: the traced conversation's history replays on a
  // worker without tracing (the one bundle, no sink, no interceptors); histories recorded without
  // tracing replay on the same bundle in test/replay/replay.test.ts.
  await Worker.runReplayHistory({ workflowBundle: { codePath: path.join(__dirname, '..', '..', 'dist', 'workflow-bundle.js') }, dataConverter: stack.keys.dataConverter }, history, workflowIdFor(id));

  // SIGTERM: each process exports what its batch processor still holds, then exits cleanly.
  expect(receiver.bodies).toHaveLength(0);
  expect(await api!.stop()).toEqual({ code: 0, signal: null });
  expect(await worker!.stop(20_000)).toEqual({ code: 0, signal: null });
  const spans = receiver.spans();

  const store = spans.find((s) => s.name === 'participant-data write-batch' && s.attributes['parley.conversation_id'] === id);
  expect(store).toMatchObject({ service: 'parley-worker', attributes: { 'db.system': 'sqlite', 'parley.attribute_count': 3, 'parley.secured_count': 1, 'parley.batch_applied': true } });
  const trace = spans.filter((s) => s.traceId === store!.traceId);
  const chain = ancestry(store!, trace).map((s) => `${s.service} ${s.name}`);
  // The store write under the flush activity, under the workflow's request for it, under the
  // workflow run the webhook's signal-with-start began, under the webhook's HTTP request.
  expect(chain).toEqual([
    'parley-worker participant-data write-batch',
    'parley-worker RunActivity:flushParticipantData',
    'parley-worker StartActivity:flushParticipantData',
    'parley-worker RunWorkflow:conversationWorkflow',
    'parley-api SignalWithStartWorkflow:conversationWorkflow',
    'parley-api POST /webhooks/routing-events',
  ]);
  const root = trace.find((s) => s.name === 'POST /webhooks/routing-events')!;
  expect(root.parentSpanId).toBe('');
  expect(root.attributes).toEqual({ 'http.request.method': 'POST', 'http.route': '/webhooks/routing-events', 'http.response.status_code': 202 });
  expect(trace.find((s) => s.name === 'SignalWithStartWorkflow:conversationWorkflow')?.attributes).toMatchObject({ temporalWorkflowId: workflowIdFor(id) });

  // The other requests are traces of their own, labelled by route pattern: the update carries the
  // request's context into the workflow's handler.
  const writes = spans.filter((s) => s.name === 'POST /conversations/:conversationId/attributes');
  expect(writes).toHaveLength(2);
  for (const w of writes) expect(w.attributes).toMatchObject({ 'http.route': '/conversations/:conversationId/attributes', 'parley.conversation_id': id, 'http.response.status_code': 200 });
  for (const w of writes) {
    const names = spans.filter((s) => s.traceId === w.traceId).map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining([expect.stringMatching(/^StartWorkflowUpdate:/), expect.stringMatching(/^HandleUpdate:/)]));
  }
  const inbound = spans.find((s) => s.name === 'POST /webhooks/inbound-messages')!;
  expect(spans.filter((s) => s.traceId === inbound.traceId).map((s) => s.name)).toEqual(expect.arrayContaining([expect.stringMatching(/^UpdateWithStartWorkflow:/)]));
  // The chat's deliveries and the export each have their activity span.
  expect(spans.filter((s) => s.name === 'RunActivity:notifyCustomer').length).toBeGreaterThan(0);
  // The export, written at once by the local activity that wrote the final batch (no grace window,
  // no export workflow needed), is in the conversation's trace, under that activity.
  const exported = spans.find((s) => s.name === 'conversation export-start');
  expect(exported).toMatchObject({ traceId: store!.traceId, attributes: { 'parley.export.outcome': 'written', 'parley.export.how': 'inline', 'parley.conversation_id': id } });
  expect(ancestry(exported!, trace).map((s) => s.name)).toEqual(expect.arrayContaining(['RunActivity:flushParticipantData', 'RunWorkflow:conversationWorkflow']));
  expect(spans.filter((s) => s.name === 'RunActivity:startExport')).toEqual([]);
  expect(spans.filter((s) => s.name === 'RunWorkflow:exportWorkflow')).toEqual([]);
  // Probes are not traced.
  expect(spans.filter((s) => s.attributes['http.route'] === '/livez')).toEqual([]);

  // Span attributes are ids, names, counts and outcomes; the workflow's memo, search attributes and
  // last result, which the SDK's exporter would copy onto every workflow span, never get there.
  const allowed = /^(error\.type|http\.(request\.method|route|response\.status_code)|db\.(system|operation\.name)|parley\.[a-z_.]+|temporal(WorkflowId|ActivityId|UpdateId)|run_id|workflowId|runId|workflowType|namespace|taskQueue|attempt|historyLength)$/;
  expect([...new Set(spans.flatMap((s) => Object.keys(s.attributes)))].filter((key) => !allowed.test(key))).toEqual([]);

  // Every byte that left the two processes: no value, no number, no card, no credential.
  const sent = Buffer.concat(receiver.bodies).toString('utf8');
  const secrets = [...PLAIN, SECURED, CUSTOMER, CUSTOMER.slice(1), CARD, CARD.replace(/ /g, ''), credentials.webhookSecret, ...Object.values(credentials.tokens), PEER_TOKEN];
  for (const secret of secrets) expect({ secret, found: sent.includes(secret) }).toEqual({ secret, found: false });
  // Nor any attribute's name or the message's words on a span: names and attributes are ids and kinds.
  for (const s of spans) expect(JSON.stringify(s)).not.toMatch(/Foo|accountPin|phone|my card/);
});
