// The export as the export tests look at it: which events started a conversation's export, its export
// workflow's id, and an HTTP relay between a worker and S3 on moto that can hold an upload, so a test
// can kill the worker while its PutObject is in flight. (The S3 client and bucket helpers are
// rigs/s3.ts; their re-export here lets branches written against the old path merge and build.)
import http from 'node:http';
import type { Client } from '@temporalio/client';
import { exportWorkflowId, type ExportResult } from '../../src/conversation/contracts/export';
import type { ExportStart } from '../../src/conversation';
import type { exportWorkflow } from '../../src/conversation/workflows/export';
import { listenLocally } from '../../rigs/local-server';
import { exportStartEvents } from '../../rigs/export-starts';

export { createBucket, listKeys, motoS3Client, readObject } from '../../rigs/s3';
export { exportStartEvents, localActivityType } from '../../rigs/export-starts';

/** The export workflow id of a conversation (`conversation-<id>`) that started its export once: from its chain's first run id. */
export async function exportIdOf(client: Client, workflowId: string): Promise<string> {
  return (await exportStartOf(client, workflowId)).exportId;
}

/**
 * The conversation's one export and how it was written: `inline` by the local activity at its end
 * (its result, read from the activity's marker through the client's payload codec), or by its
 * export workflow (that workflow's result, once it completed).
 */
export async function exportOutcomeOf(client: Client, workflowId: string): Promise<{ exportId: string; result: ExportResult; how: 'inline' | 'workflow' }> {
  const { exportId, start } = await exportStartOf(client, workflowId);
  if (start?.exported) return { exportId, result: start.exported, how: 'inline' };
  return { exportId, result: await client.workflow.getHandle<typeof exportWorkflow>(exportId).result(), how: 'workflow' };
}

/** The one export start in the conversation's history, read once, and the export workflow id it implies. */
async function exportStartOf(client: Client, workflowId: string): Promise<{ exportId: string; start?: ExportStart }> {
  const events = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const starts = await exportStartEvents(client, workflowId, events);
  if (starts.length !== 1) throw new Error(`expected one export started by ${workflowId}, found ${starts.length}`);
  const first = events[0]?.workflowExecutionStartedEventAttributes?.firstExecutionRunId;
  if (!first) throw new Error(`${workflowId} has no first run id in its history`);
  return { exportId: exportWorkflowId(workflowId.replace(/^conversation-/, ''), first), start: starts[0].start };
}

/**
 * - `pass`: requests go to moto and back.
 * - `hold-before`: the next PutObject is taken and never forwarded (the upload did not land).
 * - `hold-after`: the next PutObject is forwarded, moto stores it, and its answer is withheld (the
 *   upload landed, the worker never learns it).
 * After holding one upload the relay passes everything again.
 */
export type RelayMode = 'pass' | 'hold-before' | 'hold-after';

export interface S3Relay {
  endpoint: string;
  mode: RelayMode;
  /** Resolves when an upload is being held (for hold-after: once moto has stored it). */
  held: Promise<void>;
  /** PutObject requests seen, and how moto answered those it answered. */
  puts: Array<{ path: string; status?: number }>;
  close(): Promise<void>;
}

export async function startS3Relay(target: string, mode: RelayMode): Promise<S3Relay> {
  const upstream = new URL(target);
  let markHeld: () => void = () => undefined;
  const relay: S3Relay = {
    endpoint: '',
    mode,
    held: new Promise<void>((resolve) => (markHeld = resolve)),
    puts: [],
    close: async () => undefined,
  };
  const server = http.createServer((req, res) => {
    const isPut = req.method === 'PUT' && (req.url ?? '').includes('.json');
    const put = isPut ? { path: req.url ?? '' } : undefined;
    if (put) relay.puts.push(put);
    const holding = isPut && relay.mode !== 'pass' ? relay.mode : undefined;
    if (holding) relay.mode = 'pass';
    if (holding === 'hold-before') {
      req.resume();
      markHeld();
      return;
    }
    const forward = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        if (put) (put as { status?: number }).status = answer.statusCode;
        if (holding === 'hold-after') {
          answer.resume();
          answer.once('end', () => markHeld());
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  const local = await listenLocally(server);
  relay.endpoint = local.url;
  relay.close = local.close;
  return relay;
}
