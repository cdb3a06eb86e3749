// The post-conversation export: one workflow per ended conversation chain
// (`export-<conversationId>-<chainId>`), started by the conversation as an abandoned child so it
// outlives the conversation's run. It writes the export once; its activity retries until the
// destination takes it.
import {
  ParentClosePolicy,
  WorkflowIdReusePolicy,
  log,
  patched,
  proxyActivities,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { Activities } from '../activities';
import { ExportErrorType, exportWorkflowId, type ExportInput, type ExportResult } from '../src/export/contract';
import type { ConversationState } from '../src/shared';
import { PATCHES, exportRecordOf } from './conversation-state';

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

/**
 * Called by the conversation workflow on each of its ends, after its final batch is written.
 * Starts the export once per workflow chain: a child with a deterministic id that the conversation
 * abandons, so it runs on after the conversation's run completes or is cancelled. The start is
 * recorded in the conversation's history, so a replay never starts it again; a re-execution of the
 * end (a reset) finds the id taken and leaves the export that exists. Runs recorded before exports
 * existed replay without it (PATCHES.exportOnEnd).
 */
export async function startExportOnce(state: ConversationState): Promise<void> {
  if (!patched(PATCHES.exportOnEnd)) return;
  const { conversationId } = state;
  const chainId = workflowInfo().firstExecutionRunId;
  const workflowId = exportWorkflowId(conversationId, chainId);
  try {
    await startChild(exportWorkflow, {
      workflowId,
      args: [{ conversationId, chainId, record: exportRecordOf(state) }],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
    });
    log.info('export started', { conversationId, exportWorkflowId: workflowId });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    log.info('export was already started', { conversationId, exportWorkflowId: workflowId });
  }
}
