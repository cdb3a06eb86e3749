// Standard Webhooks (https://www.standardwebhooks.com): `webhook-id`, `webhook-timestamp` and
// `webhook-signature` headers, HMAC-SHA256 over `id.timestamp.` followed by the body's bytes,
// several space-separated `v1,<base64>` signatures, a timestamp within 5 minutes either way.
// Senders sign with the `standardwebhooks` package. Verification is done here over the bytes
// received: the package's verify decodes a byte payload to text first, so bytes that are not valid
// UTF-8 would be checked as their U+FFFD replacements. Every configured secret is tried, so they
// can rotate; replays are refused here, since the scheme keeps no state.
import crypto from 'node:crypto';
import { Webhook } from 'standardwebhooks';

/** The scheme's tolerance: a timestamp further off either way is refused. */
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
    this.entries.set(key, deliveryExpiresAtMs(timestampSeconds));
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

/** When a delivery may be forgotten: once its timestamp is out of the tolerance window (plus a second for rounding). */
export function deliveryExpiresAtMs(timestampSeconds: number): number {
  return (timestampSeconds + WEBHOOK_TOLERANCE_SECONDS) * 1000 + 1000;
}

/**
 * The deliveries every API replica took (PostgreSQL when they share one), behind each replica's own
 * ReplayCache: a replay sent to another replica than the first delivery is refused there too.
 */
export interface SharedDeliveries {
  /** Records the delivery; false when some replica already did and it has not expired. */
  claim(id: string, timestampSeconds: number, expiresAtMs: number): Promise<boolean>;
  /** Forgets it, so the sender's retry of a delivery that failed on our side is taken. */
  release(id: string, timestampSeconds: number): Promise<void>;
}

export interface VerifiedDelivery {
  id: string;
  timestampSeconds: number;
}

export class WebhookVerifier {
  private readonly keys: Buffer[];

  constructor(
    secrets: readonly string[],
    readonly replays: ReplayCache = new ReplayCache(),
    /** Absent: this replica alone takes webhooks (the SQLite store, one process). */
    readonly shared?: SharedDeliveries,
  ) {
    if (secrets.length === 0) throw new Error('at least one webhook secret is needed');
    this.keys = secrets.map(secretKey);
  }

  /** Verifies a whole body (bytes, or text as its UTF-8 bytes), then records the delivery. */
  verify(rawBody: Uint8Array | string, headers: Record<string, string | string[] | undefined>): VerifiedDelivery {
    const delivery = this.begin(headers);
    delivery.update(rawBody);
    return delivery.finish();
  }

  /**
   * Checks the headers before any byte of the body is read, so a request without a usable
   * signature is refused unread; the body is then fed to the returned delivery as it arrives.
   * Throws WebhookSignatureError saying what is wrong (never echoing a signature).
   */
  begin(headers: Record<string, string | string[] | undefined>): SignedDelivery {
    const id = single(headers['webhook-id']);
    const timestamp = single(headers['webhook-timestamp']);
    const signature = single(headers['webhook-signature']);
    if (!id || !timestamp || !signature) throw new WebhookSignatureError('the webhook-id, webhook-timestamp and webhook-signature headers are required');
    // Whole seconds only: "12abc" is no timestamp, whatever a lenient parser makes of it.
    if (!/^\d{1,12}$/.test(timestamp)) throw new WebhookSignatureError('webhook-timestamp is not whole seconds since the epoch');
    const timestampSeconds = Number(timestamp);
    const now = Math.floor(Date.now() / 1000);
    if (now - timestampSeconds > WEBHOOK_TOLERANCE_SECONDS) throw new WebhookSignatureError(`webhook-timestamp is more than ${WEBHOOK_TOLERANCE_SECONDS / 60} minutes old`);
    if (timestampSeconds > now + WEBHOOK_TOLERANCE_SECONDS) throw new WebhookSignatureError(`webhook-timestamp is more than ${WEBHOOK_TOLERANCE_SECONDS / 60} minutes in the future`);
    return new SignedDelivery(this.keys, { id, timestampSeconds }, signature, this.replays);
  }
}

/** A delivery whose headers passed, its body being hashed as it arrives. */
export class SignedDelivery {
  private readonly macs: crypto.Hmac[];
  private bytes = 0;

  constructor(
    keys: readonly Buffer[],
    private readonly delivery: VerifiedDelivery,
    private readonly signatures: string,
    private readonly replays: ReplayCache,
  ) {
    // The signed content starts with the id and the timestamp as the sender wrote them (whole seconds).
    this.macs = keys.map((key) => crypto.createHmac('sha256', key).update(`${delivery.id}.${delivery.timestampSeconds}.`, 'utf8'));
  }

  /** Bytes of the body so far. */
  get length(): number {
    return this.bytes;
  }

  update(chunk: Uint8Array | string): void {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    this.bytes += bytes.length;
    for (const mac of this.macs) mac.update(bytes);
  }

  /** Checks the signatures against the body's bytes, then records the delivery (once only). */
  finish(): VerifiedDelivery {
    const expected = this.macs.map((mac) => Buffer.from(mac.digest('base64')));
    const matches = this.signatures.split(' ').some((entry) => {
      const [version, signature] = entry.split(',');
      if (version !== 'v1' || signature === undefined) return false;
      const given = Buffer.from(signature);
      // Every secret is compared, so the time taken does not say which one matched.
      return expected.map((e) => e.length === given.length && crypto.timingSafeEqual(e, given)).includes(true);
    });
    if (!matches) throw new WebhookSignatureError('no webhook-signature matches the body with a configured secret');
    if (!this.replays.remember(this.delivery.id, this.delivery.timestampSeconds)) throw new WebhookSignatureError('this delivery (webhook-id and timestamp) was already received');
    return this.delivery;
  }
}

/** The HMAC key of a secret: `whsec_` (optional) then base64, as the scheme defines it. */
function secretKey(secret: string): Buffer {
  const body = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length % 4 !== 0) throw new Error('a webhook secret is not whsec_ followed by base64');
  const key = Buffer.from(body, 'base64');
  if (key.length === 0) throw new Error("a webhook secret can't be empty");
  return key;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? undefined : value;
}
