// Keeps the SDK's own INFO chatter out of test output; TEST_LOG_LEVEL=INFO brings it back.
import { DefaultLogger, LogLevel, Runtime } from '@temporalio/worker';

Runtime.install({ logger: new DefaultLogger((process.env.TEST_LOG_LEVEL?.toUpperCase() as LogLevel | undefined) ?? 'WARN') });
