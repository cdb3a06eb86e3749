// The activities the workflows call, as the workflows see them: each one's input and answer. The
// worker's activities (activities/) implement this interface; the workflows proxy it. Types only, so
// the bundle stays free of what the implementations need (Node, the store, HTTP clients).
import type { NotificationRequest, RoutingRequest, StoredMessage } from './contracts/channels';
import type { CrmErrorArgs } from './contracts/crm';
import type { ExportInput, ExportResult } from './contracts/export';

/** One batch of a conversation's queued participant data. */
export interface ParticipantDataBatch {
  conversationId: string;
  /**
   * The workflow run chain that numbered the batch (its first run id; continue-as-new keeps it), so
   * a conversation id used again after Temporal's retention removed the old workflow numbers its
   * batches apart from the old ones.
   */
  chainId?: string;
  /** The store takes each (conversationId, chainId, batchSeq) once. */
  batchSeq: number;
  attributes: Record<string, string>;
  /** The names in `attributes` whose values are secured ciphertexts; absent when there are none. */
  secured?: string[];
  /**
   * Given with a conversation's final batch when nothing can follow it (no grace window): once the
   * batch is written, the same activity starts the conversation's export, as startExport does, so
   * the close costs one local activity instead of two.
   */
  exportAfter?: ExportInput;
}

export interface FlushResult {
  /** false when this batch had already been written (a retry after a crash): nothing was written twice. */
  applied: boolean;
  attributeCount: number;
  /** Present when the batch carried exportAfter and the export was started: the workflow starts no other. */
  export?: ExportStart;
}

export interface CrmResolveInput {
  configurationId: string;
  workflowId: string;
  timeoutMs?: number;
}

export type CrmResolution =
  | { ok: true; budgetMs: number }
  | { ok: false; outcome: 'NotConfigured' | 'ValidationError' | 'InvalidWorkflow'; errorArgs: CrmErrorArgs };

export interface CrmCallInput {
  configurationId: string;
  workflowId: string;
  payload: Record<string, unknown>;
  idempotencyKey: string;
}

export interface CrmCallResult {
  resultSet: unknown;
  httpStatus: number;
  /** Which attempt succeeded (1 = no retry). */
  attempts: number;
}

/** Details of a CRM failure, as ApplicationFailure details[0]: never the answer's body, never the credential. */
export interface CrmFailureDetails {
  httpStatus?: number;
  attempts: number;
}

export interface Delivery {
  /** `already-sent`: the peer had taken this idempotency key before (a retry). */
  delivered: 'sent' | 'already-sent';
}

export interface TranscriptLines {
  conversationId: string;
  messages: StoredMessage[];
}

export interface ExportStart {
  exportId: string;
  /** Whether the export workflow was started now (false: written at once, or its id was taken before). */
  started: boolean;
  /** Present when the export was written at once by the activity itself: no export workflow was needed. */
  exported?: ExportResult;
}

/**
 * Every activity a workflow proxies. Property signatures, not methods, so an implementation is
 * checked against each parameter type exactly.
 */
export interface Activities {
  /** Writes one batch; idempotent on (conversationId, chainId, batchSeq). */
  flushParticipantData: (batch: ParticipantDataBatch) => Promise<FlushResult>;
  /** Which branch a CRM request takes before any call, and its budget. */
  resolveCrmWorkflow: (input: CrmResolveInput) => Promise<CrmResolution>;
  /** One attempt of the CRM call, under the workflow's idempotency key. */
  executeCrmWorkflow: (input: CrmCallInput) => Promise<CrmCallResult>;
  /** One notification through the channel gateway (and its outbound transcript line). */
  notifyCustomer: (request: NotificationRequest) => Promise<Delivery>;
  /** A task operation on the routing platform. */
  requestRoutingOperation: (request: RoutingRequest) => Promise<Delivery>;
  /** Transcript lines into the store; idempotent on (conversationId, eventId). */
  appendTranscript: (input: TranscriptLines) => Promise<{ lines: number }>;
  /** Starts the conversation chain's export workflow, once. */
  startExport: (input: ExportInput) => Promise<ExportStart>;
  /** Writes the export once under its id. */
  exportConversation: (input: ExportInput & { exportId: string }) => Promise<ExportResult>;
}
