// The post-conversation export: one workflow per ended conversation chain
// (`export-<conversationId>-<chainId>`), started for the conversation by an activity so it outlives
// the conversation's run. It writes the export once; its activity retries until the destination
// takes it.
import { log, proxyActivities, proxyLocalActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities, ExportStart } from '../activities';
import { ExportErrorType, exportWorkflowId, type ExportInput, type ExportResult } from '../contracts/export';
import type { ConversationState } from '../messages';
import { exportRecordOf } from '../projections';

const { exportConversation } = proxyActivities<Activities>({
  // Reads the store and uploads one object of at most a few MB.
  startToCloseTimeout: '2 minutes',
  // The activity heartbeats every second: an upload lost with a crashed worker is retried after 5 s.
  heartbeatTimeout: '5 seconds',
  // No maximum attempts: an ended conversation must reach storage, however long it is down.
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    nonRetryableErrorTypes: [ExportErrorType.ExportConflict, ExportErrorType.ExportNotConfigured],
  },
});

export async function exportWorkflow(input: ExportInput): Promise<ExportResult> {
  // From the input, not this run's workflow id, so the object key and payment id stay the
  // conversation's own whichever way the workflow was started.
  return exportConversation({ ...input, exportId: exportWorkflowId(input.conversationId, input.chainId) });
}

// A local activity: one call to the Temporal service, run in the workflow task that ends the
// conversation, so it adds one marker to the conversation's history instead of an activity's
// three events and the workflow task after them.
const { startExport } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  // No maximum attempts: an ended conversation must be exported, however long Temporal takes to answer.
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/**
 * Called by the conversation workflow on each of its ends, after its final batch is written, with
 * what that batch's own local activity started when it carried the export (`exportAfter`): then
 * nothing more is run. Otherwise exports once per workflow chain through a local activity: it writes the export at once when the
 * destination takes it, else starts the export workflow (a workflow of its own with a deterministic
 * id, so it outlives the conversation and retries until the destination takes it; see startExport).
 * The activity is recorded in the conversation's history, so a replay never runs it again.
 *
 * Not a child workflow with ParentClosePolicy ABANDON, which has the same durability: the activity
 * runs on a worker and sees its configuration, so a worker with no export destination (tests that
 * do not look at exports) starts none. An export left waiting on a task queue that nobody polls
 * stops Temporal's time-skipping test server from skipping time, which stalled every timer-driven
 * test that ran after one.
 */
export async function startExportOnce(state: ConversationState, startedWithFinalBatch?: ExportStart): Promise<void> {
  const { exportId, started, exported } = startedWithFinalBatch ?? (await startExport(exportInputOf(state)));
  const what = exported ? 'export written' : started ? 'export workflow started' : 'export was already started';
  log.info(what, { conversationId: state.conversationId, exportWorkflowId: exportId });
}

/** What the export is given: the conversation's chain and its record as it stands. */
export function exportInputOf(state: ConversationState): ExportInput {
  return { conversationId: state.conversationId, chainId: workflowInfo().firstExecutionRunId, record: exportRecordOf(state) };
}
