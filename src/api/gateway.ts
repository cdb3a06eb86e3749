// Everything the API asks of Temporal and of the key services, and the one reading of their
// failures as HTTP answers. Routes call a method and get a result or an HttpError; none of them
// looks at a Temporal error itself.
import { randomUUID } from 'node:crypto';
import { type Client, WithStartWorkflowOperation, WorkflowExecutionAlreadyStartedError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';
import { WorkflowIdReusePolicy, type UpdateDefinition } from '@temporalio/common';
import type { Logger } from 'pino';
import {
  type ConversationInput,
  type ConversationSettings,
  type ConversationView,
  ErrorType,
  type PendingAttributeLookup,
  type RoutingEvent,
  type SetAttributesRequest,
  type AttributeWriteOutcome,
  type AcceptedAttributeWrite,
  acceptedAttributeWriteSignal,
  attributeWriteKey,
  attributeWriteQuery,
  conversationStateQuery,
  pendingAttributeQuery,
  routingEventSignal,
  setAttributesUpdate,
  workflowExecuteUpdate,
  workflowIdFor,
} from '../conversation';
import { inboundMessageSeenQuery, inboundMessageUpdate, type InboundMessage } from '../conversation';
import type { CheckedCrmRequest, CrmExecuteResult } from '../conversation';
import { startSearchAttributes, WORKFLOW_TYPES, type conversationWorkflow } from '../conversation';
import type { KeyServices } from '../security/key-services';
import { timedTemporalCall } from './server-timing';
import {
  HttpError,
  classifyTemporalError,
  grpcCodeOf,
  grpcStatusOf,
  isNotFound,
  keyServiceFailure,
  keyServiceFailureDuring,
  unavailable,
  unconfirmedWrite,
  updateRejectionType,
  type TemporalTrouble,
} from './temporal-errors';

/** The conversation workflow, by its registered name: the API starts it without loading workflow code. */
const CONVERSATION_WORKFLOW = WORKFLOW_TYPES.conversation;
type ConversationWorkflow = typeof conversationWorkflow;

/**
 * How many successors a conversation id may have (`<id>:2` … `<id>:100`): a customer who starts this
 * many conversations under one channel conversation id is refused rather than walked through forever.
 */
const MAX_SUCCESSORS = 100;
const ALREADY_EXISTS = 6;

/**
 * Retry-After of a write refused while the conversation's batch waits for the store: the flush
 * activity retries at most once a minute, so a retry sooner than this is unlikely to be taken.
 */
const STORE_BACKLOG_RETRY_AFTER_S = 30;

/**
 * What a failed call was, which decides what its failure may tell the caller:
 * - `read` (query, describe): failing changes nothing;
 * - `signal` (signal-with-start, one request): once sent, an unreachable server or a late answer
 *   leaves its fate unknown, because the client's own retries can end on "connection refused" after
 *   an earlier attempt reached a dying server and was recorded;
 * - `update` (with or without start): submitted, then waited on, so once it may have reached the
 *   server an unreachable server no longer means nothing was applied. `notConfirmed` says so (and
 *   how to retry), `answerUnreadable` when it was answered but the answer could not be decrypted,
 *   `changingState` when the server refused it while the conversation was changing state.
 */
export type TemporalCall =
  | { kind: 'read'; what: string }
  | { kind: 'signal'; what: string; notConfirmed: () => HttpError }
  | { kind: 'update'; what: string; conversationId: string; notConfirmed: () => HttpError; answerUnreadable?: () => HttpError; changingState: string };

export interface FailureContext {
  logger: Logger;
  /** The API's deadline on a Temporal call, named in a 504. */
  requestTimeoutMs: number;
}

/**
 * The one mapping of a failed Temporal (or key service) call to the API's answer: 409 when the
 * conversation is closed under a write, 400 when a validator refused the request, 503 only when
 * Temporal or the key service cannot be reached (saying whether the request may have been applied),
 * 504 for an answer too late, 500 with an errorId for anything else.
 */
export function failureAnswer(err: unknown, call: TemporalCall, ctx: FailureContext): HttpError {
  const { logger } = ctx;
  const rejection = updateRejectionType(err);
  if (rejection) {
    if (rejection.type === ErrorType.ConversationClosed) return new HttpError(409, rejection.message);
    // The store, not the caller, is behind: 503 (429 would blame the caller's rate). Nothing was applied.
    if (rejection.type === ErrorType.StoreBacklog) {
      return new HttpError(503, `the write was not applied: ${rejection.message}`, undefined, { 'retry-after': String(STORE_BACKLOG_RETRY_AFTER_S) });
    }
    return new HttpError(400, rejection.message);
  }
  // Update-with-start of a closed conversation: its id may not be reused, so nothing was started or applied.
  if (call.kind === 'update' && err instanceof WorkflowExecutionAlreadyStartedError) return new HttpError(409, `conversation ${call.conversationId} is closed`);
  // An update's answer is decrypted after the worker applied (or refused) it: a key service outage
  // then leaves the outcome unknown, and "nothing was changed" would be false.
  if (call.kind === 'update' && keyServiceFailureDuring(err) === 'decrypt') {
    logger.warn({ what: call.what, error: errorText(err) }, `${call.what} not confirmed: its answer could not be decrypted`);
    return (call.answerUnreadable ?? call.notConfirmed)();
  }
  // The payload codec encrypts and decrypts every Temporal payload: a key service outage surfaces here too.
  if (keyServiceFailure(err)) return keyFailure(err, call.what, logger);
  const trouble = troubleOf(err);
  if (call.kind === 'update' && trouble === 'precondition') return new HttpError(503, call.changingState);
  if (call.kind !== 'read' && (trouble === 'unreachable' || trouble === 'deadline')) {
    logger.warn({ what: call.what, trouble, error: errorText(err) }, `${call.what} not confirmed`);
    return call.notConfirmed();
  }
  switch (trouble) {
    case 'unreachable':
      logger.warn({ what: call.what, error: errorText(err) }, 'temporal unavailable');
      return unavailable();
    case 'deadline':
      // Temporal is up but the answer (a query needs a worker to replay the conversation) came too late.
      logger.warn({ what: call.what, error: errorText(err) }, 'temporal answered too late');
      return new HttpError(504, `no answer within ${ctx.requestTimeoutMs} ms (the conversation's worker is busy or being replaced); nothing was changed, retry`);
    default: {
      const errorId = randomUUID();
      logger.error({ what: call.what, errorId, error: errorText(err), grpcCode: grpcCodeOf(err) }, 'temporal refused the request');
      return new HttpError(500, 'internal error', errorId);
    }
  }
}

/** An update whose wait for its answer ran out is late, whatever the gRPC status under it says. */
function troubleOf(err: unknown): TemporalTrouble {
  return err instanceof WorkflowUpdateRPCTimeoutOrCancelledError ? 'deadline' : classifyTemporalError(err);
}

/** The key service's errors name keys and operations, never values, so they may be logged. */
function keyFailure(err: unknown, what: string, logger: Logger): HttpError {
  if (keyServiceFailure(err)) {
    logger.warn({ what, error: errorText(err) }, 'key service unavailable');
    return new HttpError(503, 'the key service (KMS) is unreachable right now; nothing was changed, retry later');
  }
  const errorId = randomUUID();
  logger.error({ what, errorId, error: errorText(err) }, 'key service refused');
  return new HttpError(500, 'internal error', errorId);
}

/** The error for the log: with the gRPC status under it, which says what "Failed to query Workflow" was. The SDK's messages name calls and ids, never payloads (those are encrypted). */
function errorText(err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  const status = grpcStatusOf(err);
  return status ? `${text} (gRPC ${status.code}: ${status.details.slice(0, 300)})` : text;
}

export interface GatewayDeps {
  client: Client;
  logger: Logger;
  keys: Pick<KeyServices, 'securedValues'>;
  taskQueue: string;
  conversation: ConversationSettings;
  /** Every Temporal call gets this deadline, so an unreachable cluster becomes a 503, not a hung request. */
  requestTimeoutMs: number;
}

export type RoutingEventOutcome = { accepted: true; workflowId: string } | { accepted: false; reason: string };

export interface InboundOutcome {
  /** The conversation that took the message: the one named, or its successor when that one is closed. */
  conversationId: string;
  workflowId: string;
  outcome: string;
}

/** A write's answer: applied by the conversation (200), or recorded and applied after the answer (202, its outcome read under writeId). */
export type WriteAnswer = { confirmed: true; queued: string[] } | { confirmed: false; writeId: string };

/**
 * How a write's deadline is shared: the update waits for a worker for most of it, and the rest is
 * kept for recording the same write at the edge, a signal that needs no worker (a webhook's p99 at
 * 100 concurrent conversations on two cores was under a second).
 */
export function writeDeadlines(requestTimeoutMs: number): { updateWaitMs: number; handOverMs: number } {
  const handOverMs = Math.max(200, Math.round(requestTimeoutMs * 0.3));
  return { updateWaitMs: Math.max(100, requestTimeoutMs - handOverMs), handOverMs };
}

export interface WriteOptions {
  secured?: boolean;
  idempotencyKey?: string;
}

export class ConversationGateway {
  private readonly client: Client;
  private readonly failures: FailureContext;

  constructor(private readonly deps: GatewayDeps) {
    this.client = deps.client;
    this.failures = { logger: deps.logger, requestTimeoutMs: deps.requestTimeoutMs };
  }

  /** Readiness: the cluster answers in time. */
  async temporalReachable(): Promise<boolean> {
    try {
      await this.withDeadline(() => this.client.workflowService.getSystemInfo({}));
      return true;
    } catch {
      return false;
    }
  }

  /** For the metrics: undefined when Temporal cannot say in time. */
  async openConversations(): Promise<number | undefined> {
    try {
      const { count } = await this.withDeadline(() => this.client.workflow.count(`WorkflowType = "${CONVERSATION_WORKFLOW}" AND ExecutionStatus = "Running"`));
      return count;
    } catch {
      return undefined;
    }
  }

  /**
   * The event reaches the running conversation, or starts it: a closed one takes nothing. CREATED
   * goes by signal-with-start; any other event first as a plain signal, since it nearly always finds
   * its conversation running, and only when there is none (delivered before CREATED, or the
   * conversation has completed) by signal-with-start. A plain signal carries no start request for the
   * server to check nor a start input to encrypt: under load on the dev server the server took about
   * half as long over it, and webhooks' p50 and p99 fell by about a third.
   */
  async sendRoutingEvent(event: RoutingEvent): Promise<RoutingEventOutcome> {
    const workflowId = workflowIdFor(event.conversationId);
    try {
      await this.withDeadline(async () => {
        if (event.eventType !== 'CREATED' && (await this.signalRunning(workflowId, event))) return;
        await this.client.workflow.signalWithStart<ConversationWorkflow, [RoutingEvent]>(CONVERSATION_WORKFLOW, {
          workflowId,
          taskQueue: this.deps.taskQueue,
          args: [this.startInput(event.conversationId)],
          signal: routingEventSignal,
          signalArgs: [event],
          // Taken only when this event starts the conversation: its first workflow task then upserts nothing.
          typedSearchAttributes: startSearchAttributes(event),
          // A closed conversation stays closed: a late or redelivered event must not start a new one.
          workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        });
      });
      return { accepted: true, workflowId };
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return { accepted: false, reason: 'conversation is closed' };
      throw failureAnswer(err, {
        kind: 'signal',
        what: 'routing event signal',
        // The server may have recorded it: a redelivery is harmless, the eventId makes it change nothing.
        notConfirmed: () => new HttpError(503, 'the event was not confirmed in time and may have been recorded; deliver it again (its eventId makes a redelivery change nothing)'),
      }, this.failures);
    }
  }

  /** False when no run of the conversation is running (never started, or completed): Temporal refuses the signal as not found and records nothing. */
  private async signalRunning(workflowId: string, event: RoutingEvent): Promise<boolean> {
    try {
      await this.client.workflow.getHandle(workflowId).signal(routingEventSignal, event);
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /**
   * Update-with-start onto the conversation; when it is closed, onto its successor `<id>:2`, then
   * `<id>:3`… The closed conversation answers (its validator, or the refused start of a completed
   * run) before anything is applied, so two deliveries racing a close both land on the same
   * successor, and a redelivery of a message a closed conversation took is answered as a duplicate.
   */
  async deliverInbound(conversationId: string, message: InboundMessage): Promise<InboundOutcome> {
    for (let n = 1; n <= MAX_SUCCESSORS; n++) {
      const id = n === 1 ? conversationId : `${conversationId}:${n}`;
      const workflowId = workflowIdFor(id);
      try {
        // No update id from the eventId: Temporal would answer a redelivery with the first
        // delivery's outcome; the workflow's window answers it as the duplicate it is, in any run.
        const { outcome } = await this.withDeadline(() =>
          this.client.workflow.executeUpdateWithStart(inboundMessageUpdate, { args: [message], startWorkflowOperation: this.startOperation(id) }),
        );
        return { conversationId: id, workflowId, outcome };
      } catch (err) {
        if (updateRejectionType(err)?.type === ErrorType.ConversationClosed) continue;
        if (err instanceof WorkflowExecutionAlreadyStartedError || grpcCodeOf(err) === ALREADY_EXISTS) {
          if (await this.completedConversationTook(workflowId, message.eventId)) return { conversationId: id, workflowId, outcome: 'duplicate' };
          continue;
        }
        throw failureAnswer(err, {
          kind: 'update',
          what: 'inboundMessage update-with-start',
          conversationId: id,
          notConfirmed: () => new HttpError(503, 'the message was not confirmed in time and may have been recorded; deliver it again (its eventId makes a redelivery change nothing)'),
          answerUnreadable: () => new HttpError(503, 'the message may have been recorded but its answer could not be read; deliver it again (its eventId makes a redelivery change nothing)'),
          changingState: 'the message was not taken: the conversation was changing state; deliver it again',
        }, this.failures);
      }
    }
    throw new HttpError(409, `conversation ${conversationId} has had ${MAX_SUCCESSORS} conversations already; use a new conversationId`);
  }

  /** Asked of a completed conversation (its run replays on a worker): did it take this message? */
  private async completedConversationTook(workflowId: string, eventId: string): Promise<boolean> {
    try {
      return await this.withDeadline(() => this.client.workflow.getHandle(workflowId).query(inboundMessageSeenQuery, eventId));
    } catch (err) {
      // Runs from before digital channels have no such query: they took no message.
      if (/inboundMessageSeen/.test(errorText(err)) && classifyTemporalError(err) === 'permanent') return false;
      throw failureAnswer(err, { kind: 'read', what: 'inboundMessageSeen query' }, this.failures);
    }
  }

  /**
   * Writes participant data to a running conversation. Secured values are encrypted first: the
   * workflow only ever sees their ciphertext. Answered with the names queued once the conversation
   * applied the write; or, when no worker confirms it within the update's share of the deadline, the
   * same write is recorded as one confirmed at the edge and its write id returned: the conversation
   * then applies it exactly once, whichever of the two reaches it first.
   */
  async setAttributes(conversationId: string, attributes: Record<string, string>, opts: WriteOptions = {}): Promise<WriteAnswer> {
    const update = await this.attributeUpdate(conversationId, attributes, opts.secured);
    const handle = this.client.workflow.getHandle(workflowIdFor(conversationId));
    // Temporal de-duplicates updates by id within a run: a retry carrying the same key joins the
    // first attempt (which may still be waiting for a worker) instead of writing a second time. The
    // id is always Parley's, so a hand-over to the edge carries the same write id.
    const writeId = opts.idempotencyKey ?? randomUUID();
    const updateId = attributeWriteKey(writeId);
    const { updateWaitMs, handOverMs } = writeDeadlines(this.deps.requestTimeoutMs);
    const send = () => this.withDeadline(() => handle.executeUpdate(setAttributesUpdate, { args: [update], updateId }), updateWaitMs);
    try {
      const result = await send().catch(async (err: unknown) => {
        // Refused, not applied, because the workflow task it landed in failed (typically the one
        // closing the conversation, which also writes the final batch): sent once more, it meets
        // the conversation's next state — taken, or refused as closed.
        if (classifyTemporalError(err) !== 'precondition' || updateRejectionType(err)) throw err;
        return send();
      });
      return { confirmed: true, queued: result.queued };
    } catch (err) {
      if (!updateRejectionType(err) && !keyServiceFailure(err) && troubleOf(err) === 'deadline') {
        // No worker took it in time (a saturated worker, or one being replaced): the update stays
        // admitted, and the same write is recorded as a signal so that the answer can say it is kept.
        const handedOver = await this.handOverToEdge(conversationId, { ...update, writeId }, handOverMs, err);
        if (handedOver) return handedOver;
      }
      if (!updateRejectionType(err)) {
        if (isNotFound(err)) throw await this.notFoundOrClosed(conversationId);
        // Refused again while the conversation was changing state (typically closing at that very
        // moment): not applied. Closed now: 409 like any write after close.
        if (!keyServiceFailure(err) && troubleOf(err) === 'precondition') {
          const now = await this.notFoundOrClosed(conversationId);
          if (now.statusCode !== 404) throw now;
          // Still running: the close can be in the conversation's record while the workflow's final
          // task is being retried (the race that refused the write). The record says.
          if (await this.recordSaysClosed(conversationId)) throw new HttpError(409, `conversation ${conversationId} is closed; its participant data can no longer change`);
        }
      }
      throw failureAnswer(err, {
        kind: 'update',
        what: 'setAttributes update',
        conversationId,
        notConfirmed: () => unconfirmedWrite(opts.idempotencyKey !== undefined),
        changingState: 'the write was not applied: the conversation was changing state; retry it',
      }, this.failures);
    }
  }

  /**
   * The same write confirmed at the edge (`Prefer: respond-async`): validated and encrypted here,
   * delivered as a signal, so no worker is waited on; answered once Temporal has recorded it. The
   * conversation applies it, or refuses it with the update's rules (closed meanwhile, a full queue,
   * the store behind) and keeps that outcome under the returned write id.
   */
  async setAttributesAccepted(conversationId: string, attributes: Record<string, string>, opts: WriteOptions = {}): Promise<string> {
    const writeId = opts.idempotencyKey ?? randomUUID();
    const request = await this.attributeUpdate(conversationId, attributes, opts.secured);
    try {
      await this.recordAcceptedWrite(conversationId, { ...request, writeId });
      return writeId;
    } catch (err) {
      // Temporal refuses a signal to a completed workflow as not found: closed (409) or never existed (404).
      if (isNotFound(err)) throw await this.notFoundOrClosed(conversationId);
      throw failureAnswer(err, {
        kind: 'signal',
        what: 'acceptedAttributeWrite signal',
        notConfirmed: () =>
          new HttpError(
            503,
            opts.idempotencyKey !== undefined
              ? 'the write was not confirmed in time and may have been recorded; send it again with the same Idempotency-Key (a write already taken is not applied twice)'
              : 'the write was not confirmed in time and may have been recorded; send it again (with an Idempotency-Key a write already taken is not applied twice)',
          ),
      }, this.failures);
    }
  }

  /** What became of an attribute write, by the id its 202 gave (or its Idempotency-Key). */
  async attributeWrite(conversationId: string, writeId: string): Promise<AttributeWriteOutcome> {
    try {
      return await this.withDeadline(() => this.client.workflow.getHandle(workflowIdFor(conversationId)).query(attributeWriteQuery, writeId));
    } catch (err) {
      if (isNotFound(err)) throw new HttpError(404, `conversation ${conversationId} not found`);
      // A worker from before accepted writes has no such query: it took none.
      if (/attributeWrite/.test(errorText(err)) && classifyTemporalError(err) === 'permanent') return { writeId, status: 'unknown' };
      throw failureAnswer(err, { kind: 'read', what: 'attributeWrite query' }, this.failures);
    }
  }

  /** The same write for a flow, which may run before the routing platform's first webhook: it starts the conversation if need be. */
  async setAttributesStarting(conversationId: string, attributes: Record<string, string>, opts: WriteOptions = {}): Promise<string[]> {
    const update = await this.attributeUpdate(conversationId, attributes, opts.secured);
    // The same id space as the attributes route: one key names one write, whichever route carried it.
    const updateId = attributeWriteKey(opts.idempotencyKey ?? randomUUID());
    try {
      const result = await this.updateWithStart(conversationId, setAttributesUpdate, [update], updateId, this.deps.requestTimeoutMs);
      return result.queued;
    } catch (err) {
      throw failureAnswer(err, {
        kind: 'update',
        what: 'setAttributes update-with-start',
        conversationId,
        notConfirmed: () => unconfirmedWrite(opts.idempotencyKey !== undefined),
        changingState: 'the write was not applied: the conversation was changing state; retry it',
      }, this.failures);
    }
  }

  /**
   * CRM Workflow Execute, starting the conversation if need be; waits up to `waitMs` for the one
   * outcome. Without an answer in time the execution may still run.
   */
  async workflowExecute(conversationId: string, request: CheckedCrmRequest, opts: { updateId: string; waitMs: number; idempotencyKey?: string }): Promise<CrmExecuteResult> {
    try {
      return await this.updateWithStart(conversationId, workflowExecuteUpdate, [request], opts.updateId, opts.waitMs);
    } catch (err) {
      const withKey = opts.idempotencyKey !== undefined;
      throw failureAnswer(err, {
        kind: 'update',
        what: 'workflowExecute update',
        conversationId,
        notConfirmed: () =>
          new HttpError(
            504,
            withKey
              ? 'no outcome in time; the execution may still run: retry with the same Idempotency-Key to get its one outcome'
              : 'no outcome in time; the execution may still run (send an Idempotency-Key so a retry returns its outcome instead of executing again)',
          ),
        answerUnreadable: () =>
          new HttpError(
            503,
            withKey
              ? 'the execution may have run but its outcome could not be read; retry with the same Idempotency-Key to get its one outcome'
              : 'the execution may have run but its outcome could not be read (send an Idempotency-Key so a retry returns its outcome instead of executing again)',
          ),
        // Refused while the conversation was changing state: not applied, nothing was called.
        changingState: 'the execution was not started: the conversation was changing state; retry it',
      }, this.failures);
    }
  }

  /** The queued value of an attribute (ciphertext when secured); undefined when the workflow is gone (past retention). */
  async pendingAttribute(conversationId: string, name: string): Promise<PendingAttributeLookup | undefined> {
    try {
      return await this.withDeadline(() => this.client.workflow.getHandle(workflowIdFor(conversationId)).query(pendingAttributeQuery, name));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw failureAnswer(err, { kind: 'read', what: 'pendingAttribute query' }, this.failures);
    }
  }

  async conversationState(conversationId: string): Promise<ConversationView> {
    try {
      return await this.withDeadline(() => this.client.workflow.getHandle(workflowIdFor(conversationId)).query(conversationStateQuery));
    } catch (err) {
      if (isNotFound(err)) throw new HttpError(404, `conversation ${conversationId} not found`);
      throw failureAnswer(err, { kind: 'read', what: 'conversationState query' }, this.failures);
    }
  }

  /** A secured value's plaintext, for a reader allowed it (src/api/attribute-read.ts decides who). */
  async decrypt(conversationId: string, name: string, ciphertext: string): Promise<string> {
    try {
      return await this.deps.keys.securedValues.decrypt(conversationId, name, ciphertext);
    } catch (err) {
      throw keyFailure(err, 'decrypt secured value', this.deps.logger);
    }
  }

  private async attributeUpdate(conversationId: string, attributes: Record<string, string>, secured: boolean | undefined): Promise<SetAttributesRequest> {
    if (!secured) return { attributes };
    return { attributes: await this.encryptAll(conversationId, attributes), secured: true };
  }

  private async encryptAll(conversationId: string, attributes: Record<string, string>): Promise<Record<string, string>> {
    try {
      const entries = await Promise.all(
        Object.entries(attributes).map(async ([name, value]) => [name, await this.deps.keys.securedValues.encrypt(conversationId, name, value)] as const),
      );
      return Object.fromEntries(entries);
    } catch (err) {
      throw keyFailure(err, 'encrypt secured value', this.deps.logger);
    }
  }

  /** Whether the conversation's own record is closed (false when it cannot be read in time). */
  private async recordSaysClosed(conversationId: string): Promise<boolean> {
    try {
      const view = await this.withDeadline(() => this.client.workflow.getHandle(workflowIdFor(conversationId)).query(conversationStateQuery));
      return view.status === 'closed';
    } catch {
      return false;
    }
  }

  /** 409 when the conversation is closed, else 404 (an HttpError for why neither could be told). */
  private async notFoundOrClosed(conversationId: string): Promise<HttpError> {
    try {
      const description = await this.withDeadline(() => this.client.workflow.getHandle(workflowIdFor(conversationId)).describe());
      if (description.status.name !== 'RUNNING') {
        return new HttpError(409, `conversation ${conversationId} is closed; its participant data can no longer change`);
      }
    } catch (err) {
      if (!isNotFound(err)) return failureAnswer(err, { kind: 'read', what: 'describe' }, this.failures);
    }
    return new HttpError(404, `conversation ${conversationId} not found`);
  }

  /** Update-with-start: the conversation is started (as by its first webhook) if it does not exist. */
  private updateWithStart<Ret, Args extends unknown[]>(conversationId: string, update: UpdateDefinition<Ret, Args>, args: Args, updateId: string, waitMs: number): Promise<Ret> {
    const startWorkflowOperation = this.startOperation(conversationId);
    return timedTemporalCall(() => this.client.withDeadline(Date.now() + waitMs, () => this.client.workflow.executeUpdateWithStart(update, { args, updateId, startWorkflowOperation })));
  }

  /** The start that an update-with-start carries: the same workflow id and input as the webhook's signal-with-start. */
  private startOperation(conversationId: string): WithStartWorkflowOperation<ConversationWorkflow> {
    return new WithStartWorkflowOperation<ConversationWorkflow>(CONVERSATION_WORKFLOW, {
      workflowId: workflowIdFor(conversationId),
      taskQueue: this.deps.taskQueue,
      args: [this.startInput(conversationId)],
      workflowIdConflictPolicy: 'USE_EXISTING',
      // A closed conversation stays closed, as for webhooks: its successor, if any, takes what comes.
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
    });
  }

  private startInput(conversationId: string): ConversationInput {
    return { conversationId, settings: this.deps.conversation };
  }

  private withDeadline<T>(fn: () => Promise<T>, ms = this.deps.requestTimeoutMs): Promise<T> {
    return timedTemporalCall(() => this.client.withDeadline(Date.now() + ms, fn));
  }

  /** A write confirmed at the edge: recorded by Temporal as the accepted-write signal, no worker waited on. */
  private recordAcceptedWrite(conversationId: string, write: AcceptedAttributeWrite, ms = this.deps.requestTimeoutMs): Promise<void> {
    return this.withDeadline(() => this.client.workflow.getHandle(workflowIdFor(conversationId)).signal(acceptedAttributeWriteSignal, write), ms);
  }

  /**
   * The hand-over of a write its update could not confirm in time: the same write as an accepted-write
   * signal under the same write id, within the rest of the deadline. Undefined when that is not
   * recorded either (the caller then gets the update's own answer: not confirmed, may still be applied).
   */
  private async handOverToEdge(conversationId: string, write: AcceptedAttributeWrite, handOverMs: number, updateError: unknown): Promise<WriteAnswer | undefined> {
    try {
      await this.recordAcceptedWrite(conversationId, write, handOverMs);
    } catch (err) {
      // Also when the conversation completed meanwhile: its update may have been applied before the
      // close, so "closed" could be false, and "may still be applied" stays the truthful answer.
      this.deps.logger.warn({ conversationId, writeId: write.writeId, error: errorText(err) }, 'write not confirmed in time, and its hand-over to the edge was not recorded either');
      return undefined;
    }
    this.deps.logger.info({ conversationId, writeId: write.writeId, error: errorText(updateError) }, 'write not confirmed by a worker in time: recorded at the edge, answered 202');
    return { confirmed: false, writeId: write.writeId };
  }
}
