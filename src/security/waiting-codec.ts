// The worker's payload codec waits out a key-service outage instead of failing. The Temporal worker
// treats a codec error while it decodes a workflow activation as fatal: with KMS unreachable every
// worker would exit (and an orchestrator restart them in a loop). Waiting keeps the worker alive;
// the workflow task times out on the server and is retried, and once KMS answers again the
// conversation carries on where it was. The API's client does not wait: its caller gets a 503.
import type { Payload, PayloadCodec, SerializationContext } from '@temporalio/common';
import type { Logger } from 'pino';
import { KeyServiceUnavailableError } from './errors';

export interface WaitingCodecOptions {
  logger: Pick<Logger, 'warn' | 'info'>;
  /** First pause after a failure; doubles up to maxDelayMs. */
  initialDelayMs?: number;
  maxDelayMs?: number;
}

export class KeyServiceWaitingCodec implements PayloadCodec {
  private outageSince: number | undefined;

  constructor(
    private readonly inner: PayloadCodec,
    private readonly options: WaitingCodecOptions,
  ) {}

  encode(payloads: Payload[], context?: SerializationContext): Promise<Payload[]> {
    return this.untilAvailable(() => this.inner.encode(payloads, context));
  }

  decode(payloads: Payload[], context?: SerializationContext): Promise<Payload[]> {
    return this.untilAvailable(() => this.inner.decode(payloads, context));
  }

  private async untilAvailable(call: () => Promise<Payload[]>): Promise<Payload[]> {
    const maxDelay = this.options.maxDelayMs ?? 10_000;
    let delay = this.options.initialDelayMs ?? 500;
    for (;;) {
      try {
        const result = await call();
        if (this.outageSince !== undefined) {
          this.options.logger.info({ outageMs: Date.now() - this.outageSince }, 'key service reachable again');
          this.outageSince = undefined;
        }
        return result;
      } catch (err) {
        if (!(err instanceof KeyServiceUnavailableError)) throw err;
        if (this.outageSince === undefined) {
          this.outageSince = Date.now();
          this.options.logger.warn({ error: err.message }, 'key service unavailable: payloads wait until it answers');
        }
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(maxDelay, delay * 2);
      }
    }
  }
}
