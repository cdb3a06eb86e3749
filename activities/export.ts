import { trace } from '@opentelemetry/api';
import { ApplicationFailure, WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy } from '@temporalio/common';
import { Context } from '@temporalio/activity';
import type { Logger } from 'pino';
import {
  ExportConflictError,
  ExportErrorType,
  buildExportDocument,
  contentDigest,
  exportObjectKey,
  exportWorkflowId,
  serializeExport,
  transcriptOf,
  type ExportInput,
  type ExportResult,
  type ExportSink,
} from '../src/export';
import type { ParticipantDataStore } from '../src/store';
import { WORKFLOW_TYPES, type Activities, type ExportStart, type exportWorkflow } from '../src/conversation';

export function createExportActivities(deps: { store: ParticipantDataStore; logger: Logger; exportSink?: ExportSink }): Pick<Activities, 'startExport' | 'exportConversation'> {
  return {
    /**
     * Starts the conversation's export workflow on this worker's task queue, once: its id is a
     * function of the conversation chain and may never be used again (REJECT_DUPLICATE), so a retry
     * of this activity, or a conversation reset to before its end, finds it taken and starts nothing.
     * A workflow of its own, not a child: it outlives the conversation whatever way that ends.
     */
    async startExport(input: ExportInput): Promise<ExportStart> {
      const context = Context.current();
      const exportId = exportWorkflowId(input.conversationId, input.chainId);
      if (!deps.exportSink) {
        // Only a worker built without one (tests that do not look at exports; src/main/worker.ts always has
        // one): an export started here would wait on this task queue for a worker that may never
        // come, and the time-skipping test server stops skipping time while any task is waiting.
        deps.logger.warn({ conversationId: input.conversationId, exportId }, 'this worker has no export destination: export not started');
        return { exportId, started: false };
      }
      try {
        await context.client.workflow.start<typeof exportWorkflow>(WORKFLOW_TYPES.export, {
          workflowId: exportId,
          taskQueue: context.info.taskQueue,
          args: [input],
          workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        });
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        deps.logger.info({ conversationId: input.conversationId, exportId }, 'export was already started');
        return { exportId, started: false };
      }
      deps.logger.info({ conversationId: input.conversationId, exportId }, 'export started');
      return { exportId, started: true };
    },

    /**
     * Assembles the conversation's export (participant data as stored, secured values still
     * ciphertext; the transcript; the record it was given; its payment id) and writes it once under
     * its deterministic key. A retry or a re-run assembles the same bytes (nothing in them depends on
     * the clock, and the conversation's data no longer changes once it has ended), so finding the
     * object already there with the same digest is success; with another digest it is a conflict
     * (ApplicationFailure ExportConflict, non-retryable), and the object is left as it was.
     */
    async exportConversation(input: ExportInput & { exportId: string }): Promise<ExportResult> {
      const sink = deps.exportSink;
      if (!sink) {
        throw ApplicationFailure.create({ type: ExportErrorType.ExportNotConfigured, message: 'this worker has no export destination', nonRetryable: true });
      }
      // Heartbeats tell a slow upload (keep waiting) from a dead worker (retry elsewhere after the heartbeat timeout).
      const context = Context.current();
      const beat = setInterval(() => context.heartbeat(), 1000);
      const about = { conversationId: input.conversationId, exportId: input.exportId, attempt: context.info.attempt };
      try {
        const [attributes, transcript] = await Promise.all([deps.store.listAttributes(input.conversationId), transcriptOf(deps.store, input.conversationId)]);
        const document = buildExportDocument(input, attributes, transcript);
        const body = serializeExport(document);
        const digest = contentDigest(body);
        const key = exportObjectKey(sink.prefix, input);
        const outcome = await sink.putIfAbsent(key, body, digest);
        // Ids, counts and the digest only: values may be sensitive.
        deps.logger.info(
          { ...about, location: sink.locationOf(key), bytes: body.length, attributeCount: attributes.length, messageCount: transcript.length, digest, outcome },
          outcome === 'written' ? 'conversation exported' : 'conversation export already written',
        );
        // On the activity's span when tracing is on (a no-op otherwise): counts and the outcome only.
        trace.getActiveSpan()?.setAttributes({ 'parley.conversation_id': input.conversationId, 'parley.export.outcome': outcome, 'parley.attribute_count': attributes.length, 'parley.message_count': transcript.length });
        return { exportId: input.exportId, location: sink.locationOf(key), paymentId: document.paymentId, written: outcome === 'written' };
      } catch (err) {
        if (err instanceof ExportConflictError) {
          deps.logger.error({ ...about, location: err.location }, 'conversation export NOT written: its key already holds other content');
          throw ApplicationFailure.create({ type: ExportErrorType.ExportConflict, message: err.message, nonRetryable: true });
        }
        throw err;
      } finally {
        clearInterval(beat);
      }
    },
  };
}
