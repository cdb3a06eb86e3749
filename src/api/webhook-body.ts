// Webhook bodies are read here, not by Fastify's parser: the signature is checked over the bytes
// exactly as received before anything parses them, so an unsigned or badly signed request is 401
// whatever its size, content type or content, and bytes that are not UTF-8 are never verified as
// their decoded text. Registered inside the webhook routes' plugin, it touches no other route.
import { Readable } from 'node:stream';
import { errorCodes, type FastifyInstance, type FastifyRequest } from 'fastify';
import { deliveryExpiresAtMs, type VerifiedDelivery, WebhookSignatureError, type WebhookVerifier } from '../security/webhook-signature';
import { HttpError } from './temporal-errors';

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** How long a sender is asked to wait when the shared replay record cannot be reached. */
const SHARED_REPLAYS_RETRY_AFTER_SECONDS = 5;

export function verifySignedBodies(app: FastifyInstance, verifier: WebhookVerifier): void {
  const bodyLimit = app.initialConfig.bodyLimit ?? 1024 * 1024;
  /** The deliveries this replica took and has not answered yet. */
  const taken = new WeakMap<FastifyRequest, VerifiedDelivery>();

  app.addHook('preParsing', async (request, reply, payload) => {
    const delivery = refusedUnless(request, () => verifier.begin(request.headers));
    // Hashed to the end so a signature over a body too large is still told from a bad one; kept
    // only up to the limit. Node's request timeout bounds how long a sender may keep sending.
    const kept: Buffer[] = [];
    for await (const chunk of payload as AsyncIterable<Buffer | string>) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      delivery.update(bytes);
      if (delivery.length <= bodyLimit) kept.push(bytes);
      else kept.length = 0;
    }
    const verified = refusedUnless(request, () => delivery.finish());
    if (verifier.shared) await claimShared(request, verifier, verified);
    taken.set(request, verified);
    if (delivery.length > bodyLimit) throw new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE();
    if (delivery.length === 0) throw new HttpError(400, 'the body is missing: a webhook carries its event as JSON');
    // What the content-type parser reads: the verified bytes, once more.
    return Object.assign(Readable.from([Buffer.concat(kept)]), { receivedEncodedLength: delivery.length });
  });

  // A delivery we failed to record (5xx) may be retried as is: it changed nothing, so it is not a
  // replay. Forgotten before the answer leaves, so a retry sent at once to any replica is taken.
  app.addHook('onSend', async (request, reply, payload) => {
    const verified = taken.get(request);
    taken.delete(request);
    if (!verified || reply.statusCode < 500) return payload;
    verifier.replays.forget(verified.id, verified.timestampSeconds);
    await verifier.shared?.release(verified.id, verified.timestampSeconds).catch((err: unknown) => {
      // The claim stays until it expires: the sender's retries are refused as replays meanwhile.
      request.log.error({ webhookId: verified.id.slice(0, 200), err: { type: err instanceof Error ? err.name : typeof err } }, 'a failed delivery could not be forgotten by the other replicas');
    });
    return payload;
  });

  // Fastify's own JSON parsing (same 400s, same prototype-poisoning refusal), of text decoded strictly.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    let text: string;
    try {
      // parseAs 'buffer' hands a Buffer; Fastify's parser type allows a string for the other modes.
      text = UTF8.decode(body as Buffer);
    } catch {
      done(new HttpError(400, 'the body is not valid UTF-8 JSON'), undefined);
      return;
    }
    // Fastify's default parser reports through `done` and returns nothing; only its declared type
    // (either parser shape, the promise-returning one included) says it might return a promise.
    void parseJson(request, text, done);
  });
}

/**
 * Records the delivery where every replica sees it. Another replica's earlier delivery is a replay
 * (401, as on the same replica). Without the record, whether it is a replay cannot be told: 503 with
 * Retry-After, never a silent accept, and this replica forgets it too so the retry is judged afresh.
 */
async function claimShared(request: FastifyRequest, verifier: WebhookVerifier, verified: VerifiedDelivery): Promise<void> {
  let claimed: boolean;
  try {
    claimed = await (verifier.shared as NonNullable<WebhookVerifier['shared']>).claim(verified.id, verified.timestampSeconds, deliveryExpiresAtMs(verified.timestampSeconds));
  } catch (err) {
    verifier.replays.forget(verified.id, verified.timestampSeconds);
    request.log.error({ webhookId: verified.id.slice(0, 200), err: { type: err instanceof Error ? err.name : typeof err, message: err instanceof Error ? err.message : undefined } }, 'webhook not taken: the shared replay record cannot be reached');
    throw new HttpError(503, 'webhook deliveries cannot be checked for replays right now (the shared store is unreachable); nothing was changed: deliver it again', undefined, {
      'retry-after': String(SHARED_REPLAYS_RETRY_AFTER_SECONDS),
    });
  }
  if (!claimed) refuse(request, new WebhookSignatureError('this delivery (webhook-id and timestamp) was already received'));
}

/** Runs a signature check; its refusal is logged (never the signature) and answered 401. */
function refusedUnless<T>(request: FastifyRequest, check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (!(err instanceof WebhookSignatureError)) throw err;
    refuse(request, err);
  }
}

function refuse(request: FastifyRequest, err: WebhookSignatureError): never {
  const webhookId = request.headers['webhook-id'];
  request.log.info({ webhookId: typeof webhookId === 'string' ? webhookId.slice(0, 200) : undefined, reason: err.message }, 'webhook refused');
  throw new HttpError(401, err.message);
}
