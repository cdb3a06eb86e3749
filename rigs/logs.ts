// Loggers for in-process workers and APIs: quiet by default, or kept in memory for a leak search.
import { Writable } from 'node:stream';
import pino from 'pino';

/** Says nothing unless TEST_LOG_LEVEL asks for it. */
export const silentLogger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

/** A logger at `level` whose every line (JSON text, as the process would print it) lands in `lines`. */
export function captureLogs(level: pino.LevelWithSilent): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = pino({ level }, new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) }));
  return { logger, lines };
}
