// The worker's health endpoint, for orchestrators (Kubernetes probes, the compose healthcheck). A
// worker serves no traffic of its own, so without it a probe could only see that the process lives.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Worker } from '@temporalio/worker';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';

export interface WorkerHealthServer {
  port: number;
  close(): Promise<void>;
}

export interface WorkerHealth {
  status: 'ok' | 'unavailable';
  state: ReturnType<Worker['getState']>;
  taskQueue: string;
  workflowPoller: string;
  activityPoller: string;
  inFlightWorkflowActivations: number;
  inFlightActivities: number;
  cachedWorkflows: number;
}

/**
 * Healthy means taking work: running with both pollers polling. A worker whose Temporal is briefly
 * unreachable stays RUNNING and POLLING (its pollers retry), so a probe does not restart a worker
 * that will recover by itself; a draining or failed worker answers 503.
 */
export function workerHealth(worker: Pick<Worker, 'getStatus' | 'options'>): WorkerHealth {
  const status = worker.getStatus();
  const healthy = status.runState === 'RUNNING' && status.workflowPollerState === 'POLLING' && status.activityPollerState === 'POLLING';
  return {
    status: healthy ? 'ok' : 'unavailable',
    state: status.runState,
    taskQueue: worker.options.taskQueue,
    workflowPoller: status.workflowPollerState,
    activityPoller: status.activityPollerState,
    inFlightWorkflowActivations: status.numInFlightWorkflowActivations,
    inFlightActivities: status.numInFlightActivities,
    cachedWorkflows: status.numCachedWorkflows,
  };
}

export async function startWorkerHealthServer(
  worker: Pick<Worker, 'getStatus' | 'options'>,
  opts: { host: string; port: number; logger: Logger; metrics?: Registry },
): Promise<WorkerHealthServer> {
  const server = http.createServer((request, response) => {
    const send = (code: number, body: unknown): void => {
      response.writeHead(code, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
    };
    const url = new URL(request.url ?? '/', 'http://worker');
    const served = opts.metrics ? ['/healthz', '/metrics'] : ['/healthz'];
    if (!served.includes(url.pathname)) return send(404, { error: 'Not Found', message: `${url.pathname} is not served here; the worker answers GET ${served.join(' and GET ')}` });
    if (request.method !== 'GET' && request.method !== 'HEAD') return send(405, { error: 'Method Not Allowed', message: `GET ${url.pathname}` });
    if (url.pathname === '/metrics' && opts.metrics) {
      const registry = opts.metrics;
      void registry.metrics().then(
        (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (err: unknown) => send(500, { error: 'Internal Server Error', message: err instanceof Error ? err.message : String(err) }),
      );
      return;
    }
    const health = workerHealth(worker);
    send(health.status === 'ok' ? 200 : 503, health);
  });
  // A probe's connection must not hold a draining worker's exit open.
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  opts.logger.info({ host: opts.host, port }, 'worker health endpoint listening');
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
