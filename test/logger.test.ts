// The service's logger keeps credentials and values out of its lines even when an object carrying them is logged.
import { Writable } from 'node:stream';
import pino from 'pino';
import { LOG_REDACTION } from '../src/platform/logger';

test('authorization, webhook signatures, cookies and token/secret/value/apiKey keys are redacted', () => {
  const lines: string[] = [];
  const logger = pino({ level: 'info', redact: LOG_REDACTION }, new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) }));
  logger.info({
    req: { headers: { authorization: 'Bearer TOKEN-1', cookie: 'parley_operator=COOKIE-1', 'webhook-signature': 'v1,SIG-1', 'content-type': 'application/json' } },
    res: { headers: { 'set-cookie': 'parley_operator=COOKIE-2' } },
    token: 'TOKEN-2',
    apiKey: 'KEY-1',
    attribute: { name: 'card', value: 'VALUE-1' },
    nested: { deeper: { secret: 'SECRET-1' } },
  }, 'something');
  const line = lines.join('');
  for (const leaked of ['TOKEN-1', 'COOKIE-1', 'SIG-1', 'COOKIE-2', 'TOKEN-2', 'KEY-1', 'VALUE-1', 'SECRET-1']) expect(line).not.toContain(leaked);
  expect(JSON.parse(line)).toMatchObject({ attribute: { name: 'card', value: '[redacted]' }, req: { headers: { 'content-type': 'application/json' } } });
});
