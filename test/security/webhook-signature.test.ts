// The Standard Webhooks verifier on its own: the scheme's published example, several secrets,
// the tolerance window, and the replay cache's bounds.
import crypto from 'node:crypto';
import { ReplayCache, signWebhook, WebhookSignatureError, WebhookVerifier, webhookSecretProblem, WEBHOOK_TOLERANCE_SECONDS } from '../../src/security/webhook-signature';

// The example of the Standard Webhooks specification and its reference libraries.
const SPEC = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};

test('signs as the specification does: HMAC-SHA256 over id.timestamp.body with the base64-decoded secret', () => {
  const headers = signWebhook(SPEC.secret, SPEC.body, { id: SPEC.id, timestamp: new Date(SPEC.timestamp * 1000) });
  expect(headers).toEqual({ 'webhook-id': SPEC.id, 'webhook-timestamp': String(SPEC.timestamp), 'webhook-signature': SPEC.signature });
  const key = Buffer.from(SPEC.secret.slice('whsec_'.length), 'base64');
  const byHand = crypto.createHmac('sha256', key).update(`${SPEC.id}.${SPEC.timestamp}.${SPEC.body}`).digest('base64');
  expect(`v1,${byHand}`).toBe(SPEC.signature);
});

describe('WebhookVerifier', () => {
  const a = `whsec_${crypto.randomBytes(32).toString('base64')}`;
  const b = `whsec_${crypto.randomBytes(32).toString('base64')}`;
  const body = '{"eventId":"e-1"}';

  test('accepts a signature by any configured secret, and each delivery once', () => {
    const verifier = new WebhookVerifier([a, b]);
    expect(verifier.verify(body, signWebhook(a, body)).id).toMatch(/^msg_/);
    const byB = signWebhook(b, body);
    expect(verifier.verify(body, byB)).toEqual({ id: byB['webhook-id'], timestampSeconds: Number(byB['webhook-timestamp']) });
    expect(() => verifier.verify(body, byB)).toThrow(/already received/);
  });

  test('refuses what does not match, and says why without quoting a signature', () => {
    const verifier = new WebhookVerifier([a]);
    const signed = signWebhook(a, body);
    const cases: Array<[Record<string, string | string[] | undefined>, string, RegExp]> = [
      [{}, body, /headers are required/],
      [{ ...signed, 'webhook-signature': undefined }, body, /headers are required/],
      [signWebhook(b, body), body, /no webhook-signature matches/],
      [signed, `${body}\n`, /no webhook-signature matches/],
      [{ ...signed, 'webhook-timestamp': `${signed['webhook-timestamp']}abc` }, body, /whole seconds/],
      [signWebhook(a, body, { timestamp: new Date(Date.now() - (WEBHOOK_TOLERANCE_SECONDS + 10) * 1000) }), body, /minutes old/],
      [signWebhook(a, body, { timestamp: new Date(Date.now() + (WEBHOOK_TOLERANCE_SECONDS + 10) * 1000) }), body, /in the future/],
      [{ ...signed, 'webhook-id': [signed['webhook-id'], 'x'] }, body, /headers are required/],
    ];
    for (const [headers, payload, reason] of cases) {
      let error: unknown;
      try {
        verifier.verify(payload, headers);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(WebhookSignatureError);
      expect((error as Error).message).toMatch(reason);
      expect((error as Error).message).not.toContain(signed['webhook-signature'].slice(3));
    }
  });

  test('a timestamp just inside the window either way passes', () => {
    const verifier = new WebhookVerifier([a]);
    for (const offset of [-(WEBHOOK_TOLERANCE_SECONDS - 5), WEBHOOK_TOLERANCE_SECONDS - 5]) {
      expect(() => verifier.verify(body, signWebhook(a, body, { timestamp: new Date(Date.now() + offset * 1000) }))).not.toThrow();
    }
  });
});

describe('ReplayCache', () => {
  test('remembers a delivery until its timestamp leaves the window, then lets the entry go', () => {
    let now = 1_700_000_000_000;
    const cache = new ReplayCache({ now: () => now });
    const ts = now / 1000;
    expect(cache.remember('m1', ts)).toBe(true);
    expect(cache.remember('m1', ts)).toBe(false);
    expect(cache.remember('m1', ts + 1)).toBe(true);
    now += (WEBHOOK_TOLERANCE_SECONDS + 2) * 1000;
    expect(cache.remember('m1', ts)).toBe(true);
  });

  test('stays within its bound: expired entries are swept first, then the oldest live one goes', () => {
    let now = 1_700_000_000_000;
    const cache = new ReplayCache({ maxEntries: 3, now: () => now });
    const ts = now / 1000;
    for (const id of ['a', 'b', 'c']) cache.remember(id, ts - WEBHOOK_TOLERANCE_SECONDS + 1);
    now += 3000;
    // a, b, c have expired: sweeping makes room without dropping anything live.
    for (const id of ['d', 'e', 'f']) cache.remember(id, ts);
    expect([cache.size, cache.evicted]).toEqual([3, 0]);
    cache.remember('g', ts);
    expect([cache.size, cache.evicted]).toEqual([3, 1]);
    expect(cache.remember('d', ts)).toBe(true);
    expect(cache.remember('g', ts)).toBe(false);
    for (let i = 0; i < 10_000; i++) cache.remember(`x${i}`, ts);
    expect(cache.size).toBe(3);
  });

  test('forget lets a delivery be presented again', () => {
    const cache = new ReplayCache();
    expect(cache.remember('m', 100)).toBe(true);
    cache.forget('m', 100);
    expect(cache.remember('m', 100)).toBe(true);
  });
});

test('secret forms: whsec_ and base64 of at least 16 bytes', () => {
  expect(webhookSecretProblem(`whsec_${Buffer.alloc(24, 1).toString('base64')}`)).toBeUndefined();
  expect(webhookSecretProblem(Buffer.alloc(24, 1).toString('base64'))).toBeUndefined();
  expect(webhookSecretProblem('whsec_short')).toMatch(/base64/);
  expect(webhookSecretProblem(`whsec_${Buffer.alloc(8, 1).toString('base64')}`)).toMatch(/16 bytes/);
  expect(webhookSecretProblem('changeme')).toMatch(/16 bytes/);
});
