import { SpanStatusCode, trace } from '@opentelemetry/api';
import { ApplicationFailure } from '@temporalio/common';
import { Context } from '@temporalio/activity';
import type { Logger } from 'pino';
import type { FlushMetrics } from '../src/platform/metrics';
import { BatchConflictError, StoreTimeoutError, type ParticipantDataStore } from '../src/store';
import { ActivityErrorType, type Activities, type FlushResult, type ParticipantDataBatch } from '../src/conversation';

const tracer = trace.getTracer('parley-worker');

export function createParticipantDataActivities(deps: {
  store: ParticipantDataStore;
  logger: Logger;
  metrics?: FlushMetrics;
  /** Starts a conversation's export after its final batch (`exportAfter`); absent: such a batch is written and its export left to the workflow. */
  startExport?: Activities['startExport'];
}): Pick<Activities, 'flushParticipantData'> {
  return {
    /**
     * Writes one queued batch. Idempotent on (conversationId, chainId, batchSeq), a key that survives
     * continue-as-new. Fails with ApplicationFailure type BatchConflict (non-retryable) when that key
     * is already stored with other content, and StoreTimeout (retryable) when the store did not answer
     * within STORE_TIMEOUT. With `exportAfter` (a conversation's final batch), once the batch is
     * written it starts the conversation's export too; an export that could not be started is left
     * to the workflow (the result then has no `export`), the written batch is not failed for it.
     */
    async flushParticipantData(batch: ParticipantDataBatch): Promise<FlushResult> {
      // Heartbeats while the transaction runs let Temporal tell a slow store (keep waiting) from a
      // dead worker (retry elsewhere after the heartbeat timeout, not the whole start-to-close).
      const context = Context.current();
      const beat = setInterval(() => context.heartbeat(), 1000);
      const attributeCount = Object.keys(batch.attributes).length;
      // Names and counts only: values may be sensitive.
      const about = { conversationId: batch.conversationId, chainId: batch.chainId ?? '', batchSeq: batch.batchSeq, attributeCount };
      let applied: boolean;
      try {
        ({ applied } = await deps.store.writeBatch(batch));
      } catch (err) {
        deps.metrics?.flushed(err instanceof BatchConflictError ? 'conflict' : 'failed', attributeCount);
        if (err instanceof BatchConflictError) {
          // A retry re-sends the same content, so retrying cannot help: fail this attempt for good and
          // visibly (this log line, Temporal's history); the workflow writes the batch under its next key.
          deps.logger.error(about, 'participant data batch NOT written under this key: the key is already stored with other content');
          throw ApplicationFailure.create({ type: ActivityErrorType.BatchConflict, message: err.message, nonRetryable: true });
        }
        if (err instanceof StoreTimeoutError) {
          deps.logger.warn({ ...about, operation: err.operation, timeoutMs: err.timeoutMs, reason: err.message }, 'participant data store timed out; the flush will be retried');
          throw ApplicationFailure.create({
            type: ActivityErrorType.StoreTimeout,
            message: `conversation ${batch.conversationId}, batch ${batch.batchSeq}: ${err.message}`,
            nonRetryable: false,
          });
        }
        throw err;
      } finally {
        clearInterval(beat);
      }
      deps.metrics?.flushed(applied ? 'applied' : 'already_written', attributeCount);
      // Names and counts only: values may be sensitive.
      deps.logger.info(
        { conversationId: batch.conversationId, batchSeq: batch.batchSeq, attributeCount, applied },
        applied ? 'participant data batch written' : 'participant data batch already written',
      );
      const { exportAfter } = batch;
      const startExport = deps.startExport;
      if (!exportAfter || !startExport) return { applied, attributeCount };
      // A span of its own under the flush's, where the export's outcome is recorded (ids and outcomes only).
      return tracer.startActiveSpan('conversation export-start', { attributes: { 'parley.conversation_id': batch.conversationId } }, async (span) => {
        try {
          return { applied, attributeCount, export: await startExport(exportAfter) };
        } catch (err) {
          const failure = err instanceof Error ? err.name : typeof err;
          span.setAttribute('error.type', failure);
          span.setStatus({ code: SpanStatusCode.ERROR });
          deps.logger.warn({ ...about, failure }, 'export not started with the final batch; the workflow starts it');
          return { applied, attributeCount };
        } finally {
          span.end();
        }
      });
    },
  };
}
