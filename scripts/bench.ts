// `npm run bench`: drives conversations through the real HTTP API into a real Temporal dev server
// and reports webhook/attribute latencies, throughput, and time until every batch is stored.
// Numbers, not assertions: speed goals are read here, never enforced by timed tests.
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker, bundleWorkflowCode } from '@temporalio/worker';
import pino from 'pino';
import { createActivities } from '../activities';
import { buildApi } from '../src/api/server';
import { startDevServer } from '../src/dev-server';
import { DEFAULT_SETTINGS, workflowIdFor } from '../src/shared';
import { SqliteParticipantDataStore } from '../src/store';
import { generateToken } from '../src/security/secrets';
import { generateWebhookSecret, signWebhook } from '../src/security/webhook-signature';
import { createTemporalClient } from '../src/temporal-client';
import { createKeyServices } from '../src/security/key-services';
import { keyConfigFromEnv } from '../src/security/keys';
import { FAILURE_CONVERTER_PATH } from '../src/security/payload-codec';
import fs from 'node:fs';
import os from 'node:os';
import net from 'node:net';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { requireBinary } = require(path.join(__dirname, '..', '..', 'scripts', 'temporal-binaries.js')) as typeof import('./temporal-binaries');

const CONVERSATIONS = Number(process.env.BENCH_CONVERSATIONS ?? 200);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 20);

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-bench-'));
  const logger = pino({ level: 'silent' });
  const devServer = await startDevServer({ cliPath: requireBinary('cli'), dbFile: path.join(dir, 'temporal.sqlite'), port: await freePort(), headless: true });
  const store = new SqliteParticipantDataStore(path.join(dir, 'participant-data.sqlite'));
  await store.init();
  const taskQueue = 'bench';
  // Encrypted like production: a local key file of the bench's own, or the KMS key the environment names.
  // BENCH_DATA_KEY_CACHE=off measures what the data-key cache saves (KMS calls, latency).
  const dataKeyCache = process.env.BENCH_DATA_KEY_CACHE !== 'off';
  const keys = createKeyServices(keyConfigFromEnv({ PARLEY_KEY_FILE: path.join(dir, 'keys.json'), ...process.env }), { namespace: 'default', dataKeyCache });
  const worker = await Worker.create({
    connection: await NativeConnection.connect({ address: devServer.address }),
    taskQueue,
    dataConverter: keys.dataConverter,
    workflowBundle: await bundleWorkflowCode({
      workflowsPath: require.resolve('../workflows'),
      failureConverterPath: FAILURE_CONVERTER_PATH,
      logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} },
    }),
    activities: createActivities({ store, logger }),
  });
  const workerRun = worker.run();
  // Authenticated like production: every webhook signed, every write with a flow token.
  const webhookSecret = generateWebhookSecret();
  const flowToken = generateToken('flow');
  const api = buildApi({
    client: createTemporalClient({ temporalAddress: devServer.address, temporalNamespace: 'default', devServerPort: 0 }, keys.dataConverter),
    store,
    logger,
    // No grace window after CLOSED: "settled" is when the last batch is written, as for the floor.
    config: { taskQueue, temporalRequestTimeoutMs: 30_000, conversation: { ...DEFAULT_SETTINGS, closedGracePeriodMs: 0 } },
    auth: { webhookSecrets: [webhookSecret], tokens: [{ name: 'bench flow', scopes: ['flow'], token: flowToken }] },
    keys,
  });
  await api.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(api.server.address() as net.AddressInfo).port}`;

  // The last write of each conversation is the same card number, secured in every other conversation:
  // the two at the same place in the sequence show what encryption at the edge adds.
  const latencies = { webhook: [] as number[], setAttributes: [] as number[], 'card, plain': [] as number[], 'card, secured': [] as number[] };
  const post = async (kind: keyof typeof latencies, url: string, body: unknown): Promise<void> => {
    const text = JSON.stringify(body);
    const t0 = performance.now();
    // Signing is timed with the request, as a sender pays it; an HMAC costs microseconds.
    const credentials: Record<string, string> = kind === 'webhook' ? { ...signWebhook(webhookSecret, text) } : { authorization: `Bearer ${flowToken}` };
    const res = await fetch(`${base}${url}`, { method: 'POST', body: text, headers: { 'content-type': 'application/json', ...credentials } });
    await res.arrayBuffer();
    latencies[kind].push(performance.now() - t0);
    if (res.status >= 300) throw new Error(`${url} answered ${res.status}`);
  };

  const runId = Date.now().toString(36);
  const conversation = async (i: number): Promise<void> => {
    const id = `bench-${runId}-${i}`;
    let n = 0;
    const ev = (eventType: string, extra: Record<string, unknown> = {}) => ({
      eventId: `${id}-${++n}`, eventType, conversationId: id, taskId: `t-${i}`, channel: 'chat',
      occurredAt: new Date(Date.UTC(2026, 0, 1, 0, n)).toISOString(), ...extra,
    });
    await post('webhook', '/webhooks/routing-events', ev('CREATED', { queue: 'q' }));
    await post('webhook', '/webhooks/routing-events', ev('QUEUED', { queue: 'q', estimatedWaitTime: 60 }));
    await post('setAttributes', `/conversations/${id}/attributes`, { attributes: { intent: 'billing', account: `A-${i}` } });
    await post('webhook', '/webhooks/routing-events', ev('ROUTED', { agentId: `agent-${i % 10}` }));
    await post('setAttributes', `/conversations/${id}/attributes`, { attributes: { notes: 'x'.repeat(200) } });
    await post('setAttributes', `/conversations/${id}/attributes`, { attributes: { intent: 'refund' } });
    const secured = i % 2 === 0;
    const card = { attributes: { card: `4111 1111 1111 ${String(i).padStart(4, '0')}` }, ...(secured ? { secured: true } : {}) };
    await post(secured ? 'card, secured' : 'card, plain', `/conversations/${id}/attributes`, card);
    await post('webhook', '/webhooks/routing-events', ev('CLOSED'));
  };

  const rssBefore = process.memoryUsage().rss;
  const t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < CONVERSATIONS) await conversation(next++);
  }));
  const drivenMs = performance.now() - t0;
  const client = new Client({ connection: await Connection.connect({ address: devServer.address }), dataConverter: keys.dataConverter });
  await Promise.all(Array.from({ length: CONVERSATIONS }, (_, i) => client.workflow.getHandle(workflowIdFor(`bench-${runId}-${i}`)).result()));
  const settledMs = performance.now() - t0;
  const rssAfter = process.memoryUsage().rss;

  const requests = Object.values(latencies).reduce((n, xs) => n + xs.length, 0);
  console.log(`\nParley bench: ${CONVERSATIONS} conversations, ${CONCURRENCY} concurrent, ${requests} HTTP requests (API, worker and dev server on this machine, ${os.cpus().length} cores)\n`);
  console.table(Object.fromEntries(Object.entries(latencies).map(([kind, xs]) => [kind, summary(xs)])));
  console.log(`requests/s while driving:        ${(requests / (drivenMs / 1000)).toFixed(0)}`);
  console.log(`conversations/s end to end:      ${(CONVERSATIONS / (settledMs / 1000)).toFixed(1)} (all closed and their batch stored after ${(settledMs / 1000).toFixed(1)} s)`);
  const kms = keys.kmsCalls.counts();
  console.log(`keys:                            ${keys.describe()}; data-key cache ${dataKeyCache ? 'on' : 'off'}`);
  console.log(`KMS calls per conversation:      ${((kms.generateDataKey + kms.encrypt + kms.decrypt) / CONVERSATIONS).toFixed(2)} (GenerateDataKey ${kms.generateDataKey}, Decrypt ${kms.decrypt}, Encrypt ${kms.encrypt}; API and worker, one process here)`);
  console.log(`bench process RSS:               ${(rssBefore / 2 ** 20).toFixed(0)} MiB -> ${(rssAfter / 2 ** 20).toFixed(0)} MiB (API + worker + load generator)`);

  await api.close();
  worker.shutdown();
  await workerRun;
  await client.connection.close();
  await store.close();
  await devServer.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}

function summary(xs: number[]): Record<string, string> {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))].toFixed(1);
  return { count: String(s.length), 'p50 ms': q(0.5), 'p95 ms': q(0.95), 'p99 ms': q(0.99), 'max ms': s[s.length - 1].toFixed(1) };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
