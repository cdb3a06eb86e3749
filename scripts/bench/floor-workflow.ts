// Temporal's floor for `npm run bench`: the least a workflow can do with Parley's traffic. It records
// each routing event (signal-with-start) and each attribute write (update) and ends on CLOSED — no
// codec, no validator, no timer, no search attributes, no activity. Bundled on its own by the bench,
// never part of Parley's workflow bundle.
//
// With `features` (BENCH_FLOOR=features) it also records, in the least way Temporal allows, what
// Parley's conversation records beyond the traffic itself: the search attributes (given at the start,
// upserted once per workflow task when the status or agent changes, so at ROUTED and at CLOSED), an
// inactivity timer started at the first task, and, at CLOSED, one local activity that writes the
// participant data to the store and the export (Parley's own activity, the store and export folder
// Parley's worker uses). Still no codec, no validation, no API: what separates the two is Parley's
// implementation, not the events its features record.
import {
  allHandlersFinished,
  condition,
  defineSignal,
  defineUpdate,
  proxyLocalActivities,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { Activities, ConversationRecord } from '../../src/conversation';

export interface FloorEvent {
  eventId: string;
  eventType: string;
  [field: string]: unknown;
}

export interface FloorWrite {
  attributes: Record<string, string>;
  secured?: boolean;
}

export interface FloorInput {
  /** Record Parley's features too (above); the conversation id names the store's batch and the export. */
  features?: { conversationId: string };
}

export const floorEventSignal = defineSignal<[FloorEvent]>('routingEvent');
export const floorWriteUpdate = defineUpdate<{ queued: string[] }, [FloorWrite]>('setAttributes');

// Parley's search attribute names (registered in the namespace by the dev server it runs), defined
// here so that the floor's bundle holds none of Parley's workflow modules.
const statusKey = defineSearchAttributeKey('ParleyStatus', SearchAttributeType.KEYWORD);
const agentKey = defineSearchAttributeKey('ParleyAgent', SearchAttributeType.KEYWORD);

// As Parley's conversation writes its final batch with its export: one local activity, one attempt.
const { flushParticipantData } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '40 seconds',
  retry: { maximumAttempts: 1 },
});

const INACTIVITY_MS = 30 * 60 * 1000;
const STATUS_AFTER: Record<string, string> = { CREATED: 'queued', QUEUED: 'queued', ROUTED: 'active', TRANSFERRED: 'queued', CLOSED: 'closed' };

export async function floorWorkflow(input: FloorInput = {}): Promise<{ events: number; writes: number; attributes: number }> {
  const events: FloorEvent[] = [];
  const attributes: Record<string, string> = {};
  let writes = 0;
  let closed = false;
  let touches = 0;
  let status: string | undefined;
  let agent: string | undefined;
  let channel: string | undefined;
  setHandler(floorEventSignal, (event) => {
    events.push(event);
    if (typeof event.channel === 'string') channel ??= event.channel;
    touches++;
    status = STATUS_AFTER[event.eventType] ?? status;
    if (event.eventType === 'ROUTED' && typeof event.agentId === 'string') agent = event.agentId;
    if (event.eventType === 'CLOSED') closed = true;
  });
  setHandler(floorWriteUpdate, ({ attributes: values }) => {
    Object.assign(attributes, values);
    writes++;
    return { queued: Object.keys(values) };
  });
  const features = input.features;
  if (!features) {
    await condition(() => closed);
    await condition(allHandlersFinished);
    return { events: events.length, writes, attributes: Object.keys(attributes).length };
  }

  // Not awaited: it only has to be pending, as Parley's is while the conversation is open.
  void sleep(INACTIVITY_MS).catch(() => undefined);
  // The start's search attributes came with the signal-with-start.
  let publishedStatus = status;
  let publishedAgent: string | undefined;
  for (;;) {
    if (status !== publishedStatus || agent !== publishedAgent) {
      upsertSearchAttributes([
        { key: statusKey, value: status ?? null },
        ...(agent !== publishedAgent ? [{ key: agentKey, value: agent ?? null }] : []),
      ]);
      publishedStatus = status;
      publishedAgent = agent;
    }
    if (closed) break;
    const seen = touches;
    await condition(() => touches !== seen);
  }
  await condition(allHandlersFinished);
  const { conversationId } = features;
  const chainId = workflowInfo().firstExecutionRunId;
  const now = new Date().toISOString();
  await flushParticipantData({
    conversationId,
    chainId,
    batchSeq: 1,
    attributes,
    exportAfter: {
      conversationId,
      chainId,
      record: {
        status: 'closed',
        // The bench's events name one of Parley's channels.
        channel: channel as ConversationRecord['channel'],
        agentId: agent,
        taskContext: {},
        createdAt: now,
        closedAt: now,
        closeReason: 'closed-event',
        recentEvents: [],
        transfers: [],
        transferCount: 0,
        runCount: 1,
      },
    },
  });
  return { events: events.length, writes, attributes: Object.keys(attributes).length };
}
