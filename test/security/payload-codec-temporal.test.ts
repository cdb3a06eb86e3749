// The codec in a real Worker and Client on the time-skipping test server: which serialization
// context the SDK hands the codec for each kind of payload, and that history holds ciphertext only,
// failure messages included.
import { Client } from '@temporalio/client';
import type { Payload, PayloadCodec, SerializationContext } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { createKeyServices } from '../../src/security/key-services';
import { FAILURE_CONVERTER_PATH, isEncrypted } from '../../src/security/payload-codec';
import { noteSignal, notesQuery, probeWorkflow, setUpdate } from './fixtures/context-probe-workflows';
import { localKeyConfig } from '../../rigs/keys';
import { uniqueId } from '../../rigs/temp';
import { createTimeSkippingEnv } from '../../rigs/time-skipping';

type Seen = { op: 'encode' | 'decode'; count: number; context?: SerializationContext };

/** Records what the SDK passes, then hands over to the real codec. */
class RecordingCodec implements PayloadCodec {
  readonly seen: Seen[] = [];
  constructor(private readonly inner: PayloadCodec) {}
  encode(payloads: Payload[], context?: SerializationContext): Promise<Payload[]> {
    this.seen.push({ op: 'encode', count: payloads.length, context });
    return this.inner.encode(payloads, context);
  }
  decode(payloads: Payload[], context?: SerializationContext): Promise<Payload[]> {
    this.seen.push({ op: 'decode', count: payloads.length, context });
    return this.inner.decode(payloads, context);
  }
}

let env: TestWorkflowEnvironment;

beforeAll(async () => {
  env = await createTimeSkippingEnv();
});

afterAll(async () => {
  await env?.teardown();
});

test('worker and client pass the workflow id to the codec; history holds only ciphertext', async () => {
  const services = createKeyServices(localKeyConfig(), { namespace: env.namespace ?? 'default' });
  const workerCodec = new RecordingCodec(services.codec);
  const clientCodec = new RecordingCodec(services.codec);
  const taskQueue = uniqueId('codec-probe');
  const workflowId = uniqueId('conversation-probe');
  const canary = 'plain-canary-5c7e21';

  const worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace,
    taskQueue,
    workflowsPath: require.resolve('./fixtures/context-probe-workflows'),
    activities: {
      echo: async (value: string) => `echo ${value}`,
      fail: async (message: string) => {
        throw ApplicationFailure.nonRetryable(message, 'ProbeFailure');
      },
    },
    dataConverter: { payloadCodecs: [workerCodec], failureConverterPath: FAILURE_CONVERTER_PATH },
  });
  const client = new Client({
    connection: env.connection,
    namespace: env.namespace,
    dataConverter: { payloadCodecs: [clientCodec], failureConverterPath: FAILURE_CONVERTER_PATH },
  });

  const result = await worker.runUntil(async () => {
    const handle = await client.workflow.signalWithStart(probeWorkflow, {
      workflowId,
      taskQueue,
      args: [`start ${canary}`],
      signal: noteSignal,
      signalArgs: [`note ${canary}`],
    });
    expect(await handle.executeUpdate(setUpdate, { args: [`update ${canary}`] })).toBe(`stored update ${canary}`);
    const done = await handle.result();
    // A query needs the worker: asked before it stops.
    expect(await handle.query(notesQuery)).toContain(`note ${canary}`);
    return done;
  });
  expect(result).toContain(`echo start ${canary}|note ${canary}|update ${canary}`);
  expect(result).toContain('activity failed');

  // Every codec call on either side named this workflow: workflow payloads with a workflow context,
  // activity payloads with an activity context that carries the workflow id.
  const all = [...workerCodec.seen, ...clientCodec.seen].filter((s) => s.count > 0);
  expect(all.length).toBeGreaterThan(0);
  for (const s of all) expect(s.context).toMatchObject({ namespace: env.namespace ?? 'default', workflowId });
  const kinds = new Set(all.map((s) => `${s.op}:${s.context?.type}`));
  expect(kinds).toEqual(new Set(['encode:workflow', 'decode:workflow', 'encode:activity', 'decode:activity']));
  console.log(
    `codec calls with a serialization context: worker ${summary(workerCodec.seen)}; client ${summary(clientCodec.seen)}`,
  );

  // The raw history, not decoded: every payload is ours, no canary, no failure message.
  const raw = await client.workflowService.getWorkflowExecutionHistory({ namespace: env.namespace ?? 'default', execution: { workflowId } });
  const bytes = Buffer.from(temporal.api.history.v1.History.encode(raw.history!).finish());
  expect(bytes.includes(Buffer.from(canary))).toBe(false);
  expect(bytes.includes(Buffer.from('failure note'))).toBe(false);
  const payloads = collectPayloads(raw.history);
  expect(payloads.length).toBeGreaterThan(5);
  expect(payloads.every(isEncrypted)).toBe(true);
});

function summary(seen: Seen[]): string {
  const counts: Record<string, number> = {};
  for (const s of seen.filter((x) => x.count > 0)) {
    const key = `${s.op}/${s.context?.type ?? 'none'}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return JSON.stringify(counts);
}

/** Every Payload message anywhere in a decoded proto object (payloads have `data` and `metadata`). */
function collectPayloads(node: unknown, out: Payload[] = []): Payload[] {
  if (!node || typeof node !== 'object' || node instanceof Uint8Array) return out;
  const record = node as Record<string, unknown>;
  if (record.data instanceof Uint8Array && record.metadata && typeof record.metadata === 'object') {
    out.push(record as Payload);
    return out;
  }
  for (const value of Object.values(record)) {
    if (Array.isArray(value)) value.forEach((v) => collectPayloads(v, out));
    else collectPayloads(value, out);
  }
  return out;
}
