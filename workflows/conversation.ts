// One workflow per conversation (`conversation-<conversationId>`). Routing webhooks arrive as
// signals, participant-data writes as a validated update; the queued data is written to the store
// in one batch when the conversation ends, by whichever way it ends.
import {
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  currentUpdateInfo,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import type { Activities } from '../activities';
import {
  ConversationInput,
  ConversationResult,
  ConversationState,
  ErrorType,
  SetAttributesRequest,
  conversationStateQuery,
  pendingAttributeQuery,
  routingEventSignal,
  searchAttributes,
  setAttributesUpdate,
} from '../src/shared';
import { attributeProblem, pendingProblem } from '../src/validation';
import { startExportOnce } from './export';
import {
  PATCHES,
  applyAttributeWrite,
  applyRoutingEvent,
  closeLocally,
  dequeueWritten,
  handOverState,
  initialState,
  receiveRoutingEvent,
  resumedState,
  viewOf,
} from './conversation-state';
import { installDigitalChannel } from './digital-channel';

const { flushParticipantData } = proxyActivities<Activities>({
  // One transaction needs far less; bounds a store that hangs without failing.
  startToCloseTimeout: '10 seconds',
  // The activity heartbeats every second while it writes: a flush lost with a crashed worker is retried after 3 s.
  heartbeatTimeout: '3 seconds',
  // No maximum attempts: queued participant data must reach the store, however long it is down.
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

export async function conversationWorkflow(input: ConversationInput): Promise<ConversationResult> {
  const { conversationId, settings } = input;
  const state: ConversationState = input.state ? resumedState(input.state) : initialState(conversationId, new Date().toISOString());

  // Bumped by every message that counts as activity; the inactivity timer restarts when it moves.
  let touches = 0;

  // Inbound messages, customer notifications, web callback (workflows/digital-channel.ts).
  const digital = installDigitalChannel(state, { onActivity: () => touches++ });

  setHandler(routingEventSignal, (event) => {
    const wasClosed = state.status === 'closed';
    // Runs recorded before the ordered rule replay under the arrival-order rule; a conversation that
    // was running when this version was deployed switches at its next event.
    const outcome = patched(PATCHES.orderedRecord) ? receiveRoutingEvent(state, event) : applyRoutingEvent(state, event, patched);
    if (outcome !== 'duplicate') {
      touches++;
      digital.onRoutingEvent(event, wasClosed);
    }
    log.info('routing event', { conversationId, eventId: event.eventId, eventType: event.eventType, outcome, status: state.status });
  });

  setHandler(
    setAttributesUpdate,
    ({ attributes, secured }: SetAttributesRequest) => {
      const writeId = currentUpdateInfo()?.id;
      if (applyAttributeWrite(state, attributes, writeId, secured === true) === 'applied') touches++;
      else log.info('attribute write already applied in an earlier run', { conversationId, writeId });
      return { queued: Object.keys(attributes) };
    },
    { validator: (request: SetAttributesRequest) => validateSet(state, request) },
  );

  setHandler(conversationStateQuery, () => viewOf(state));
  setHandler(pendingAttributeQuery, (name: string) =>
    Object.hasOwn(state.pending, name)
      ? { pending: true, value: state.pending[name], secured: (state.pendingSecured ?? []).includes(name) }
      : { pending: false },
  );

  const publishedSearchAttributes = new Map<string, string | null>();
  const publishSearchAttributes = (): void => {
    const wanted: SearchAttributeUpdatePair[] = [
      { key: searchAttributes.status, value: state.status },
      { key: searchAttributes.channel, value: state.channel ?? null },
      { key: searchAttributes.queue, value: state.queue ?? null },
      { key: searchAttributes.agent, value: state.agentId ?? null },
    ];
    const changed = wanted.filter(({ key, value }) => publishedSearchAttributes.get(key.name) !== value);
    if (changed.length === 0) return;
    upsertSearchAttributes(changed);
    for (const { key, value } of changed) publishedSearchAttributes.set(key.name, value as string | null);
  };

  const flush = async (): Promise<void> => {
    const batch = { ...state.pending };
    if (Object.keys(batch).length === 0) return;
    const batchSeq = state.lastBatchSeq + 1;
    const secured = state.pendingSecured ?? [];
    // Never abandoned half-way: a cancelled flush may still commit, and the catch-up flush would then
    // reuse its batchSeq for a larger batch that the store, holding that key, would skip.
    const write = () =>
      flushParticipantData({
        conversationId,
        chainId: workflowInfo().firstExecutionRunId,
        batchSeq,
        attributes: batch,
        // Left out when empty, so a batch of plain data is scheduled exactly as before secured data existed.
        ...(secured.length > 0 ? { secured: [...secured] } : {}),
      });
    await (patched(PATCHES.flushNonCancellable) ? CancellationScope.nonCancellable(write) : write());
    state.lastBatchSeq = batchSeq;
    state.storedNames = [...new Set([...state.storedNames, ...Object.keys(batch)])];
    dequeueWritten(state, batch);
  };

  /**
   * Closed, and still taking the events that occurred before the close (folded into the record, so
   * search attributes follow it); writes stay refused since the status is closed. Whatever consumes
   * the final record (the workflow's result) gets it after the window.
   */
  const closedGraceWindow = async (graceMs: number): Promise<void> => {
    const until = Date.now() + graceMs;
    for (let remaining = graceMs; remaining > 0; remaining = until - Date.now()) {
      const seen = touches;
      await condition(() => touches !== seen, remaining);
      publishSearchAttributes();
    }
    await condition(allHandlersFinished);
  };

  const continueAsNewDue = (): boolean => {
    const info = workflowInfo();
    return info.continueAsNewSuggested || info.historyLength >= settings.continueAsNewAfterEvents;
  };

  try {
    // A function, not an inline comparison: handlers change status while the loop awaits.
    const isClosed = (): boolean => state.status === 'closed';
    while (!isClosed()) {
      publishSearchAttributes();
      const seen = touches;
      const active = await condition(
        () => touches !== seen || isClosed() || continueAsNewDue(),
        settings.inactivityTimeoutMs,
      );
      if (!active) {
        closeLocally(state, 'inactivity', new Date().toISOString());
        log.info('conversation closed for inactivity', { conversationId });
        break;
      }
      if (!isClosed() && continueAsNewDue()) {
        await condition(allHandlersFinished);
        await digital.idle();
        await flush();
        // A cancel that came during the flush waited for it; it must end this conversation, not travel on.
        if (patched(PATCHES.flushNonCancellable) && CancellationScope.current().consideredCancelled) {
          throw new CancelledFailure('cancelled while continuing as new');
        }
        log.info('continuing as new', { conversationId, historyLength: workflowInfo().historyLength });
        return await continueAsNew<typeof conversationWorkflow>({ conversationId, settings, state: handOverState(state) });
      }
    }
    publishSearchAttributes();
    await condition(allHandlersFinished);
    // What the conversation decided to send (the CLOSED notice, the customer's end of the task) goes before it completes.
    await digital.idle();
    // The final batch is written at the close, never after the grace window.
    await flush();
    if (state.ordering) {
      // Events folded in while the batch was written may have changed the queue or the agent.
      publishSearchAttributes();
      const graceMs = settings.closedGracePeriodMs ?? 0;
      if (state.closeReason === 'closed-event' && graceMs > 0 && patched(PATCHES.closedGracePeriod)) {
        await closedGraceWindow(graceMs);
      }
    }
    // After the grace window, so the export holds the record as final as the workflow's result, and
    // after what the window made the conversation send: the exported transcript no longer changes.
    await digital.idle();
    await startExportOnce(state);
    return resultOf(state);
  } catch (err) {
    if (isCancellation(err)) {
      // Cancellation must not lose queued data: the final batch runs outside the cancelled scope.
      await CancellationScope.nonCancellable(async () => {
        closeLocally(state, 'cancelled', new Date().toISOString());
        publishSearchAttributes();
        await flush();
        // A transcript line being written as the cancel came lands before the export reads the transcript.
        await digital.settled();
        await startExportOnce(state);
      });
    }
    throw err;
  }
}

function validateSet(state: ConversationState, request: SetAttributesRequest): void {
  if (state.status === 'closed') {
    throw ApplicationFailure.nonRetryable('the conversation is closed; its participant data can no longer change', ErrorType.ConversationClosed);
  }
  const problem = attributeProblem(request?.attributes, request?.secured === true);
  if (problem) throw ApplicationFailure.nonRetryable(problem, ErrorType.InvalidAttributes);
  const overflow = pendingProblem(state.pending, request.attributes);
  if (overflow) throw ApplicationFailure.nonRetryable(overflow, ErrorType.InvalidAttributes);
}

function resultOf(state: ConversationState): ConversationResult {
  return {
    conversationId: state.conversationId,
    closeReason: state.closeReason ?? 'closed-event',
    batchesWritten: state.lastBatchSeq,
    storedNames: [...state.storedNames].sort(),
  };
}
