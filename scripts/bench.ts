// `npm run bench`: Parley measured against Temporal's floor, in one run, on one Temporal service (the dev server, or its server on PostgreSQL: BENCH_TARGET).
//
// Parley: conversations driven through the real HTTP API (signed webhooks, a flow token, the payload
// codec) into its worker, both separate processes as in production (`node dist/src/main/api.js`,
// `node dist/src/main/worker.js`). The floor: the same traffic, in the same order, sent by a plain
// Temporal client (no HTTP, no codec) straight to a workflow that only records it — a
// signal-with-start per routing event, an update per attribute write, CLOSED ends it — run by a
// worker process built by the same createParleyWorker. Levels of concurrency run floor then Parley;
// then a phase opens conversations without closing them to see what each open one costs the worker.
// Between the two, the capability phases (scripts/bench/crm-phase.ts, channels-phase.ts) drive CRM
// Workflow Execute and digital-channel traffic against local HTTP peers; BENCH_PHASES picks phases.
// Numbers, not assertions: goals are read here, never enforced by timed tests. It never aborts on a
// failed request (errors are counted by status) and stops everything it started, also on failure.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { Client, Connection, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { bundleWorkflowCode } from '@temporalio/worker';
import { loadConfig } from '../src/config';
import { projectRoot } from '../src/platform/data-dir';
import type { DevServer } from '../src/platform/dev-server';
import { startSearchAttributes, workflowIdFor, type RoutingEvent } from '../src/conversation';
import { loadOrCreateLocalKeys } from '../src/security/keys';
import { workerNodeFlags } from '../src/worker/settings';
import { generateToken } from '../src/security/secrets';
import { generateWebhookSecret, signWebhook } from '../src/security/webhook-signature';
import type { KmsCallCounts } from '../src/security/kms';
import { floorEventSignal, floorWorkflow, floorWriteUpdate } from './bench/floor-workflow';
import { mapLimit, median, quantiles, requestSplit, round, type Quantiles, type RequestSplit } from './bench/stats';
import { CrmPeer } from '../rigs/crm-peer';
import { startHeadlessDevServer } from '../rigs/dev-server';
import { freePort } from '../rigs/ports';
import { sleep } from '../rigs/wait';
import { startBenchChannelPeer, type BenchChannelPeer } from './bench/channel-peer';
import { CHANNELS_CONVERSATIONS, CHANNELS_LEVELS, CHANNELS_MESSAGES, channelsPhase } from './bench/channels-phase';
import { CRM_EXECUTIONS, CRM_LEVELS, CRM_REPEAT_PERCENT, CRM_SECRET_ENV, crmPhase, crmRegistry } from './bench/crm-phase';
import type { PhaseContext } from './bench/phase-context';
import { medianRatio, mergeRounds } from './bench/rounds';
import { KEPT_UP_GROWTH, arrivalOffsetsMs, arrivalRates, arrive, backlogGrowth, keptUpVerdict } from './bench/arrivals';
import { cpuMeter, cpuModel, descendantsOf, ioWritten, loadAverage, measureTogether, peakRssMiB, RssSampler, rssMiB } from './bench/proc';
import { startTemporalService, type TemporalService } from '../rigs/cluster-stack';
import { SERVICE_CALLS, scrapeServiceMetrics, servicePhase, type ServicePhase } from './bench/service-metrics';

// ---------------------------------------------------------------------------------------------
// Settings

/** BENCH_ARRIVALS: open-loop levels, conversations started per second (scripts/bench/arrivals.ts), in place of BENCH_LEVELS' closed-loop ones. */
const ARRIVALS = arrivalRates(process.env.BENCH_ARRIVALS);
/** Concurrent conversations per closed-loop level, or conversations started per second per open-loop level. */
const LEVELS = ARRIVALS ?? list('BENCH_LEVELS', '1,20,100');
/**
 * BENCH_THINK_MS: a pause before each of a conversation's requests but the first, for both systems.
 * At 0 (default) a conversation's requests follow one another at once, so each meets the workflow
 * task its previous one caused; a real conversation's events are seconds to minutes apart.
 */
const THINK_MS = int('BENCH_THINK_MS', 0);
/**
 * CLOSED_GRACE_PERIOD for Parley (`npm start`'s default is 2m): 0 by default, so that a level's
 * conversations complete when their CLOSED is answered, as the floor's do. With the default window
 * each conversation's workflow completes that much later (a timer, its workflow task, and by then
 * usually a replay, its run long evicted from the worker's cache): a level then lasts the window
 * longer, and its CPU per conversation counts the processes' idle time over it.
 */
const CLOSED_GRACE = process.env.BENCH_CLOSED_GRACE?.trim() || '0';
const CONVERSATIONS = conversationsPerLevel();
const OPEN = int('BENCH_OPEN', 1000);
const OPEN_CONCURRENCY = int('BENCH_OPEN_CONCURRENCY', 20);
/** After the open phase: writes to this many earliest- and latest-opened conversations (evicted vs cached). */
const EVICTION_PROBES = int('BENCH_EVICTION_PROBES', 20);
const WARMUP = int('BENCH_WARMUP', 10);
/** How long after the last request a level waits for its conversations to close before terminating them. */
const SETTLE_TIMEOUT_MS = int('BENCH_SETTLE_TIMEOUT_S', 120) * 1000;
const PAUSE_MS = int('BENCH_PAUSE_MS', 2000);
/**
 * Conversations each system opens before the core levels and leaves open through them, as a contact
 * center has calls waiting while new ones come and go: the levels then run against a Temporal store
 * that holds them, and a worker whose cache they passed through.
 */
const BACKGROUND = int('BENCH_BACKGROUND', 0);
/** Each core level run this many times, the two systems taking turns to go first (scripts/bench/rounds.ts). */
const ROUNDS = Math.max(1, int('BENCH_ROUNDS', 1));
/**
 * BENCH_WRITES: how Parley's traffic sends its attribute writes. `update` (default): answered once
 * the conversation applied them, as the floor's update is. `edge`: `Prefer: respond-async`, answered
 * 202 once Temporal recorded them (a signal), applied after; the store is checked either way.
 */
const WRITES = writesMode(process.env.BENCH_WRITES);
/**
 * BENCH_CPU_PROF=<dir>: every Node child (workers, API) writes a V8 CPU profile there when it stops
 * (open them in Chrome DevTools, or summarise with scripts/cpu-profile-summary.js).
 */
const PROFILE_FLAGS = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(process.env.BENCH_CPU_PROF)}`] : [];
/** BENCH_TRACE_FIRST_TASKS=N: after each phase, the histories of the N conversations whose first workflow task waited longest. */
const TRACE_FIRST_TASKS = Number(process.env.BENCH_TRACE_FIRST_TASKS || 0);
/** Requests at least this slow have their conversation's history printed around them (BENCH_TRACE_SLOW_MS=0 turns it off). */
const TRACE_SLOW_MS = int('BENCH_TRACE_SLOW_MS', 2000) || Infinity;
const LOG_LEVEL = process.env.BENCH_LOG_LEVEL || 'warn';
/** BENCH_SYSTEMS=floor (or parley) runs one side only, to look at it alone; ratios then read '–'. */
const SYSTEMS = (process.env.BENCH_SYSTEMS || 'floor,parley').split(',').map((s) => s.trim()).filter((s): s is 'floor' | 'parley' => s === 'floor' || s === 'parley');
/**
 * BENCH_FLOOR: what the floor's workflow records. `plain` (default): the traffic only, the floor the
 * goals are set against. `features`: also what Parley's features record, in the least way Temporal
 * allows (search attributes at the start, ROUTED and CLOSED; an inactivity timer; the store write and
 * export in one local activity at CLOSED: bench/floor-workflow.ts), to show how much of Parley's
 * cost those features are and how much its implementation (API, codec, validation) is. `service`:
 * that workflow behind the least HTTP front (bench/floor-front.ts, a process of its own, counted as
 * the `floor front`), driven over HTTP with the same signed webhooks and token writes as Parley's API,
 * to show how much of Parley's cost any service on its contract pays and how much is Parley's own.
 */
const FLOOR_KIND = floorKind();
/** BENCH_PHASES: which phases run, of core (the levels and the open phase), crm, channels; all by default. */
const PHASE_NAMES = ['core', 'crm', 'channels'] as const;
const PHASES = phaseList();
const OUT = path.resolve(process.env.BENCH_OUT || path.join(projectRoot(), '.data', 'bench-results.json'));
const DIST = path.join(__dirname, '..');
const PROBE = path.join(__dirname, 'bench', 'probe.js');
const NAMESPACE = 'default';
/**
 * BENCH_TARGET: the Temporal service both systems run on. `dev-server` (default): the CLI's dev
 * server, one process on SQLite, as `npm start` runs. `cluster`: Temporal's server built from its
 * Go module on its own PostgreSQL, schema and search attributes set by deploy/'s scripts, as
 * docker-compose.yml runs it (rigs/cluster-stack.ts); its CPU, writes and memory are the server's
 * and PostgreSQL's together.
 */
const TARGET = target();
const PARLEY_QUEUE = 'bench-parley';
const FLOOR_QUEUE = 'bench-floor';

function floorKind(): 'plain' | 'features' | 'service' {
  const raw = (process.env.BENCH_FLOOR || 'plain').trim();
  if (raw !== 'plain' && raw !== 'features' && raw !== 'service') throw new Error(`BENCH_FLOOR is plain, features or service, got "${raw}"`);
  return raw;
}
/** Whether the floor's workflow records Parley's features (with `service` too, behind its HTTP front). */
const FLOOR_FEATURES = FLOOR_KIND !== 'plain';

/** How the report names the floor it measured. */
function floorDescription(kind: string | undefined): string {
  if (kind === 'service') {
    return "the floor AS A SERVICE (BENCH_FLOOR=service: the floor with Parley's features behind the least HTTP front, a process of its own taking the same signed webhooks and token writes as Parley's API, each one Temporal call); the goals are set against the plain floor, so this run's goal lines compare with a floor that records and does more";
  }
  return kind === 'features'
    ? "the floor WITH PARLEY'S FEATURES (BENCH_FLOOR=features: search attributes at the start, ROUTED and CLOSED, an inactivity timer, the store write and export in one local activity at CLOSED); the goals are set against the plain floor, so this run's goal lines compare with a floor that records more"
    : 'the plain floor (a workflow that only records the traffic)';
}

function int(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number, got "${raw}"`);
  return n;
}

function phaseList(): ReadonlyArray<(typeof PHASE_NAMES)[number]> {
  const names = (process.env.BENCH_PHASES || PHASE_NAMES.join(',')).split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !(PHASE_NAMES as readonly string[]).includes(n));
  if (unknown.length || names.length === 0) throw new Error(`BENCH_PHASES lists ${PHASE_NAMES.join(', ')}, got "${process.env.BENCH_PHASES}"`);
  return PHASE_NAMES.filter((n) => names.includes(n));
}

function list(name: string, fallback: string): number[] {
  const values = (process.env[name] || fallback).split(',').map((s) => Number(s.trim()));
  if (values.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`${name} must list whole numbers ≥ 1, got "${process.env[name]}"`);
  return values;
}

/**
 * BENCH_CONVERSATIONS: one number for every level, or one per level; default 50 at 1 concurrent, 200
 * above; at an arrival rate, 30 seconds of arrivals (at least 100).
 */
function conversationsPerLevel(): number[] {
  const raw = process.env.BENCH_CONVERSATIONS;
  if (!raw) return LEVELS.map((c) => (ARRIVALS ? Math.max(100, Math.round(c * 30)) : c === 1 ? 50 : Math.max(200, c * 2)));
  const values = list('BENCH_CONVERSATIONS', raw);
  if (values.length === 1) return LEVELS.map(() => values[0]);
  if (values.length !== LEVELS.length) throw new Error(`BENCH_CONVERSATIONS lists ${values.length} counts for ${LEVELS.length} levels`);
  return values;
}

// ---------------------------------------------------------------------------------------------
// What the bench starts, and stopping it

interface Probe {
  kms: KmsCallCounts;
  memory: NodeJS.MemoryUsage;
}

interface NodeChild {
  name: string;
  pid: number;
  logFile: string;
  running(): boolean;
  exited: Promise<string>;
  /** Its KMS counts and memory; with `gc`, after a full collection (workers run with --expose-gc). */
  probe(gc?: boolean): Promise<Probe | undefined>;
  stop(): Promise<void>;
}

function target(): 'dev-server' | 'cluster' {
  const raw = (process.env.BENCH_TARGET || 'dev-server').trim();
  if (raw !== 'dev-server' && raw !== 'cluster') throw new Error(`BENCH_TARGET must be dev-server or cluster, got "${raw}"`);
  return raw;
}

/** A core level as the report names it: `20` (concurrent) or `8/s` (started per second). */
const levelName = (level: number): string => (ARRIVALS ? `${level}/s` : String(level));

/** How the report names the Temporal service's column. */
const serviceLabel = (t: string | undefined): string => (t === 'cluster' ? 'server+PG' : 'dev server');

const children: NodeChild[] = [];
let devServer: DevServer | undefined;
let temporalService: TemporalService | undefined;
let interrupted = false;
/** A child that exited while the bench still needed it: phases stop early instead of waiting out their timeouts. */
let lostChild: string | undefined;
const halted = (): boolean => interrupted || lostChild !== undefined;

function spawnNode(name: string, entry: string, env: NodeJS.ProcessEnv, logFile: string, nodeFlags: string[] = []): NodeChild {
  const fd = fs.openSync(logFile, 'a');
  // Own process group: a terminal's Ctrl-C reaches only the bench, which then stops each child once
  // (the SDK takes a second signal during a worker's drain as "die now").
  const child: ChildProcess = spawn(process.execPath, [...nodeFlags, ...PROFILE_FLAGS, '-r', PROBE, entry], { cwd: projectRoot(), env, stdio: ['ignore', fd, fd, 'ipc'], detached: true });
  fs.closeSync(fd);
  if (child.pid === undefined) throw new Error(`could not start ${name} (${entry})`);
  const exited = new Promise<string>((resolve) =>
    child.once('exit', (code, signal) => {
      const how = signal ? `signal ${signal}` : `code ${code}`;
      if (!stopping && !lostChild) {
        lostChild = name;
        console.error(`\n${name} exited (${how}) during the bench; see ${logFile}`);
      }
      resolve(how);
    }),
  );
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  let probes = 0;
  const handle: NodeChild = {
    name,
    pid: child.pid,
    logFile,
    running,
    exited,
    probe: (gc = false) =>
      new Promise((resolve) => {
        if (!running() || !child.connected) return resolve(undefined);
        const id = ++probes;
        const timer = setTimeout(() => {
          child.off('message', onMessage);
          resolve(undefined);
        }, 10_000);
        const onMessage = (message: unknown): void => {
          if ((message as { probe?: number }).probe !== id) return;
          clearTimeout(timer);
          child.off('message', onMessage);
          resolve(message as Probe);
        };
        child.on('message', onMessage);
        child.send({ probe: id, gc }, (err) => err && resolve(undefined));
      }),
    async stop() {
      if (!running()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
  children.push(handle);
  return handle;
}

/** The in-process peers (CRM, channel gateway) the capability phases started: closed once the workers are stopped. */
const peers: { name: string; close(): Promise<void> }[] = [];

let stopping: Promise<void> | undefined;
/** API first, then the workers (they drain), then the peers and the dev server. Safe to call more than once. */
function stopEverything(dir?: string): Promise<void> {
  stopping ??= (async () => {
    const byName = (n: string) => children.filter((c) => c.name === n);
    for (const group of [byName('api'), children.filter((c) => c.name !== 'api')]) {
      await Promise.all(group.map((c) => c.stop().catch((err) => console.error(`stopping ${c.name}: ${String(err)}`))));
    }
    await Promise.all(peers.map((p) => p.close().catch((err) => console.error(`stopping the ${p.name}: ${String(err)}`))));
    await devServer?.stop().catch((err) => console.error(`stopping the dev server: ${String(err)}`));
    await temporalService?.stop();
    if (dir && !process.env.BENCH_KEEP) fs.rmSync(dir, { recursive: true, force: true });
  })();
  return stopping;
}

// Whatever happens to the bench, no child is left running.
process.once('exit', () => {
  for (const c of children) if (c.running()) process.kill(c.pid, 'SIGKILL');
  if (devServer?.process.exitCode === null) devServer.process.kill('SIGKILL');
  for (const pid of [temporalService?.temporal.pid, temporalService?.postgres.pid]) {
    try {
      if (pid !== undefined) process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
});

// ---------------------------------------------------------------------------------------------
// Traffic: one script, two senders

type Kind = 'event' | 'write' | 'card, plain' | 'card, secured';

interface Sender {
  system: 'parley' | 'floor';
  workflowId(conversationId: string): string;
  /**
   * Resolves with the answer's status ('202', '200', 'OK', …), whether it counts as success and,
   * from Parley's Server-Timing header, where the API spent its time; never rejects.
   */
  event(event: Record<string, unknown>): Promise<Answer>;
  write(conversationId: string, body: { attributes: Record<string, string>; secured?: boolean }): Promise<Answer>;
}

type Answer = [status: string, ok: boolean, timing?: ServerTiming];

/** From the API's Server-Timing header (API_SERVER_TIMING=on): ms in the API, and of those in Temporal calls. */
interface ServerTiming {
  app: number;
  temporal: number;
}

function serverTimingOf(header: string | null): ServerTiming | undefined {
  if (!header) return undefined;
  const dur = (name: string) => Number(new RegExp(`(?:^|,)\\s*${name};dur=([0-9.]+)`).exec(header)?.[1] ?? NaN);
  const timing = { app: dur('app'), temporal: dur('temporal') };
  return Number.isFinite(timing.app) ? { app: timing.app, temporal: Number.isFinite(timing.temporal) ? timing.temporal : 0 } : undefined;
}

/** Each request as the bench measured it, with the API's own split when it sent one. */
interface TimedRequest {
  ms: number;
  timing?: ServerTiming;
}

class Recorder {
  readonly latencies: Record<Kind, number[]> = { event: [], write: [], 'card, plain': [], 'card, secured': [] };
  readonly timed: Record<'event' | 'write', TimedRequest[]> = { event: [], write: [] };
  readonly byEventType: Record<string, number[]> = {};
  readonly errors: Record<string, Record<string, number>> = {};
  /** Writes sent for a `200` (BENCH_WRITES=update) answered `202`: no worker confirmed them in time, and the API kept them at the edge. */
  writesHandedOver = 0;
  /** Writes slower than BENCH_TRACE_SLOW_MS, with when they were sent: their histories show where the time went. */
  readonly slow: SlowRequest[] = [];

  /** `eventType`: a webhook's, timed by type too (CREATED starts the workflow, the others reach it running). */
  async time(kind: Kind, send: () => Promise<Answer>, conversationId?: string, eventType?: string): Promise<boolean> {
    const t0 = performance.now();
    const sentAt = Date.now();
    const [status, ok, timing] = await send();
    const ms = performance.now() - t0;
    this.latencies[kind].push(ms);
    this.timed[kind === 'event' ? 'event' : 'write'].push({ ms, timing });
    if (eventType) (this.byEventType[eventType] ??= []).push(ms);
    if (conversationId && ms >= TRACE_SLOW_MS) this.slow.push({ conversationId, kind, sentAt, ms, status });
    if (kind !== 'event' && WRITES === 'update' && status === '202') this.writesHandedOver++;
    if (!ok) {
      const label = kind === 'event' ? 'event' : 'write';
      (this.errors[label] ??= {})[status] = (this.errors[label][status] ?? 0) + 1;
    }
    return ok;
  }

  errorCount(): number {
    return Object.values(this.errors).reduce((n, byStatus) => n + Object.values(byStatus).reduce((a, b) => a + b, 0), 0);
  }
}

function routingEvent(conversationId: string, i: number, n: number, eventType: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    eventId: `${conversationId}-${n}`, eventType, conversationId, taskId: `t-${i}`, channel: 'chat',
    occurredAt: new Date(Date.UTC(2026, 0, 1, 0, n)).toISOString(), ...extra,
  };
}

/**
 * One conversation, as the bench has always driven it: CREATED, QUEUED, a write, ROUTED, two writes,
 * a card-number write (secured in every other conversation) and CLOSED. A failed request is counted
 * and the script goes on.
 */
async function conversation(sender: Sender, rec: Recorder, id: string, i: number): Promise<boolean> {
  let n = 0;
  let clean = true;
  const ev = (type: string, extra?: Record<string, unknown>) => routingEvent(id, i, ++n, type, extra);
  let first = true;
  const step = async (kind: Kind, send: () => Promise<Answer>, eventType?: string) => {
    if (THINK_MS > 0 && !first) await sleep(THINK_MS);
    first = false;
    if (!(await rec.time(kind, send, id, eventType))) clean = false;
  };
  const event = (type: string, extra?: Record<string, unknown>) => step('event', () => sender.event(ev(type, extra)), type);
  await event('CREATED', { queue: 'q' });
  await event('QUEUED', { queue: 'q', estimatedWaitTime: 60 });
  await step('write', () => sender.write(id, { attributes: { intent: 'billing', account: `A-${i}` } }));
  await event('ROUTED', { agentId: `agent-${i % 10}` });
  await step('write', () => sender.write(id, { attributes: { notes: 'x'.repeat(200) } }));
  await step('write', () => sender.write(id, { attributes: { intent: 'refund' } }));
  const secured = i % 2 === 0;
  const card = { attributes: { card: `4111 1111 1111 ${String(i).padStart(4, '0')}` }, ...(secured ? { secured: true } : {}) };
  await step(secured ? 'card, secured' : 'card, plain', () => sender.write(id, card));
  await event('CLOSED');
  return clean;
}

/**
 * What an eviction costs: one more write, one at a time, to the earliest-opened conversations (past
 * the worker's cache size, evicted: their next task replays the history on the normal task queue) and
 * to the latest-opened ones (still cached: sticky queue). Timings: read them on a quiet machine only.
 */
async function evictionCost(sender: Sender, prefix: string): Promise<{ evictionProbe?: { conversations: number; earliestWriteMs?: Quantiles; latestWriteMs?: Quantiles } }> {
  const n = Math.min(EVICTION_PROBES, Math.floor(OPEN / 2));
  if (n === 0) return {};
  const timed = async (i: number): Promise<number> => {
    const t0 = performance.now();
    await sender.write(`${prefix}-${i}`, { attributes: { probe: 'after-open' } });
    return performance.now() - t0;
  };
  const earliest: number[] = [];
  const latest: number[] = [];
  for (let k = 0; k < n; k++) {
    earliest.push(await timed(k));
    latest.push(await timed(OPEN - 1 - k));
  }
  return { evictionProbe: { conversations: n, earliestWriteMs: quantiles(earliest), latestWriteMs: quantiles(latest) } };
}

/** Left open: CREATED and one write. */
async function openConversation(sender: Sender, rec: Recorder, id: string, i: number): Promise<void> {
  await rec.time('event', () => sender.event(routingEvent(id, i, 1, 'CREATED', { queue: 'q' })));
  await rec.time('write', () => sender.write(id, { attributes: { intent: 'billing', account: `A-${i}` } }));
}

function writesMode(raw: string | undefined): 'update' | 'edge' {
  const mode = (raw || 'update').trim();
  if (mode !== 'update' && mode !== 'edge') throw new Error(`BENCH_WRITES must be update or edge, got "${raw}"`);
  return mode;
}

function httpSender(base: string, webhookSecret: string, flowToken: string, system: Sender['system'] = 'parley', workflowId: Sender['workflowId'] = workflowIdFor): Sender {
  const writeHeaders = { authorization: `Bearer ${flowToken}`, ...(WRITES === 'edge' ? { prefer: 'respond-async' } : {}) };
  const post = async (url: string, text: string, credentials: Record<string, string>): Promise<Answer> => {
    try {
      const res = await fetch(`${base}${url}`, { method: 'POST', body: text, headers: { 'content-type': 'application/json', ...credentials } });
      await res.arrayBuffer();
      return [String(res.status), res.status >= 200 && res.status < 300, serverTimingOf(res.headers.get('server-timing'))];
    } catch (err) {
      return [`fetch failed: ${(err as Error).cause ? String((err as Error & { cause: { code?: string } }).cause.code ?? (err as Error).cause) : (err as Error).message}`, false];
    }
  };
  return {
    system,
    workflowId,
    event(event) {
      const text = JSON.stringify(event);
      // Signing is timed with the request, as a sender pays it; an HMAC costs microseconds.
      return post('/webhooks/routing-events', text, { ...signWebhook(webhookSecret, text) });
    },
    write(conversationId, body) {
      return post(`/conversations/${encodeURIComponent(conversationId)}/attributes`, JSON.stringify(body), writeHeaders);
    },
  };
}

function floorSender(client: Client, timeoutMs: number): Sender {
  const workflowId = (conversationId: string) => `floor-${conversationId}`;
  // The API's own rule for every Temporal call: a deadline of TEMPORAL_REQUEST_TIMEOUT.
  const call = async (fn: () => Promise<unknown>): Promise<Answer> => {
    try {
      await client.withDeadline(Date.now() + timeoutMs, fn);
      return ['OK', true];
    } catch (err) {
      return [grpcStatusOf(err), false];
    }
  };
  return {
    system: 'floor',
    workflowId,
    event: (event) =>
      call(() =>
        client.workflow.signalWithStart(floorWorkflow, {
          workflowId: workflowId(event.conversationId as string),
          taskQueue: FLOOR_QUEUE,
          args: FLOOR_FEATURES ? [{ features: { conversationId: `floor-${event.conversationId as string}` } }] : [],
          signal: floorEventSignal,
          signalArgs: [event as { eventId: string; eventType: string }],
          // As Parley's API gives them: taken only when the event starts the workflow.
          ...(FLOOR_FEATURES ? { typedSearchAttributes: startSearchAttributes(event as unknown as RoutingEvent) } : {}),
          workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        }),
      ),
    write: (conversationId, body) => call(() => client.workflow.getHandle(workflowId(conversationId)).executeUpdate(floorWriteUpdate, { args: [body] })),
  };
}

const GRPC_CODES = ['OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED'];

function grpcStatusOf(err: unknown): string {
  if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) return 'update timed out';
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'number' && GRPC_CODES[code]) return GRPC_CODES[code];
  }
  return (err as Error)?.name ?? 'error';
}

/** `concurrency` loops, each taking the next conversation until `count` were driven. */
async function drive(count: number, concurrency: number, one: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count && !halted()) await one(next++);
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Closing and histories, read from Temporal itself (no codec needed: only event ids and types)

const { HistoryEventFilterType } = temporal.api.enums.v1;

/** Resolves once the conversation's chain has closed for good (not continued-as-new), or the deadline passed. */
async function awaitClosed(connection: Connection, workflowId: string, deadline: number): Promise<boolean> {
  let nextPageToken: Uint8Array | undefined;
  while (Date.now() < deadline && !halted()) {
    try {
      const res = await connection.withDeadline(Math.min(deadline, Date.now() + 30_000), () =>
        connection.workflowService.getWorkflowExecutionHistory({
          namespace: NAMESPACE,
          execution: { workflowId },
          waitNewEvent: true,
          historyEventFilterType: HistoryEventFilterType.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT,
          nextPageToken,
        }),
      );
      const last = res.history?.events?.at(-1);
      if (last) {
        if (!last.workflowExecutionContinuedAsNewEventAttributes) return true;
        nextPageToken = undefined;
      } else {
        nextPageToken = res.nextPageToken?.length ? res.nextPageToken : undefined;
      }
    } catch (err) {
      if (Date.now() >= deadline) return false;
      const status = grpcStatusOf(err);
      // A long poll that outlived its own deadline: ask again. Anything else: pause, ask again.
      if (status !== 'DEADLINE_EXCEEDED') await sleep(500);
    }
  }
  return false;
}

interface ChainHistory {
  events: number;
  runs: number;
  /** How long each workflow task waited between scheduled and started (its schedule-to-start), by queue kind. */
  taskWaitsMs: { normal: number[]; sticky: number[] };
  /** When the chain's first run started (ms since the epoch). */
  startedAt?: number;
}

const { TaskQueueKind } = temporal.api.enums.v1;
const millis = (t?: { seconds?: unknown; nanos?: number | null } | null): number => (t ? Number(t.seconds ?? 0) * 1000 + (t.nanos ?? 0) / 1e6 : NaN);

/**
 * Every run of the conversation's chain (following continue-as-new from the first run): history
 * events, runs, and each workflow task's wait in its task queue — the sticky queue of the worker
 * that holds the conversation, or the normal queue (a new conversation's first task, or after a
 * sticky timeout or eviction).
 */
async function chainHistory(connection: Connection, workflowId: string): Promise<ChainHistory> {
  const svc = connection.workflowService;
  const { workflowExecutionInfo: info } = await svc.describeWorkflowExecution({ namespace: NAMESPACE, execution: { workflowId } });
  const out: ChainHistory = { events: 0, runs: 0, taskWaitsMs: { normal: [], sticky: [] } };
  for (let runId: string | undefined = info?.firstRunId || info?.execution?.runId || undefined; runId; out.runs++) {
    const scheduled = new Map<string, { at: number; sticky: boolean }>();
    let nextPageToken: Uint8Array | undefined;
    let last: temporal.api.history.v1.IHistoryEvent | undefined;
    do {
      const res = await svc.getWorkflowExecutionHistory({ namespace: NAMESPACE, execution: { workflowId, runId }, nextPageToken });
      for (const event of res.history?.events ?? []) {
        out.events++;
        out.startedAt ??= millis(event.eventTime);
        last = event;
        if (event.workflowTaskScheduledEventAttributes) {
          scheduled.set(String(event.eventId), { at: millis(event.eventTime), sticky: event.workflowTaskScheduledEventAttributes.taskQueue?.kind === TaskQueueKind.TASK_QUEUE_KIND_STICKY });
        } else if (event.workflowTaskStartedEventAttributes) {
          const task = scheduled.get(String(event.workflowTaskStartedEventAttributes.scheduledEventId));
          if (task) out.taskWaitsMs[task.sticky ? 'sticky' : 'normal'].push(millis(event.eventTime) - task.at);
        }
      }
      nextPageToken = res.nextPageToken?.length ? res.nextPageToken : undefined;
    } while (nextPageToken);
    runId = last?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  return out;
}

interface SlowRequest {
  conversationId: string;
  kind: Kind;
  sentAt: number;
  ms: number;
  status: string;
}

/**
 * Where a slow request's time went: its conversation's history events from a second before it was
 * sent to a second after it was answered, each at its offset from the send (ms), with the task queue
 * kind of workflow tasks and the failure cause of a failed one.
 */
async function slowRequestTimeline(connection: Connection, workflowId: string, slow: SlowRequest): Promise<string[]> {
  const svc = connection.workflowService;
  const { workflowExecutionInfo: info } = await svc.describeWorkflowExecution({ namespace: NAMESPACE, execution: { workflowId } });
  const lines: string[] = [];
  for (let runId: string | undefined = info?.firstRunId || info?.execution?.runId || undefined; runId; ) {
    let nextPageToken: Uint8Array | undefined;
    let last: temporal.api.history.v1.IHistoryEvent | undefined;
    do {
      const res = await svc.getWorkflowExecutionHistory({ namespace: NAMESPACE, execution: { workflowId, runId }, nextPageToken });
      for (const event of res.history?.events ?? []) {
        last = event;
        const at = millis(event.eventTime) - slow.sentAt;
        if (at < -1000 || at > slow.ms + 1000) continue;
        const type = temporal.api.enums.v1.EventType[event.eventType ?? 0]?.replace(/^EVENT_TYPE_/, '') ?? String(event.eventType);
        const queue = event.workflowTaskScheduledEventAttributes?.taskQueue?.kind === TaskQueueKind.TASK_QUEUE_KIND_STICKY ? ' (sticky)' : '';
        const failed = event.workflowTaskFailedEventAttributes ? ` cause=${temporal.api.enums.v1.WorkflowTaskFailedCause[event.workflowTaskFailedEventAttributes.cause ?? 0]}` : '';
        const timedOut = event.workflowTaskTimedOutEventAttributes ? ` timeout=${temporal.api.enums.v1.TimeoutType[event.workflowTaskTimedOutEventAttributes.timeoutType ?? 0]}` : '';
        lines.push(`    ${String(Math.round(at)).padStart(6)} ms  #${event.eventId} ${type}${queue}${failed}${timedOut}`);
      }
      nextPageToken = res.nextPageToken?.length ? res.nextPageToken : undefined;
    } while (nextPageToken);
    runId = last?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  return lines;
}

// ---------------------------------------------------------------------------------------------
// Figures

/**
 * Each system's own processes, as the load goal counts them: Parley is what `npm start` runs (the
 * Temporal service, the worker, the API); the floor is the Temporal service with its worker and the
 * process that makes its Temporal calls — the bench's own for the plain floor and the floor with
 * features (their client is the load generator), the floor front for the floor as a service. Parley's
 * load generator is its caller (the routing platform and the flows), not Parley, as the service's
 * is not the service's.
 */
function systemProcesses(system: 'parley' | 'floor', floor: 'plain' | 'features' | 'service'): string[] {
  if (system === 'parley') return ['temporal', 'parley worker', 'api'];
  return floor === 'service' ? ['temporal', 'floor worker', 'floor front'] : ['temporal', 'floor worker', 'bench (load)'];
}

/** Per process; `own` is the system's own processes ({@link systemProcesses}), `total` every process the bench watched, the load generator's included. */
function cpuPerConversation(cores: Record<string, number>, seconds: number, count: number, own: string[]): Record<string, number> {
  const per = Object.fromEntries(Object.entries(cores).filter(([k]) => k !== 'machine' && k !== 'others' && k !== 'iowait').map(([k, v]) => [k, (v * seconds) / count]));
  const sum = (names: string[]) => names.reduce((a, n) => a + (per[n] ?? 0), 0);
  return Object.fromEntries(Object.entries({ ...per, own: sum(own), total: sum(Object.keys(per)) }).map(([k, v]) => [k, round(v, 3)]));
}

/** Least-squares slope of y over x. */
function slope(points: [number, number][]): number {
  const n = points.length;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  const sxx = points.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  return sxx === 0 ? NaN : points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0) / sxx;
}

interface PhaseResult {
  system: 'parley' | 'floor';
  /** A closed-loop level's conversations in progress at once. */
  concurrency?: number;
  /** An open-loop level's conversations started per second, with the most that were in progress at once, and how many the bench itself started more than 50 ms late. */
  arrivalsPerSecond?: number;
  inFlightMax?: number;
  startedLate?: number;
  /** An open-loop level's conversation time in the last fifth of arrivals over the first fifth's (medians): about 1 when the system kept up. */
  backlogGrowth?: number;
  /** From a conversation's first request sent to its last answered (CLOSED). */
  conversationMs?: Quantiles;
  conversations: number;
  closed: number;
  /** Not closed within BENCH_SETTLE_TIMEOUT_S after the last request: terminated, so the next level starts clean. */
  terminated: number;
  drivenSeconds: number;
  settledSeconds: number;
  conversationsPerSecond: number;
  requestsPerSecond: number;
  latencyMs: Record<string, Quantiles | undefined>;
  /** Webhooks by event type: CREATED starts the workflow, the others reach it running. */
  eventLatencyMs: Record<string, Quantiles | undefined>;
  /** Parley: where each request's time went, from the API's Server-Timing header. */
  requestSplitMs?: { event?: RequestSplit; write?: RequestSplit };
  errors: Record<string, Record<string, number>>;
  /** Parley, `update` writes: those answered `202` because no worker confirmed them in time (kept at the edge, applied after the answer). */
  writesHandedOver?: number;
  /** Over the conversations whose every request succeeded (a failed write leaves no event), so both sides count the same traffic. */
  historyEvents: { median: number; max: number; maxRuns: number; conversations: number } | undefined;
  /** Workflow tasks' schedule-to-start (same conversations): the normal queue (a new conversation's first task) and the sticky one. */
  workflowTaskWaitMs: { normal: Quantiles | undefined; sticky: Quantiles | undefined };
  /** CPU time each process spent per conversation over the phase (cores × seconds ÷ conversations); `own` is the system's own processes (the goal's figure), `total` every process with the load generator. */
  cpuSecondsPerConversation: Record<string, number>;
  /** The Temporal service's write system calls and bytes sent to storage, per conversation (the dev server's SQLite file and log; or the server's and PostgreSQL's). */
  temporalIo?: { writeCallsPerConversation: number; kibWrittenPerConversation: number };
  /** The Temporal service's own metrics over the phase: its time per call, the workflow lock's waits and holds, its persistence writes. */
  temporalService?: ServicePhase;
  storeBatchesPerConversation?: number;
  /** Parley: conversations whose every request succeeded, and of those how many hold in the store exactly what the traffic last wrote. */
  storedData?: { conversations: number; complete: number };
  kmsCallsPerConversation?: number;
  kmsCalls?: Partial<KmsCallCounts>;
  cpuCores: Record<string, number>;
  peakRssMiB: Record<string, number>;
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = new Date();
  const runId = started.getTime().toString(36);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-bench-'));
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (interrupted) return;
      interrupted = true;
      console.error(`\n${signal}: stopping the API, the workers and the dev server…`);
      void stopEverything(dir).finally(() => process.exit(130));
    });
  }
  let failure: unknown;
  try {
    await run(dir, runId, started);
  } catch (err) {
    failure = err;
  } finally {
    await stopEverything(dir);
  }
  if (failure) {
    console.error(failure);
    if (process.env.BENCH_KEEP) console.error(`logs kept in ${dir}`);
    process.exitCode = 1;
  }
  // A connection or timer left open by a failed phase must not keep the bench alive once all is stopped.
  process.exit();
}

async function run(dir: string, runId: string, started: Date): Promise<void> {
  // Keys: a fresh local key file of the bench's own (made below, once, before worker and API race for
  // it), or the KMS key the environment names.
  const baseEnv: NodeJS.ProcessEnv = { PARLEY_KEY_FILE: path.join(dir, 'keys.json'), ...process.env };
  const config = loadConfig(baseEnv, ['keys']);
  const { keys } = config;
  const requestTimeoutMs = config.temporalRequestTimeoutMs;
  const core = PHASES.includes('core');
  console.log(`bench: phases ${PHASES.join(', ')}${core ? `; levels ${ARRIVALS ? `${LEVELS.join(', ')} conversations started per second` : `${LEVELS.join(', ')} concurrent`} (${CONVERSATIONS.join(', ')} conversations), ${OPEN} left open` : ''}; work folder ${dir}`);

  // The floor's bundle is built here, so neither worker runs webpack: Parley's worker loads the
  // bundle `npm run build` made, as `npm start` does.
  const floorBundle = path.join(dir, 'floor-bundle.js');
  const parleyBundle = path.join(DIST, 'workflow-bundle.js');
  if (!fs.existsSync(parleyBundle)) throw new Error(`${parleyBundle} is missing: run \`npm run build\``);
  // Its workflow module preloaded as Parley's are (src/worker/workflow-bundle.ts), so the bundles
  // differ in their workflows only.
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('./bench/floor-workflow'),
    preloadModules: [require.resolve('./bench/floor-workflow')],
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn: (m: string) => console.warn(m), error: (m: string) => console.error(m) },
  });
  fs.writeFileSync(floorBundle, code);

  let temporalAddress: string;
  let temporalPid: number | undefined;
  /** The Temporal service's own Prometheus metrics, read before and after each phase. */
  let serviceMetricsUrl: string | undefined;
  if (TARGET === 'cluster') {
    temporalService = await startTemporalService({ workDir: dir, log: (line) => console.log(line) });
    const pg = temporalService.postgres;
    temporalAddress = temporalService.address;
    temporalPid = temporalService.temporal.pid;
    serviceMetricsUrl = temporalService.metricsUrl;
    // The server and its PostgreSQL (the postmaster and every backend) are measured as one service.
    if (temporalPid !== undefined) measureTogether(temporalPid, () => (pg.pid === undefined ? [] : [pg.pid, ...descendantsOf(pg.pid)]));
  } else {
    const metricsPort = await freePort();
    devServer = await startHeadlessDevServer(path.join(dir, 'temporal.sqlite'), { detached: true, logFile: path.join(dir, 'temporal-server.log'), metricsPort });
    serviceMetricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    temporalAddress = devServer.address;
    temporalPid = devServer.process.pid;
  }
  const connection = await Connection.connect({ address: temporalAddress });
  const client = new Client({ connection, namespace: NAMESPACE });

  const sqlitePath = path.join(dir, 'participant-data.sqlite');
  for (const source of new Set([keys.securedData, keys.codec])) if (source.kind === 'local') loadOrCreateLocalKeys(source.keyFile);
  // BENCH_DATA_KEY_CACHE=off: a data key per message (the processes' own cache settings, from the environment).
  const cacheOff = process.env.BENCH_DATA_KEY_CACHE === 'off' ? { DATA_KEY_CACHE_MAX_MESSAGES: '1' } : {};
  const webhookSecret = generateWebhookSecret();
  const flowToken = generateToken('flow');
  // The capability phases' peers, on 127.0.0.1 and ephemeral ports, started before the worker and
  // the API that are configured to call them; without these phases neither is configured.
  const peerEnv: NodeJS.ProcessEnv = {};
  let crmPeer: CrmPeer | undefined;
  const crmToken = `bench-crm-${randomBytes(18).toString('base64url')}`;
  if (PHASES.includes('crm')) {
    const started = await new CrmPeer().start();
    crmPeer = started;
    peers.push({ name: 'CRM peer', close: () => started.stop() });
    const registryFile = path.join(dir, 'crm-integrations.json');
    fs.writeFileSync(registryFile, JSON.stringify(crmRegistry(started.url), null, 2));
    Object.assign(peerEnv, { CRM_INTEGRATIONS_FILE: registryFile, [CRM_SECRET_ENV]: crmToken });
  }
  let channelPeer: BenchChannelPeer | undefined;
  if (PHASES.includes('channels')) {
    const peerToken = `bench-peer-${randomBytes(18).toString('base64url')}`;
    const started = await startBenchChannelPeer(peerToken);
    channelPeer = started;
    peers.push({ name: 'channel peer', close: () => started.close() });
    Object.assign(peerEnv, { CHANNEL_GATEWAY_URL: started.url, CHANNEL_GATEWAY_TOKEN: peerToken, ROUTING_PLATFORM_URL: started.url, ROUTING_PLATFORM_TOKEN: peerToken });
  }
  const common: NodeJS.ProcessEnv = {
    ...baseEnv,
    ...cacheOff,
    TEMPORAL_ADDRESS: temporalAddress,
    TEMPORAL_NAMESPACE: NAMESPACE,
    PARLEY_DATA_DIR: dir,
    PARLEY_SQLITE_PATH: sqlitePath,
    DATABASE_URL: '',
    LOG_LEVEL: LOG_LEVEL,
    LOG_FORMAT: 'json',
    HOST: '127.0.0.1',
    // Every answer says how long the API and its Temporal calls took: the report splits the tail.
    API_SERVER_TIMING: 'on',
    WORKER_SHUTDOWN_GRACE: '2s',
    WORKFLOW_BUNDLE_PATH: parleyBundle,
    // The bench times conversations to their end; the grace window after CLOSED would add minutes.
    CLOSED_GRACE_PERIOD: CLOSED_GRACE,
    ...peerEnv,
  };
  /** What both workers run with (WORKER_* in the environment, else the defaults), for the report. */
  const childConfig = loadConfig(common);
  const workerEntry = path.join(DIST, 'src', 'main', 'worker.js');
  const parleyHealth = await freePort();
  const floorHealth = await freePort();
  const apiPort = await freePort();
  const parleyWorker = spawnNode('parley worker', workerEntry, { ...common, TEMPORAL_TASK_QUEUE: PARLEY_QUEUE, WORKER_HEALTH_PORT: String(parleyHealth) }, path.join(dir, 'parley-worker.log'), ['--expose-gc', ...workerNodeFlags(common)]);
  const floorWorker = spawnNode('floor worker', path.join(__dirname, 'bench', 'floor-worker.js'), { ...common, TEMPORAL_TASK_QUEUE: FLOOR_QUEUE, WORKER_HEALTH_PORT: String(floorHealth), BENCH_FLOOR_BUNDLE: floorBundle, BENCH_FLOOR: FLOOR_FEATURES ? 'features' : 'plain' }, path.join(dir, 'floor-worker.log'), ['--expose-gc', ...workerNodeFlags(common)]);
  const api = spawnNode('api', path.join(DIST, 'src', 'main', 'api.js'), {
    ...common,
    TEMPORAL_TASK_QUEUE: PARLEY_QUEUE,
    PORT: String(apiPort),
    PARLEY_WEBHOOK_SECRETS: webhookSecret,
    PARLEY_TOKENS: `flow:${flowToken}`,
  }, path.join(dir, 'api.log'));
  const base = `http://127.0.0.1:${apiPort}`;
  await Promise.all([
    waitUntil('the Parley worker to poll', () => healthy(`http://127.0.0.1:${parleyHealth}/healthz`), parleyWorker),
    waitUntil('the floor worker to poll', () => healthy(`http://127.0.0.1:${floorHealth}/healthz`), floorWorker),
    waitUntil('the API to answer', () => healthy(`${base}/healthz`), api),
  ]);
  // BENCH_FLOOR=service: the floor's own HTTP front, taking the same requests as the API.
  let floorFront: { child: NodeChild; base: string } | undefined;
  if (FLOOR_KIND === 'service') {
    const frontPort = await freePort();
    const child = spawnNode('floor front', path.join(__dirname, 'bench', 'floor-front.js'), {
      ...common,
      TEMPORAL_TASK_QUEUE: FLOOR_QUEUE,
      PORT: String(frontPort),
      TEMPORAL_REQUEST_TIMEOUT_MS: String(requestTimeoutMs),
      BENCH_FRONT_WEBHOOK_SECRET: webhookSecret,
      BENCH_FRONT_TOKEN: flowToken,
    }, path.join(dir, 'floor-front.log'));
    const frontBase = `http://127.0.0.1:${frontPort}`;
    await waitUntil('the floor front to answer', () => healthy(`${frontBase}/healthz`), child);
    floorFront = { child, base: frontBase };
  }

  const pids = { temporal: temporalPid, 'parley worker': parleyWorker.pid, 'floor worker': floorWorker.pid, api: api.pid, ...(floorFront ? { 'floor front': floorFront.child.pid } : {}), 'bench (load)': process.pid };
  const sampler = new RssSampler(() => pids);
  const senders = {
    parley: httpSender(base, webhookSecret, flowToken),
    floor: floorFront ? httpSender(floorFront.base, webhookSecret, flowToken, 'floor', (id) => `floor-${id}`) : floorSender(client, requestTimeoutMs),
  };
  const liveChildren = () => {
    const dead = children.filter((c) => !c.running());
    if (dead.length) throw new Error(`${dead.map((c) => c.name).join(', ')} exited; see ${dead.map((c) => c.logFile).join(', ')} (BENCH_KEEP=1 keeps them)`);
  };
  const kmsTotal = async (): Promise<KmsCallCounts> => {
    const probes = await Promise.all([api.probe(), parleyWorker.probe()]);
    const sum: KmsCallCounts = { generateDataKey: 0, encrypt: 0, decrypt: 0, other: 0, failed: 0 };
    for (const p of probes) for (const k of Object.keys(sum) as (keyof KmsCallCounts)[]) sum[k] += p?.kms[k] ?? 0;
    return sum;
  };
  const batchesStored = (prefix: string): number => {
    const db = new Database(sqlitePath, { readonly: true, fileMustExist: true });
    try {
      return (db.prepare(`SELECT COUNT(*) AS n FROM participant_data_batches WHERE conversation_id LIKE ? || '%'`).get(prefix) as { n: number }).n;
    } finally {
      db.close();
    }
  };

  /** Of these conversations, how many hold in the store what the bench's traffic last wrote (`conversation()`), card included. */
  const storedDataComplete = (prefix: string, indexes: number[]): { conversations: number; complete: number } => {
    const db = new Database(sqlitePath, { readonly: true, fileMustExist: true });
    try {
      const rows = db.prepare(`SELECT conversation_id AS id, name, value FROM participant_data WHERE conversation_id LIKE ? || '%'`).all(prefix) as { id: string; name: string; value: string }[];
      const byConversation = new Map<string, Record<string, string>>();
      for (const row of rows) (byConversation.get(row.id) ?? byConversation.set(row.id, {}).get(row.id)!)[row.name] = row.value;
      const complete = indexes.filter((i) => {
        const data = byConversation.get(`${prefix}${i}`) ?? {};
        const card = `4111 1111 1111 ${String(i).padStart(4, '0')}`;
        // A secured card is stored as ciphertext: present and not the plaintext; a plain one as sent.
        const cardOk = i % 2 === 0 ? typeof data.card === 'string' && data.card.length > 0 && data.card !== card : data.card === card;
        return data.intent === 'refund' && data.account === `A-${i}` && data.notes === 'x'.repeat(200) && cardOk;
      }).length;
      return { conversations: indexes.length, complete };
    } finally {
      db.close();
    }
  };

  /** `level`: concurrent conversations, or with BENCH_ARRIVALS conversations started per second (`seed`: the level's schedule, the same for both systems). */
  const phase = async (system: 'parley' | 'floor', level: number, count: number, label: string, seed: number): Promise<PhaseResult> => {
    liveChildren();
    const sender = senders[system];
    const rec = new Recorder();
    const prefix = `bench-${runId}-${label}-`;
    const ids = Array.from({ length: count }, (_, i) => `${prefix}${i}`);
    const kms0 = system === 'parley' ? await kmsTotal() : undefined;
    sampler.takePeaks();
    const cpu = cpuMeter(pids);
    const io0 = ioWritten(pids.temporal ?? -1);
    const service0 = await scrapeServiceMetrics(serviceMetricsUrl);
    const t0 = performance.now();
    const clean: boolean[] = new Array(count).fill(false);
    /** Each conversation's time, by its index: its place in the arrival order. */
    const msByStart: (number | undefined)[] = new Array(count).fill(undefined);
    const one = async (i: number): Promise<void> => {
      const started = performance.now();
      clean[i] = await conversation(sender, rec, ids[i], i);
      msByStart[i] = performance.now() - started;
    };
    const openLoop = ARRIVALS ? await arrive(arrivalOffsetsMs(count, level, seed), one, halted) : undefined;
    if (!ARRIVALS) await drive(count, level, one);
    const drivenMs = performance.now() - t0;
    const deadline = Date.now() + SETTLE_TIMEOUT_MS;
    const closed = await mapLimit(ids, 50, (id) => awaitClosed(connection, sender.workflowId(id), deadline));
    const settledMs = performance.now() - t0;
    const cpuCores = cpu();
    const io1 = ioWritten(pids.temporal ?? -1);
    const service1 = await scrapeServiceMetrics(serviceMetricsUrl);
    const peaks = sampler.takePeaks();
    const unclosed = ids.filter((_, i) => !closed[i]);
    // Left running they would weigh on the next level; terminated, their data is not flushed.
    await mapLimit(unclosed, 10, (id) =>
      connection.workflowService.terminateWorkflowExecution({ namespace: NAMESPACE, workflowExecution: { workflowId: sender.workflowId(id) }, reason: 'bench: not closed within BENCH_SETTLE_TIMEOUT_S' }).catch(() => undefined),
    );
    for (const slow of rec.slow.slice(0, 5)) {
      const timeline = await slowRequestTimeline(connection, sender.workflowId(slow.conversationId), slow).catch((err: unknown) => [`    (history not read: ${(err as Error).message})`]);
      console.log(`\n  slow ${slow.kind} to ${slow.conversationId}: ${Math.round(slow.ms)} ms, answered ${slow.status}; its history around it:\n${timeline.join('\n')}`);
    }
    if (rec.slow.length > 5) console.log(`  (${rec.slow.length - 5} more requests slower than ${TRACE_SLOW_MS} ms)`);
    const histories = await mapLimit(ids.filter((_, i) => closed[i] && clean[i]), 10, (id) => chainHistory(connection, sender.workflowId(id)).catch(() => undefined));
    const known = histories.filter((h): h is ChainHistory => h !== undefined);
    if (TRACE_FIRST_TASKS > 0) {
      const traced = ids.filter((_, i) => closed[i] && clean[i]);
      const longest = traced
        .map((id, k) => ({ id, history: histories[k] }))
        .filter((x): x is { id: string; history: ChainHistory } => x.history?.startedAt !== undefined && x.history.taskWaitsMs.normal.length > 0)
        .sort((x, y) => y.history.taskWaitsMs.normal[0] - x.history.taskWaitsMs.normal[0])
        .slice(0, TRACE_FIRST_TASKS);
      for (const { id, history } of longest) {
        const wait = history.taskWaitsMs.normal[0];
        const timeline = await slowRequestTimeline(connection, sender.workflowId(id), { conversationId: id, kind: 'event', sentAt: history.startedAt!, ms: wait + 1000, status: '' });
        console.log(`\n  ${system}: the first workflow task of ${id} waited ${Math.round(wait)} ms on the normal queue; its history from the start (ms):\n${timeline.join('\n')}`);
      }
    }
    const kms1 = system === 'parley' ? await kmsTotal() : undefined;
    const requests = Object.values(rec.latencies).reduce((n, xs) => n + xs.length, 0);
    const closedCount = closed.filter(Boolean).length;
    const kmsCalls = kms0 && kms1 ? { generateDataKey: kms1.generateDataKey - kms0.generateDataKey, decrypt: kms1.decrypt - kms0.decrypt, encrypt: kms1.encrypt - kms0.encrypt, failed: kms1.failed - kms0.failed } : undefined;
    return {
      system,
      ...(openLoop ? { arrivalsPerSecond: level, ...openLoop, backlogGrowth: backlogGrowth(msByStart) } : { concurrency: level }),
      conversations: count,
      closed: closedCount,
      terminated: unclosed.length,
      drivenSeconds: round(drivenMs / 1000, 2),
      settledSeconds: round(settledMs / 1000, 2),
      conversationsPerSecond: round(closedCount / (settledMs / 1000), 2),
      requestsPerSecond: round(requests / (drivenMs / 1000), 1),
      latencyMs: {
        event: quantiles(rec.latencies.event),
        write: quantiles([...rec.latencies.write, ...rec.latencies['card, plain'], ...rec.latencies['card, secured']]),
        'card, plain': quantiles(rec.latencies['card, plain']),
        'card, secured': quantiles(rec.latencies['card, secured']),
      },
      conversationMs: quantiles(msByStart.filter((ms): ms is number => ms !== undefined)),
      eventLatencyMs: Object.fromEntries(Object.entries(rec.byEventType).map(([type, xs]) => [type, quantiles(xs)])),
      ...(system === 'parley' ? { requestSplitMs: { event: requestSplit(rec.timed.event), write: requestSplit(rec.timed.write) } } : {}),
      errors: rec.errors,
      ...(system === 'parley' && WRITES === 'update' ? { writesHandedOver: rec.writesHandedOver } : {}),
      historyEvents: known.length ? { median: median(known.map((h) => h.events)), max: Math.max(...known.map((h) => h.events)), maxRuns: Math.max(...known.map((h) => h.runs)), conversations: known.length } : undefined,
      workflowTaskWaitMs: { normal: quantiles(known.flatMap((h) => h.taskWaitsMs.normal)), sticky: quantiles(known.flatMap((h) => h.taskWaitsMs.sticky)) },
      ...(system === 'parley'
        ? {
            storeBatchesPerConversation: round(batchesStored(prefix) / count, 2),
            storedData: storedDataComplete(prefix, ids.map((_, i) => i).filter((i) => closed[i] && clean[i])),
            kmsCallsPerConversation: kmsCalls ? round((kmsCalls.generateDataKey + kmsCalls.decrypt + kmsCalls.encrypt) / count, 2) : undefined,
            kmsCalls,
          }
        : {}),
      cpuCores: Object.fromEntries(Object.entries(cpuCores).map(([k, v]) => [k, round(v, 2)])),
      cpuSecondsPerConversation: cpuPerConversation(cpuCores, settledMs / 1000, count, systemProcesses(system, FLOOR_KIND)),
      temporalService: service0 && service1 ? servicePhase(service0, service1, count) : undefined,
      temporalIo: io0 && io1 ? { writeCallsPerConversation: round((io1.calls - io0.calls) / count), kibWrittenPerConversation: round((io1.bytes - io0.bytes) / 1024 / count) } : undefined,
      peakRssMiB: Object.fromEntries(Object.entries(peaks).map(([k, v]) => [k, Math.round(v)])),
    };
  };

  // Warm-up: JIT, the workflow isolates, connections; not measured.
  if (WARMUP > 0) {
    console.log(`warm-up: ${WARMUP} conversations each…`);
    for (const system of SYSTEMS) {
      const rec = new Recorder();
      await drive(WARMUP, 2, async (i) => void (await conversation(senders[system], rec, `bench-${runId}-warmup-${system}-${i}`, i)));
      const deadline = Date.now() + SETTLE_TIMEOUT_MS;
      await mapLimit(Array.from({ length: WARMUP }, (_, i) => senders[system].workflowId(`bench-${runId}-warmup-${system}-${i}`)), 10, (id) => awaitClosed(connection, id, deadline));
      if (rec.errorCount()) console.log(`  ${system} warm-up errors: ${JSON.stringify(rec.errors)}`);
    }
  }

  /** Resolves once the last `min(20, count)` conversations read back their write (`account`), each read retried until it does. */
  const takenIn = async (count: number, idOf: (i: number) => string): Promise<void> => {
    const last = Array.from({ length: Math.min(20, count) }, (_, k) => idOf(count - 1 - k));
    const until = Date.now() + SETTLE_TIMEOUT_MS * 5;
    await mapLimit(last, 5, async (id) => {
      while (Date.now() < until && !halted()) {
        const res = await fetch(`${base}/conversations/${encodeURIComponent(id)}/attributes/account`, { headers: { authorization: `Bearer ${flowToken}` } }).catch(() => undefined);
        if (res?.status === 200) return;
        await res?.arrayBuffer();
        await sleep(1000);
      }
    });
  };
  const background: Record<string, { conversations: number; seconds: number; answeredSeconds?: number; errors: Record<string, Record<string, number>> }> = {};
  if (BACKGROUND > 0 && core && !interrupted) {
    for (const system of SYSTEMS) {
      liveChildren();
      process.stdout.write(`background: ${system}, ${BACKGROUND} conversations opened and left open through the levels, ${OPEN_CONCURRENCY} concurrent… `);
      const rec = new Recorder();
      const t0 = performance.now();
      await drive(BACKGROUND, OPEN_CONCURRENCY, (i) => openConversation(senders[system], rec, `bench-${runId}-background-${system}-${i}`, i));
      const answered = round((performance.now() - t0) / 1000, 1);
      // Writes confirmed at the edge are answered before a worker took them: the levels start once the
      // last-opened conversations have (a read waits for its conversation's pending task), not on a backlog.
      if (system === 'parley' && WRITES === 'edge') await takenIn(BACKGROUND, (i) => `bench-${runId}-background-${system}-${i}`);
      const seconds = round((performance.now() - t0) / 1000, 1);
      background[system] = { conversations: BACKGROUND, seconds, ...(seconds !== answered ? { answeredSeconds: answered } : {}), errors: rec.errors };
      console.log(`${seconds} s${seconds !== answered ? ` (every request answered after ${answered} s)` : ''}${rec.errorCount() ? `, errors ${JSON.stringify(rec.errors)}` : ''}`);
    }
  }

  const levels: { level: number; rounds: Record<'floor' | 'parley', PhaseResult[]> }[] = [];
  for (const [index, level] of LEVELS.entries()) {
    if (interrupted || !core) break;
    const count = CONVERSATIONS[index];
    const rounds: Record<'floor' | 'parley', PhaseResult[]> = { floor: [], parley: [] };
    for (let n = 1; n <= ROUNDS && !interrupted; n++) {
      // Taking turns: neither system always runs in the minutes after the other's load.
      const order = n % 2 === 1 ? SYSTEMS : [...SYSTEMS].reverse();
      for (const system of order) {
        await sleep(PAUSE_MS);
        process.stdout.write(`level ${levelName(level)}${ROUNDS > 1 ? `, round ${n} of ${ROUNDS}` : ''}: ${system}, ${count} conversations… `);
        // Each round its own arrivals, the same for both systems.
        const r = await phase(system, level, count, `${ARRIVALS ? 'a' : 'c'}${level}-${system}${ROUNDS > 1 ? `-r${n}` : ''}`, index * 1000 + n);
        rounds[system].push(r);
        const stored = r.storedData ? `, stored data complete in ${r.storedData.complete} of ${r.storedData.conversations}` : '';
        const growth = r.backlogGrowth !== undefined ? `, the last fifth's conversations ${r.backlogGrowth}× as long as the first fifth's (${keptUpVerdict(r.backlogGrowth)})` : '';
        const inFlight = r.inFlightMax !== undefined ? `, at most ${r.inFlightMax} in progress${r.startedLate ? ` (${r.startedLate} started late by the bench)` : ''}${growth}` : '';
        console.log(`${r.conversationsPerSecond} conversations/s, ${r.closed} closed in ${r.settledSeconds} s${inFlight}${r.terminated ? `, ${r.terminated} terminated` : ''}${Object.keys(r.errors).length ? `, errors ${JSON.stringify(r.errors)}` : ''}${r.writesHandedOver ? `, ${r.writesHandedOver} writes kept at the edge (202: no worker confirmed them in time)` : ''}${stored}`);
      }
    }
    levels.push({ level, rounds });
  }

  // The capability phases, after the core levels (whose traffic and figures they leave as they were)
  // and before the open phase (whose thousand open conversations would sit in the worker's cache).
  const ctx: PhaseContext = {
    base,
    webhookSecret,
    flowToken,
    connection,
    runId,
    settleTimeoutMs: SETTLE_TIMEOUT_MS,
    pauseMs: PAUSE_MS,
    systems: SYSTEMS,
    halted,
    drive,
    awaitClosed: (workflowId, deadline) => awaitClosed(connection, workflowId, deadline),
    chainHistory: (workflowId) => chainHistory(connection, workflowId),
    terminate: async (workflowId, reason) => {
      await connection.workflowService.terminateWorkflowExecution({ namespace: NAMESPACE, workflowExecution: { workflowId }, reason }).catch(() => undefined);
    },
  };
  let crm: Awaited<ReturnType<typeof crmPhase>> | undefined;
  if (crmPeer && !interrupted) {
    liveChildren();
    crm = await crmPhase(ctx, crmPeer, crmToken, (line) => console.log(line));
  }
  let channels: Awaited<ReturnType<typeof channelsPhase>> | undefined;
  // It has no floor of its own: BENCH_SYSTEMS=floor leaves it out.
  if (channelPeer && !interrupted && SYSTEMS.includes('parley')) {
    liveChildren();
    channels = await channelsPhase(ctx, channelPeer, (line) => console.log(line));
  }

  // Open conversations: what each one costs a worker while it stays open (the workflow cache holds it).
  const open: Record<string, unknown> = {};
  if (OPEN > 0 && !interrupted && core) {
    for (const system of SYSTEMS) {
      liveChildren();
      const worker = system === 'parley' ? parleyWorker : floorWorker;
      const health = system === 'parley' ? parleyHealth : floorHealth;
      await sleep(PAUSE_MS);
      process.stdout.write(`open: ${system}, ${OPEN} conversations left open, ${OPEN_CONCURRENCY} concurrent… `);
      // A full collection on the worker's main thread first (workflows live in its workflow thread,
      // which the SDK collects on its own), so the reading is held memory, not pending garbage.
      await worker.probe(true);
      const rssBefore = rssMiB(worker.pid) ?? NaN;
      const cachedBefore = await cachedWorkflows(health);
      const rec = new Recorder();
      const checkpoints: { open: number; rssMiB: number }[] = [{ open: 0, rssMiB: Math.round(rssBefore) }];
      const step = Math.max(1, Math.round(OPEN / 10));
      let done = 0;
      const t0 = performance.now();
      await drive(OPEN, OPEN_CONCURRENCY, async (i) => {
        await openConversation(senders[system], rec, `bench-${runId}-open-${system}-${i}`, i);
        if (++done % step === 0 && done < OPEN) checkpoints.push({ open: done, rssMiB: Math.round(rssMiB(worker.pid) ?? NaN) });
      });
      // Memory once the worker holds them all, not while writes it has not taken yet wait in Temporal.
      if (system === 'parley' && WRITES === 'edge') await takenIn(OPEN, (i) => `bench-${runId}-open-${system}-${i}`);
      const seconds = (performance.now() - t0) / 1000;
      await sleep(PAUSE_MS);
      const rssAfterRaw = rssMiB(worker.pid) ?? NaN;
      const heap = (await worker.probe(true))?.memory;
      const rssAfter = rssMiB(worker.pid) ?? NaN;
      checkpoints.push({ open: OPEN, rssMiB: Math.round(rssAfter) });
      open[system] = {
        conversations: OPEN,
        concurrency: OPEN_CONCURRENCY,
        seconds: round(seconds, 1),
        workerRssBeforeMiB: Math.round(rssBefore),
        workerRssAfterMiB: Math.round(rssAfter),
        workerRssAfterBeforeGcMiB: Math.round(rssAfterRaw),
        workerRssPer1000OpenMiB: Math.round((rssAfter - rssBefore) / (OPEN / 1000)),
        /** Least-squares slope over the checkpoints, per 1,000 open: less sensitive to where a GC happened to fall. */
        workerRssSlopePer1000MiB: Math.round(slope(checkpoints.map((c) => [c.open, c.rssMiB])) * 1000),
        checkpoints,
        workerHeapUsedMiB: heap ? Math.round(heap.heapUsed / 2 ** 20) : undefined,
        cachedWorkflowsBefore: cachedBefore,
        cachedWorkflowsAfter: await cachedWorkflows(health),
        errors: rec.errors,
        latencyMs: { event: quantiles(rec.latencies.event), write: quantiles(rec.latencies.write) },
        ...(await evictionCost(senders[system], `bench-${runId}-open-${system}`)),
      };
      const o = open[system] as { workerRssPer1000OpenMiB: number; cachedWorkflowsAfter?: number };
      console.log(`worker RSS ${Math.round(rssBefore)} → ${Math.round(rssAfter)} MiB (${o.workerRssPer1000OpenMiB} MiB per 1,000; ${o.cachedWorkflowsAfter ?? '?'} cached)${rec.errorCount() ? `, errors ${JSON.stringify(rec.errors)}` : ''}`);
    }
  }

  sampler.stop();
  const peakRss = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, pid === undefined ? undefined : Math.round(peakRssMiB(pid) ?? NaN)]));
  const results = {
    command: 'npm run bench',
    startedAt: started.toISOString(),
    ...(lostChild ? { incomplete: `${lostChild} exited during the run: the figures after that are not a measurement` } : {}),
    machine: {
      cores: os.cpus().length,
      cpu: cpuModel(),
      memoryGiB: round(os.totalmem() / 2 ** 30, 1),
      platform: `${os.type()} ${os.release()}`,
      node: process.version,
      loadAverageAtStart: loadAverageAtStart,
      loadAverageAtEnd: loadAverage(),
    },
    settings: {
      target: TARGET,
      phases: PHASES,
      thinkMs: THINK_MS,
      closedGracePeriod: CLOSED_GRACE,
      floor: FLOOR_KIND,
      load: ARRIVALS ? 'open (BENCH_ARRIVALS: conversations started per second, Poisson arrivals)' : 'closed (BENCH_LEVELS: concurrent conversations)',
      levels: LEVELS,
      conversations: CONVERSATIONS,
      open: OPEN,
      openConcurrency: OPEN_CONCURRENCY,
      // Both workers' cache, slots and pollers (WORKER_* in the environment, else the defaults).
      workerTuning: { ...childConfig.workerTuning, stickyQueueTimeoutMs: childConfig.stickyQueueTimeoutMs },
      warmup: WARMUP,
      temporalRequestTimeoutMs: requestTimeoutMs,
      logLevel: LOG_LEVEL,
      keys: keys.securedData.kind === 'local' && keys.codec.kind === 'local' ? 'local key file' : 'KMS',
      dataKeyCache: process.env.BENCH_DATA_KEY_CACHE === 'off' ? 'off (DATA_KEY_CACHE_MAX_MESSAGES=1)' : 'on',
      parleyWrites: WRITES === 'edge' ? 'edge (Prefer: respond-async, 202 once Temporal recorded the write)' : 'update (200 once the conversation applied the write)',
      store: 'SQLite',
      perConversation: 'CREATED, QUEUED, write, ROUTED, write, write, card write (secured in every other), CLOSED',
    },
    rounds: ROUNDS,
    background,
    levels: levels.map(({ level, rounds }) => {
      const floor = rounds.floor.length ? mergeRounds(rounds.floor) : undefined;
      const parley = rounds.parley.length ? mergeRounds(rounds.parley) : undefined;
      const both = (figure: (r: PhaseResult) => number | undefined) => medianRatio(rounds.parley, rounds.floor, figure);
      return {
        name: levelName(level),
        ...(ARRIVALS ? { arrivalsPerSecond: level } : { concurrency: level }),
        // Round by round (both systems in the same minutes), then the median over the rounds.
        ratio: {
          conversationsPerSecond: both((r) => r.conversationsPerSecond),
          eventP99: both((r) => r.latencyMs.event?.p99),
          writeP99: both((r) => r.latencyMs.write?.p99),
          historyEventsMedian: both((r) => r.historyEvents?.median),
          cpuSecondsPerConversation: both((r) => r.cpuSecondsPerConversation.own),
          // Every process the bench watched, the load generator's too: printed beside the goal's figure.
          cpuSecondsWithLoadPerConversation: both((r) => r.cpuSecondsPerConversation.total),
        },
        parley,
        floor,
        ...(ROUNDS > 1 ? { byRound: { floor: rounds.floor, parley: rounds.parley } } : {}),
      };
    }),
    open,
    ...(crm
      ? {
          crm: {
            settings: {
              levels: CRM_LEVELS,
              conversations: CRM_EXECUTIONS,
              repeatPercent: CRM_REPEAT_PERCENT,
              perConversation: 'workflow-execute data action (update-with-start) with a cacheKey; in the repeat share a second one with the same cacheKey; then CLOSED (not timed)',
              floor: 'the same CRM peer called by a plain HTTP client, one POST per execution, same concurrency',
              peer: 'local HTTP CRM (rigs/crm-peer.ts), in the bench process, answering 200 at once',
            },
            levels: crm,
          },
        }
      : {}),
    ...(channels
      ? {
          channels: {
            settings: {
              levels: CHANNELS_LEVELS,
              conversations: CHANNELS_CONVERSATIONS,
              messagesPerConversation: CHANNELS_MESSAGES,
              perConversation: 'chat: message 1 (starts it), CREATED, ROUTED, messages 2..M (about one in four with a card number), CLOSED',
              peer: 'local HTTP channel gateway and routing platform, in the bench process, answering 200',
            },
            levels: channels.levels,
            pciMasking: channels.pciMasking,
          },
        }
      : {}),
    peakRssMiB: peakRss,
  };
  report(results);
  fs.mkdirSync(path.dirname(OUT), { recursive: true });
  fs.writeFileSync(OUT, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nresults: ${OUT}`);
  await connection.close();
  if (lostChild) throw new Error(`${lostChild} exited during the run: the figures after that are not a measurement (BENCH_KEEP=1 keeps its log)`);
}

const loadAverageAtStart = loadAverage();

// ---------------------------------------------------------------------------------------------
// Printing

function table(headers: string[], rows: (string | number | undefined)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (c === undefined || (typeof c === 'number' && Number.isNaN(c)) ? '–' : typeof c === 'number' ? c.toLocaleString('en-US') : c)))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => String(r[i]).length)));
  const line = (r: (string | number)[]) => r.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

/* eslint-disable @typescript-eslint/no-explicit-any -- the printers walk the results object assembled above, whose shape is the JSON file it is written to; a second, hand-kept type for each optional section would only drift from it */
function report(r: any): void {
  const m = r.machine;
  console.log(`\nParley vs Temporal's floor — ${m.cores} cores (${m.cpu}), ${m.memoryGiB} GiB, ${m.platform}, Node ${m.node}; load average ${m.loadAverageAtStart} at start, ${m.loadAverageAtEnd} at end`);
  console.log(`Temporal: ${r.settings.target === 'cluster' ? "its server on PostgreSQL (as docker-compose.yml runs it)" : 'the dev server (as npm start runs it)'}. Same Temporal service and worker settings for both; Parley through its HTTP API (API and worker as separate processes), the floor ${r.settings.floor === 'service' ? 'through its own HTTP front' : 'from a plain client'}; the floor is ${floorDescription(r.settings.floor)}. Keys: ${r.settings.keys}; store: ${r.settings.store}; request deadline ${r.settings.temporalRequestTimeoutMs} ms. Parley's writes: ${r.settings.parleyWrites ?? 'update'}.${r.settings.thinkMs ? ` A conversation's requests ${r.settings.thinkMs} ms apart (BENCH_THINK_MS).` : ''} Parley's grace window after CLOSED: ${r.settings.closedGracePeriod ?? '0'} (BENCH_CLOSED_GRACE; \`npm start\`: 2m).\n`);
  const errs = (e?: Record<string, Record<string, number>>) => (e ? Object.entries(e).map(([kind, byStatus]) => Object.entries(byStatus).map(([s, n]) => `${kind} ${s}×${n}`).join(' ')).join(' ') || '0' : '–');
  const q = (x?: Quantiles) => (x ? `${Math.round(x.p50)} / ${Math.round(x.p95)} / ${Math.round(x.p99)}` : '–');
  const bg = Object.entries(r.background ?? {}) as [string, any][];
  if (bg.length) console.log(`Open in the background through the levels (CREATED and one write each, opened before them): ${bg.map(([s, b]) => `${s} ${b.conversations.toLocaleString('en-US')} in ${b.seconds} s${Object.keys(b.errors).length ? `, errors ${errs(b.errors)}` : ''}`).join('; ')}.\n`);
  if (r.levels.length) reportCore(r, errs, q);
  if (Object.keys(r.open).length) {
    console.log('\nConversations left open (CREATED + one write each); worker RSS read after a GC of its main thread:');
    console.log(table(
      ['system', 'open', 'worker RSS before → after MiB', 'MiB per 1,000 open', 'slope per 1,000', 'cached workflows', 'seconds', 'errors', 'next write p50 ms: earliest / latest opened'],
      Object.entries(r.open).map(([s, o]: [string, any]) => [
        s, o.conversations, `${o.workerRssBeforeMiB} → ${o.workerRssAfterMiB}`, o.workerRssPer1000OpenMiB, o.workerRssSlopePer1000MiB, o.cachedWorkflowsAfter, o.seconds, errs(o.errors),
        o.evictionProbe ? `${Math.round(o.evictionProbe.earliestWriteMs?.p50)} / ${Math.round(o.evictionProbe.latestWriteMs?.p50)}` : '–',
      ]),
    ));
  }
  if (r.levels.length || Object.keys(r.open).length) reportGoals(r);
  if (r.crm) reportCrm(r.crm, errs, q);
  if (r.channels) reportChannels(r.channels, errs, q);
}

/**
 * The load goals, one line each, met or not, from this run's figures only: no 5xx, conversations/s,
 * p99 of webhooks and writes, CPU and history per conversation against the floor at every level,
 * and the worker's memory per 1,000 open conversations.
 */
function reportGoals(r: any): void {
  const lines: string[] = [];
  const verdict = (ok: boolean | undefined) => (ok === undefined ? 'not measured' : ok ? 'met' : 'NOT met');
  const ratioGoal = (label: string, key: string, op: '>=' | '<=', bound: number, beside?: (l: any) => string) => {
    const at = r.levels.filter((l: any) => typeof l.ratio[key] === 'number' && !Number.isNaN(l.ratio[key]));
    const figures = at.map((l: any) => `${l.ratio[key]} at ${l.name}${beside ? beside(l) : ''}`).join(', ');
    const ok = at.length ? at.every((l: any) => (op === '>=' ? l.ratio[key] >= bound : l.ratio[key] <= bound)) : undefined;
    lines.push(`${verdict(ok).padEnd(12)} ${label} ${op === '>=' ? '≥' : '≤'} ${bound}× the floor's: ${figures || '–'}`);
  };
  const parleyLevels = r.levels.filter((l: any) => l.parley);
  // A write kept at the edge (202) is not a failure, but it is not a write confirmed by a worker either: said beside the count.
  const keptAtEdge = (l: any) => (l.parley.writesHandedOver ? ` (${l.parley.writesHandedOver} writes kept at the edge, 202)` : '');
  const fiveCounts = parleyLevels.map((l: any) => `${fivesOf(l.parley.errors)} at ${l.name}${keptAtEdge(l)}`).join(', ');
  lines.push(`${verdict(parleyLevels.length ? parleyLevels.every((l: any) => fivesOf(l.parley.errors) === 0) : undefined).padEnd(12)} 0 webhooks or writes answered 5xx: ${fiveCounts || '–'}`);
  ratioGoal('conversations/s', 'conversationsPerSecond', '>=', 0.9);
  ratioGoal('webhook p99', 'eventP99', '<=', 1.3);
  ratioGoal('set-attributes p99', 'writeP99', '<=', 1.3);
  // The system's own processes (npm start's for Parley); beside it, every process the bench watched, so the caller's side is visible too.
  ratioGoal('CPU per conversation', 'cpuSecondsPerConversation', '<=', 1.3, (l) => (typeof l.ratio.cpuSecondsWithLoadPerConversation === 'number' ? ` (${l.ratio.cpuSecondsWithLoadPerConversation} with the load generators)` : ''));
  ratioGoal('history events per conversation', 'historyEventsMedian', '<=', 1.1);
  // Not one of the issue's goals but the condition of all of them: a write answered as taken is in the store after the close.
  const checked = parleyLevels.filter((l: any) => l.parley.storedData);
  const incomplete = checked.map((l: any) => `${l.parley.storedData.complete} of ${l.parley.storedData.conversations} at ${l.name}`).join(', ');
  lines.push(`${verdict(checked.length ? checked.every((l: any) => l.parley.storedData.complete === l.parley.storedData.conversations) : undefined).padEnd(12)} every write taken is in the store after the close (conversations with all their data): ${incomplete || '–'}`);
  const open = r.open?.parley;
  const mb = open ? Math.round(open.workerRssPer1000OpenMiB * 1.048576) : undefined;
  lines.push(`${verdict(mb === undefined ? undefined : mb <= 100).padEnd(12)} worker memory ≤ 100 MB per 1,000 open conversations: ${mb === undefined ? '–' : `${mb} MB (${open.workerRssPer1000OpenMiB} MiB) with ${open.conversations} open${r.background?.parley ? ` after the ${r.background.parley.conversations.toLocaleString('en-US')} in the background` : ''}`}`);
  console.log(`\nGoals (this run's figures only${r.rounds > 1 ? `; ratios are medians over ${r.rounds} rounds` : ''}${r.settings.floor === 'features' ? "; AGAINST THE FLOOR WITH PARLEY'S FEATURES, not the plain floor the goals are set against" : r.settings.floor === 'service' ? "; AGAINST THE FLOOR AS A SERVICE (Parley's features behind the least HTTP front), not the plain floor the goals are set against" : ''}):\n${lines.map((l) => `  ${l}`).join('\n')}`);
}

/** Requests answered 5xx (or never answered: the connection failed). */
function fivesOf(e?: Record<string, Record<string, number>>): number {
  return Object.values(e ?? {}).reduce((n, byStatus) => n + Object.entries(byStatus).filter(([status]) => /^5\d\d$|fetch failed/.test(status)).reduce((a, [, c]) => a + c, 0), 0);
}

type Errs = (e?: Record<string, Record<string, number>>) => string;
type Q = (x?: Quantiles) => string;

/** The core levels' first column: closed-loop levels are concurrent conversations, open-loop ones conversations started per second. */
const levelHeader = (r: any): string => (r.settings.load?.startsWith('open') ? 'started/s' : 'concurrent');

function reportCore(r: any, errs: Errs, q: Q): void {
  const phases = r.levels.flatMap((l: any) => (['floor', 'parley'] as const).filter((s) => l[s]).map((s) => [`${s} @${l.name}`, l[s]]));
  console.log(table(
    [levelHeader(r), 'conversations', 'floor conv/s', 'Parley conv/s', 'ratio', 'floor errors', 'Parley errors', 'Parley writes kept at the edge (202)', 'terminated (floor/Parley)'],
    r.levels.map((l: any) => [l.name, (l.parley ?? l.floor).conversations, l.floor?.conversationsPerSecond, l.parley?.conversationsPerSecond, l.ratio.conversationsPerSecond, errs(l.floor?.errors), errs(l.parley?.errors), l.parley?.writesHandedOver ?? '–', `${l.floor?.terminated ?? '–'}/${l.parley?.terminated ?? '–'}`]),
  ));
  // Open loop: a system that keeps up holds few conversations at once; one that falls behind piles them up.
  const open = r.settings.load?.startsWith('open');
  const keptUp = (p: any): string => (p?.backlogGrowth === undefined ? '–' : `${p.backlogGrowth} (${keptUpVerdict(p.backlogGrowth)})`);
  console.log(
    `\nA conversation from its first request sent to CLOSED answered, ms p50 / p95 / p99, Parley · floor${open ? `; the most in progress at once; the last fifth of arrivals' conversation time over the first fifth's (medians; the worst round), kept up when at most ${KEPT_UP_GROWTH}` : ''}:`,
  );
  console.log(table(
    [levelHeader(r), 'conversation ms', ...(open ? ['most in progress', 'last / first fifth'] : [])],
    r.levels.map((l: any) => [
      l.name,
      `${q(l.parley?.conversationMs)} · ${q(l.floor?.conversationMs)}`,
      ...(open ? [`${l.parley?.inFlightMax ?? '–'} · ${l.floor?.inFlightMax ?? '–'}`, `${keptUp(l.parley)} · ${keptUp(l.floor)}`] : []),
    ]),
  ));
  if (r.rounds > 1) {
    console.log(`\n${r.rounds} rounds per level, the systems taking turns to go first. Conversations and errors are the rounds' totals; every other figure is the median over the rounds, and every ratio the median of the rounds' own ratios. Round by round:`);
    const each = (rs: any[] | undefined, f: (p: any) => number | undefined) => (rs ? rs.map((p) => f(p) ?? '–').join(', ') : '–');
    console.log(table(
      [levelHeader(r), 'floor conv/s', 'Parley conv/s', 'floor CPU s/conv', 'Parley CPU s/conv', 'Parley 5xx'],
      r.levels.map((l: any) => [
        l.name,
        each(l.byRound?.floor, (p) => p.conversationsPerSecond),
        each(l.byRound?.parley, (p) => p.conversationsPerSecond),
        each(l.byRound?.floor, (p) => p.cpuSecondsPerConversation.own),
        each(l.byRound?.parley, (p) => p.cpuSecondsPerConversation.own),
        each(l.byRound?.parley, (p) => fivesOf(p.errors)),
      ]),
    ));
  }
  console.log('');
  console.log(table(
    [levelHeader(r), 'webhook p50/p95/p99 ms', 'floor signal-with-start', 'p99 ratio', 'set-attributes p50/p95/p99 ms', 'floor update', 'p99 ratio'],
    r.levels.map((l: any) => [l.name, q(l.parley?.latencyMs.event), q(l.floor?.latencyMs.event), l.ratio.eventP99, q(l.parley?.latencyMs.write), q(l.floor?.latencyMs.write), l.ratio.writeP99]),
  ));
  const splitLine = (x?: RequestSplit) =>
    x ? `${Math.round(x.app?.p50 ?? NaN)} / ${Math.round(x.app?.p99 ?? NaN)} · ${Math.round(x.temporal?.p50 ?? NaN)} / ${Math.round(x.temporal?.p99 ?? NaN)} · ${Math.round(x.slowest.ms)} = ${Math.round(x.slowest.app)} (${Math.round(x.slowest.temporal)}) + ${Math.round(x.slowest.ms - x.slowest.app)}` : '–';
  if (r.levels.some((l: any) => l.parley?.requestSplitMs?.event)) {
    console.log("\nWhere Parley's request time went (the API's Server-Timing): in the API p50 / p99 · of which in Temporal calls p50 / p99 · the slowest 1 %, mean ms as the bench measured them = in the API (in Temporal) + outside the API (network, the two processes' queues):");
    console.log(table([levelHeader(r), 'webhooks', 'set attributes'], r.levels.map((l: any) => [l.name, splitLine(l.parley?.requestSplitMs?.event), splitLine(l.parley?.requestSplitMs?.write)])));
  }
  const types = ['CREATED', 'QUEUED', 'ROUTED', 'CLOSED'];
  const pq = (x?: Quantiles) => (x ? `${Math.round(x.p50)} / ${Math.round(x.p99)}` : '–');
  console.log('\nWebhooks by event type, p50 / p99 ms, Parley · floor (CREATED starts the workflow; the others reach it running):');
  console.log(table([levelHeader(r), ...types], r.levels.map((l: any) => [l.name, ...types.map((t) => `${pq(l.parley?.eventLatencyMs?.[t])} · ${pq(l.floor?.eventLatencyMs?.[t])}`)])));
  console.log('');
  const hist = (h?: { median: number; max: number; conversations: number }) => (h ? `${h.median} / ${h.max} (${h.conversations})` : '–');
  console.log(table(
    [levelHeader(r), 'history events Parley median/max (of)', 'floor', 'ratio', 'store batches/conv', 'KMS calls/conv', 'card write plain/secured p50 ms'],
    r.levels.map((l: any) => [
      l.name,
      hist(l.parley?.historyEvents),
      hist(l.floor?.historyEvents),
      l.ratio.historyEventsMedian,
      l.parley?.storeBatchesPerConversation,
      l.parley?.kmsCallsPerConversation,
      l.parley ? `${l.parley.latencyMs['card, plain']?.p50 ?? '–'} / ${l.parley.latencyMs['card, secured']?.p50 ?? '–'}` : '–',
    ]),
  ));
  console.log('\nWorkflow tasks: schedule-to-start in ms, p50 / p95 / p99 (count) — the normal task queue (a new conversation\'s first task) and the sticky one:');
  const wait = (x?: Quantiles) => (x ? `${Math.round(x.p50)} / ${Math.round(x.p95)} / ${Math.round(x.p99)} (${x.count})` : '–');
  console.log(table(['phase', 'normal queue', 'sticky queue'], phases.map(([name, p]: [string, any]) => [name, wait(p.workflowTaskWaitMs.normal), wait(p.workflowTaskWaitMs.sticky)])));
  const service = serviceLabel(r.settings.target);
  reportServiceOwnTime(phases, service);
  const named = (names: string[]) => names.map((n) => (n === 'temporal' ? service : n));
  console.log(`\nCPU, in cores busy over each phase (from /proc/<pid>/stat; "others" is the rest of the machine: other jobs on this box; "iowait": cores idle while a task waited on the disk), and the Temporal service's (${service}) writes (/proc/<pid>/io):`);
  const front = r.settings.floor === 'service' ? ['floor front'] : [];
  const cpuNames = ['temporal', 'parley worker', 'floor worker', 'api', ...front, 'bench (load)', 'others', 'machine', 'iowait', 'Temporal writes/conv', 'KiB/conv'];
  console.log(table(['phase', ...named(cpuNames)], phases.map(([name, p]: [string, any]) => [name, ...cpuNames.slice(0, -2).map((n) => p.cpuCores[n]), p.temporalIo?.writeCallsPerConversation, p.temporalIo?.kibWrittenPerConversation])));
  const floorOwn = r.settings.floor === 'service' ? 'the floor front' : 'the bench process, whose Temporal client is the floor\'s';
  console.log(`\nCPU seconds per conversation (cores × phase seconds ÷ conversations; less sensitive than conv/s to what else the machine runs). "own" is the system's own processes, what the CPU goal counts: Parley's are npm start's (${service}, worker, API), the floor's ${service}, its worker and ${floorOwn}; "total" adds every other process the bench watched (the load generator, the other system's idle ones):`);
  const perNames = ['temporal', 'parley worker', 'floor worker', 'api', ...front, 'bench (load)', 'own', 'total'];
  const levelOf = (p: any) => r.levels.find((l: any) => l.parley === p);
  console.log(table(
    ['phase', ...named(perNames), 'own vs floor', 'total vs floor'],
    phases.map(([name, p]: [string, any]) => [
      name,
      ...perNames.map((n) => p.cpuSecondsPerConversation[n]),
      p.system === 'parley' ? levelOf(p)?.ratio.cpuSecondsPerConversation : undefined,
      p.system === 'parley' ? levelOf(p)?.ratio.cpuSecondsWithLoadPerConversation : undefined,
    ]),
  ));
  console.log('\nPeak RSS, MiB (sampled every 250 ms per phase; "run" is the kernel high-water mark over the whole run, start-up included):');
  const rssNames = ['parley worker', 'api', 'floor worker', ...front, 'temporal', 'bench (load)'];
  console.log(table(['phase', ...named(rssNames)], [...phases.map(([name, p]: [string, any]) => [name, ...rssNames.map((n) => p.peakRssMiB[n])]), ['run', ...rssNames.map((n) => r.peakRssMiB[n])]]));
}

/** The Temporal service's own time over each phase, from its Prometheus metrics: where a request's time "in Temporal" went. */
function reportServiceOwnTime(phases: [string, PhaseResult][], service: string): void {
  if (!phases.some(([, p]) => p.temporalService)) return;
  console.log(
    `\nThe Temporal service's own time (${service}, its Prometheus metrics over each phase): each call per conversation × its mean ms in the service;` +
      ` the workflow's lock (every call and task on a workflow takes it in turn): mean wait / mean hold ms, acquisitions per conversation, and those given up` +
      ` because it stayed busy (the task is retried later); the mean wait for the history shard's persistence slot (writes pass one at a time by default, each holding its workflow's lock);` +
      ` writes of a workflow's state to persistence per conversation × mean ms:`,
  );
  const callNames: Record<(typeof SERVICE_CALLS)[number], string> = {
    SignalWithStartWorkflowExecution: 'signal-with-start',
    SignalWorkflowExecution: 'signal',
    UpdateWorkflowExecution: 'update',
    RespondWorkflowTaskCompleted: 'task completed',
  };
  const times = (x?: { perConversation: number; meanMs: number }) => (x ? `${x.perConversation} × ${x.meanMs}` : '–');
  console.log(table(
    ['phase', ...SERVICE_CALLS.map((c) => callNames[c]), 'lock wait / hold ms', 'locks/conv', 'given up/conv', 'shard slot wait ms', 'persistence writes'],
    phases.map(([name, p]) => {
      const t = p.temporalService;
      return [
        name,
        ...SERVICE_CALLS.map((c) => times(t?.calls[c])),
        t?.lockWaitMs !== undefined ? `${t.lockWaitMs} / ${t.lockHoldMs ?? '–'}` : '–',
        t?.locksPerConversation,
        t?.lockFailuresPerConversation,
        t?.shardIoWaitMs,
        times(t?.persistenceWrites),
      ];
    }),
  ));
}

function reportCrm(crm: any, errs: Errs, q: Q): void {
  console.log(`\nCRM Workflow Execute through POST /data-actions/workflow-execute (each on its own conversation; ${crm.settings.repeatPercent}% repeat their cacheKey) vs the same CRM peer called directly, one POST per execution:`);
  console.log(table(
    ['concurrent', 'conversations', 'executions (cached)', 'Parley exec/s', 'direct calls/s', 'Parley errors', 'direct errors', 'closed / terminated'],
    crm.levels.map((l: any) => [l.concurrency, l.conversations, l.parley ? `${l.parley.executions} (${l.parley.repeats})` : undefined, l.parley?.executionsPerSecond, l.floor?.executionsPerSecond, errs(l.parley?.errors), errs(l.floor?.errors), l.parley ? `${l.parley.closed} / ${l.parley.terminated}` : '–']),
  ));
  console.log('');
  console.log(table(
    ['concurrent', 'data action p50/p95/p99 ms (CRM called)', 'cached repeat', 'direct call', 'p50 ratio', 'p99 ratio'],
    crm.levels.map((l: any) => [l.concurrency, q(l.parley?.firstLatencyMs), q(l.parley?.cachedLatencyMs), q(l.floor?.latencyMs), l.ratio.p50, l.ratio.p99]),
  ));
  console.log('');
  const h = (x: any) => (x ? `${x.oneExecution ?? '–'} / ${x.withCachedRepeat ?? '–'} (+${x.perCachedRepeat ?? '–'}) (${x.conversations})` : '–');
  console.log(table(
    ['concurrent', 'CRM calls per execution: first / cached', 'repeats not cached', 'history events before close: 1 execution / + cached repeat (+Δ) (of)'],
    crm.levels.map((l: any) => [l.concurrency, l.parley ? `${l.parley.crmCallsPerExecution.first ?? '–'} / ${l.parley.crmCallsPerExecution.cached ?? '–'}` : '–', l.parley?.repeatsNotCached, h(l.parley?.historyEvents)]),
  ));
}

function reportChannels(ch: any, errs: Errs, q: Q): void {
  console.log(`\nDigital channels: chat conversations through POST /webhooks/inbound-messages (${ch.settings.perConversation}); notifications counted at the gateway peer:`);
  console.log(table(
    ['concurrent', 'conversations × messages (with card)', 'messages/s', 'message webhook p50/p95/p99 ms', 'routing webhook p50/p95/p99 ms', 'errors', 'closed / terminated'],
    ch.levels.map((l: any) => [l.concurrency, `${l.conversations} × ${l.messagesPerConversation} (${l.messagesWithCard})`, l.messagesPerSecond, q(l.latencyMs.message), q(l.latencyMs.event), errs(l.errors), `${l.closed} / ${l.terminated}`]),
  ));
  console.log('');
  const kinds = (k: Record<string, number>) => Object.entries(k).map(([kind, n]) => `${kind} ${n}`).join(', ') || '–';
  console.log(table(
    ['concurrent', 'notifications expected / got', 'per conversation expected / got', 'conversations short', 'at the peer, by kind', 'history events median / max (of)'],
    ch.levels.map((l: any) => [
      l.concurrency, `${l.notifications.expected} / ${l.notifications.got}`, `${l.notifications.expectedPerConversation} / ${l.notifications.gotPerConversation}`, l.notifications.conversationsShort, kinds(l.notifications.byKind),
      l.historyEvents ? `${l.historyEvents.median} / ${l.historyEvents.max} (${l.historyEvents.conversations})` : '–',
    ]),
  ));
  const p = ch.pciMasking;
  const us = (x?: Quantiles) => (x ? `${x.p50} / ${x.p99}` : '–');
  console.log(`\nPCI masking in-process (the bench's ${p.messages} messages, ${p.withCard} with a card, ${p.masked} of them masked; ${p.samples} timings), µs per message p50 / p99: all ${us(p.perMessageUs.all)}; with a card ${us(p.perMessageUs.withCard)}; plain ${us(p.perMessageUs.plain)}`);
}
/* eslint-enable @typescript-eslint/no-explicit-any -- back to typed code after the printers */

// ---------------------------------------------------------------------------------------------

async function healthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(url);
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

async function cachedWorkflows(port: number): Promise<number | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`);
    return ((await res.json()) as { cachedWorkflows?: number }).cachedWorkflows;
  } catch {
    return undefined;
  }
}

async function waitUntil(what: string, check: () => Promise<boolean>, child: NodeChild, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !interrupted) {
    if (!child.running()) throw new Error(`${child.name} exited (${await child.exited}) while waiting for ${what}: ${tail(child.logFile)}`);
    if (await check()) return;
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what}: ${tail(child.logFile)}`);
}

function tail(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-5).join('\n');
  } catch {
    return '(no log)';
  }
}

void main();
