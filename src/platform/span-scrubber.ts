// The last stop before export. Temporal's interceptors record every failure on its span as an
// exception event (message and stack) and as the status message; Parley's failure converter
// encrypts exactly those in history, because an error's text can quote what it failed on (a value,
// an address). So a span leaves the process with the exception's type only: the trace says where
// and what kind of failure, the encrypted history says why.
import type { Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor, TimedEvent } from '@opentelemetry/sdk-trace-base';

const EXCEPTION_EVENT = 'exception';
const KEPT_EXCEPTION_ATTRIBUTES = ['exception.type'];

export class ScrubbingSpanProcessor implements SpanProcessor {
  constructor(private readonly next: SpanProcessor) {}

  onStart(span: Span, parentContext: Context): void {
    this.next.onStart(span, parentContext);
  }

  onEnd(span: ReadableSpan): void {
    this.next.onEnd(scrubbed(span));
  }

  forceFlush(): Promise<void> {
    return this.next.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.next.shutdown();
  }
}

/** The same span seen through a layer that hides the exception texts; everything else (spanContext() included) reads through. */
export function scrubbed(span: ReadableSpan): ReadableSpan {
  const events: TimedEvent[] = span.events.map((event) =>
    event.name === EXCEPTION_EVENT ? { ...event, attributes: Object.fromEntries(Object.entries(event.attributes ?? {}).filter(([key]) => KEPT_EXCEPTION_ATTRIBUTES.includes(key))) } : event,
  );
  return Object.create(span, { events: { value: events, enumerable: true }, status: { value: { code: span.status.code }, enumerable: true } }) as ReadableSpan;
}
