// The verifier hashes the body's bytes as they arrive: the same answer in one piece or in chunks
// split anywhere (inside a multi-byte character too), text taken as its UTF-8 bytes, and bytes that
// are not UTF-8 verified as themselves rather than as their decoded text.
import crypto from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { generateWebhookSecret, signWebhook, WebhookSignatureError, WebhookVerifier } from '../../src/security/webhook-signature';

const secret = generateWebhookSecret();

function signBytes(bytes: Buffer): Record<string, string> {
  const id = `msg_${crypto.randomBytes(8).toString('hex')}`;
  const timestamp = String(Math.floor(Date.now() / 1000));
  const mac = crypto.createHmac('sha256', Buffer.from(secret.slice('whsec_'.length), 'base64')).update(`${id}.${timestamp}.`).update(bytes).digest('base64');
  return { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${mac}` };
}

test('a body fed in chunks split anywhere verifies as the whole', () => {
  const body = Buffer.from('{"text":"héllo wörld 😀 ✓"}');
  const headers = signBytes(body);
  for (let split = 0; split <= body.length; split++) {
    const delivery = new WebhookVerifier([secret]).begin(headers);
    delivery.update(body.subarray(0, split));
    delivery.update(body.subarray(split));
    expect(delivery.length).toBe(body.length);
    expect(delivery.finish().id).toBe(headers['webhook-id']);
  }
});

test('text is verified as its UTF-8 bytes: what the standardwebhooks package signs', () => {
  const text = '{"name":"Zoë","note":"日本語"}';
  const verifier = new WebhookVerifier([secret]);
  expect(() => verifier.verify(text, signWebhook(secret, text))).not.toThrow();
  expect(() => verifier.verify(Buffer.from(text), signWebhook(secret, text))).not.toThrow();
  // And what this verifier accepts, the package accepts too.
  const headers = signBytes(Buffer.from(text));
  expect(() => new Webhook(secret).verify(text, headers)).not.toThrow();
});

test('bytes that are not UTF-8 verify as themselves, never as their decoded text', () => {
  const bytes = Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]);
  const decoded = bytes.toString('utf8');
  expect(decoded).toContain('\ufffd');
  const verifier = new WebhookVerifier([secret]);
  expect(() => verifier.verify(bytes, signWebhook(secret, decoded))).toThrow(WebhookSignatureError);
  expect(() => verifier.verify(bytes, signBytes(bytes))).not.toThrow();
  // The U+FFFD text stands for other bytes: signed over the raw bytes, it does not match either.
  expect(() => verifier.verify(decoded, signBytes(bytes))).toThrow(/no webhook-signature matches/);
});

test('the headers are judged before any byte of the body', () => {
  const verifier = new WebhookVerifier([secret]);
  expect(() => verifier.begin({})).toThrow(/headers are required/);
  const stale = signWebhook(secret, '{}', { timestamp: new Date(Date.now() - 3_600_000) });
  expect(() => verifier.begin(stale)).toThrow(/minutes old/);
});

test('a signature that is not v1, or v1 without a value, matches nothing', () => {
  const body = Buffer.from('{}');
  const { 'webhook-signature': good, ...rest } = signBytes(body);
  const verifier = new WebhookVerifier([secret]);
  for (const signature of [good.replace('v1,', 'v2,'), 'v1', 'v1,', good.slice(0, -2)]) {
    expect(() => verifier.verify(body, { ...rest, 'webhook-signature': signature })).toThrow(/no webhook-signature matches/);
  }
  expect(() => verifier.verify(body, { ...rest, 'webhook-signature': `v1a,xyz ${good}` })).not.toThrow();
});

test('a secret that is not base64 is refused when the verifier is made', () => {
  expect(() => new WebhookVerifier(['whsec_not base64!'])).toThrow(/base64/);
  expect(() => new WebhookVerifier(['whsec_'])).toThrow(/empty/);
});
