// Test harness for real Temporal servers from the project-local binaries (never a download).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import pino from 'pino';
import { requireBinary } from '../../scripts/temporal-binaries';
import { SEARCH_ATTRIBUTE_KEYS } from '../../src/conversation/messages';
import { type DevServer, startDevServer } from '../../src/platform/dev-server';
import { registerSearchAttributes } from '../../src/platform/search-attributes';
import { FAILURE_CONVERTER_PATH } from '../../src/security/payload-codec';

export const silentLogger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

export function bundleWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({ workflowsPath: require.resolve('../../src/conversation/workflows'), failureConverterPath: FAILURE_CONVERTER_PATH, logger: quietBundlerLogger });
}

const quietBundlerLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => console.warn(message),
  error: (message: string) => console.error(message),
};

export async function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: requireBinary('testServer') } },
  });
  await registerSearchAttributes(env.connection, env.namespace ?? 'default');
  return env;
}

/** The CLI's dev server through the SDK's own harness, with Parley's search attributes registered. */
export function createDevServerEnv(): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: requireBinary('cli') },
      searchAttributes: SEARCH_ATTRIBUTE_KEYS,
      ui: false,
    },
  });
}

/** A dev server this test controls as a process: it can be stopped and restarted on the same SQLite file. */
export async function startTestDevServer(dbFile: string, port?: number): Promise<DevServer> {
  return startDevServer({
    cliPath: requireBinary('cli'),
    dbFile,
    port: port ?? (await freePort()),
    headless: true,
    logFile: `${dbFile}.log`,
  });
}

/** Under the run's folder (test/global-setup.ts), which is removed after the run. */
export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(process.env.PARLEY_TEST_TMP ?? os.tmpdir(), `parley-${prefix}-`));
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export function uniqueId(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
