// The export's key and payment id are functions of the export alone: the same on every retry and
// re-run, and different for different conversations.
import { exportObjectKey, PAYMENT_ID_PATTERN, paymentIdFor } from '../../src/export';
import type { ConversationRecord } from '../../src/export';

const record = (over: Partial<ConversationRecord> = {}): ConversationRecord => ({
  status: 'closed',
  taskContext: {},
  createdAt: '2026-11-21T23:50:00.000Z',
  closedAt: '2026-11-22T00:10:00.000Z',
  recentEvents: [],
  transfers: [],
  transferCount: 0,
  runCount: 1,
  ...over,
});

test('payment id: a version-5 UUID of the export id, stable, distinct per export', () => {
  const a = paymentIdFor('export-c1-run1');
  expect(a).toMatch(PAYMENT_ID_PATTERN);
  expect(paymentIdFor('export-c1-run1')).toBe(a);
  expect(paymentIdFor('export-c1-run2')).not.toBe(a);
  // RFC 4122 version 5 as Python's uuid.uuid5 computes it for this namespace and name.
  expect(paymentIdFor('export-c1-run1')).toBe('f12bcd8a-e309-5b0f-801d-44ab4ad9e080');
});

test('object key: prefix, the close date in UTC, conversation id, export id', () => {
  const input = { conversationId: 'c1', chainId: 'run1', exportId: 'export-c1-run1', record: record() };
  expect(exportObjectKey('conversations', input)).toBe('conversations/2026/11/22/c1/export-c1-run1.json');
  expect(exportObjectKey('', input)).toBe('2026/11/22/c1/export-c1-run1.json');
  expect(exportObjectKey('a/b', { ...input, record: record({ closedAt: undefined }) })).toBe('a/b/2026/11/21/c1/export-c1-run1.json');
  expect(() => exportObjectKey('p', { ...input, conversationId: '../x' })).toThrow(/not usable in an object key/);
});
