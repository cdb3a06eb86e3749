import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import { DefaultLogger, type LogLevel, Runtime } from '@temporalio/worker';

/** `json`: one JSON object per line (log shippers); `pretty`: one readable line; `auto`: pretty on a terminal. */
export type LogFormat = 'json' | 'pretty' | 'auto';

export function createLogger(level: string, name: string, format: LogFormat = 'auto'): Logger {
  const readable = format === 'pretty' || (format === 'auto' && process.stdout.isTTY === true);
  if (!readable) return pino({ level, name, redact: LOG_REDACTION });
  // Synchronous stream rather than a worker-thread transport: lines keep their order with the
  // process's other output and none are lost when the process exits on a signal.
  const stream = pretty({
    sync: true,
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,name',
    messageFormat: '{name}: {msg}',
  });
  return pino({ level, name, redact: LOG_REDACTION }, stream);
}

const SECRET_KEYS = ['token', 'secret', 'value', 'apiKey', 'authorization', 'cookie'];

/**
 * Credentials and participant data are never meant to be logged; this is the net under that rule.
 * pino's paths are not recursive, so each key is listed at the depths our log objects use.
 */
export const LOG_REDACTION = {
  paths: [
    'req.headers.authorization',
    'req.headers.cookie',
    'req.headers["webhook-signature"]',
    'res.headers["set-cookie"]',
    'headers.authorization',
    'headers.cookie',
    'headers["webhook-signature"]',
    'headers["set-cookie"]',
    ...SECRET_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`]),
  ],
  censor: '[redacted]',
};

const PINO_LEVEL: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

let installed = false;

/**
 * Routes the Temporal SDK's logs (worker, workflow `log`, activity context) into pino. The SDK calls
 * `(message, meta)`, pino wants `(obj, msg)`. Runtime.install may run once per process, before any
 * worker or native connection exists, so later calls are ignored.
 */
export function installTemporalRuntime(logger: Logger, sdkMetrics?: { host: string; port: number }): void {
  if (installed) return;
  installed = true;
  const level = (logger.level.toUpperCase() in PINO_LEVEL ? logger.level.toUpperCase() : 'INFO') as LogLevel;
  Runtime.install({
    logger: new DefaultLogger(level, (entry) => logger[PINO_LEVEL[entry.level]]({ ...entry.meta }, entry.message)),
    telemetryOptions: {
      // The SDK's native core (connections, pollers) otherwise prints its own non-JSON lines to the console.
      logging: { filter: { core: 'WARN', other: 'ERROR' }, forward: {} },
      // The SDK's own worker metrics (task latencies, slots, sticky cache, polls) in Prometheus format.
      ...(sdkMetrics ? { metrics: { prometheus: { bindAddress: `${sdkMetrics.host}:${sdkMetrics.port}` } } } : {}),
    },
  });
}
