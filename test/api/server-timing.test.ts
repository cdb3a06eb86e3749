// API_SERVER_TIMING=on: every answer says how long the API spent on it and, of that, how long in
// Temporal calls (W3C Server-Timing), so a slow tail measured from outside can be split between
// the network, the API and Temporal. Off by default. Real HTTP, a real dev server and worker.
import { serverTimingRequested } from '../../src/api/server-timing';
import { ConfigError } from '../../src/platform/env';
import { type ApiStack, startApiStack } from '../../rigs/api-stack';
import { uniqueId } from '../../rigs/temp';
import { webhookEvents } from '../support/conversation';

let stack: ApiStack;

beforeAll(async () => {
  stack = await startApiStack({ name: 'server-timing' });
}, 120_000);

afterAll(() => stack?.stop());

const event = webhookEvents('timing-evt', 'task-3');

/** `name;dur=…` of a Server-Timing header, in ms. */
function durations(header: string | null): Record<string, number> {
  return Object.fromEntries((header ?? '').split(',').filter(Boolean).map((part) => {
    const [name, dur] = part.trim().split(';dur=');
    return [name, Number(dur)];
  }));
}

test('with the header on, a webhook and a write say how long the API took and how much of it was Temporal', async () => {
  const api = await stack.startApi({ serverTiming: true });
  const id = uniqueId('timed');
  const webhook = await api.fetch('/webhooks/routing-events', { method: 'POST', body: event(id, 'CREATED', 0, { queue: 'billing' }) });
  expect(webhook.status).toBe(202);
  const w = durations(webhook.headers.get('server-timing'));
  expect(Object.keys(w).sort()).toEqual(['app', 'temporal']);
  // The signal-with-start took some time, and it was spent inside the request.
  expect(w.temporal).toBeGreaterThan(0);
  expect(w.app).toBeGreaterThanOrEqual(w.temporal);

  const write = await api.fetch(`/conversations/${id}/attributes`, { method: 'POST', body: { attributes: { intent: 'billing' } } });
  expect(write.status).toBe(200);
  const u = durations(write.headers.get('server-timing'));
  expect(u.temporal).toBeGreaterThan(0);
  expect(u.app).toBeGreaterThanOrEqual(u.temporal);

  // An answer that made no Temporal call says so; a refused request still says how long it took.
  const refused = await api.fetch(`/conversations/${id}/attributes`, { method: 'POST', body: { attributes: {} } });
  expect(refused.status).toBe(400);
  const r = durations(refused.headers.get('server-timing'));
  expect(r.app).toBeGreaterThanOrEqual(0);
  expect(r.temporal ?? 0).toBe(0);
}, 60_000);

test('off by default: no answer carries it', async () => {
  const id = uniqueId('untimed');
  const webhook = await stack.fetch('/webhooks/routing-events', { method: 'POST', body: event(id, 'CREATED', 0, { queue: 'billing' }) });
  expect(webhook.status).toBe(202);
  expect(webhook.headers.get('server-timing')).toBeNull();
});

test('API_SERVER_TIMING is on or off; anything else stops the API at start-up', () => {
  expect(serverTimingRequested({})).toBe(false);
  expect(serverTimingRequested({ API_SERVER_TIMING: 'off' })).toBe(false);
  expect(serverTimingRequested({ API_SERVER_TIMING: ' ON ' })).toBe(true);
  expect(() => serverTimingRequested({ API_SERVER_TIMING: 'yes' })).toThrow(ConfigError);
});
