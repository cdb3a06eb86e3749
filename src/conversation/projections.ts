// What the outside sees of a conversation's state: the state query's view, the search attributes
// and the record handed to the export. Routing facts and names only, never participant-data values.
import type { ConversationState, ConversationView } from './messages';
import { searchAttributes } from './messages';
import type { ConversationRecord } from './contracts/export';

export function viewOf(state: ConversationState): ConversationView {
  const {
    appliedWriteIds: _w, refusedWrites, pending, pendingSecured: _s, storedNames, storedNamesTruncated, lastBatchSeq: _b, ordering, localClose: _l, crm, digital,
    ...rest
  } = state;
  const view: ConversationView = {
    ...rest,
    taskContext: { ...state.taskContext },
    transfers: [...state.transfers],
    recentEvents: [...state.recentEvents],
    attributeNames: { pending: Object.keys(pending).sort(), stored: [...storedNames].sort(), ...(storedNamesTruncated ? { storedTruncated: true } : {}) },
  };
  if (refusedWrites?.length) view.refusedWrites = refusedWrites.map((r) => ({ ...r, names: [...r.names] }));
  if (ordering.outsideWindow > 0) view.eventsOutsideWindow = ordering.outsideWindow;
  // Outcomes only: payloads and results may hold customer data.
  if (crm) view.crm = { executions: crm.executions.map((e) => ({ ...e })), cachedResults: crm.cache.length };
  if (digital) {
    view.messages = { channel: digital.channel, destination: digital.destination, count: digital.messageCount, recent: [...digital.recent] };
    const { task } = digital;
    if (task) {
      view.messages.task = task.menuSince !== undefined ? { menu: 'waiting' } : { scriptSelector: task.scriptSelector, intent: task.intent };
    }
  }
  return view;
}

/**
 * The conversation's search attributes as a record gives them (routing facts only, never customer
 * data); null means unset.
 */
export function searchAttributesOf(state: Pick<ConversationState, 'status' | 'channel' | 'queue' | 'agentId'>): Array<{ key: (typeof searchAttributes)[keyof typeof searchAttributes]; value: string | null }> {
  return [
    { key: searchAttributes.status, value: state.status },
    { key: searchAttributes.channel, value: state.channel ?? null },
    { key: searchAttributes.queue, value: state.queue ?? null },
    { key: searchAttributes.agent, value: state.agentId ?? null },
  ];
}

/** What the export carries of the conversation itself: its routing record, no participant data (the export reads that from the store). */
export function exportRecordOf(state: ConversationState): ConversationRecord {
  const record: ConversationRecord = {
    status: state.status,
    taskContext: { ...state.taskContext },
    createdAt: state.createdAt,
    recentEvents: state.recentEvents.map((event) => ({ ...event })),
    transfers: state.transfers.map((transfer) => ({ ...transfer })),
    transferCount: state.transferCount,
    runCount: state.runCount,
  };
  // Absent fields stay absent rather than becoming explicit undefineds in the payload.
  if (state.channel !== undefined) record.channel = state.channel;
  if (state.taskId !== undefined) record.taskId = state.taskId;
  if (state.queue !== undefined) record.queue = state.queue;
  if (state.agentId !== undefined) record.agentId = state.agentId;
  if (state.closedAt !== undefined) record.closedAt = state.closedAt;
  if (state.closeReason !== undefined) record.closeReason = state.closeReason;
  if (state.dispositionCode !== undefined) record.dispositionCode = state.dispositionCode;
  return record;
}
