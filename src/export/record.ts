// The exported document: what it holds, where it goes (its object key), its payment id and its
// content digest. Every part is a function of the export's input and of the store, never of the
// clock, so a retried or re-run export produces the same bytes and the conditional write can tell
// "already written" from "something else is there".
import { createHash } from 'node:crypto';
import type { StoredAttribute } from '../store';
import type { ConversationRecord, ExportInput } from '../conversation';
import type { TranscriptMessage } from './transcript';

export const EXPORT_FORMAT = 'parley-conversation-export/v1';

/** UUID namespace of payment ids (RFC 4122 version 5): fixed, so an export id always maps to the same payment id. */
const PAYMENT_ID_NAMESPACE = 'ffe0eff1-4e97-4674-9788-12f6f383202e';

export interface ExportedAttribute {
  name: string;
  /** For a secured attribute: the ciphertext (base64 of an AWS Encryption SDK message) exactly as stored, never decrypted. */
  value: string;
  secured: boolean;
  batchSeq: number;
  version: number;
  updatedAt: string;
}

export interface ExportDocument {
  format: typeof EXPORT_FORMAT;
  exportId: string;
  paymentId: string;
  conversationId: string;
  chainId: string;
  conversation: ConversationRecord;
  /** Ordered by name (code points), as the store lists them. */
  participantData: ExportedAttribute[];
  transcript: TranscriptMessage[];
}

export function buildExportDocument(
  input: ExportInput & { exportId: string },
  attributes: StoredAttribute[],
  transcript: TranscriptMessage[],
): ExportDocument {
  return {
    format: EXPORT_FORMAT,
    exportId: input.exportId,
    paymentId: paymentIdFor(input.exportId),
    conversationId: input.conversationId,
    chainId: input.chainId,
    conversation: input.record,
    participantData: attributes.map(({ name, value, secured, batchSeq, version, updatedAt }) => ({ name, value, secured, batchSeq, version, updatedAt })),
    transcript,
  };
}

/**
 * The payment id: a version-5 UUID (SHA-1, RFC 4122) of the export id under Parley's fixed
 * namespace. Random-looking, and the same however often the export runs.
 */
export function paymentIdFor(exportId: string): string {
  const namespace = Buffer.from(PAYMENT_ID_NAMESPACE.replace(/-/g, ''), 'hex');
  const hash = createHash('sha1').update(namespace).update(exportId, 'utf8').digest().subarray(0, 16);
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** What conversation ids may hold (LIMITS.conversationIdPattern), at any length. */
const KEY_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;

export const PAYMENT_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/**
 * `<prefix>/<yyyy>/<mm>/<dd>/<conversationId>/<exportId>.json`, dated by the conversation's close
 * (UTC; its creation when it has no close time), so a day's exports list under one prefix.
 */
export function exportObjectKey(prefix: string, input: ExportInput & { exportId: string }): string {
  // Conversation ids are checked at the API (no "/", never "." or ".."); this keeps a workflow
  // started some other way from writing outside its folder.
  for (const part of [input.conversationId, input.exportId]) {
    if (!KEY_SEGMENT.test(part)) throw new Error(`not usable in an object key: ${JSON.stringify(part)}`);
  }
  const at = new Date(input.record.closedAt ?? input.record.createdAt);
  if (Number.isNaN(at.getTime())) throw new Error(`conversation ${input.conversationId} has no valid close or creation time`);
  const date = [String(at.getUTCFullYear()), String(at.getUTCMonth() + 1).padStart(2, '0'), String(at.getUTCDate()).padStart(2, '0')];
  return [prefix, ...date, input.conversationId, `${input.exportId}.json`].filter((part) => part !== '').join('/');
}

/** The bytes written: pretty JSON, since the object is read by people and scripts alike. */
export function serializeExport(document: ExportDocument): Buffer {
  return Buffer.from(`${JSON.stringify(document, null, 2)}\n`, 'utf8');
}

export function contentDigest(body: Buffer): string {
  return createHash('sha256').update(body).digest('hex');
}
