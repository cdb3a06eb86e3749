// The Temporal service's own view of a phase, from its Prometheus endpoint (the dev server's
// `--metrics-port`, the server's PROMETHEUS_ENDPOINT), read before and after the phase: how long the
// service itself took per request, how long requests waited for a workflow's lock and how long they
// held it, and how many writes it made to its persistence. The API's Server-Timing says how long a
// request spent "in Temporal"; this says where in Temporal.
import { round as r } from './stats';

/** Counters and histograms (their sum and count) summed over label sets that differ only in labels not named in the key. */
export type ServiceSnapshot = Map<string, number>;

/** The client-facing calls a conversation's traffic makes (the frontend's latency: queueing, the workflow's lock, persistence). */
export const SERVICE_CALLS = ['SignalWithStartWorkflowExecution', 'SignalWorkflowExecution', 'UpdateWorkflowExecution', 'RespondWorkflowTaskCompleted'] as const;

export interface ServicePhase {
  /** Per call: how many per conversation, and the service's mean time for one. */
  calls: Partial<Record<(typeof SERVICE_CALLS)[number], { perConversation: number; meanMs: number }>>;
  /** Mean wait for a workflow's lock (history's mutable-state cache, HistoryCacheGetOrCreate), per acquisition. */
  lockWaitMs?: number;
  /** Mean time the lock was then held, per acquisition. */
  lockHoldMs?: number;
  /** Lock acquisitions per conversation. */
  locksPerConversation?: number;
  /** Acquisitions given up because the lock stayed busy (the task is retried later), per conversation. */
  lockFailuresPerConversation?: number;
  /**
   * Mean wait for the shard's persistence slot (`semaphore_latency{operation="ShardInfo"}`): every
   * write of every workflow on a history shard passes one at a time (`history.shardIOConcurrency`,
   * 1 by default), holding its workflow's lock while it waits.
   */
  shardIoWaitMs?: number;
  /** Writes of a workflow's state to persistence (UpdateWorkflowExecution, CreateWorkflowExecution) per conversation, and their mean time. */
  persistenceWrites?: { perConversation: number; meanMs: number };
}

/** One series' key: the metric, its `operation` and, for service_latency, its `service_name`. */
const keyOf = (metric: string, labels: string): string | undefined => {
  const operation = /(?:^|,)operation="([^"]*)"/.exec(labels)?.[1];
  if (operation === undefined) return undefined;
  const service = metric.startsWith('service_latency') ? /(?:^|,)service_name="([^"]*)"/.exec(labels)?.[1] : undefined;
  return service ? `${metric}|${operation}|${service}` : `${metric}|${operation}`;
};

const WANTED = /^(service_latency_(?:sum|count)|cache_latency_(?:sum|count)|history_workflow_execution_cache_lock_hold_duration_(?:sum|count)|acquire_lock_failed|persistence_latency_(?:sum|count)|semaphore_latency_(?:sum|count))\{(.*)\} (\S+)$/;

/** Parses the Prometheus text format, keeping only the series this summary reads. */
export function parseServiceMetrics(text: string): ServiceSnapshot {
  const out: ServiceSnapshot = new Map();
  for (const line of text.split('\n')) {
    const m = WANTED.exec(line);
    if (!m) continue;
    const key = keyOf(m[1], m[2]);
    const value = Number(m[3]);
    if (key === undefined || !Number.isFinite(value)) continue;
    out.set(key, (out.get(key) ?? 0) + value);
  }
  return out;
}

/** The snapshot now, or undefined when the endpoint does not answer (the summary is then left out, not guessed). */
export async function scrapeServiceMetrics(url: string | undefined): Promise<ServiceSnapshot | undefined> {
  if (!url) return undefined;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    if (!res.ok) return undefined;
    return parseServiceMetrics(await res.text());
  } catch {
    return undefined;
  }
}

/** What changed between two snapshots, per conversation of the phase. Histograms' sums are in seconds. */
export function servicePhase(before: ServiceSnapshot, after: ServiceSnapshot, conversations: number): ServicePhase {
  const delta = (key: string): number => (after.get(key) ?? 0) - (before.get(key) ?? 0);
  const histogram = (prefix: string, suffix: string): { count: number; sumSeconds: number } => ({
    count: delta(`${prefix}_count|${suffix}`),
    sumSeconds: delta(`${prefix}_sum|${suffix}`),
  });
  const calls: ServicePhase['calls'] = {};
  for (const call of SERVICE_CALLS) {
    const h = histogram('service_latency', `${call}|frontend`);
    if (h.count > 0) calls[call] = { perConversation: r(h.count / conversations, 2), meanMs: r((1000 * h.sumSeconds) / h.count) };
  }
  const wait = histogram('cache_latency', 'HistoryCacheGetOrCreate');
  const hold = histogram('history_workflow_execution_cache_lock_hold_duration', 'HistoryCacheGetOrCreate');
  const shardIo = histogram('semaphore_latency', 'ShardInfo');
  const writes = ['UpdateWorkflowExecution', 'CreateWorkflowExecution'].map((op) => histogram('persistence_latency', op));
  const writeCount = writes.reduce((n, h) => n + h.count, 0);
  const writeSeconds = writes.reduce((n, h) => n + h.sumSeconds, 0);
  return {
    calls,
    ...(wait.count > 0 ? { lockWaitMs: r((1000 * wait.sumSeconds) / wait.count), locksPerConversation: r(wait.count / conversations) } : {}),
    ...(hold.count > 0 ? { lockHoldMs: r((1000 * hold.sumSeconds) / hold.count) } : {}),
    ...(shardIo.count > 0 ? { shardIoWaitMs: r((1000 * shardIo.sumSeconds) / shardIo.count) } : {}),
    lockFailuresPerConversation: r(delta('acquire_lock_failed|HistoryCacheGetOrCreate') / conversations, 2),
    ...(writeCount > 0 ? { persistenceWrites: { perConversation: r(writeCount / conversations), meanMs: r((1000 * writeSeconds) / writeCount) } } : {}),
  };
}
