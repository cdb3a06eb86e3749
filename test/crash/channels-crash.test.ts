// The real worker process SIGKILLed while the channel gateway holds a notification it has received
// but not yet answered: the retry on the next worker carries the same idempotency key, so the
// customer is told once; every other notification of the conversation arrives exactly once and the
// transcript (PostgreSQL) has each line once. Driven through the real API over HTTP.
import fs from 'node:fs';
import path from 'node:path';
import { parseDestinations } from '../../src/channels/config';
import { workflowIdFor } from '../../src/conversation/messages';
import type { RunningApi } from '../../rigs/api';
import { type ChannelPeer, startChannelPeer } from '../../rigs/channel-peer';
import { testCredentials } from '../../rigs/credentials';
import { uniqueId } from '../../rigs/temp';
import { waitFor } from '../../rigs/wait';
import { whileRunning } from '../../rigs/worker-process';
import { CrashHarness } from '../support/crash-harness';

const h = new CrashHarness('crash-channels');
const TOKEN = 'crash-peer-token-5e8f1a';
const credentials = testCredentials();
let gateway: ChannelPeer;
let routing: ChannelPeer;
let api: RunningApi;
const taskQueue = uniqueId('crash-channels');

beforeAll(async () => {
  await h.setUp();
  [gateway, routing] = await Promise.all([startChannelPeer(TOKEN), startChannelPeer(TOKEN)]);
  api = await h.startApi({
    taskQueue,
    credentials,
    requestTimeoutMs: 20_000,
    conversation: { closedGracePeriodMs: 0 },
    destinations: parseDestinations({ destinations: [{ id: 'chat-app', channel: 'chat', callbackThresholdSeconds: null }] }, 'crash test destinations'),
  });
}, 120_000);

afterAll(async () => {
  await gateway?.close();
  await routing?.close();
  await h.tearDown();
}, 60_000);

const peerEnv = () => ({
  CHANNEL_GATEWAY_URL: gateway.url,
  CHANNEL_GATEWAY_TOKEN: TOKEN,
  ROUTING_PLATFORM_URL: routing.url,
  ROUTING_PLATFORM_TOKEN: TOKEN,
});

let seq = 0;
const post = async (url: string, body: Record<string, unknown>) => {
  const res = await api.fetch(url, { method: 'POST', body });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};
const at = () => new Date(Date.UTC(2026, 10, 27, 13, 0, ++seq)).toISOString();
const event = (conversationId: string, eventType: string, extra: Record<string, unknown> = {}) =>
  post('/webhooks/routing-events', { eventId: `crash-evt-${++seq}`, eventType, conversationId, taskId: 'task-c', channel: 'chat', occurredAt: at(), ...extra });

test('a worker SIGKILLed mid-send: the notification is delivered again under the same key and taken once; each notification exactly once', async () => {
  const id = uniqueId('killed-mid-send');
  const workerA = await h.startPollingWorker('send-A', taskQueue, peerEnv());
  const held = gateway.holdNext((body) => body.conversationId === id && body.kind === 'created');

  expect((await post('/webhooks/inbound-messages', { eventId: `crash-msg-${++seq}`, conversationId: id, channel: 'chat', from: 'chat-user-77', text: 'Hello', destination: 'chat-app', occurredAt: at() })).status).toBe(202);
  expect((await event(id, 'CREATED')).status).toBe(202);
  const first = await whileRunning(workerA, held.received);
  // The gateway has the request and has not answered: the worker dies now.
  expect(await workerA.kill('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
  held.release();

  const workerB = await h.startPollingWorker('send-B', taskQueue, peerEnv());
  // Retried after the heartbeat timeout, on the new worker, with the same key.
  await whileRunning(workerB, waitFor('the retried notification', () => gateway.deliveries.filter((d) => d.key === first.key).length >= 2, { timeoutMs: 60_000 }));
  expect((await event(id, 'QUEUED', { estimatedWaitTime: 120 })).status).toBe(202);
  expect((await event(id, 'ROUTED', { agentId: 'agent-c' })).status).toBe(202);
  expect((await event(id, 'CLOSED')).status).toBe(202);
  await whileRunning(workerB, h.client.workflow.getHandle(workflowIdFor(id)).result());

  const received = gateway.deliveries.filter((d) => d.body.conversationId === id);
  // Received twice (the kill came between receipt and answer), identical, under one key.
  const createdDeliveries = received.filter((d) => d.body.kind === 'created');
  expect(createdDeliveries).toHaveLength(2);
  expect(createdDeliveries[1].body).toEqual(createdDeliveries[0].body);
  // What the gateway acted on: exactly one per event.
  expect(gateway.of(id).map((d) => d.body.kind)).toEqual(['created', 'queued', 'routed', 'closed']);
  expect(received).toHaveLength(5);
  const transcript = await h.store.listMessages(id);
  expect(transcript.map((m) => [m.direction, m.text.slice(0, 12)])).toEqual([
    ['inbound', 'Hello'],
    ['outbound', 'Thank you fo'],
    ['outbound', 'All our agen'],
    ['outbound', 'An agent is '],
    ['outbound', 'This convers'],
  ]);
});

test('without peer URLs (the npm start default) the real worker appends each delivery once to the outbox files, addresses shortened', async () => {
  const id = uniqueId('outbox');
  const outboxDir = path.join(h.dir, 'outbox');
  const queue = uniqueId('crash-channels-outbox');
  const worker = await h.startPollingWorker('outbox', queue, { PARLEY_OUTBOX_DIR: outboxDir });
  const outboxApi = await h.startApi({ taskQueue: queue, credentials, requestTimeoutMs: 20_000, conversation: { closedGracePeriodMs: 0 } });
  try {
    const send = (url: string, body: Record<string, unknown>) => outboxApi.fetch(url, { method: 'POST', body });
    const created = { eventId: `outbox-evt-${++seq}`, eventType: 'CREATED', conversationId: id, taskId: 'task-o', channel: 'sms', occurredAt: at() };
    expect((await send('/webhooks/inbound-messages', { eventId: `outbox-msg-${++seq}`, conversationId: id, channel: 'sms', from: '+447700900555', text: 'Hi', destination: '+15550100', occurredAt: at() })).status).toBe(202);
    expect((await send('/webhooks/routing-events', created)).status).toBe(202);
    expect((await send('/webhooks/routing-events', created)).status).toBe(202);
    expect((await send('/webhooks/inbound-messages', { eventId: `outbox-msg-${++seq}`, conversationId: id, channel: 'sms', from: '+447700900555', text: 'end conversation', destination: '+15550100', occurredAt: at() })).status).toBe(202);
    await whileRunning(worker, h.client.workflow.getHandle(workflowIdFor(id)).result());
    const lines = (file: string) => fs.readFileSync(path.join(outboxDir, file), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines('gateway.jsonl').map((l) => [l.kind, l.to])).toEqual([['created', '…0555']]);
    // The task Parley created (the destination's id as its selector, no file) and its end.
    expect(lines('routing.jsonl').map((l) => [l.operation, l.mode ?? l.scriptSelector, l.taskId])).toEqual([['create-task', '+15550100', undefined], ['end-task', 'abandon', 'task-o']]);
    expect(fs.readFileSync(path.join(outboxDir, 'gateway.jsonl'), 'utf8')).not.toContain('+447700900555');
  } finally {
    await outboxApi.close();
    await worker.stop();
  }
});
