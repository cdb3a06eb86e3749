import { ApplicationFailure } from '@temporalio/common';
import { Context } from '@temporalio/activity';
import type { Logger } from 'pino';
import type { FlushMetrics } from '../src/platform/metrics';
import { BatchConflictError, StoreTimeoutError, type ParticipantDataStore } from '../src/store';
import { ActivityErrorType, type Activities, type FlushResult, type ParticipantDataBatch } from '../src/conversation';

export function createParticipantDataActivities(deps: { store: ParticipantDataStore; logger: Logger; metrics?: FlushMetrics }): Pick<Activities, 'flushParticipantData'> {
  return {
    /**
     * Writes one queued batch. Idempotent on (conversationId, chainId, batchSeq), a key that survives
     * continue-as-new. Fails with ApplicationFailure type BatchConflict (non-retryable) when that key
     * is already stored with other content, and StoreTimeout (retryable) when the store did not answer
     * within STORE_TIMEOUT.
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
      return { applied, attributeCount };
    },
  };
}
