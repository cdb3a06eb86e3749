import { Context } from '@temporalio/activity';
import type { Logger } from 'pino';
import type { FlushMetrics } from '../src/metrics';
import type { AttributeBatch, ParticipantDataStore } from '../src/store';

export interface FlushResult {
  /** false when this batch had already been written (a retry after a crash): nothing was written twice. */
  applied: boolean;
  attributeCount: number;
}

export function createParticipantDataActivities(deps: { store: ParticipantDataStore; logger: Logger; metrics?: FlushMetrics }) {
  return {
    /** Writes one queued batch. Idempotent on (conversationId, chainId, batchSeq), a key that survives continue-as-new. */
    async flushParticipantData(batch: AttributeBatch): Promise<FlushResult> {
      // Heartbeats while the transaction runs let Temporal tell a slow store (keep waiting) from a
      // dead worker (retry elsewhere after the heartbeat timeout, not the whole start-to-close).
      const context = Context.current();
      const beat = setInterval(() => context.heartbeat(), 1000);
      const attributeCount = Object.keys(batch.attributes).length;
      let applied: boolean;
      try {
        ({ applied } = await deps.store.writeBatch(batch));
      } catch (err) {
        deps.metrics?.flushed('failed', attributeCount);
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
