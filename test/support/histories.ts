// Histories recorded from test runs feed the replay test, so a non-deterministic change to the
// workflow fails CI. Recording happens only when RECORD_HISTORIES=1; the files are committed.
// Stored as binary protobuf: exact, and independent of the JSON helpers' protobufjs copies.
import fs from 'node:fs';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

export const HISTORIES_DIR = path.join(__dirname, '..', 'histories');
export const HISTORY_SUFFIX = '.history.binpb';

export async function recordHistory(handle: WorkflowHandle, name: string): Promise<void> {
  if (process.env.RECORD_HISTORIES !== '1') return;
  const history = await handle.fetchHistory();
  fs.mkdirSync(HISTORIES_DIR, { recursive: true });
  fs.writeFileSync(path.join(HISTORIES_DIR, `${name}${HISTORY_SUFFIX}`), temporal.api.history.v1.History.encode(history).finish());
}

export function loadRecordedHistories(): Array<{ workflowId: string; history: temporal.api.history.v1.History }> {
  if (!fs.existsSync(HISTORIES_DIR)) return [];
  return fs
    .readdirSync(HISTORIES_DIR)
    .filter((file) => file.endsWith(HISTORY_SUFFIX))
    .sort()
    .map((file) => ({
      workflowId: file.slice(0, -HISTORY_SUFFIX.length),
      history: temporal.api.history.v1.History.decode(fs.readFileSync(path.join(HISTORIES_DIR, file))),
    }));
}
