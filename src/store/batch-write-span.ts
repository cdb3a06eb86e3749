// The span around a participant-data batch write, the last hop of a conversation's trace. Ids and
// counts only: never an attribute name or value, and never a database error's message, which can
// quote the value it choked on. Without a registered tracer provider (tracing off) the OpenTelemetry
// API hands out a no-op span and this costs a function call.
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { AttributeBatch } from './participant-data-store';

const tracer = trace.getTracer('parley-store');

export function traceBatchWrite(dbSystem: 'sqlite' | 'postgresql', batch: AttributeBatch, write: () => Promise<{ applied: boolean }>): Promise<{ applied: boolean }> {
  return tracer.startActiveSpan(
    'participant-data write-batch',
    {
      kind: SpanKind.CLIENT,
      attributes: {
        'db.system': dbSystem,
        'db.operation.name': 'writeBatch',
        'parley.conversation_id': batch.conversationId,
        'parley.batch_seq': batch.batchSeq,
        'parley.attribute_count': Object.keys(batch.attributes).length,
        'parley.secured_count': (batch.secured ?? []).filter((name) => name in batch.attributes).length,
      },
    },
    async (span) => {
      try {
        const result = await write();
        // false: the batch was already written (a retried flush), nothing written twice.
        span.setAttribute('parley.batch_applied', result.applied);
        return result;
      } catch (err) {
        span.setAttribute('error.type', errorKind(err));
        span.setStatus({ code: SpanStatusCode.ERROR });
        throw err;
      } finally {
        span.end();
      }
    },
  );
}

/** The error's class or driver code (BatchConflictError, 40001, SQLITE_BUSY), never its message. */
function errorKind(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  return err instanceof Error ? err.name : 'error';
}
