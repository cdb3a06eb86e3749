// Conversations closed while the worker is SIGKILLed during their exports: S3 on moto, reached
// through an HTTP relay that slows every upload (before it reaches S3 and before its answer goes
// back), and each kill waits for an upload in flight. The audit wants exactly one export object per
// ended conversation, holding its accepted writes: none missing, none extra.
import http from 'node:http';
import path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import type { ExportDocument } from '../../src/export';
import { exportWorkflowId, workflowIdFor } from '../../src/conversation';
import type { Drill } from './drill';
import { Stack } from './stack';
import { ApiClient, Ledger, mapLimit } from './traffic';
import { listenLocally } from '../../rigs/local-server';
import { MOTO_CREDENTIALS, MOTO_REGION, startMoto } from '../../rigs/moto';
import { createBucket, listKeys, motoS3Client, readObject } from '../../rigs/s3';
import { exportStartEvents } from '../../rigs/export-starts';
import { sleep, waitFor } from '../../rigs/wait';
import { driveThrough, randomBetween, scaled } from './util';

const BUCKET = 'parley-drill-exports';
const PREFIX = 'drill';

export const exportKill: Drill = {
  name: 'export-kill',
  summary: 'conversations closed while the worker is SIGKILLed during their exports (uploads to S3 on moto slowed by a relay); audit: exactly one export object per ended conversation, none missing, none extra',
  fast: true,
  async run({ scale, workDir, log }) {
    const moto = await startMotoS3(workDir);
    const relay = await startSlowRelay(moto.endpoint);
    let stack: Stack | undefined;
    try {
      stack = await Stack.start({
        workDir,
        log,
        env: {
          EXPORT_S3_BUCKET: BUCKET,
          EXPORT_S3_PREFIX: PREFIX,
          EXPORT_S3_ENDPOINT: relay.url,
          EXPORT_S3_REGION: MOTO_REGION,
          AWS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey,
          // Every export through its own workflow: the drill kills the worker in that workflow's
          // upload and audits its retries (an inline write is retried by the conversation's
          // workflow task instead, which test/crash/export-crash.test.ts covers).
          EXPORT_INLINE_WRITE_MS: '0',
        },
      });
      const conversations = scaled(100, scale, 10);
      const kills = scaled(6, scale, 3);
      const api = new ApiClient(() => stack!.apiBase, stack.credentials);
      const ledger = new Ledger(api, { retryForMs: 180_000 });
      let faultsDone = false;
      const run = Date.now().toString(36);
      const traffic = driveThrough(conversations, Math.min(conversations, 20), () => faultsDone, (i) => ledger.standardConversation(`ex-${run}-${i}`, { secured: i % 3 === 0 }));
      const worker = stack.workers[0];
      let killsMidUpload = 0;
      // Conversation ids whose upload a kill cut: each of their exports must have been retried.
      const cut = new Set<string>();
      let done = 0;
      for (; done < kills; done++) {
        // An upload on its way: the kill lands in the middle of an export.
        await waitFor('an export upload in flight', async () => relay.inFlight.size > 0, { timeoutMs: 60_000, intervalMs: 20 });
        await sleep(randomBetween(0, 300));
        const inFlight = [...relay.inFlight];
        if (inFlight.length > 0) killsMidUpload++;
        await worker.kill();
        for (const objectPath of inFlight) cut.add(objectPath.split('/').at(-2) ?? '');
        await sleep(randomBetween(200, 1_500));
        await worker.start();
        log(`worker killed during an export and back (${done + 1}/${kills})`);
      }
      faultsDone = true;
      const started = await traffic;
      log(`traffic done (${started} conversations); auditing`);
      const audit = await ledger.audit(stack, 180_000, log);
      const exports = await auditExports(stack, ledger, moto.s3, cut, log);
      audit.accepted.exports = exports.accepted;
      audit.reflected.exports = exports.reflected;
      audit.lost += exports.lost;
      audit.doubled += exports.doubled;
      audit.violations = [...(audit.violations ?? []), ...exports.violations];
      audit.facts = {
        conversations: started,
        'worker SIGKILLs': done,
        'SIGKILLs with an upload in flight': killsMidUpload,
        'uploads seen by the relay (first attempts and retries)': relay.puts,
        'uploads answered 412 (a retry that found its own object)': relay.preconditionFailed,
        'exports whose upload a kill cut': cut.size,
        'exports retried (activity attempt > 1)': exports.retried,
        ...audit.facts,
      };
      return audit;
    } finally {
      await stack?.stop();
      await relay.close();
      await moto.close();
    }
  },
};

interface ExportAudit {
  accepted: number;
  reflected: number;
  lost: number;
  doubled: number;
  retried: number;
  violations: string[];
}

/**
 * Every conversation whose CLOSED was accepted must have started one export, which must have
 * completed and left exactly one object: its own conversation id and chain, every accepted write by
 * name (a secured one as ciphertext, never its value). Objects of conversations the drill never
 * closed are extra.
 */
async function auditExports(stack: Stack, ledger: Ledger, s3: S3Client, cut: Set<string>, log: (line: string) => void): Promise<ExportAudit> {
  const out: ExportAudit = { accepted: 0, reflected: 0, lost: 0, doubled: 0, retried: 0, violations: [] };
  const deadline = Date.now() + 180_000;
  // The standard conversation's fourth event is its CLOSED.
  const closed = [...ledger.conversations.values()].filter((c) => c.events.length === 4 && c.events[3].acceptedAttempt !== undefined);
  const exportIds = new Map<string, string>();
  await mapLimit(closed, 8, async (c) => {
    const history = await stack.client.workflow.getHandle(workflowIdFor(c.id)).fetchHistory();
    const starts = (await exportStartEvents(stack.payloadClient(), workflowIdFor(c.id))).length;
    if (starts !== 1) out.violations.push(`${c.id}: ${starts} export starts in its history`);
    const firstRunId = history.events?.[0]?.workflowExecutionStartedEventAttributes?.firstExecutionRunId;
    if (!firstRunId || starts === 0) return;
    const exportId = exportWorkflowId(c.id, firstRunId);
    exportIds.set(c.id, exportId);
    let status = 'unknown';
    while (Date.now() < deadline) {
      status = (await stack.client.workflow.getHandle(exportId).describe()).status.name;
      if (status !== 'RUNNING') break;
      await sleep(500);
    }
    if (status !== 'COMPLETED') out.violations.push(`${c.id}: export ${exportId} ended ${status}`);
    const exportEvents = (await stack.client.workflow.getHandle(exportId).fetchHistory()).events ?? [];
    const retried = exportEvents.some((e) => (e.activityTaskStartedEventAttributes?.attempt ?? 1) > 1);
    if (retried) out.retried++;
    else if (cut.has(c.id)) out.violations.push(`${c.id}: its upload was cut by a kill, yet its export completed on the first attempt`);
  });

  const keys = await listKeys(s3, BUCKET, `${PREFIX}/`);
  const byConversation = new Map<string, string[]>();
  for (const key of keys) {
    const conversationId = key.split('/')[4] ?? '';
    byConversation.set(conversationId, [...(byConversation.get(conversationId) ?? []), key]);
  }
  for (const c of closed) {
    out.accepted++;
    const objects = byConversation.get(c.id) ?? [];
    byConversation.delete(c.id);
    if (objects.length === 0) {
      out.lost++;
      continue;
    }
    out.doubled += objects.length - 1;
    const doc = JSON.parse((await readObject(s3, BUCKET, objects[0])).text) as ExportDocument;
    const names = new Map(doc.participantData.map((a) => [a.name, a]));
    const writesThere = c.writes.filter((w) => w.accepted).every((w) => {
      const row = names.get(w.name);
      return row !== undefined && (w.secured ? row.secured && row.value !== w.value : row.value === w.value);
    });
    const exportId = exportIds.get(c.id);
    if (doc.conversationId === c.id && doc.exportId === exportId && objects[0] === `${PREFIX}/${dayOf(doc)}/${c.id}/${exportId}.json` && writesThere) out.reflected++;
    else {
      out.lost++;
      out.violations.push(`${c.id}: its export ${objects[0]} does not hold what the conversation accepted`);
    }
  }
  for (const [conversationId, objects] of byConversation) {
    // A CLOSED the sender never saw confirmed may still have been recorded: its export is truthful.
    if (ledger.conversations.has(conversationId)) continue;
    out.doubled += objects.length;
    out.violations.push(`${objects.length} export object(s) of ${conversationId}, which the drill never closed`);
  }
  log(`exports: ${keys.length} object(s) for ${closed.length} closed conversation(s)`);
  return out;
}

/** `yyyy/mm/dd` of the conversation's close, as the key holds it. */
function dayOf(doc: ExportDocument): string {
  const at = new Date(doc.conversation.closedAt ?? doc.conversation.createdAt);
  return `${at.getUTCFullYear()}/${String(at.getUTCMonth() + 1).padStart(2, '0')}/${String(at.getUTCDate()).padStart(2, '0')}`;
}

/** moto's server (S3) with the drill's bucket, and a client of it; stopped by the drill. */
async function startMotoS3(workDir: string): Promise<{ endpoint: string; s3: S3Client; close(): Promise<void> }> {
  const moto = await startMoto({ logFile: path.join(workDir, 'moto-s3.log'), detached: true });
  const s3 = motoS3Client(moto.endpoint);
  const close = async (): Promise<void> => {
    s3.destroy();
    await moto.close();
  };
  try {
    await createBucket(s3, BUCKET);
  } catch (err) {
    await close();
    throw err;
  }
  return { endpoint: moto.endpoint, s3, close };
}

interface SlowRelay {
  url: string;
  /** Object paths (`/bucket/key`) of the uploads taken and not yet answered. */
  readonly inFlight: Set<string>;
  puts: number;
  preconditionFailed: number;
  close(): Promise<void>;
}

/** HTTP relay in front of moto: each upload waits 0.1–0.4 s before it is forwarded and 0.6–1.5 s before its answer goes back. */
async function startSlowRelay(target: string): Promise<SlowRelay> {
  const upstream = new URL(target);
  const inFlight = new Set<string>();
  const relay: SlowRelay = {
    url: '',
    inFlight,
    puts: 0,
    preconditionFailed: 0,
    close: async () => undefined,
  };
  const server = http.createServer((req, res) => {
    const objectPath = new URL(req.url ?? '/', 'http://relay').pathname;
    const isPut = req.method === 'PUT' && objectPath.endsWith('.json');
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      void (async () => {
        if (isPut) {
          relay.puts++;
          inFlight.add(objectPath);
          res.once('close', () => inFlight.delete(objectPath));
          await sleep(randomBetween(100, 400));
        }
        if (res.destroyed) return;
        const forward = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
          const body: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => body.push(chunk));
          answer.on('end', () => {
            void (async () => {
              if (isPut) {
                if (answer.statusCode === 412) relay.preconditionFailed++;
                // Longer than the way in: most kills land after the object is stored, unanswered.
                await sleep(randomBetween(600, 1_500));
              }
              if (res.destroyed) return;
              res.writeHead(answer.statusCode ?? 502, answer.headers);
              res.end(Buffer.concat(body));
            })();
          });
        });
        forward.on('error', () => res.destroy());
        forward.end(Buffer.concat(chunks));
      })();
    });
  });
  const local = await listenLocally(server);
  relay.url = local.url;
  relay.close = local.close;
  return relay;
}
