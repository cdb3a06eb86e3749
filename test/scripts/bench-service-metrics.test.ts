// The bench's reading of the Temporal service's own metrics (scripts/bench/service-metrics.ts), against
// a real dev server started with its metrics port: the series it reads exist under the names the
// server gives them, and a phase's traffic shows up as calls, lock acquisitions and persistence writes.
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { DevServer } from '../../src/platform/dev-server';
import { parseServiceMetrics, scrapeServiceMetrics, servicePhase } from '../../scripts/bench/service-metrics';
import { startHeadlessDevServer } from '../../rigs/dev-server';
import { freePort } from '../../rigs/ports';
import { tempDir, uniqueId } from '../../rigs/temp';

let devServer: DevServer;
let client: Client;
let metricsUrl: string;

beforeAll(async () => {
  const metricsPort = await freePort();
  devServer = await startHeadlessDevServer(path.join(tempDir('bench-service-metrics'), 'temporal.sqlite'), { metricsPort });
  metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  client = new Client({ connection: await Connection.connect({ address: devServer.address }) });
});

afterAll(async () => {
  await client?.connection.close();
  await devServer?.stop();
});

test('a phase of signals-with-start reads as its calls, lock acquisitions and persistence writes', async () => {
  const before = await scrapeServiceMetrics(metricsUrl);
  expect(before).toBeDefined();
  const conversations = 3;
  for (let i = 0; i < conversations; i++) {
    const workflowId = uniqueId(`service-metrics-${i}`);
    // No worker polls this queue: the calls are Temporal's alone, which is what this reads.
    for (let n = 0; n < 2; n++) {
      await client.workflow.signalWithStart('noWorkerWorkflow', { workflowId, taskQueue: uniqueId('no-worker'), args: [], signal: 'event', signalArgs: [n] });
    }
  }
  const after = await scrapeServiceMetrics(metricsUrl);
  expect(after).toBeDefined();
  const phase = servicePhase(before!, after!, conversations);
  expect(phase.calls.SignalWithStartWorkflowExecution?.perConversation).toBe(2);
  expect(phase.calls.SignalWithStartWorkflowExecution?.meanMs).toBeGreaterThan(0);
  expect(phase.calls.UpdateWorkflowExecution).toBeUndefined();
  // Each call on a running workflow takes its lock; each start creates it and each signal writes it.
  expect(phase.locksPerConversation).toBeGreaterThanOrEqual(1);
  expect(phase.lockWaitMs).toBeGreaterThanOrEqual(0);
  expect(phase.lockHoldMs).toBeGreaterThan(0);
  expect(phase.lockFailuresPerConversation).toBe(0);
  // Every write of the shard waits for its persistence slot (none here: nothing else was writing).
  expect(phase.shardIoWaitMs).toBeGreaterThanOrEqual(0);
  expect(phase.persistenceWrites?.perConversation).toBeGreaterThanOrEqual(2);
});

test('an endpoint that does not answer gives no reading rather than zeros', async () => {
  expect(await scrapeServiceMetrics(`http://127.0.0.1:${await freePort()}/metrics`)).toBeUndefined();
  expect(await scrapeServiceMetrics(undefined)).toBeUndefined();
});

test('series are summed over the labels the summary does not split by, and other metrics are left out', () => {
  const snapshot = parseServiceMetrics(
    [
      '# HELP service_latency service_latency histogram',
      'service_latency_count{namespace="default",operation="SignalWorkflowExecution",service_name="frontend"} 4',
      'service_latency_count{namespace="other",operation="SignalWorkflowExecution",service_name="frontend"} 2',
      'service_latency_count{namespace="default",operation="SignalWorkflowExecution",service_name="history"} 6',
      'service_latency_nouserlatency_count{namespace="default",operation="SignalWorkflowExecution",service_name="frontend"} 9',
      'acquire_lock_failed{cache_type="mutablestate",operation="HistoryCacheGetOrCreate",service_name="history"} 3',
      'poll_latency_count{operation="PollWorkflowTaskQueue"} 1',
    ].join('\n'),
  );
  expect(Object.fromEntries(snapshot)).toEqual({
    'service_latency_count|SignalWorkflowExecution|frontend': 6,
    'service_latency_count|SignalWorkflowExecution|history': 6,
    'acquire_lock_failed|HistoryCacheGetOrCreate': 3,
  });
});
