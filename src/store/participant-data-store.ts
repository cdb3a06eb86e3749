/**
 * Participant data: the key/value attributes a conversation accumulates (IVR inputs,
 * CRM lookups, agent notes). Attributes arrive in numbered batches; a batch may be
 * delivered more than once (activity retries, duplicate webhooks), so writes are
 * idempotent on (conversationId, chainId, batchSeq).
 */

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
  /** creates tables if missing; safe to call from several processes concurrently */
  init(): Promise<void>;
  /** Writes the whole batch in ONE transaction. Idempotent on (conversationId, chainId, batchSeq): if that batch was already written, writes nothing and returns {applied:false}. For each attribute: insert, or update value, secured, set batch_seq, version = version + 1, updated_at. */
  writeBatch(batch: AttributeBatch): Promise<{ applied: boolean }>;
  getAttribute(conversationId: string, name: string): Promise<StoredAttribute | undefined>;
  /** Ordered by name, comparing code points (binary), identically on every backend. */
  listAttributes(conversationId: string): Promise<StoredAttribute[]>;
  /** Ordered by run chain, oldest first, then batchSeq. */
  listBatches(conversationId: string): Promise<StoredBatch[]>;
  close(): Promise<void>;
}
