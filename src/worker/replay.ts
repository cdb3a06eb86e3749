// Replays workflow histories against a workflow bundle and says, per history, whether today's code
// would issue the same commands. One loop for the replay test (recorded histories) and for
// `npm run replay` (histories fetched from Temporal before a deploy), so both judge the same way.
// The output names ids and event ids only: a history's payloads are decoded for the replay and
// never printed.
import fs from 'node:fs';
import path from 'node:path';
import type { Payload, PayloadCodec, SerializationContext } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { Worker, type ReplayWorkerOptions } from '@temporalio/worker';
import { projectRoot } from '../platform/config';
import type { WorkerSettings } from './settings';

export interface ReplayInput {
  workflowId: string;
  /** Unknown for a history read from a file: then the run id the history itself records. */
  runId?: string;
  history: temporal.api.history.v1.IHistory;
}

export interface ReplayFailure {
  /** The code issues other commands than the history records (the SDK's DeterminismViolationError). */
  nondeterminism: boolean;
  /** The history event the SDK names, when it names one. */
  eventId?: string;
  /** The SDK's own words (for a nondeterminism, the command and the event it did not match). */
  message: string;
  /** Where in the workflow code, when the SDK gives a stack. */
  location?: string;
}

export interface ReplayOutcome {
  workflowId: string;
  runId: string;
  events: number;
  failure?: ReplayFailure;
}

/**
 * The workflow code a replay runs: WORKFLOW_BUNDLE_PATH, else the bundle `npm run build` writes (what
 * `npm start`'s worker loads), else the workflow sources bundled on the spot.
 */
export function replayWorkflowSource(settings: Pick<WorkerSettings, 'workflowBundlePath'>): Pick<ReplayWorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  if (settings.workflowBundlePath) return { workflowBundle: { codePath: settings.workflowBundlePath } };
  const built = path.join(projectRoot(), 'dist', 'workflow-bundle.js');
  if (fs.existsSync(built)) return { workflowBundle: { codePath: built } };
  return { workflowsPath: require.resolve('../conversation/workflows') };
}

/**
 * The replay worker has no namespace option (its context always says "default"), while Parley's codec
 * binds every payload to the namespace it was written in: decode in the namespace the histories come from.
 */
export function codecForNamespace(codec: PayloadCodec, namespace: string): PayloadCodec {
  const bind = (context?: SerializationContext): SerializationContext | undefined => (context && 'namespace' in context ? { ...context, namespace } : context);
  return {
    encode: (payloads: Payload[], context?: SerializationContext) => codec.encode(payloads, bind(context)),
    decode: (payloads: Payload[], context?: SerializationContext) => codec.decode(payloads, bind(context)),
  };
}

/**
 * Replays each history in turn on one replay worker. A history the SDK cannot even take (a malformed
 * one ends the SDK's replay worker) fails alone: the rest replay on a new worker.
 */
export async function* replayHistories(options: ReplayWorkerOptions, histories: AsyncIterable<ReplayInput> | Iterable<ReplayInput>): AsyncGenerator<ReplayOutcome> {
  const source = unclosable(histories);
  let current: ReplayInput | undefined;
  const fed = {
    async *[Symbol.asyncIterator]() {
      for (;;) {
        const next = await source.next();
        if (next.done) return;
        current = next.value;
        yield { workflowId: current.workflowId, history: current.history };
      }
    },
  };
  for (;;) {
    current = undefined;
    try {
      for await (const result of Worker.runReplayHistories(options, fed)) {
        const input = current as ReplayInput | undefined;
        if (!input) continue;
        current = undefined;
        yield outcomeOf(input, result.runId, result.error);
      }
      return;
    } catch (err) {
      const input = current as ReplayInput | undefined;
      // Failed before any history was taken: the replay worker itself cannot start (no bundle, bad options).
      if (!input) throw err;
      yield outcomeOf(input, undefined, err);
    }
  }
}

/** The histories, read by several replay workers in turn: one that stops must not close the source. */
function unclosable<T>(items: AsyncIterable<T> | Iterable<T>): { next(): Promise<IteratorResult<T>> } {
  const iterator = Symbol.asyncIterator in items ? items[Symbol.asyncIterator]() : items[Symbol.iterator]();
  return { next: async () => iterator.next() };
}

function outcomeOf(input: ReplayInput, replayedRunId: string | undefined, error: unknown): ReplayOutcome {
  const outcome: ReplayOutcome = {
    workflowId: input.workflowId,
    runId: input.runId ?? replayedRunId ?? recordedRunId(input.history) ?? 'unknown-run',
    events: input.history.events?.length ?? 0,
  };
  if (error) outcome.failure = replayFailure(error);
  return outcome;
}

function recordedRunId(history: temporal.api.history.v1.IHistory): string | undefined {
  return history.events?.[0]?.workflowExecutionStartedEventAttributes?.originalExecutionRunId ?? undefined;
}

/**
 * The SDK reports a failed replay as one string around the core's Failure debug print; this picks out
 * the core's message, the event id it names and the first frame of its stack, if any.
 */
export function replayFailure(error: unknown): ReplayFailure {
  const err = error instanceof Error ? error : new Error(String(error));
  const text = err.message;
  const nondeterminism = err.name === 'DeterminismViolationError' || /\[TMPRL1100\]|Nondeterminism/i.test(text);
  const quoted = (field: string): string | undefined => {
    const found = new RegExp(`${field}: "((?:[^"\\\\]|\\\\.)*)"`).exec(text)?.[1];
    return found === undefined ? undefined : found.replace(/\\n/g, '\n').replace(/\\(["\\])/g, '$1');
  };
  const message = quoted('message') ?? (text.includes('Details: ') ? text.slice(text.indexOf('Details: ') + 'Details: '.length) : text);
  const failure: ReplayFailure = { nondeterminism, message: message.split('\n')[0] };
  const eventId = EVENT_ID_PATTERNS.map((pattern) => pattern.exec(message)?.[1]).find((id) => id !== undefined);
  if (eventId) failure.eventId = eventId;
  const location = quoted('stack_trace')
    ?.split('\n')
    .map((line) => line.trim())
    .find((line) => line.startsWith('at '));
  if (location) failure.location = location.slice('at '.length);
  return failure;
}

/** How the SDK core names the history event a command did not match, across its state machines. */
const EVENT_ID_PATTERNS = [/HistoryEvent\(id: (\d+)/, /\bevent (?:id |ID )?'?(\d+)'?/i, /\bevent_id: (\d+)/, /\bID (\d+)\b/];

/** One line per history: `ok …` or `FAIL …`. */
export function outcomeLine(outcome: ReplayOutcome): string {
  const { workflowId, runId, failure } = outcome;
  if (!failure) return `ok ${workflowId} ${runId} (${outcome.events} events)`;
  const where = failure.location ? ` (at ${failure.location})` : '';
  if (failure.nondeterminism) return `FAIL ${workflowId} ${runId}: nondeterminism at event ${failure.eventId ?? 'unknown'}: ${failure.message}${where}`;
  return `FAIL ${workflowId} ${runId}: replay failed: ${failure.message}${where}`;
}

export function summaryLine(outcomes: readonly ReplayOutcome[]): string {
  const failed = outcomes.filter((o) => o.failure).length;
  return `replayed ${outcomes.length}, failed ${failed}`;
}

/** Replays, printing a line per history and the summary; 0 when every history replayed, 1 otherwise. */
export async function replayAndReport(
  options: ReplayWorkerOptions,
  histories: AsyncIterable<ReplayInput> | Iterable<ReplayInput>,
  print: (line: string) => void,
): Promise<{ exitCode: 0 | 1; outcomes: ReplayOutcome[] }> {
  const outcomes: ReplayOutcome[] = [];
  for await (const outcome of replayHistories(options, histories)) {
    outcomes.push(outcome);
    print(outcomeLine(outcome));
  }
  print(summaryLine(outcomes));
  return { exitCode: outcomes.some((o) => o.failure) ? 1 : 0, outcomes };
}
