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

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required (npm run bench sets it)`);
  return value;
}

async function main(): Promise<void> {
  const port = Number(required('PORT'));
  const taskQueue = required('TEMPORAL_TASK_QUEUE');
  const webhook = new Webhook(required('BENCH_FRONT_WEBHOOK_SECRET'));
  const token = Buffer.from(`Bearer ${required('BENCH_FRONT_TOKEN')}`);
  const timeoutMs = Number(process.env.TEMPORAL_REQUEST_TIMEOUT_MS || 5000);
  const connection = Connection.lazy({ address: required('TEMPORAL_ADDRESS') });
  const client = new Client({ connection, namespace: process.env.TEMPORAL_NAMESPACE || 'default' });
  const withDeadline = <T>(fn: () => Promise<T>): Promise<T> => client.withDeadline(Date.now() + timeoutMs, fn);

  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
  // The signature is over the raw bytes: the body is kept as sent and parsed after the check.
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => done(null, body));

  app.get('/healthz', async () => ({ ok: true }));

  app.post('/webhooks/routing-events', async (req, reply) => {
    let event: FloorEvent;
    try {
      event = webhook.verify(req.body as string, req.headers as Record<string, string>) as FloorEvent;
    } catch {
      return reply.code(401).send({ error: 'unauthorized' });
    }
    const conversationId = String(event.conversationId);
    try {
      await withDeadline(() =>
        client.workflow.signalWithStart(floorWorkflow, {
          workflowId: `floor-${conversationId}`,
          taskQueue,
          args: [{ features: { conversationId: `floor-${conversationId}` } }],
          signal: floorEventSignal,
          signalArgs: [event],
          typedSearchAttributes: startSearchAttributes(event as unknown as RoutingEvent),
          workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        }),
      );
      return reply.code(202).send({ accepted: true });
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return reply.code(200).send({ accepted: false });
      return reply.code(503).send({ error: 'unavailable' });
    }
  });

  app.post<{ Params: { conversationId: string } }>('/conversations/:conversationId/attributes', async (req, reply) => {
    const presented = Buffer.from(req.headers.authorization ?? '');
    if (presented.length !== token.length || !timingSafeEqual(presented, token)) return reply.code(401).send({ error: 'unauthorized' });
    const write = JSON.parse(req.body as string) as FloorWrite;
    try {
      const { queued } = await withDeadline(() => client.workflow.getHandle(`floor-${req.params.conversationId}`).executeUpdate(floorWriteUpdate, { args: [write] }));
      return reply.code(200).send({ conversationId: req.params.conversationId, queued });
    } catch {
      return reply.code(503).send({ error: 'not confirmed' });
    }
  });

  await app.listen({ host: '127.0.0.1', port });
  const stop = async (): Promise<void> => {
    await app.close();
    await connection.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
