// The whole service in one call, as the API tests drive it: a dev server on its own SQLite file, the
// participant-data store (SQLite), a Temporal client, a worker with Parley's workflows and activities,
// and the HTTP API listening on 127.0.0.1 with credentials to call it as each real caller would.
// Whatever started is stopped by stop(), also when start-up failed half-way (then start rejects).
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { Logger } from 'pino';
import type { ActivityDeps } from '../activities';
import type { DevServer } from '../src/platform/dev-server';
import type { KeyServices } from '../src/security/key-services';
import { type ParticipantDataStore, SqliteParticipantDataStore } from '../src/store';
import { type ApiOptions, type RunningApi, startApi } from './api';
import { bundleWorkflows } from './bundle';
import { testCredentials, type TestCredentials } from './credentials';
import { startHeadlessDevServer } from './dev-server';
import { type InProcessWorker, startInProcessWorker } from './in-process-worker';
import { testKeyServices } from './keys';
import { silentLogger } from './logs';
import { tempDir, uniqueId } from './temp';
import { spawnWorker, waitUntilPolling, type WorkerProcess } from './worker-process';

/** What the worker's activities get besides the store; `logger` defaults to the stack's. */
export type ActivityExtras = Partial<Omit<ActivityDeps, 'store'>>;

export interface ApiStackOptions {
  /** Names the stack's folder and task queue. */
  name: string;
  /** The stack's folder (SQLite files, logs). Default: a fresh one. */
  dir?: string;
  /** Logs of the API and the in-process worker. Default: silent. */
  logger?: Logger;
  credentials?: TestCredentials;
  /** Default: the run's key services. */
  keys?: KeyServices;
  /** Of the API's Temporal calls. Default: 5 s. */
  requestTimeoutMs?: number;
  conversation?: ApiOptions['conversation'];
  crm?: ApiOptions['crm'];
  destinations?: ApiOptions['destinations'];
  activities?: ActivityExtras;
  /** false: no worker in this process (the test starts its own, e.g. as a child process). */
  worker?: boolean;
}

export interface ApiStack extends RunningApi {
  dir: string;
  devServer: DevServer;
  /** The dev server's SQLite file: every history, as stored. */
  temporalDbFile: string;
  storeFile: string;
  store: ParticipantDataStore;
  /** A client with the stack's data converter. */
  client: Client;
  taskQueue: string;
  keys: KeyServices;
  logger: Logger;
  /** Another API on this stack's store (and, unless told otherwise, its server and task queue); stopped with the stack. */
  startApi(overrides?: Partial<ApiOptions>): Promise<RunningApi>;
  /** Another in-process worker on this stack's server and store; stopped with the stack. */
  startWorker(opts?: { taskQueue?: string; activities?: ActivityExtras }): Promise<InProcessWorker>;
  /**
   * The real worker process on this stack's server, task queue and SQLite store, its log in the
   * stack's folder; resolves once it polls unless told not to wait. Stopped with the stack.
   */
  spawnWorker(name: string, env?: NodeJS.ProcessEnv, opts?: { waitForPolling?: boolean }): Promise<WorkerProcess>;
  /** Safe to call twice. */
  stop(): Promise<void>;
}

export async function startApiStack(opts: ApiStackOptions): Promise<ApiStack> {
  const dir = opts.dir ?? tempDir(opts.name);
  const temporalDbFile = path.join(dir, 'temporal.sqlite');
  const storeFile = path.join(dir, 'participant-data.sqlite');
  const taskQueue = uniqueId(opts.name);
  const credentials = opts.credentials ?? testCredentials();
  const keys = opts.keys ?? testKeyServices();
  const logger = opts.logger ?? silentLogger;

  // Stopped in reverse order of starting: APIs before workers before the client, the store and the server.
  const stops: Array<() => Promise<unknown>> = [];
  const stop = async (): Promise<void> => {
    const errors: unknown[] = [];
    for (const step of stops.splice(0).reverse()) await step().catch((err: unknown) => errors.push(err));
    if (errors.length > 0) throw errors[0];
  };

  try {
    const [server, bundled] = await Promise.allSettled([
      startHeadlessDevServer(temporalDbFile),
      // Built while the server starts: the in-process worker needs it next.
      opts.worker === false ? undefined : bundleWorkflows(),
    ]);
    if (server.status === 'fulfilled') stops.push(() => server.value.stop());
    for (const started of [server, bundled]) if (started.status === 'rejected') throw started.reason;
    const devServer = (server as PromiseFulfilledResult<DevServer>).value;
    const store = new SqliteParticipantDataStore(storeFile);
    stops.push(() => store.close());
    await store.init();
    const connection = await Connection.connect({ address: devServer.address });
    const client = new Client({ connection, dataConverter: keys.dataConverter });
    stops.push(() => connection.close());

    const startWorker: ApiStack['startWorker'] = async (worker = {}) => {
      const started = await startInProcessWorker({
        connection: devServer.address,
        taskQueue: worker.taskQueue ?? taskQueue,
        dataConverter: keys.dataConverter,
        activities: { store, logger, ...opts.activities, ...worker.activities },
      });
      stops.push(() => started.stop());
      return started;
    };
    const spawnStackWorker: ApiStack['spawnWorker'] = async (name, env = {}, spawnOpts = {}) => {
      const worker = spawnWorker({ name, temporalAddress: devServer.address, databaseUrl: '', taskQueue, logFile: path.join(dir, `${name}.log`), env: { PARLEY_SQLITE_PATH: storeFile, ...env } });
      stops.push(() => worker.stop(5_000));
      if (spawnOpts.waitForPolling !== false) await waitUntilPolling(client, worker, taskQueue);
      return worker;
    };
    const startStackApi: ApiStack['startApi'] = async (overrides = {}) => {
      const api = await startApi({
        temporalAddress: devServer.address,
        taskQueue,
        store,
        credentials,
        keys,
        logger,
        requestTimeoutMs: opts.requestTimeoutMs,
        conversation: opts.conversation,
        crm: opts.crm,
        destinations: opts.destinations,
        // An override left undefined keeps the stack's value.
        ...Object.fromEntries(Object.entries(overrides).filter(([, value]) => value !== undefined)),
      });
      stops.push(() => api.close());
      return api;
    };

    if (opts.worker !== false) await startWorker();
    const api = await startStackApi();
    return { ...api, dir, devServer, temporalDbFile, storeFile, store, client, taskQueue, keys, logger, startApi: startStackApi, startWorker, spawnWorker: spawnStackWorker, stop };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}
