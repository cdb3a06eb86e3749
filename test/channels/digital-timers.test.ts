// Digital-channel timing on the time-skipping test server: the web-callback threshold (one timer at a
// time, whatever the number of messages) and the EWT sequence of QUEUED events. The gateway and the
// routing platform are real HTTP peers on 127.0.0.1.
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { ALL_DESTINATIONS } from '../../src/channels/config';
import { type InboundMessage, inboundMessageUpdate } from '../../src/conversation/contracts/channels';
import { HttpPeer } from '../../src/channels/peers';
import { DEFAULT_SETTINGS, type RoutingEvent, routingEventSignal, workflowIdFor } from '../../src/conversation/messages';
import { conversationWorkflow } from '../../src/conversation/workflows/conversation';
import { type ChannelPeer, startChannelPeer } from '../../rigs/channel-peer';
import { uniqueId } from '../../rigs/temp';
import { startTimeSkipping, type TimeSkippingRig } from '../../rigs/time-skipping';
import { waitFor } from '../../rigs/wait';

const TOKEN = 'timer-peer-token-1234';
let rig: TimeSkippingRig;
let env: TestWorkflowEnvironment;
let gateway: ChannelPeer;
let routing: ChannelPeer;
let taskQueue: string;

beforeAll(async () => {
  [gateway, routing] = await Promise.all([startChannelPeer(TOKEN), startChannelPeer(TOKEN)]);
  rig = await startTimeSkipping('digital-timers', { channels: { gateway: new HttpPeer(gateway.url, TOKEN, 5_000), routing: new HttpPeer(routing.url, TOKEN, 5_000) } });
  ({ env } = rig);
});

afterAll(async () => {
  await rig?.stop();
  await gateway?.close();
  await routing?.close();
});

beforeEach(() => {
  taskQueue = uniqueId('digital-timers');
});

const withWorker = <T>(fn: () => Promise<T>): Promise<T> => rig.withWorker(taskQueue, fn);

let seq = 0;
const chat = (text: string): InboundMessage => ({
  eventId: `m-${++seq}`,
  channel: 'chat',
  from: 'chat-user-42',
  text,
  attachmentCount: 0,
  sensitiveDataRemoved: false,
  destination: 'chat-app',
  occurredAt: new Date(Date.UTC(2026, 10, 27, 9, 0, seq)).toISOString(),
  destinationSettings: ALL_DESTINATIONS.settingsFor('chat-app', 'chat')!,
});
const routingEvent = (conversationId: string, eventType: RoutingEvent['eventType'], extra: Partial<RoutingEvent> = {}): RoutingEvent => ({
  eventId: `e-${++seq}`,
  eventType,
  conversationId,
  taskId: 'task-9',
  channel: 'chat',
  occurredAt: new Date(Date.UTC(2026, 10, 27, 9, 0, seq)).toISOString(),
  ...extra,
});

async function startConversation(id: string) {
  const handle = await env.client.workflow.start(conversationWorkflow, {
    workflowId: workflowIdFor(id),
    taskQueue,
    args: [{ conversationId: id, settings: { ...DEFAULT_SETTINGS, closedGracePeriodMs: 0 } }],
  });
  return handle;
}

/**
 * Waits in real time for the run to complete, then reads its result. Awaiting result() directly lets
 * the test server skip time while a loaded worker is still in the workflow task, which then times out.
 */
async function finished(handle: { describe(): Promise<{ status: { name: string } }>; result(): Promise<unknown> }) {
  await waitFor('the conversation to complete', async () => (await handle.describe()).status.name !== 'RUNNING', { timeoutMs: 60_000, intervalMs: 200 });
  return handle.result();
}

const kinds = (id: string) => gateway.of(id).map((d) => d.body.kind);
const settled = (id: string, count: number) => waitFor(`${count} notifications for ${id}`, () => gateway.of(id).length >= count);

test('web callback threshold: offered after 60 s in queue (the default), not before; messages start no timer; routing stops the clock and a transfer starts it again', async () => {
  const id = uniqueId('threshold');
  await withWorker(async () => {
    const handle = await startConversation(id);
    await handle.executeUpdate(inboundMessageUpdate, { args: [chat('Hello')] });
    await handle.signal(routingEventSignal, routingEvent(id, 'CREATED'));
    await handle.signal(routingEventSignal, routingEvent(id, 'QUEUED'));
    for (let i = 0; i < 5; i++) await handle.executeUpdate(inboundMessageUpdate, { args: [chat(`still there? ${i}`)] });
    await env.sleep(59_000);
    await settled(id, 1);
    expect(kinds(id)).toEqual(['created']);
    await env.sleep(2_000);
    await settled(id, 2);
    expect(kinds(id)).toEqual(['created', 'callback-offer']);
    // Offered once: more time in the queue offers nothing more.
    await env.sleep(5 * 60_000);

    const other = uniqueId('threshold-routed');
    const second = await startConversation(other);
    await second.executeUpdate(inboundMessageUpdate, { args: [chat('Hello')] });
    await second.signal(routingEventSignal, routingEvent(other, 'CREATED'));
    await env.sleep(30_000);
    await second.signal(routingEventSignal, routingEvent(other, 'ROUTED', { agentId: 'agent-1' }));
    await env.sleep(120_000);
    await second.signal(routingEventSignal, routingEvent(other, 'TRANSFERRED', { destination: 'retention' }));
    await env.sleep(61_000);
    await settled(other, 4);
    expect(kinds(other)).toEqual(['created', 'routed', 'transferred', 'callback-offer']);

    await handle.signal(routingEventSignal, routingEvent(id, 'CLOSED'));
    await second.signal(routingEventSignal, routingEvent(other, 'CLOSED'));
    await finished(handle);
    await finished(second);
    expect(kinds(id)).toEqual(['created', 'callback-offer', 'closed']);

    // One timer at a time: the first conversation started one (fired); the second one cancelled by ROUTED, one fired after the transfer.
    // (The 30-minute ones are the inactivity timer, restarted by each message or event.)
    const timers = async (h: typeof handle) =>
      ((await h.fetchHistory()).events ?? [])
        .filter((e) => e.timerStartedEventAttributes)
        .map((e) => Number(e.timerStartedEventAttributes?.startToFireTimeout?.seconds))
        .filter((seconds) => seconds !== DEFAULT_SETTINGS.inactivityTimeoutMs / 1000);
    expect(await timers(handle)).toEqual([60]);
    expect(await timers(second)).toEqual([60, 60]);
  });
});

test('EWT sequence: QUEUED without an estimate and with -1 say nothing, each estimate is relayed once, a redelivered QUEUED is not relayed again', async () => {
  const id = uniqueId('ewt');
  await withWorker(async () => {
    const handle = await startConversation(id);
    await handle.executeUpdate(inboundMessageUpdate, { args: [chat('Hello')] });
    await handle.signal(routingEventSignal, routingEvent(id, 'CREATED'));
    await handle.signal(routingEventSignal, routingEvent(id, 'QUEUED'));
    await handle.signal(routingEventSignal, routingEvent(id, 'QUEUED', { estimatedWaitTime: -1 }));
    const estimate = routingEvent(id, 'QUEUED', { estimatedWaitTime: 240 });
    await handle.signal(routingEventSignal, estimate);
    await handle.signal(routingEventSignal, estimate);
    await handle.signal(routingEventSignal, routingEvent(id, 'QUEUED', { estimatedWaitTime: 90 }));
    await handle.signal(routingEventSignal, routingEvent(id, 'ROUTED', { agentId: 'agent-2' }));
    await handle.signal(routingEventSignal, routingEvent(id, 'CLOSED'));
    await finished(handle);
    expect(gateway.of(id).map((d) => [d.body.kind, d.body.estimatedWaitSeconds])).toEqual([
      ['created', undefined],
      ['queued', 240],
      ['queued', 90],
      ['routed', undefined],
      ['closed', undefined],
    ]);
    expect(gateway.deliveries.filter((d) => d.body.conversationId === id)).toHaveLength(5);
  });
});
