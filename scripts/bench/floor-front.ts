// The floor's HTTP front for `npm run bench` with BENCH_FLOOR=service: the least service Temporal
// allows with Parley's contract on the wire. The same two routes as Parley's API, driven by the same
// signed webhooks and bearer-token writes, each turned into the floor's one Temporal call
// (signal-with-start, update) on the floor with Parley's features (BENCH_FLOOR=features's workflow).
// It checks the webhook's Standard Webhooks signature and the write's token, as any service on this
// contract must, and nothing else: no schema, no replay cache, no payload codec, no metrics, no log
// line per request. With it the floor has the process Parley's API is, so what separates the two is
// Parley's implementation alone.
import { timingSafeEqual } from 'node:crypto';
import Fastify from 'fastify';
import { Webhook } from 'standardwebhooks';
import { Client, Connection, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import { startSearchAttributes, type RoutingEvent } from '../../src/conversation';
import { floorEventSignal, floorWorkflow, floorWriteUpdate, type FloorEvent, type FloorWrite } from './floor-workflow';

export interface FloorFrontOptions {
  /** 0: any free port. */
  port: number;
  temporalAddress: string;
  namespace?: string;
  taskQueue: string;
  /** The Standard Webhooks secret (`whsec_…`) the routing webhooks are signed with. */
  webhookSecret: string;
  /** The bearer token a write must carry. */
  token: string;
  /** Every Temporal call's deadline, as Parley's API's TEMPORAL_REQUEST_TIMEOUT. */
  timeoutMs: number;
}

export interface FloorFront {
  url: string;
  close(): Promise<void>;
}

export async function startFloorFront(options: FloorFrontOptions): Promise<FloorFront> {
  const webhook = new Webhook(options.webhookSecret);
  const token = Buffer.from(`Bearer ${options.token}`);
  const connection = Connection.lazy({ address: options.temporalAddress });
  const client = new Client({ connection, namespace: options.namespace ?? 'default' });
  const withDeadline = <T>(fn: () => Promise<T>): Promise<T> => client.withDeadline(Date.now() + options.timeoutMs, fn);

  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
  // The signature is over the raw bytes: the body is kept as sent and parsed after the check.
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => done(null, body));

  app.get('/healthz', async () => ({ ok: true }));

  app.post('/webhooks/routing-events', async (req, reply) => {
    let event: FloorEvent;
    try {
      event = webhook.verify(String(req.body ?? ''), req.headers as Record<string, string>) as FloorEvent;
    } catch {
      return reply.code(401).send({ error: 'unauthorized' });
    }
    const workflowId = `floor-${String(event.conversationId)}`;
    try {
      await withDeadline(() =>
        client.workflow.signalWithStart(floorWorkflow, {
          workflowId,
          taskQueue: options.taskQueue,
          args: [{ features: { conversationId: workflowId } }],
          signal: floorEventSignal,
          signalArgs: [event],
          typedSearchAttributes: startSearchAttributes(event as unknown as RoutingEvent),
          workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        }),
      );
      return reply.code(202).send({ accepted: true, workflowId });
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return reply.code(200).send({ accepted: false });
      return reply.code(503).send({ error: 'unavailable' });
    }
  });

  app.post<{ Params: { conversationId: string } }>('/conversations/:conversationId/attributes', async (req, reply) => {
    const presented = Buffer.from(req.headers.authorization ?? '');
    if (presented.length !== token.length || !timingSafeEqual(presented, token)) return reply.code(401).send({ error: 'unauthorized' });
    let write: FloorWrite;
    try {
      write = JSON.parse(String(req.body ?? '')) as FloorWrite;
    } catch {
      return reply.code(400).send({ error: 'not JSON' });
    }
    try {
      const { queued } = await withDeadline(() => client.workflow.getHandle(`floor-${req.params.conversationId}`).executeUpdate(floorWriteUpdate, { args: [write] }));
      return reply.code(200).send({ conversationId: req.params.conversationId, queued });
    } catch {
      return reply.code(503).send({ error: 'not confirmed' });
    }
  });

  await app.listen({ host: '127.0.0.1', port: options.port });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('the floor front is not listening on a TCP port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    async close() {
      await app.close();
      await connection.close();
    },
  };
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required (npm run bench sets it)`);
  return value;
}

/** As the bench starts it: a process of its own, configured by the environment. */
async function main(): Promise<void> {
  const front = await startFloorFront({
    port: Number(required('PORT')),
    temporalAddress: required('TEMPORAL_ADDRESS'),
    namespace: process.env.TEMPORAL_NAMESPACE || 'default',
    taskQueue: required('TEMPORAL_TASK_QUEUE'),
    webhookSecret: required('BENCH_FRONT_WEBHOOK_SECRET'),
    token: required('BENCH_FRONT_TOKEN'),
    timeoutMs: Number(process.env.TEMPORAL_REQUEST_TIMEOUT_MS || 5000),
  });
  const stop = async (): Promise<void> => {
    await front.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
