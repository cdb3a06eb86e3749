import pino, { Logger } from 'pino';
import pretty from 'pino-pretty';
import { DefaultLogger, LogLevel, Runtime } from '@temporalio/worker';

/** `json`: one JSON object per line (log shippers); `pretty`: one readable line; `auto`: pretty on a terminal. */
export type LogFormat = 'json' | 'pretty' | 'auto';

export function createLogger(level: string, name: string, format: LogFormat = 'auto'): Logger {
  const readable = format === 'pretty' || (format === 'auto' && process.stdout.isTTY === true);
  if (!readable) return pino({ level, name });
  // Synchronous stream rather than a worker-thread transport: lines keep their order with the
  // process's other output and none are lost when the process exits on a signal.
  const stream = pretty({
    sync: true,
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,name',
    messageFormat: '{name}: {msg}',
  });
  return pino({ level, name }, stream);
}

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
export function installTemporalRuntime(logger: Logger): void {
  if (installed) return;
  installed = true;
  const level = (logger.level.toUpperCase() in PINO_LEVEL ? logger.level.toUpperCase() : 'INFO') as LogLevel;
  Runtime.install({
    logger: new DefaultLogger(level, (entry) => logger[PINO_LEVEL[entry.level]]({ ...entry.meta }, entry.message)),
    // The SDK's native core (connections, pollers) otherwise prints its own non-JSON lines to the console.
    telemetryOptions: { logging: { filter: { core: 'WARN', other: 'ERROR' }, forward: {} } },
  });
}
