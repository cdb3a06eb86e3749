// The export's contract with the workflow bundle: the export workflow's id and input, and the
// error types its activities fail with. Imported by workflow code, so it stays free of Node APIs.
import type { Channel, CloseReason, ConversationStatus, EventRecord, TransferRecord } from '../messages';

/**
 * One export per conversation chain: the conversation id plus the first run id of its workflow
 * chain (continue-as-new keeps it), so a conversation id used again after Temporal's retention
 * removed the old workflow exports again under another id instead of colliding with the old export.
 * Ids only: workflow ids are stored in plaintext.
 */
export function exportWorkflowId(conversationId: string, chainId: string): string {
  return `export-${conversationId}-${chainId}`;
}

/** The conversation's record as its final state holds it, handed to the export workflow (a payload: encrypted by the codec). */
export interface ConversationRecord {
  status: ConversationStatus;
  channel?: Channel;
  taskId?: string;
  queue?: string;
  agentId?: string;
  taskContext: Record<string, string>;
  createdAt: string;
  closedAt?: string;
  closeReason?: CloseReason;
  dispositionCode?: string | number;
  /** The latest events, as many as the conversation keeps (RECENT_EVENTS_KEPT in state.ts). */
  recentEvents: EventRecord[];
  /** The latest transfers (TRANSFERS_KEPT); transferCount counts them all. */
  transfers: TransferRecord[];
  transferCount: number;
  /** Runs of the conversation's workflow chain (continue-as-new). */
  runCount: number;
}

export interface ExportInput {
  conversationId: string;
  /** First run id of the conversation's workflow chain. */
  chainId: string;
  record: ConversationRecord;
}

export interface ExportResult {
  exportId: string;
  /** Where the object is: `s3://bucket/key` or a file path. */
  location: string;
  paymentId: string;
  /** false when the same object was already there (a retry or a re-run): nothing was written twice. */
  written: boolean;
}

/** ApplicationFailure types of the export activities (visible in Temporal's history and UI). */
export const ExportErrorType = {
  /** The object key already holds other content; non-retryable, nothing was overwritten. */
  ExportConflict: 'ExportConflict',
  /** The worker has no export destination configured; non-retryable. */
  ExportNotConfigured: 'ExportNotConfigured',
} as const;
