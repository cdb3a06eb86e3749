// Real processes for the crash tests: a dev server the test can stop and restart on its SQLite
// file, a throwaway PostgreSQL, a client, the participant-data store, worker children, and APIs in
// the test's process. Construct at module level, setUp() in beforeAll, tearDown() in afterAll:
// whatever was started is stopped even when setup or a test failed half-way.
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { DevServer } from '../../src/platform/dev-server';
import { type ParticipantDataStore, createParticipantDataStore } from '../../src/store';
import { type ApiOptions, type RunningApi, startApi } from '../../rigs/api';
import { portOf, startHeadlessDevServer } from '../../rigs/dev-server';
import { testKeyServices } from '../../rigs/keys';
import { startPostgres, type ThrowawayPostgres } from '../../rigs/postgres';
import { tempDir } from '../../rigs/temp';
import { ensureWorkerBuilt, spawnWorker, waitUntilPolling, type WorkerProcess } from '../../rigs/worker-process';

export class CrashHarness {
  readonly dir: string;
  readonly dbFile: string;
  private pgServer?: ThrowawayPostgres;
  private server?: DevServer;
  private temporalClient?: Client;
  private dataStore?: ParticipantDataStore;
  private readonly workers: WorkerProcess[] = [];
  private readonly apis: RunningApi[] = [];

  constructor(prefix: string) {
    this.dir = tempDir(prefix);
    this.dbFile = path.join(this.dir, 'temporal.sqlite');
  }

  async setUp(): Promise<void> {
    ensureWorkerBuilt();
    const started = await Promise.allSettled([
      startPostgres().then((pg) => (this.pgServer = pg)),
      startHeadlessDevServer(this.dbFile).then((server) => (this.server = server)),
    ]);
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    this.temporalClient = new Client({ connection: await Connection.connect({ address: this.devServer.address }), dataConverter: testKeyServices().dataConverter });
    this.dataStore = createParticipantDataStore({ databaseUrl: this.pg.url, sqlitePath: 'unused' });
    // Creates the tables, so tests can lock them before any worker has flushed.
    await this.dataStore.init();
  }

  get pg(): ThrowawayPostgres {
    return required(this.pgServer, 'postgres');
  }
  get devServer(): DevServer {
    return required(this.server, 'dev server');
  }
  get client(): Client {
    return required(this.temporalClient, 'client');
  }
  get store(): ParticipantDataStore {
    return required(this.dataStore, 'store');
  }
  /** host:port of the dev server; stable across restartDevServer(). */
  get address(): string {
    return this.devServer.address;
  }

  async stopDevServer(): Promise<void> {
    await this.devServer.stop();
  }

  /** Starts the dev server again on the same SQLite file and port. */
  async restartDevServer(): Promise<void> {
    this.server = await startHeadlessDevServer(this.dbFile, { port: portOf(this.devServer) });
  }

  /** Spawns `node dist/src/main/worker.js` on taskQueue; output goes to <dir>/worker-<name>.log. */
  startWorker(name: string, taskQueue: string, env?: NodeJS.ProcessEnv): WorkerProcess {
    const worker = spawnWorker({
      name,
      temporalAddress: this.address,
      databaseUrl: this.pg.url,
      taskQueue,
      logFile: path.join(this.dir, `worker-${name}.log`),
      env,
    });
    this.workers.push(worker);
    return worker;
  }

  /** Spawns a worker and resolves once the server has seen it poll. */
  async startPollingWorker(name: string, taskQueue: string, env?: NodeJS.ProcessEnv): Promise<WorkerProcess> {
    const worker = this.startWorker(name, taskQueue, env);
    await waitUntilPolling(this.client, worker, taskQueue);
    return worker;
  }

  /** The HTTP API in this process on the harness's dev server and store; closed by tearDown(). */
  async startApi(opts: Omit<ApiOptions, 'temporalAddress' | 'store'>): Promise<RunningApi> {
    const api = await startApi({ temporalAddress: this.address, store: this.store, ...opts });
    this.apis.push(api);
    return api;
  }

  async tearDown(): Promise<void> {
    const errors: unknown[] = [];
    const attempt = async (step: () => Promise<unknown> | undefined): Promise<void> => {
      try {
        await step();
      } catch (err) {
        errors.push(err);
      }
    };
    await attempt(() => Promise.all(this.apis.map((api) => api.close())));
    // Workers next: they hold connections to both servers.
    await attempt(() => Promise.all(this.workers.map((w) => w.stop(5_000))));
    await attempt(() => this.temporalClient?.connection.close());
    await attempt(() => this.dataStore?.close());
    await attempt(() => this.server?.stop());
    await attempt(() => this.pgServer?.stop());
    if (errors.length > 0) throw errors[0];
  }
}

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} is not running (did setUp() fail?)`);
  return value;
}
