// Keeps the SDK's own chatter out of test output; TEST_LOG_LEVEL=INFO (or WARN) brings it back.
// Native core logs go to the console rather than being forwarded: a forwarding runtime holds the
// event loop until its last connection closes, which would keep jest alive after test files that
// never open one.
import { DefaultLogger, type LogLevel, Runtime } from '@temporalio/worker';

const requested = process.env.TEST_LOG_LEVEL?.toUpperCase() as LogLevel | undefined;

Runtime.install({
  logger: new DefaultLogger(requested ?? 'WARN'),
  // Core's default WARN includes a warning per worker that the time-skipping server lacks a capability.
  telemetryOptions: { logging: { filter: { core: requested ?? 'ERROR', other: 'ERROR' } } },
});
