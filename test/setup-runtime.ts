// Keeps the SDK's own INFO chatter out of test output; TEST_LOG_LEVEL=INFO brings it back. Native
// core logs are forwarded to the same logger instead of being printed on their own.
import { DefaultLogger, LogEntry, LogLevel, Runtime } from '@temporalio/worker';

// The Java time-skipping server does not advertise this capability, so core warns once per worker; it is noise here.
const TEST_SERVER_NOISE = /activity_failure_include_heartbeat/;
const level = (process.env.TEST_LOG_LEVEL?.toUpperCase() as LogLevel | undefined) ?? 'WARN';
const print = new DefaultLogger(level);

Runtime.install({
  logger: new DefaultLogger(level, (entry: LogEntry) => {
    if (!TEST_SERVER_NOISE.test(entry.message)) print.log(entry.level, entry.message, entry.meta);
  }),
  telemetryOptions: { logging: { filter: { core: level, other: 'ERROR' }, forward: {} } },
});
