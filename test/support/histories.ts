// Histories recorded from test runs feed the replay test, so a non-deterministic change to the
// workflow fails CI. Recording happens only when RECORD_HISTORIES=1, through `npm run
// record-histories` (scripts/record-histories.ts), which also writes their manifest; the files are
// committed. Stored as binary protobuf: exact, and independent of the JSON helpers' protobufjs copies.
import fs from 'node:fs';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { ENCRYPTED_ENCODING } from '../../src/security/payload-codec';
import { HISTORY_SUFFIX, historiesDir } from '../../scripts/history-manifest';
import { testKeyServices } from '../../rigs/keys';

export { HISTORY_SUFFIX };
export const HISTORIES_DIR = historiesDir();

export async function recordHistory(handle: WorkflowHandle, name: string): Promise<void> {
  if (process.env.RECORD_HISTORIES !== '1') return;
  // The recording command records into a scratch folder and moves the set in once every test passed.
  const dir = process.env.RECORD_HISTORIES_DIR || HISTORIES_DIR;
  const history = await handle.fetchHistory();
  // Histories recorded through the payload codec are stored decoded (test data only), so the replay
  // test needs no key and does not depend on the workflow id the codec bound each payload to.
  const payloads = historyPayloads(history).filter((p) => Buffer.from(p.metadata?.encoding ?? []).toString() === ENCRYPTED_ENCODING);
  const decoded = await testKeyServices().codec.decodeForNamespace(payloads as Payload[], 'default');
  payloads.forEach((payload, i) => {
    payload.metadata = decoded[i].metadata;
    payload.data = decoded[i].data;
  });
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `${name}${HISTORY_SUFFIX}`), temporal.api.history.v1.History.encode(history).finish());
}

export function loadRecordedHistories(dir = HISTORIES_DIR): Array<{ workflowId: string; history: temporal.api.history.v1.History }> {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((file) => file.endsWith(HISTORY_SUFFIX))
    .sort()
    .map((file) => ({
      workflowId: file.slice(0, -HISTORY_SUFFIX.length),
      history: temporal.api.history.v1.History.decode(fs.readFileSync(path.join(dir, file))),
    }));
}

/**
 * Histories recorded under older workflow code and kept (test/histories/kept/, which `npm run
 * record-histories` never touches): each replays the `false` branch of the patches made since, as a
 * conversation started before their deploy would.
 */
export const KEPT_HISTORIES_DIR = path.join(HISTORIES_DIR, 'kept');

/**
 * Every payload object in a history, wherever its event type keeps it, except those Temporal keeps
 * outside the codec by design: search attributes (the server indexes them) and the SDK's patch markers.
 */
export function historyPayloads(value: unknown, found: temporal.api.common.v1.IPayload[] = []): temporal.api.common.v1.IPayload[] {
  if (Array.isArray(value)) {
    for (const item of value) historyPayloads(item, found);
  } else if (value && typeof value === 'object' && !(value instanceof Uint8Array)) {
    const record = value as Record<string, unknown>;
    if (record.metadata && typeof record.metadata === 'object' && record.data instanceof Uint8Array) found.push(record as temporal.api.common.v1.IPayload);
    else if (record.markerName === 'core_local_activity') {
      // The SDK's own bookkeeping of a local activity (seq, attempt, activity type, times) is its
      // `data` detail, written by the SDK core outside the payload codec; the activity's result and
      // failure are payloads like any other.
      const { details, ...rest } = record;
      const { data: _bookkeeping, ...payloadDetails } = (details ?? {}) as Record<string, unknown>;
      historyPayloads([...Object.values(rest), ...Object.values(payloadDetails)], found);
    } else if (record.markerName !== 'core_patch') {
      for (const [key, child] of Object.entries(record)) if (key !== 'searchAttributes') historyPayloads(child, found);
    }
  }
  return found;
}
