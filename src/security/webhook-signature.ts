// Standard Webhooks (https://www.standardwebhooks.com): `webhook-id`, `webhook-timestamp` and
// `webhook-signature` headers, HMAC-SHA256 over `id.timestamp.body` of the raw body. The
// `standardwebhooks` package checks the timestamp (5 minutes both ways), the signatures (several
// space-separated `v1,<base64>`, compared in constant time); it takes one secret per instance, so
// rotation is one instance per configured secret. Replays are refused here, since the package keeps no state.
import crypto from 'node:crypto';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';

/** The tolerance the package applies (not configurable there): a timestamp further off either way is refused. */
export const WEBHOOK_TOLERANCE_SECONDS = 5 * 60;

export class WebhookSignatureError extends Error {}

// A type alias rather than an interface, so it passes where a plain header record is expected.
export type WebhookHeaders = {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
};

/** Checks a secret's form without keeping it: `whsec_` (optional) then base64 of at least 16 bytes. */
export function webhookSecretProblem(secret: string): string | undefined {
  const body = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body) || body.length % 4 !== 0) return 'is not whsec_ followed by base64';
  if (Buffer.from(body, 'base64').length < 16) return 'is shorter than 16 bytes (Standard Webhooks recommends 24 to 64)';
  return undefined;
}

/** A new random secret in the `whsec_` form senders expect (32 bytes). */
export function generateWebhookSecret(): string {
  return `whsec_${crypto.randomBytes(32).toString('base64')}`;
}

/** The three headers a sender attaches: what `npm run sign` prints and what tests send. */
export function signWebhook(secret: string, body: string, opts: { id?: string; timestamp?: Date } = {}): WebhookHeaders {
  const id = opts.id ?? `msg_${crypto.randomBytes(12).toString('base64url')}`;
  const timestamp = opts.timestamp ?? new Date();
  return {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(id, timestamp, body),
  };
}

export interface ReplayCacheOptions {
  /** Upper bound on remembered deliveries; past it the oldest is forgotten first. */
  maxEntries?: number;
  now?: () => number;
}

/**
 * Deliveries (webhook-id + timestamp) already accepted, each remembered until its timestamp leaves
 * the tolerance window, after which the timestamp check refuses it anyway. Bounded: at `maxEntries`
 * the expired entries are swept, and if all are still live the oldest is dropped (counted in
 * `evicted`), so memory stays fixed under any load at the price of a replay window for the dropped
 * ones. The default (100,000 entries, roughly 20 MB) covers 160 webhooks a second per replica.
 */
export class ReplayCache {
  private readonly entries = new Map<string, number>();
  private readonly maxEntries: number;
  private readonly now: () => number;
  private lastSweep = Number.NEGATIVE_INFINITY;
  evicted = 0;

  constructor(opts: ReplayCacheOptions = {}) {
    this.maxEntries = opts.maxEntries ?? 100_000;
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Records the delivery; false if it was already recorded and has not expired. */
  remember(id: string, timestampSeconds: number): boolean {
    const key = `${timestampSeconds}.${id}`;
    const now = this.now();
    const expiresAt = this.entries.get(key);
    if (expiresAt !== undefined && expiresAt > now) return false;
    if (expiresAt !== undefined) this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) this.makeRoom(now);
    this.entries.set(key, (timestampSeconds + WEBHOOK_TOLERANCE_SECONDS) * 1000 + 1000);
    return true;
  }

  /** Forgets a delivery, so the sender's retry of a request that failed on our side is not taken for a replay. */
  forget(id: string, timestampSeconds: number): void {
    this.entries.delete(`${timestampSeconds}.${id}`);
  }

  private makeRoom(now: number): void {
    // A full sweep walks every entry: at most once a second, so a full cache of live entries costs
    // one eviction per delivery rather than a walk per delivery.
    if (now - this.lastSweep >= 1000) {
      this.lastSweep = now;
      for (const [key, expiresAt] of this.entries) if (expiresAt <= now) this.entries.delete(key);
    }
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
      this.evicted++;
    }
  }
}

export interface VerifiedDelivery {
  id: string;
  timestampSeconds: number;
}

export class WebhookVerifier {
  private readonly webhooks: Webhook[];

  constructor(
    secrets: readonly string[],
    readonly replays: ReplayCache = new ReplayCache(),
  ) {
    if (secrets.length === 0) throw new Error('at least one webhook secret is needed');
    this.webhooks = secrets.map((s) => new Webhook(s));
  }

  /**
   * Verifies the raw body against the headers, then records the delivery. Throws
   * WebhookSignatureError saying what is wrong (never echoing a signature).
   */
  verify(rawBody: string, headers: Record<string, string | string[] | undefined>): VerifiedDelivery {
    const id = single(headers['webhook-id']);
    const timestamp = single(headers['webhook-timestamp']);
    const signature = single(headers['webhook-signature']);
    if (!id || !timestamp || !signature) throw new WebhookSignatureError('the webhook-id, webhook-timestamp and webhook-signature headers are required');
    // The package reads the timestamp with parseInt ("12abc" → 12); the scheme says whole seconds.
    if (!/^\d{1,12}$/.test(timestamp)) throw new WebhookSignatureError('webhook-timestamp is not whole seconds since the epoch');
    const timestampSeconds = Number(timestamp);
    let lastError: unknown;
    let verified = false;
    for (const webhook of this.webhooks) {
      try {
        webhook.verify(rawBody, { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signature }, { jsonParse: false });
        verified = true;
        break;
      } catch (err) {
        lastError = err;
        // A stale timestamp fails the same way for every secret.
        if (err instanceof WebhookVerificationError && /timestamp/i.test(err.message)) break;
      }
    }
    if (!verified) throw new WebhookSignatureError(reason(lastError));
    if (!this.replays.remember(id, timestampSeconds)) throw new WebhookSignatureError('this delivery (webhook-id and timestamp) was already received');
    return { id, timestampSeconds };
  }
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? undefined : value;
}

function reason(err: unknown): string {
  const message = err instanceof Error ? err.message : '';
  if (/too old/i.test(message)) return `webhook-timestamp is more than ${WEBHOOK_TOLERANCE_SECONDS / 60} minutes old`;
  if (/too new/i.test(message)) return `webhook-timestamp is more than ${WEBHOOK_TOLERANCE_SECONDS / 60} minutes in the future`;
  if (/No matching signature/i.test(message)) return 'no webhook-signature matches the body with a configured secret';
  return 'the webhook signature could not be verified';
}
