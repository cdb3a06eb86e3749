// A routing platform's delivery, end to end over real HTTP on the dev server: each conversation's
// webhooks signed, sent twice and shuffled, with CLOSED first, last or in between, end in the record
// that in-order delivery gives; writes are refused during the grace window after CLOSED, and a webhook
// after the window is acknowledged and ignored.
import type { Client } from '@temporalio/client';
import { type ConversationView, type RoutingEventType, searchAttributes, workflowIdFor } from '../../src/conversation/messages';
import { type ApiStack, startApiStack } from '../../rigs/api-stack';
import { uniqueId } from '../../rigs/temp';
import { waitFor } from '../../rigs/wait';
import { inOrder, recordOf } from '../support/event-sets';
import { recordHistory } from '../support/histories';

/** Long enough for every delivery below to land inside it, short enough to wait out. */
const GRACE_MS = 20_000;

let stack: ApiStack;
let client: Client;

beforeAll(async () => {
  stack = await startApiStack({ name: 'order-api', conversation: { closedGracePeriodMs: GRACE_MS } });
  ({ client } = stack);
});

afterAll(() => stack?.stop());

const call = (method: string, url: string, body?: unknown) => stack.call(method, url, body);

type Webhook = { eventId: string; eventType: RoutingEventType; occurredAt: string } & Record<string, unknown>;

/** A conversation's webhooks as a routing platform sends them, at whole seconds. */
function scenario(name: string, steps: Array<[eventType: RoutingEventType, second: number, extra?: Record<string, unknown>]>): { name: string; events: Webhook[] } {
  return {
    name,
    events: steps.map(([eventType, second, extra], i) => ({
      eventId: `${name}-${i}-${eventType.toLowerCase()}`,
      eventType,
      taskId: 'task-1',
      channel: 'chat',
      occurredAt: new Date(Date.UTC(2026, 10, 22, 10, 0, second)).toISOString(),
      ...extra,
    })),
  };
}

const SCENARIOS = [
  scenario('transfer', [
    ['CREATED', 0, { queue: 'billing', taskContext: { cv_1: 'gold', user_lang: 'fr' } }],
    ['QUEUED', 2, { queue: 'billing', estimatedWaitTime: 90 }],
    // Routed in the same second it was queued (second-precision sender).
    ['ROUTED', 2, { agentId: 'agent-1', taskContext: { cv_2: 42 } }],
    ['TRANSFERRED', 30, { destination: 'retention', taskContext: { cv_1: 'platinum' } }],
    // Queued at the destination in the same second as the transfer.
    ['QUEUED', 30, { queue: 'retention', estimatedWaitTime: '45' }],
    ['ROUTED', 40, { agentId: 'agent-2', queue: 'retention' }],
    ['CLOSED', 95, { dispositionCode: 1, taskContext: { user_outcome: 'saved' } }],
  ]),
  scenario('abandon', [
    ['CREATED', 0, { queue: 'sales', taskContext: { user_campaign: 'spring' } }],
    ['QUEUED', 1, { queue: 'sales', estimatedWaitTime: 300 }],
    ['QUEUED', 61, { estimatedWaitTime: -1 }],
    ['CLOSED', 61, { dispositionCode: 'ABANDONED' }],
  ]),
  scenario('two-transfers', [
    ['CREATED', 0, { queue: 'support' }],
    ['ROUTED', 5, { agentId: 'agent-a' }],
    ['TRANSFERRED', 20, { destination: 'billing' }],
    ['ROUTED', 25, { agentId: 'agent-b', queue: 'billing' }],
    // Transferred to a queue with an idle agent: routed in the same second.
    ['TRANSFERRED', 50, { destination: 'escalations', taskContext: { user_reason: 'refund > 500' } }],
    ['ROUTED', 50, { agentId: 'agent-c', queue: 'escalations' }],
    ['CLOSED', 70, { dispositionCode: 'RESOLVED' }],
  ]),
  scenario('late-close', [
    ['CREATED', 0, { queue: 'chat-general', taskContext: { cv_3: 'web' } }],
    ['ROUTED', 3, { agentId: 'agent-9' }],
    ['CLOSED', 10, { dispositionCode: 'DONE' }],
    // The platform's wrap-up arrives after the close: recorded, does not reopen, its variables kept.
    ['QUEUED', 12, { queue: 'ghost', taskContext: { user_wrapup: 'callback' } }],
  ]),
];

/** Deterministic shuffles, so a failure is reproducible. */
function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function shuffle<T>(items: T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

type Placement = 'closed-first' | 'closed-between' | 'closed-last';

/** Every event twice, shuffled, with both deliveries of CLOSED first, last, or in the middle. */
function twiceShuffled(events: Webhook[], placement: Placement, random: () => number): Webhook[] {
  const closed = events.filter((e) => e.eventType === 'CLOSED');
  const others = shuffle(events.filter((e) => e.eventType !== 'CLOSED').flatMap((e) => [e, e]), random);
  if (placement === 'closed-first') return [...closed, ...others, ...closed];
  if (placement === 'closed-last') return [...others, ...closed, ...closed];
  const middle = Math.floor(others.length / 2);
  return [...others.slice(0, middle), ...closed, ...others.slice(middle), ...closed];
}

async function deliver(conversationId: string, events: Webhook[]): Promise<number[]> {
  const statuses: number[] = [];
  for (const event of events) statuses.push((await call('POST', '/webhooks/routing-events', { ...event, conversationId })).status);
  return statuses;
}

const getState = async (id: string) => (await call('GET', `/conversations/${id}`)).body as ConversationView;

test('each conversation delivered twice and shuffled, CLOSED first, last or in between, ends in the record of in-order delivery', async () => {
  const run = uniqueId('order');
  const random = seeded(20261122);
  const cases = SCENARIOS.flatMap(({ name, events }) =>
    (['closed-first', 'closed-between', 'closed-last'] as Placement[]).map((placement) => ({
      name,
      placement,
      id: `${run}-${name}-${placement}`,
      orderedId: `${run}-${name}-in-order`,
      deliveries: twiceShuffled(events, placement, random),
    })),
  );
  // In-order delivery of each scenario, once each, in the documented order.
  await Promise.all(SCENARIOS.map(async ({ name, events }) => expect(await deliver(`${run}-${name}-in-order`, inOrder(events))).toEqual(events.map(() => 202))));
  // Every delivery lands inside the grace window: all are accepted, none answered "closed".
  await Promise.all(cases.map(async (c) => expect(await deliver(c.id, c.deliveries)).toEqual(c.deliveries.map(() => 202))));

  for (const c of cases) {
    const [shuffled, ordered] = await Promise.all([getState(c.id), getState(c.orderedId)]);
    expect({ case: `${c.name} ${c.placement}`, record: recordOf(shuffled) }).toEqual({ case: `${c.name} ${c.placement}`, record: recordOf(ordered) });
  }
  // What the records hold: the truth of the ordered set.
  const transfer = await getState(`${run}-transfer-in-order`);
  expect(transfer).toMatchObject({
    status: 'closed',
    agentId: 'agent-2',
    queue: 'retention',
    transferCount: 1,
    transfers: [{ fromAgentId: 'agent-1', fromQueue: 'billing', destination: 'retention' }],
    taskContext: { cv_1: 'platinum', user_lang: 'fr', cv_2: '42', user_outcome: 'saved' },
    dispositionCode: 1,
  });
  expect(transfer.estimatedWaitTime).toBeUndefined();
  expect(await getState(`${run}-two-transfers-in-order`)).toMatchObject({
    status: 'closed',
    transferCount: 2,
    queue: 'escalations',
    agentId: 'agent-c',
    transfers: [{ fromAgentId: 'agent-a', destination: 'billing' }, { fromAgentId: 'agent-b', fromQueue: 'billing', destination: 'escalations' }],
  });
  const lateClose = await getState(`${run}-late-close-closed-first`);
  expect(lateClose).toMatchObject({ status: 'closed', agentId: 'agent-9', taskContext: { cv_3: 'web', user_wrapup: 'callback' } });
  expect(lateClose.queue).toBe('chat-general');
  expect(lateClose.recentEvents.at(-1)).toMatchObject({ eventType: 'QUEUED', applied: false });

  // Search attributes follow the record, also for the conversations whose CLOSED came first.
  for (const c of cases.filter((x) => x.placement === 'closed-first')) {
    const expected = await getState(c.orderedId);
    await waitFor(`search attributes of ${c.id}`, async () => {
      const attributes = (await client.workflow.getHandle(workflowIdFor(c.id)).describe()).typedSearchAttributes;
      return (
        attributes.get(searchAttributes.status) === 'closed' &&
        attributes.get(searchAttributes.queue) === expected.queue &&
        attributes.get(searchAttributes.agent) === expected.agentId
      );
    });
  }

  // In the window the conversation is closed: a write is a conflict.
  const write = await call('POST', `/conversations/${cases[0].id}/attributes`, { attributes: { late: 'x' } });
  expect(write.status).toBe(409);

  // After the window the workflow has completed; a webhook is acknowledged and ignored, the record stays.
  const handle = client.workflow.getHandle(workflowIdFor(cases[0].id));
  await waitFor('the grace window to end', async () => (await handle.describe()).status.name === 'COMPLETED', { timeoutMs: GRACE_MS + 30_000, intervalMs: 500 });
  const before = await getState(cases[0].id);
  const late = SCENARIOS[0].events[3];
  expect(await call('POST', '/webhooks/routing-events', { ...late, conversationId: cases[0].id, eventId: 'after-the-window' })).toMatchObject({
    status: 200,
    body: { accepted: false },
  });
  expect(await getState(cases[0].id)).toEqual(before);
  await recordHistory(handle, 'api-delivered-twice-shuffled-closed-first');
}, 180_000);
