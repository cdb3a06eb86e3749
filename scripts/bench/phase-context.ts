// What the capability phases (CRM, digital channels) get from the bench that runs them: the API and
// its credentials, the Temporal connection for reading histories, and the bench's own loop and
// closing rules, so every phase drives, settles and stops the same way the core phase does.
import { performance } from 'node:perf_hooks';
import type { Connection } from '@temporalio/client';
import { signWebhook } from '../../src/security/webhook-signature';

export interface ChainHistory {
  events: number;
  runs: number;
  taskWaitsMs: { normal: number[]; sticky: number[] };
}

export interface PhaseContext {
  /** The API, e.g. http://127.0.0.1:PORT. */
  base: string;
  webhookSecret: string;
  flowToken: string;
  connection: Connection;
  runId: string;
  settleTimeoutMs: number;
  pauseMs: number;
  systems: ReadonlyArray<'floor' | 'parley'>;
  halted(): boolean;
  /** `concurrency` loops, each taking the next item until `count` were driven (stops early when halted). */
  drive(count: number, concurrency: number, one: (i: number) => Promise<void>): Promise<void>;
  awaitClosed(workflowId: string, deadline: number): Promise<boolean>;
  chainHistory(workflowId: string): Promise<ChainHistory>;
  terminate(workflowId: string, reason: string): Promise<void>;
}

export interface Answer {
  /** '200', '503', or 'fetch failed: ECONNRESET'. */
  status: string;
  ok: boolean;
  ms: number;
  body?: unknown;
}

/** One timed POST; never rejects. The body is read (and parsed when JSON) inside the timing, as a caller pays it. */
export async function timedPost(url: string, text: string, headers: Record<string, string>): Promise<Answer> {
  const t0 = performance.now();
  try {
    const res = await fetch(url, { method: 'POST', body: text, headers: { 'content-type': 'application/json', ...headers } });
    const raw = await res.text();
    const ms = performance.now() - t0;
    let body: unknown;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      body = raw;
    }
    return { status: String(res.status), ok: res.status >= 200 && res.status < 300, ms, body };
  } catch (err) {
    const cause = (err as Error & { cause?: { code?: string } }).cause;
    return { status: `fetch failed: ${cause ? String(cause.code ?? cause) : (err as Error).message}`, ok: false, ms: performance.now() - t0 };
  }
}

/** A signed webhook delivery (Standard Webhooks), signed inside the timing as the sender pays it. */
export function postWebhook(ctx: PhaseContext, path: string, body: Record<string, unknown>): Promise<Answer> {
  const text = JSON.stringify(body);
  return timedPost(`${ctx.base}${path}`, text, { ...signWebhook(ctx.webhookSecret, text) });
}

/** A routing event for one of the phases' conversations, in the bench's usual shape. */
export function routingEvent(conversationId: string, n: number, eventType: string, channel: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    eventId: `${conversationId}-e${n}`, eventType, conversationId, taskId: `t-${conversationId}`, channel,
    occurredAt: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(), ...extra,
  };
}

/** BENCH_<NAME>: one count for every level, or one per level; `fallback` gives the default of each level. */
export function countsPerLevel(name: string, levels: number[], fallback: (concurrency: number) => number): number[] {
  const raw = process.env[name];
  if (!raw) return levels.map(fallback);
  const values = raw.split(',').map((s) => Number(s.trim()));
  if (values.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`${name} must list whole numbers ≥ 1, got "${raw}"`);
  if (values.length === 1) return levels.map(() => values[0]);
  if (values.length !== levels.length) throw new Error(`${name} lists ${values.length} counts for ${levels.length} levels`);
  return values;
}

/** BENCH_<NAME>_LEVELS: the concurrency levels, as BENCH_LEVELS lists them. */
export function levelsFrom(name: string, fallback: string): number[] {
  const values = (process.env[name] || fallback).split(',').map((s) => Number(s.trim()));
  if (values.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`${name} must list whole numbers ≥ 1, got "${process.env[name]}"`);
  return values;
}
