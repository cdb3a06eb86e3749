// One workflow per conversation (`conversation-<conversationId>`). Routing webhooks arrive as
// signals, participant-data writes as a validated update; the queued data is written to the store
// in one batch when the conversation ends, by whichever way it ends.
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  currentUpdateInfo,
  isCancellation,
  log,
  proxyActivities,
  proxyLocalActivities,
  setDefaultSignalHandler,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import type { Activities, ExportStart, ParticipantDataBatch } from '../activities';
import type { ExportInput } from '../contracts/export';
import {
  ActivityErrorType,
  type ConversationInput,
  type ConversationResult,
  type ConversationState,
  ErrorType,
  type SetAttributesRequest,
  type AcceptedAttributeWrite,
  type RoutingEvent,
  acceptedAttributeWriteSignal,
  attributeWriteKey,
  attributeWriteQuery,
  conversationStateQuery,
  pendingAttributeQuery,
  routingEventSignal,
  setAttributesUpdate,
  workflowExecuteUpdate,
} from '../messages';
import type { CheckedCrmRequest } from '../contracts/crm';
import { validateWorkflowExecute, workflowExecute } from './crm-execute';
import { attributeProblem, pendingProblem } from '../validation';
import { exportInputOf, startExportOnce } from './export';
import { STUCK_FLUSH_HEADROOM_EVENTS, initialState } from '../state';
import { closeLocally, receiveRoutingEvent } from '../record';
import { handOverState, resumedState } from '../hand-over';
import { applyAttributeWrite, attributeWriteOutcome, dequeueWritten, rememberRefused, rememberStored } from '../participant-data';
import { searchAttributesOf, viewOf } from '../projections';
import { installDigitalChannel } from './digital-channel';

const { flushParticipantData } = proxyActivities<Activities>({
  // One transaction needs far less; bounds a store that hangs without failing.
  startToCloseTimeout: '10 seconds',
  // The activity heartbeats every second while it writes: a flush lost with a crashed worker is retried after 3 s.
  heartbeatTimeout: '3 seconds',
  // No maximum attempts: queued participant data must reach the store, however long it is down.
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

// The first attempt of the final flush runs as a local activity: in the workflow task that asked for
// it, so a written batch costs one marker event instead of three activity events and a workflow task.
// Any failure hands the batch to the activity above, whose retries add no history while the store is
// down. Not at a hand-over: messages wait while a local activity holds the workflow task, and an open
// conversation keeps taking writes while its hand-over batch is written.
const { flushParticipantData: flushParticipantDataLocally } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '10 seconds',
  retry: { maximumAttempts: 1 },
});

// The same first attempt when the conversation's export follows the batch in the same activity (no
// grace window after the close): the batch (each store call bounded by STORE_TIMEOUT, at most 8 s),
// then the export, which may take EXPORT_INLINE_WRITE_MS (at most 20 s) before its own workflow is
// started. Past the timeout the batch goes to the flush activity and the export to startExport.
const { flushParticipantData: flushAndExportLocally } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '40 seconds',
  retry: { maximumAttempts: 1 },
});

export async function conversationWorkflow(input: ConversationInput): Promise<ConversationResult> {
  const { conversationId, settings } = input;
  const state: ConversationState = input.state ? resumedState(input.state) : initialState(conversationId, new Date().toISOString());

  // Bumped by every message that counts as activity; the main loop publishes what it changed.
  let touches = 0;
  let lastActivityMs = Date.now();
  const touched = (): void => {
    touches++;
    lastActivityMs = Date.now();
  };
  /** Set while a batch is being written: the history length when its flush began. */
  let flushingSince: number | undefined;

  // Inbound messages, customer notifications, web callback (workflows/digital-channel.ts).
  const digital = installDigitalChannel(state, { onActivity: touched });

  const onRoutingEvent = (event: RoutingEvent): void => {
    const wasClosed = state.status === 'closed';
    const outcome = receiveRoutingEvent(state, event);
    if (outcome !== 'duplicate') {
      touched();
      digital.onRoutingEvent(event, wasClosed);
    }
    log.info('routing event', { conversationId, eventId: event.eventId, eventType: event.eventType, outcome, status: state.status });
  };

  // A write confirmed at the edge (answered 202 once Temporal recorded it): the update's rules decide,
  // here rather than in a validator, and a refusal is kept where its caller reads the outcome.
  const onAcceptedWrite = (write: AcceptedAttributeWrite): void => {
    const writeId = typeof write?.writeId === 'string' ? write.writeId : undefined;
    if (writeId === undefined) {
      log.warn('accepted attribute write without a write id ignored', { conversationId });
      return;
    }
    // A redelivery of a write already taken changes nothing, even once the conversation is closed.
    if (attributeWriteOutcome(state, writeId).status === 'applied') return;
    try {
      validateSet(state, write);
      refuseWhileStoreBacklogged(flushingSince);
    } catch (err) {
      const failure = err instanceof ApplicationFailure ? err : undefined;
      const names = write.attributes && typeof write.attributes === 'object' ? Object.keys(write.attributes) : [];
      rememberRefused(state, { writeId, reason: failure?.type ?? ErrorType.InvalidAttributes, message: failure?.message ?? 'the write was refused', names });
      log.info('accepted attribute write refused', { conversationId, writeId, reason: failure?.type });
      return;
    }
    applyAttributeWrite(state, write.attributes, attributeWriteKey(writeId), write.secured === true);
    touched();
  };

  takeInRecordedOrder({ routingEvent: onRoutingEvent, acceptedWrite: onAcceptedWrite });

  setHandler(
    setAttributesUpdate,
    ({ attributes, secured }: SetAttributesRequest) => {
      const writeId = currentUpdateInfo()?.id;
      if (applyAttributeWrite(state, attributes, writeId, secured === true) === 'applied') touched();
      else log.info('attribute write already applied in an earlier run', { conversationId, writeId });
      return { queued: Object.keys(attributes) };
    },
    {
      validator: (request: SetAttributesRequest) => {
        validateSet(state, request);
        refuseWhileStoreBacklogged(flushingSince);
      },
    },
  );

  setHandler(attributeWriteQuery, (writeId: string) => attributeWriteOutcome(state, writeId));

  // CRM Workflow Execute: every accepted request ends in one outcome branch; a closed conversation or an unchecked request is refused.
  setHandler(
    workflowExecuteUpdate,
    async (request: CheckedCrmRequest) => {
      const result = await workflowExecute(state, request, currentUpdateInfo()?.id ?? `run-${workflowInfo().runId}`);
      touched();
      return result;
    },
    { validator: (request: CheckedCrmRequest) => validateWorkflowExecute(state, request) },
  );

  setHandler(conversationStateQuery, () => viewOf(state));
  setHandler(pendingAttributeQuery, (name: string) =>
    Object.hasOwn(state.pending, name)
      ? { pending: true, value: state.pending[name], secured: state.pendingSecured.includes(name) }
      : { pending: false },
  );

  // What the run started with (set by the API at signal-with-start, or carried over by
  // continue-as-new) needs no upsert.
  const publishedSearchAttributes = new Map<string, string | null>();
  for (const { key } of searchAttributesOf(state)) publishedSearchAttributes.set(key.name, workflowInfo().typedSearchAttributes.get(key) ?? null);
  /** One upsert command with what changed since the last one; called once per workflow task by the loops below. */
  const publishSearchAttributes = (): void => {
    const changed = searchAttributesOf(state).filter(({ key, value }) => publishedSearchAttributes.get(key.name) !== value);
    if (changed.length === 0) return;
    upsertSearchAttributes(changed as SearchAttributeUpdatePair[]);
    for (const { key, value } of changed) publishedSearchAttributes.set(key.name, value);
  };

  /**
   * One attempt to write the batch under batchSeq; never abandoned half-way. With exportAfter, the
   * first attempt (a local activity) starts the export too; what it started is returned.
   */
  const writeBatch = async (batch: Record<string, string>, batchSeq: number, secured: string[], final: boolean, exportAfter?: ExportInput): Promise<ExportStart | undefined> => {
    const args: ParticipantDataBatch = {
      conversationId,
      chainId: workflowInfo().firstExecutionRunId,
      batchSeq,
      attributes: batch,
      // Left out when empty: a batch of plain data names no secured values.
      ...(secured.length > 0 ? { secured: [...secured] } : {}),
    };
    const write: () => Promise<ExportStart | undefined> = final
      ? async () => {
          try {
            // The export only on the first attempt: the retries below may wait out a long store outage.
            if (exportAfter) return (await flushAndExportLocally({ ...args, exportAfter })).export;
            await flushParticipantDataLocally(args);
          } catch (err) {
            if (isBatchConflict(err)) throw err;
            log.warn('participant data batch not written on the first attempt; the flush activity retries it', {
              conversationId,
              batchSeq,
              failure: failureSummary(err),
            });
            await flushParticipantData(args);
          }
          return undefined;
        }
      : async () => {
          await flushParticipantData(args);
          return undefined;
        };
    // A cancelled flush may still commit, and the catch-up flush would then reuse its batchSeq for a
    // larger batch that the store, holding that key, would refuse.
    return CancellationScope.nonCancellable(write);
  };

  /**
   * `final`: the batch written at the close (no write can follow it), not at a hand-over.
   * `exportAfter`: the export to start with the final batch; what was started is returned (nothing
   * when there was no batch to write, or the export is left to startExportOnce).
   */
  const flush = async (final: boolean, exportAfter?: ExportInput): Promise<ExportStart | undefined> => {
    const batch = { ...state.pending };
    if (Object.keys(batch).length === 0) return undefined;
    const secured = state.pendingSecured;
    flushingSince = workflowInfo().historyLength;
    let exported: ExportStart | undefined;
    try {
      for (;;) {
        const batchSeq = state.lastBatchSeq + 1;
        try {
          exported = await writeBatch(batch, batchSeq, secured, final, exportAfter);
          state.lastBatchSeq = batchSeq;
          break;
        } catch (err) {
          // The key is taken by other content (a restored or shared store): the data must still be
          // written, under the next free key, rather than the conversation failing with it unwritten.
          if (!isBatchConflict(err)) throw err;
          log.error('participant data batch key already stored with other content; writing the batch under the next batchSeq', {
            conversationId,
            chainId: workflowInfo().firstExecutionRunId,
            batchSeq,
          });
          state.lastBatchSeq = batchSeq;
        }
      }
    } finally {
      flushingSince = undefined;
    }
    rememberStored(state, Object.keys(batch));
    dequeueWritten(state, batch);
    return exported;
  };

  const isClosed = (): boolean => state.status === 'closed';

  const continueAsNewDue = (): boolean => {
    const info = workflowInfo();
    return info.continueAsNewSuggested || info.historyLength >= settings.continueAsNewAfterEvents;
  };

  /**
   * Waits until the conversation closes (by an event, or after inactivityTimeoutMs with no activity)
   * or continue-as-new is due; publishes search attributes once per workflow task meanwhile.
   */
  const untilClosedOrDue = async (): Promise<'closed' | 'inactive' | 'continue-as-new'> => {
    const inactivity = inactivityTimer(settings.inactivityTimeoutMs, () => lastActivityMs, isClosed);
    for (;;) {
      publishSearchAttributes();
      if (isClosed()) return 'closed';
      if (inactivity.expired()) return 'inactive';
      if (continueAsNewDue()) return 'continue-as-new';
      const seen = touches;
      await condition(() => touches !== seen || isClosed() || inactivity.expired() || continueAsNewDue());
    }
  };

  /**
   * Closed, and still taking the events that occurred before the close (folded into the record, so
   * search attributes follow it); writes stay refused since the status is closed. Whatever consumes
   * the final record (the workflow's result) gets it after the window.
   */
  const closedGraceWindow = async (graceMs: number): Promise<void> => {
    // One timer for the whole window. A cancel ends the window through the condition below.
    let over = false;
    // Not awaited: the loop below watches `over`, and a cancelled timer's rejection lands in the second callback.
    void sleep(graceMs).then(
      () => (over = true),
      () => undefined,
    );
    while (!over) {
      const seen = touches;
      await condition(() => over || touches !== seen);
      publishSearchAttributes();
    }
    await condition(allHandlersFinished);
  };

  try {
    const outcome = await untilClosedOrDue();
    if (outcome === 'inactive') {
      closeLocally(state, 'inactivity', new Date().toISOString());
      log.info('conversation closed for inactivity', { conversationId });
    } else if (outcome === 'continue-as-new') {
      await condition(allHandlersFinished);
      await digital.idle();
      await flush(false);
      // A cancel that came during the flush waited for it; it must end this conversation, not travel on.
      if (CancellationScope.current().consideredCancelled) {
        throw new CancelledFailure('cancelled while continuing as new');
      }
      log.info('continuing as new', { conversationId, historyLength: workflowInfo().historyLength });
      return await continueAsNew<typeof conversationWorkflow>({ conversationId, settings, state: handOverState(state) });
    }
    publishSearchAttributes();
    await condition(allHandlersFinished);
    // What the conversation decided to send (the CLOSED notice, the customer's end of the task) goes before it completes.
    await digital.idle();
    const graceMs = settings.closedGracePeriodMs ?? 0;
    const graceWindow = state.closeReason === 'closed-event' && graceMs > 0;
    // The final batch is written at the close, never after the grace window. With no window the
    // record is final now (what the conversation had to send was sent above), so the same local
    // activity starts the export once the batch is written: one marker and one activation fewer.
    const exported = await flush(true, graceWindow ? undefined : exportInputOf(state));
    // Events folded in while the batch was written may have changed the queue or the agent.
    publishSearchAttributes();
    if (graceWindow) await closedGraceWindow(graceMs);
    // After the grace window, so the export holds the record as final as the workflow's result, and
    // after what the window made the conversation send: the exported transcript no longer changes.
    await digital.idle();
    await startExportOnce(state, exported);
    return resultOf(state);
  } catch (err) {
    if (isCancellation(err)) {
      // Cancellation must not lose queued data: the final batch runs outside the cancelled scope.
      await CancellationScope.nonCancellable(async () => {
        closeLocally(state, 'cancelled', new Date().toISOString());
        publishSearchAttributes();
        await flush(true);
        // A transcript line being written as the cancel came lands before the export reads the transcript.
        await digital.settled();
        await startExportOnce(state);
      });
    }
    throw err;
  }
}

/**
 * Routing events and accepted writes, taken in the order Temporal recorded them. Signals that reach
 * a run before its first workflow task (a burst that outran the worker, or what came during a
 * continue-as-new) are held by the SDK until a handler exists and then released one signal name at
 * a time: every routing event first, CLOSED included, and the writes recorded before it after it —
 * refused as if they came late. A default handler, set before the two, receives what is held in
 * recorded order; each is then taken by its handler in that order. It stays, for signals Parley
 * does not know (logged, ignored). With a workflow interceptor that defers signals (tracing), the
 * held ones reach the named handlers, still in recorded order.
 */
function takeInRecordedOrder(handlers: { routingEvent: (event: RoutingEvent) => void; acceptedWrite: (write: AcceptedAttributeWrite) => void }): void {
  const byName = new Map<string, (arg: unknown) => void>([
    [routingEventSignal.name, (arg) => handlers.routingEvent(arg as RoutingEvent)],
    [acceptedAttributeWriteSignal.name, (arg) => handlers.acceptedWrite(arg as AcceptedAttributeWrite)],
  ]);
  const held: Array<() => void> = [];
  let installed = false;
  setDefaultSignalHandler((signalName: string, ...args: unknown[]) => {
    const take = byName.get(signalName);
    if (!take) log.warn('signal without a handler ignored', { signalName });
    else if (installed) take(args[0]);
    else held.push(() => take(args[0]));
  });
  setHandler(routingEventSignal, handlers.routingEvent);
  setHandler(acceptedAttributeWriteSignal, handlers.acceptedWrite);
  installed = true;
  for (const take of held) take();
}

/**
 * The conversation's one inactivity timer: armed for inactivityTimeoutMs, and when it fires before
 * that much time has passed since the last activity, re-armed for the rest — so a busy conversation
 * records one timer, not one per message. Stops re-arming once the conversation is closed.
 */
function inactivityTimer(timeoutMs: number, lastActivityMs: () => number, closed: () => boolean): { expired(): boolean } {
  let expired = false;
  const arm = (delayMs: number): void => {
    // Not awaited: the timer runs beside the main loop, which reads expired(); both outcomes are handled below.
    void sleep(delayMs).then(
      () => {
        if (closed()) return;
        const idleMs = Date.now() - lastActivityMs();
        if (idleMs >= timeoutMs) expired = true;
        else arm(timeoutMs - idleMs);
      },
      // Cancelled with the workflow: the cancellation is handled where the main loop awaits.
      () => undefined,
    );
  };
  arm(Math.max(1, timeoutMs - (Date.now() - lastActivityMs())));
  return { expired: () => expired };
}

/** The application failure an activity failed with (a local activity's may come unwrapped). */
function applicationFailureOf(err: unknown): ApplicationFailure | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure ? cause : undefined;
}

/** The failure's type and message (the store's errors name keys and counts, never values). */
function failureSummary(err: unknown): string {
  const failure = applicationFailureOf(err);
  return failure ? `${failure.type ?? 'Error'}: ${failure.message}` : String(err);
}

function isBatchConflict(err: unknown): boolean {
  return applicationFailureOf(err)?.type === ActivityErrorType.BatchConflict;
}

/**
 * Continue-as-new cannot happen while a batch is being written, so while the store does not answer
 * each accepted write grows the run's history. Past STUCK_FLUSH_HEADROOM_EVENTS since the flush began,
 * writes are refused (nothing applied; the API answers 503 with Retry-After) until the batch is written.
 */
function refuseWhileStoreBacklogged(flushingSince: number | undefined): void {
  if (flushingSince === undefined) return;
  if (workflowInfo().historyLength - flushingSince < STUCK_FLUSH_HEADROOM_EVENTS) return;
  throw ApplicationFailure.nonRetryable(
    'the participant data store has not taken this conversation\'s queued batch yet; nothing was applied; retry later',
    ErrorType.StoreBacklog,
  );
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
    ...(state.storedNamesTruncated ? { storedNamesTruncated: true } : {}),
  };
}
