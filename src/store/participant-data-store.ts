/**
 * Participant data: the key/value attributes a conversation accumulates (IVR inputs,
 * CRM lookups, agent notes). Attributes arrive in numbered batches; a batch may be
 * delivered more than once (activity retries, duplicate webhooks), so writes are
 * idempotent on (conversationId, chainId, batchSeq).
 */

import { createHash } from 'node:crypto';
import type { StoredMessage } from '../conversation';

export type { StoredMessage } from '../conversation';

/** One attribute as currently stored: the last written value wins. */
export interface StoredAttribute {
  name: string;
  value: string;
  /** The batch that last wrote this attribute. */
  batchSeq: number;
  /** 1 on first write, +1 on every later batch that writes this attribute. */
  version: number;
  /** ISO-8601 timestamp of the last write. */
  updatedAt: string;
  /**
   * True when `value` is secured ciphertext (base64, encrypted by the API with the customer's KMS
   * key before it entered Temporal), false when it is plain text. Set by the last write, like the value.
   */
  secured: boolean;
}

export interface AttributeBatch {
  conversationId: string;
  /**
   * The workflow run chain that numbered the batch (its first run id; continue-as-new keeps it).
   * Numbering restarts when a conversation id is used again after Temporal's retention removed the
   * old workflow, and those batches must not pass for the old ones. Absent = '' (batches written
   * before chains were recorded).
   */
  chainId?: string;
  batchSeq: number;
  /** Attribute names are case-sensitive: `Foo` and `foo` are two attributes. */
  attributes: Record<string, string>;
  /**
   * The names in `attributes` whose values are secured ciphertext (base64); the store keeps them as
   * given and only records that they are. Absent = none. A name not in `attributes` is ignored.
   */
  secured?: string[];
}

/** Record of a batch that has been applied. */
export interface StoredBatch {
  chainId: string;
  batchSeq: number;
  attributeCount: number;
  /** ISO-8601 timestamp of when the batch was applied. */
  writtenAt: string;
}

export interface ParticipantDataStore {
  /** creates tables if missing, migrates older ones in place; safe to call from several processes concurrently */
  init(): Promise<void>;
  /**
   * Writes the whole batch in ONE transaction. Idempotent on (conversationId, chainId, batchSeq): if
   * that batch was already written with the same content (see batchDigest), writes nothing and
   * returns {applied:false}; with other content, writes nothing and throws BatchConflictError. For
   * each attribute: insert, or update value, secured, set batch_seq, version = version + 1, updated_at.
   */
  writeBatch(batch: AttributeBatch): Promise<{ applied: boolean }>;
  getAttribute(conversationId: string, name: string): Promise<StoredAttribute | undefined>;
  /** Ordered by name, comparing code points (binary), identically on every backend. */
  listAttributes(conversationId: string): Promise<StoredAttribute[]>;
  /** Ordered by run chain, oldest first, then batchSeq. */
  listBatches(conversationId: string): Promise<StoredBatch[]>;
  /**
   * Adds transcript lines (digital channels), in ONE transaction. Idempotent on (conversationId,
   * eventId): a line already stored is left as it is, so a retried append writes nothing twice.
   */
  appendMessages(conversationId: string, messages: StoredMessage[]): Promise<void>;
  /** The conversation's transcript, ordered by occurredAt, then by the order the lines were first stored. */
  listMessages(conversationId: string): Promise<StoredMessage[]>;
  close(): Promise<void>;
}

/** STORE_TIMEOUT's default: every store call answers within about this long. */
export const DEFAULT_STORE_TIMEOUT_MS = 2000;

/**
 * A batch key already stored with other content (values, names or secured flags). A retry always
 * re-sends identical content, so this is a bug or a numbering clash, never a retry: the batch is not
 * written, and must not be taken for written. Names the batch, never a value.
 */
export class BatchConflictError extends Error {
  override readonly name = 'BatchConflictError';
  readonly conversationId: string;
  readonly chainId: string;
  readonly batchSeq: number;
  constructor(batch: Pick<AttributeBatch, 'conversationId' | 'chainId' | 'batchSeq'>) {
    const chainId = batch.chainId ?? '';
    super(
      `participant data batch ${batch.batchSeq} of conversation ${batch.conversationId} (chain ${chainId || '(none)'}) ` +
        'is already stored with other content; this batch was not written',
    );
    this.conversationId = batch.conversationId;
    this.chainId = chainId;
    this.batchSeq = batch.batchSeq;
  }
}

/** A store call that did not finish within STORE_TIMEOUT (a lock held elsewhere, a hung or unreachable server). Nothing was written. */
export class StoreTimeoutError extends Error {
  override readonly name = 'StoreTimeoutError';
  constructor(
    readonly operation: string,
    readonly timeoutMs: number,
    /** What the driver said: an error code and message, never a value. */
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`participant-data store: ${operation} did not finish within STORE_TIMEOUT (${timeoutMs} ms): ${reason}`, options);
  }
}

/** The store's server refused or dropped the connection (down, restarting, unreachable). Nothing was written. */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
  constructor(
    readonly operation: string,
    /** What the driver said: an error code and message, never a value. */
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`participant-data store: ${operation} could not reach the server: ${reason}`, options);
  }
}

/**
 * The content of a batch as the store compares it: SHA-256 over its attributes sorted by name (code
 * units, as JavaScript compares strings), each as [name, value, secured]. Independent of the order of
 * `attributes` and `secured`; a secured name not in the batch counts for nothing, and an absent
 * `secured` is the same as an empty one. Hex, 64 characters.
 */
export function batchDigest(batch: Pick<AttributeBatch, 'attributes' | 'secured'>): string {
  const secured = new Set(batch.secured ?? []);
  const entries = Object.entries(batch.attributes)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => [name, value, secured.has(name)]);
  return createHash('sha256').update(JSON.stringify(['parley-batch-v1', entries])).digest('hex');
}
