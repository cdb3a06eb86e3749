// What a span may carry when it leaves the process, checked on the spans themselves: a failure's
// text (which Parley's failure converter encrypts in history) is cut down to its type, and the
// store's batch-write span holds ids and counts, never a value or a name, also when the write fails.
import crypto from 'node:crypto';
import path from 'node:path';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ScrubbingSpanProcessor } from '../../src/platform/span-scrubber';
import { BatchConflictError, SqliteParticipantDataStore } from '../../src/store';
import { tempDir, uniqueId } from '../../rigs/temp';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new ScrubbingSpanProcessor(new SimpleSpanProcessor(exporter))] });
trace.setGlobalTracerProvider(provider);
afterAll(() => provider.shutdown());
beforeEach(() => exporter.reset());

const canary = () => `CANARY-${crypto.randomBytes(6).toString('hex')}`;
/** Everything a span exports that a test can read, as text. */
const exportedText = (span: ReadableSpan) => JSON.stringify({ name: span.name, attributes: span.attributes, events: span.events, status: span.status, links: span.links });

test("a failure recorded on a span leaves with its type only: no message, no stack, no status text", () => {
  const secret = canary();
  const span = trace.getTracer('test').startSpan('RunActivity:flushParticipantData');
  span.recordException(new TypeError(`could not write ${secret}`));
  span.setStatus({ code: SpanStatusCode.ERROR, message: `could not write ${secret}` });
  span.setAttribute('parley.conversation_id', 'c-1');
  span.end();

  const [exported] = exporter.getFinishedSpans();
  expect(exported.events.map((e) => ({ name: e.name, attributes: e.attributes }))).toEqual([{ name: 'exception', attributes: { 'exception.type': 'TypeError' } }]);
  expect(exported.status).toEqual({ code: SpanStatusCode.ERROR });
  expect(exported.attributes).toEqual({ 'parley.conversation_id': 'c-1' });
  // The rest of the span reads through unchanged.
  expect(exported.spanContext().traceId).toBe(span.spanContext().traceId);
  expect(exportedText(exported)).not.toContain(secret);
});

test('the store batch-write span: ids and counts on a write and on its replay, the error class on a conflict, never a name or a value', async () => {
  const store = new SqliteParticipantDataStore(path.join(tempDir('span-store'), 'participant-data.sqlite'));
  await store.init();
  try {
    const conversationId = uniqueId('c');
    const [value, secured, other] = [canary(), canary(), canary()];
    const batch = { conversationId, chainId: 'run-1', batchSeq: 1, attributes: { CustomerName: value, accountPin: secured }, secured: ['accountPin'] };
    await store.writeBatch(batch);
    await store.writeBatch(batch);
    await expect(store.writeBatch({ ...batch, attributes: { CustomerName: other } })).rejects.toBeInstanceOf(BatchConflictError);

    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => [s.name, s.attributes['parley.batch_applied'], s.attributes['error.type'], s.status.code])).toEqual([
      ['participant-data write-batch', true, undefined, SpanStatusCode.UNSET],
      ['participant-data write-batch', false, undefined, SpanStatusCode.UNSET],
      ['participant-data write-batch', undefined, 'BatchConflictError', SpanStatusCode.ERROR],
    ]);
    expect(spans[0].attributes).toEqual({
      'db.system': 'sqlite',
      'db.operation.name': 'writeBatch',
      'parley.conversation_id': conversationId,
      'parley.batch_seq': 1,
      'parley.attribute_count': 2,
      'parley.secured_count': 1,
      'parley.batch_applied': true,
    });
    for (const span of spans) expect(exportedText(span)).not.toMatch(new RegExp(`${value}|${secured}|${other}|CustomerName|accountPin`));
  } finally {
    await store.close();
  }
});
