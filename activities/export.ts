import { trace } from '@opentelemetry/api';
import { ApplicationFailure, WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy } from '@temporalio/common';
import { Context } from '@temporalio/activity';
import type { Logger } from 'pino';
import {
  DEFAULT_EXPORT_INLINE_WRITE_MS,
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
import type { ExportMetrics } from '../src/platform/metrics';
import type { ParticipantDataStore } from '../src/store';
import { WORKFLOW_TYPES, type Activities, type ExportStart, type exportWorkflow } from '../src/conversation';

export function createExportActivities(deps: {
  store: ParticipantDataStore;
  logger: Logger;
  exportSink?: ExportSink;
  /** 0: every export goes through its own workflow. */
  exportInlineWriteMs?: number;
  metrics?: ExportMetrics;
}): Pick<Activities, 'startExport' | 'exportConversation'> {
  return {
    /**
     * Writes the conversation's export at once when the destination takes it within
     * `exportInlineWriteMs`: the common case then costs no workflow of its own (a start, two
     * workflow tasks and an activity on the Temporal service for every conversation). Otherwise
     * (the destination down, slow or refusing) it starts the export workflow, which retries until
     * the destination takes it.
     *
     * The export workflow is started on this worker's task queue, once: its id is a function of the
     * conversation chain and may never be used again (REJECT_DUPLICATE), so a retry of this
     * activity, or a conversation reset to before its end, finds it taken and starts nothing.
     * A workflow of its own, not a child: it outlives the conversation whatever way that ends.
     * Either path writes the same bytes under the same key, so an inline write that finishes after
     * the workflow was started changes nothing.
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
      const inlineMs = deps.exportInlineWriteMs ?? DEFAULT_EXPORT_INLINE_WRITE_MS;
      if (inlineMs > 0) {
        const exported = await writeInline(deps.exportSink, { ...input, exportId }, inlineMs, context.info.attempt);
        if (exported) return { exportId, started: false, exported };
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
      try {
        return await writeExport(sink, input, context.info.attempt);
      } catch (err) {
        if (err instanceof ExportConflictError) throw ApplicationFailure.create({ type: ExportErrorType.ExportConflict, message: err.message, nonRetryable: true });
        throw err;
      } finally {
        clearInterval(beat);
      }
    },
  };

  /**
   * Assembles the export and writes it once under its deterministic key. The same bytes on every
   * attempt (nothing in them depends on the clock, and the conversation's data no longer changes
   * once it has ended), so an object already there with the same digest is success; with another
   * digest it is an ExportConflictError, and the object is left as it was.
   */
  async function writeExport(sink: ExportSink, input: ExportInput & { exportId: string }, attempt: number, how: 'workflow' | 'inline' = 'workflow'): Promise<ExportResult> {
    const about = { conversationId: input.conversationId, exportId: input.exportId, attempt, how };
    try {
      const [attributes, transcript] = await Promise.all([deps.store.listAttributes(input.conversationId), transcriptOf(deps.store, input.conversationId)]);
      const document = buildExportDocument(input, attributes, transcript);
      const body = serializeExport(document);
      const digest = contentDigest(body);
      const key = exportObjectKey(sink.prefix, input);
      const outcome = await sink.putIfAbsent(key, body, digest);
      deps.metrics?.exported(outcome === 'written' ? 'written' : 'already_written');
      // On the active span when tracing is on (a no-op otherwise): ids, counts and the outcome only.
      trace.getActiveSpan()?.setAttributes({ 'parley.conversation_id': input.conversationId, 'parley.export.outcome': outcome, 'parley.export.how': how, 'parley.attribute_count': attributes.length, 'parley.message_count': transcript.length });
      // Ids, counts and the digest only: values may be sensitive.
      deps.logger.info(
        { ...about, location: sink.locationOf(key), bytes: body.length, attributeCount: attributes.length, messageCount: transcript.length, digest, outcome },
        outcome === 'written' ? 'conversation exported' : 'conversation export already written',
      );
      return { exportId: input.exportId, location: sink.locationOf(key), paymentId: document.paymentId, written: outcome === 'written' };
    } catch (err) {
      deps.metrics?.exported(err instanceof ExportConflictError ? 'conflict' : 'failed');
      if (err instanceof ExportConflictError) deps.logger.error({ ...about, location: err.location }, 'conversation export NOT written: its key already holds other content');
      throw err;
    }
  }

  /**
   * One inline attempt, given `ms` to finish; undefined when it failed or took longer, and the
   * export workflow must take over. A slow attempt is not abandoned half-way: it may still land,
   * and the workflow's attempt then finds the same bytes there.
   */
  async function writeInline(sink: ExportSink, input: ExportInput & { exportId: string }, ms: number, attempt: number): Promise<ExportResult | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timed-out'>((resolve) => {
      timer = setTimeout(() => resolve('timed-out'), ms);
    });
    const attemptInline = writeExport(sink, input, attempt, 'inline');
    try {
      const outcome = await Promise.race([attemptInline, timedOut]);
      if (outcome !== 'timed-out') return outcome;
      deps.logger.warn({ conversationId: input.conversationId, exportId: input.exportId, afterMs: ms }, 'export not written in time inline; the export workflow takes it over');
      attemptInline.catch(() => undefined);
      return undefined;
    } catch (err) {
      // The conflict was logged where it was found; the workflow meets it again and fails visibly.
      if (!(err instanceof ExportConflictError)) {
        deps.logger.warn({ conversationId: input.conversationId, exportId: input.exportId, failure: failureName(err) }, 'export not written inline; the export workflow takes it over');
      }
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The error's class and code, never its message (a destination's message may quote what it was sent). */
function failureName(err: unknown): string {
  if (!(err instanceof Error)) return typeof err;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? `${err.name} ${code}` : err.name;
}
