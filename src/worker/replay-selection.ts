// Which histories `npm run replay` fetches from Temporal: one conversation (every run of its
// continue-as-new chain still retained), a visibility query, or a recent window (a sample of the
// closed workflows and every open one). Listed through visibility, fetched one run at a time.
import { type Client, type WorkflowExecutionInfo, WorkflowNotFoundError, isGrpcServiceError } from '@temporalio/client';
import { WORKFLOW_TYPES, workflowIdFor } from '../conversation';
import type { ReplayInput } from './replay';

export type ReplaySelection =
  /** A conversation id or a workflow id, as the operator has it. */
  | { kind: 'id'; id: string }
  | { kind: 'query'; query: string }
  /** Closed within the last `windowMs` (at most `sample` of them), and every open one. */
  | { kind: 'since'; windowMs: number; sample: number };

export const DEFAULT_SAMPLE = 50;

const GRPC_NOT_FOUND = 5;

export interface SelectedRun {
  workflowId: string;
  runId: string;
}

/** A string literal in a visibility query. */
function literal(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

const PARLEY_TYPES = `(${Object.values(WORKFLOW_TYPES)
  .map((type) => `WorkflowType = ${literal(type)}`)
  .join(' OR ')})`;

/** The visibility queries a selection runs, each with the most executions it takes from it. */
export function selectionQueries(selection: ReplaySelection, now = new Date()): Array<{ query: string; limit?: number }> {
  switch (selection.kind) {
    case 'id': {
      // Either spelling works: a conversation id maps to its workflow id, a workflow id is itself.
      const ids = [...new Set([selection.id, workflowIdFor(selection.id)])];
      return [{ query: ids.map((id) => `WorkflowId = ${literal(id)}`).join(' OR ') }];
    }
    case 'query':
      return [{ query: selection.query }];
    case 'since': {
      const after = new Date(now.getTime() - selection.windowMs).toISOString();
      return [
        { query: `${PARLEY_TYPES} AND ExecutionStatus = "Running"` },
        { query: `${PARLEY_TYPES} AND ExecutionStatus != "Running" AND CloseTime > ${literal(after)}`, limit: selection.sample },
      ];
    }
  }
}

/**
 * The runs a selection names, each workflow's runs oldest first (a chain replays in the order it ran).
 * Visibility lists the most recently closed first, so a window's sample is its latest closed workflows.
 */
export async function selectRuns(client: Client, selection: ReplaySelection, now = new Date()): Promise<SelectedRun[]> {
  const found: WorkflowExecutionInfo[] = [];
  for (const { query, limit } of selectionQueries(selection, now)) {
    let taken = 0;
    if (limit === 0) continue;
    for await (const execution of client.workflow.list({ query })) {
      found.push(execution);
      if (limit !== undefined && ++taken >= limit) break;
    }
  }
  const seen = new Set<string>();
  return found
    .filter((e) => !seen.has(e.runId) && seen.add(e.runId))
    .sort((a, b) => a.workflowId.localeCompare(b.workflowId) || a.startTime.getTime() - b.startTime.getTime())
    .map(({ workflowId, runId }) => ({ workflowId, runId }));
}

/**
 * Each run's history, fetched when the replay asks for it (the payloads still encoded: the replay
 * worker decodes them with Parley's codec). A run deleted since it was listed (its retention ran out)
 * is reported through `gone` and skipped.
 */
export async function* fetchHistories(client: Client, runs: readonly SelectedRun[], gone: (run: SelectedRun) => void): AsyncGenerator<ReplayInput> {
  for (const run of runs) {
    try {
      const history = await client.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
      yield { ...run, history };
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError || (isGrpcServiceError(err) && err.code === GRPC_NOT_FOUND))) throw err;
      gone(run);
    }
  }
}
