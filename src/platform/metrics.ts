// Prometheus metrics for the API and the worker. Labels are route patterns, methods, status codes and
// outcomes only: never a conversation id, an attribute name or value, or anything about a person.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

export interface KmsCallSource {
  counts(): { generateDataKey: number; encrypt: number; decrypt: number; other: number; failed: number };
}

export class ApiMetrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({
    name: 'parley_http_requests_total',
    help: 'HTTP requests answered, by route pattern, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });
  private readonly duration = new Histogram({
    name: 'parley_http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by route pattern, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  constructor(opts: { kmsCalls?: KmsCallSource; openConversations?: () => Promise<number | undefined> } = {}) {
    collectDefaultMetrics({ register: this.registry, prefix: 'parley_api_' });
    const { kmsCalls, openConversations } = opts;
    if (kmsCalls) kmsCallsGauge(this.registry, kmsCalls);
    if (openConversations) {
      new Gauge({
        name: 'parley_open_conversations',
        help: 'Conversations whose workflow is running (Temporal visibility, counted at scrape time)',
        registers: [this.registry],
        async collect() {
          const n = await openConversations();
          if (n !== undefined) this.set(n);
        },
      });
    }
  }

  observe(route: string, method: string, status: number, seconds: number): void {
    const labels = { route, method, status: String(status) };
    this.requests.inc(labels);
    this.duration.observe(labels, seconds);
  }
}

/**
 * already_written: a retried batch the store had applied; conflict: the batch key was stored with
 * other content (the conversation writes the batch under its next key); failed: any other failure.
 */
export type FlushOutcome = 'applied' | 'already_written' | 'conflict' | 'failed';

/** What the flush activity reports; the worker's registry implements it. */
export interface FlushMetrics {
  flushed(outcome: FlushOutcome, attributeCount: number): void;
}

/**
 * written: the object was stored now; already_written: a retry found the same bytes stored (an
 * earlier attempt had written them); conflict: its key holds other content (the export stops, logged
 * with the key); failed: any other failure of an attempt (the sink unreachable, a store read), retried.
 */
export type ExportOutcome = 'written' | 'already_written' | 'conflict' | 'failed';

/** What the export activity reports; the worker's registry implements it. */
export interface ExportMetrics {
  exported(outcome: ExportOutcome): void;
}

/** Registers parley_kms_calls on a registry: the API and the worker each count their own process's calls. */
function kmsCallsGauge(registry: Registry, kmsCalls: KmsCallSource): void {
  new Gauge({
    name: 'parley_kms_calls',
    help: 'KMS calls made by this process since it started, by operation; operation="failed" counts the calls that ended in an error (a counter read from the key services)',
    labelNames: ['operation'] as const,
    registers: [registry],
    collect() {
      for (const [operation, n] of Object.entries(kmsCalls.counts())) this.set({ operation }, n);
    },
  });
}

export class WorkerMetrics implements FlushMetrics, ExportMetrics {
  readonly registry = new Registry();
  private readonly flushes = new Counter({
    name: 'parley_flush_total',
    help: 'Participant-data batch writes, by outcome (already_written: a retried batch the store had applied; conflict: its key held other content)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  private readonly batchSize = new Histogram({
    name: 'parley_flush_batch_attributes',
    help: 'Attributes per written batch',
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500],
    registers: [this.registry],
  });
  private readonly exports = new Counter({
    name: 'parley_export_total',
    help: 'Export attempts of ended conversations, by outcome (already_written: a retry found its object stored; conflict: its key held other content; failed: the attempt failed and is retried)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  constructor(
    status?: () => { inFlightActivities: number; inFlightWorkflowActivations: number; cachedWorkflows: number },
    opts: { kmsCalls?: KmsCallSource } = {},
  ) {
    collectDefaultMetrics({ register: this.registry, prefix: 'parley_worker_' });
    // The worker's own KMS calls: the payload codec's data keys, when the codec key is in KMS.
    if (opts.kmsCalls) kmsCallsGauge(this.registry, opts.kmsCalls);
    if (status) {
      new Gauge({
        name: 'parley_worker_slots',
        help: 'Worker load: in-flight activities and workflow activations, and conversations held in the workflow cache',
        labelNames: ['kind'] as const,
        registers: [this.registry],
        collect() {
          const s = status();
          this.set({ kind: 'in_flight_activities' }, s.inFlightActivities);
          this.set({ kind: 'in_flight_workflow_activations' }, s.inFlightWorkflowActivations);
          this.set({ kind: 'cached_workflows' }, s.cachedWorkflows);
        },
      });
    }
  }

  flushed(outcome: FlushOutcome, attributeCount: number): void {
    this.flushes.inc({ outcome });
    if (outcome === 'applied') this.batchSize.observe(attributeCount);
  }

  exported(outcome: ExportOutcome): void {
    this.exports.inc({ outcome });
  }
}
