// CRM Workflow Execute through the data action, against a local HTTP CRM that answers 200 at once.
// Each execution is on a conversation of its own (the data action starts it, as a flow does before
// the routing platform's first webhook); a share of the conversations execute a second time with
// the same cacheKey, which the conversation answers from its cache with no CRM call. The floor: the
// same CRM called by a plain HTTP client, one POST per execution, at the same concurrency.
import { performance } from 'node:perf_hooks';
import { workflowIdFor } from '../../src/conversation';
import type { CrmPeer } from '../../rigs/crm-peer';
import { sleep } from '../../rigs/wait';
import { countsPerLevel, levelsFrom, postWebhook, routingEvent, timedPost, type Answer, type PhaseContext } from './phase-context';
import { countError, mapLimit, median, quantiles, ratio, round, type Quantiles } from './stats';

export const CRM_CONFIGURATION = 'bench-crm';
export const CRM_WORKFLOW = 'searchContact';
export const CRM_SECRET_ENV = 'CRM_BENCH_TOKEN';

export const CRM_LEVELS = levelsFrom('BENCH_CRM_LEVELS', '1,20');
/** Conversations per level, each with one execution (plus the repeats). */
export const CRM_EXECUTIONS = countsPerLevel('BENCH_CRM_EXECUTIONS', CRM_LEVELS, (c) => (c === 1 ? 30 : 150));
/** Percent of the conversations that execute again with the same cacheKey (answered from the cache). */
export const CRM_REPEAT_PERCENT = percent('BENCH_CRM_REPEAT_PERCENT', 25);

/** The registry file the API and the worker load (CRM_INTEGRATIONS_FILE), pointing at the peer. */
export function crmRegistry(peerUrl: string): Record<string, unknown> {
  return {
    configurations: {
      [CRM_CONFIGURATION]: {
        baseUrl: peerUrl,
        auth: { header: 'Authorization', scheme: 'Bearer', secretEnv: CRM_SECRET_ENV },
        workflows: [CRM_WORKFLOW],
        defaultTimeoutMs: 6000,
        maxTimeoutMs: 30000,
      },
    },
  };
}

interface Side {
  executions: number;
  seconds: number;
  executionsPerSecond: number;
  latencyMs: Quantiles | undefined;
  errors: Record<string, Record<string, number>>;
}

export interface CrmLevelResult {
  concurrency: number;
  conversations: number;
  parley?: Side & {
    firstLatencyMs?: Quantiles;
    cachedLatencyMs?: Quantiles;
    repeats: number;
    /** Repeats the data action did not answer with `cached: true`. */
    repeatsNotCached: number;
    crmCallsPerExecution: { first?: number; cached?: number };
    /** Median history events of a conversation before its close: with one execution, with a cached repeat too. */
    historyEvents: { oneExecution?: number; withCachedRepeat?: number; perCachedRepeat?: number; conversations: number };
    closed: number;
    terminated: number;
  };
  floor?: Side & { crmCalls: number };
  ratio: { p50?: number; p99?: number; executionsPerSecond?: number };
}

export async function crmPhase(ctx: PhaseContext, peer: CrmPeer, token: string, log: (line: string) => void): Promise<CrmLevelResult[]> {
  const results: CrmLevelResult[] = [];
  for (const [index, concurrency] of CRM_LEVELS.entries()) {
    if (ctx.halted()) break;
    const count = CRM_EXECUTIONS[index];
    const result: CrmLevelResult = { concurrency, conversations: count, ratio: {} };
    if (ctx.systems.includes('floor')) {
      await sleep(ctx.pauseMs);
      result.floor = await direct(ctx, peer, token, concurrency, count, `crm-c${concurrency}-direct`);
      log(`crm level ${concurrency}: direct to the CRM, ${count} calls… ${result.floor.executionsPerSecond} calls/s${errorsText(result.floor.errors)}`);
    }
    if (ctx.systems.includes('parley')) {
      await sleep(ctx.pauseMs);
      result.parley = await throughParley(ctx, peer, concurrency, count, `crm-c${concurrency}`);
      log(`crm level ${concurrency}: Parley, ${count} conversations + ${result.parley.repeats} cached repeats… ${result.parley.executionsPerSecond} executions/s${errorsText(result.parley.errors)}`);
    }
    result.ratio = {
      p50: ratio(result.parley?.firstLatencyMs?.p50, result.floor?.latencyMs?.p50),
      p99: ratio(result.parley?.firstLatencyMs?.p99, result.floor?.latencyMs?.p99),
      executionsPerSecond: ratio(result.parley?.executionsPerSecond, result.floor?.executionsPerSecond),
    };
    results.push(result);
  }
  return results;
}

const repeats = (i: number): boolean => Math.floor(((i + 1) * CRM_REPEAT_PERCENT) / 100) > Math.floor((i * CRM_REPEAT_PERCENT) / 100);
const payloadOf = (i: number) => ({ phone: `+4477009${String(i).padStart(5, '0')}`, fields: ['name', 'tier'] });

/** The floor: the CRM's own request (credential, Idempotency-Key, payload) from a plain client. */
async function direct(ctx: PhaseContext, peer: CrmPeer, token: string, concurrency: number, count: number, label: string): Promise<Side & { crmCalls: number }> {
  const latencies: number[] = [];
  const errors: Record<string, Record<string, number>> = {};
  const calls0 = peer.calls.length;
  const t0 = performance.now();
  await ctx.drive(count, concurrency, async (i) => {
    const a = await timedPost(`${peer.url}/workflows/${CRM_WORKFLOW}/execute`, JSON.stringify(payloadOf(i)), {
      authorization: `Bearer ${token}`,
      'idempotency-key': `bench-${ctx.runId}-${label}-${i}`,
    });
    latencies.push(a.ms);
    if (!a.ok) countError(errors, 'call', a.status);
  });
  const seconds = (performance.now() - t0) / 1000;
  return { executions: latencies.length, seconds: round(seconds, 2), executionsPerSecond: round(latencies.length / seconds, 1), latencyMs: quantiles(latencies), errors, crmCalls: peer.calls.length - calls0 };
}

async function throughParley(ctx: PhaseContext, peer: CrmPeer, concurrency: number, count: number, label: string): Promise<NonNullable<CrmLevelResult['parley']>> {
  const prefix = `bench-${ctx.runId}-${label}-`;
  const ids = Array.from({ length: count }, (_, i) => `${prefix}${i}`);
  const first: number[] = [];
  const cached: number[] = [];
  const errors: Record<string, Record<string, number>> = {};
  const clean: boolean[] = new Array(count).fill(false);
  let repeatsSent = 0;
  let repeatsNotCached = 0;

  const execute = async (i: number, attempt: 'first' | 'repeat'): Promise<Answer> => {
    const body = {
      inputs: { conversationId: ids[i], configurationId: CRM_CONFIGURATION, workflowId: CRM_WORKFLOW, payload: payloadOf(i), cacheKey: `contact-${i}` },
      context: { sessionId: `${ids[i]}-flow` },
      settings: {},
    };
    return timedPost(`${ctx.base}/data-actions/workflow-execute`, JSON.stringify(body), {
      authorization: `Bearer ${ctx.flowToken}`,
      // One key per execution: the CRM's Idempotency-Key names it, so its calls are counted per execution.
      'idempotency-key': `${ids[i]}-${attempt}`,
    });
  };
  const outcomeOf = (a: Answer) => (a.body as { outputs?: { outcome?: string; cached?: boolean } } | undefined)?.outputs;

  const t0 = performance.now();
  await ctx.drive(count, concurrency, async (i) => {
    const a = await execute(i, 'first');
    first.push(a.ms);
    let ok = a.ok && outcomeOf(a)?.outcome === 'Success';
    if (!ok) countError(errors, 'execute', a.ok ? `200 ${outcomeOf(a)?.outcome ?? '?'}` : a.status);
    if (repeats(i)) {
      repeatsSent++;
      const r = await execute(i, 'repeat');
      cached.push(r.ms);
      if (!r.ok) {
        countError(errors, 'repeat', r.status);
        ok = false;
      } else if (outcomeOf(r)?.cached !== true) {
        repeatsNotCached++;
      }
    }
    clean[i] = ok;
  });
  const seconds = (performance.now() - t0) / 1000;

  // CRM calls per execution, by the Idempotency-Key the worker derives from the execution's key.
  const callsFor = (attempt: 'first' | 'repeat') =>
    peer.calls.filter((c) => c.idempotencyKey?.includes(`/workflow-execute:${prefix}`) && c.idempotencyKey.endsWith(`-${attempt}`)).length;
  const firstCalls = callsFor('first');
  const repeatCalls = callsFor('repeat');

  // Histories while the conversations are open: what the executions (and the start) recorded.
  const histories = await mapLimit(ids.map((id, i) => ({ id, i })).filter(({ i }) => clean[i]), 10, async ({ id, i }) => {
    const h = await ctx.chainHistory(workflowIdFor(id)).catch(() => undefined);
    return h && { events: h.events, repeated: repeats(i) };
  });
  const known = histories.filter((h): h is { events: number; repeated: boolean } => h !== undefined);
  const one = known.filter((h) => !h.repeated).map((h) => h.events);
  const two = known.filter((h) => h.repeated).map((h) => h.events);

  // Closed by the routing platform's CLOSED (not timed), so the level ends with nothing left running.
  await mapLimit(ids, 20, async (id) => {
    const a = await postWebhook(ctx, '/webhooks/routing-events', routingEvent(id, 1, 'CLOSED', 'voice'));
    if (!a.ok) countError(errors, 'close', a.status);
  });
  const deadline = Date.now() + ctx.settleTimeoutMs;
  const closed = await mapLimit(ids, 50, (id) => ctx.awaitClosed(workflowIdFor(id), deadline));
  const unclosed = ids.filter((_, i) => !closed[i]);
  await mapLimit(unclosed, 10, (id) => ctx.terminate(workflowIdFor(id), 'bench: not closed within BENCH_SETTLE_TIMEOUT_S'));

  const executions = first.length + cached.length;
  const oneMedian = one.length ? median(one) : undefined;
  const twoMedian = two.length ? median(two) : undefined;
  return {
    executions,
    seconds: round(seconds, 2),
    executionsPerSecond: round(executions / seconds, 1),
    latencyMs: quantiles([...first, ...cached]),
    firstLatencyMs: quantiles(first),
    cachedLatencyMs: quantiles(cached),
    errors,
    repeats: repeatsSent,
    repeatsNotCached,
    crmCallsPerExecution: { first: first.length ? round(firstCalls / first.length, 2) : undefined, cached: cached.length ? round(repeatCalls / cached.length, 2) : undefined },
    historyEvents: {
      oneExecution: oneMedian,
      withCachedRepeat: twoMedian,
      // A conversation's start is a few events of its own; the execution's share is what the start does not explain.
      perCachedRepeat: oneMedian !== undefined && twoMedian !== undefined ? twoMedian - oneMedian : undefined,
      conversations: known.length,
    },
    closed: closed.filter(Boolean).length,
    terminated: unclosed.length,
  };
}

function errorsText(errors: Record<string, Record<string, number>>): string {
  return Object.keys(errors).length ? `, errors ${JSON.stringify(errors)}` : '';
}

function percent(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 100) throw new Error(`${name} must be a whole percent from 0 to 100, got "${raw}"`);
  return n;
}
