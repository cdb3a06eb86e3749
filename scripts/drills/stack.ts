// The processes a drill runs and breaks, as production runs them: the Temporal dev server on a
// persistent SQLite file, one or more workers and the API as separate node processes (the built
// dist/), and optionally PostgreSQL and moto's KMS, each behind a relay so it can be made unreachable
// while it keeps its data. Every process can be SIGKILLed and started again on the same files and
// ports. `stop()` takes everything down, also after a failure; `stopAllStacks()` does so for every
// stack still running (the runner calls it on Ctrl-C).
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { DevServer } from '../../src/platform/dev-server';
import { createParticipantDataStore, type ParticipantDataStore } from '../../src/store';
import { keyConfigFromEnv, loadOrCreateLocalKeys } from '../../src/security/keys';
import { createKeyServices } from '../../src/security/key-services';
import { credentialsEnv, testCredentials, type TestCredentials } from '../../rigs/credentials';
import { startHeadlessDevServer } from '../../rigs/dev-server';
import { MOTO_CREDENTIALS, MOTO_REGION, startMoto, type MotoServer } from '../../rigs/moto';
import { freePort } from '../../rigs/ports';
import { startPostgres, type ThrowawayPostgres } from '../../rigs/postgres';
import { NodeProcess } from '../../rigs/node-process';
import { DIST } from '../../rigs/project';
import { startRelay, type Relay } from '../../rigs/relay';
import { sleep } from '../../rigs/wait';

export interface StackOptions {
  workDir: string;
  log(line: string): void;
  /** Worker processes on the one task queue; default 1. */
  workers?: number;
  /** PostgreSQL (behind a relay) as the participant-data store instead of SQLite. */
  postgres?: boolean;
  /** moto's KMS (behind a relay) for secured data and the payload codec instead of the local key file. */
  kms?: boolean;
  /** More environment for the workers and the API (e.g. CONTINUE_AS_NEW_AFTER_EVENTS). */
  env?: NodeJS.ProcessEnv;
}

export class Stack {
  readonly credentials: TestCredentials = testCredentials();
  readonly taskQueue = `drill-${Date.now().toString(36)}`;
  devServer?: DevServer;
  devServerPort = 0;
  readonly workers: NodeProcess[] = [];
  api!: NodeProcess;
  apiBase = '';
  postgres?: ThrowawayPostgres;
  pgRelay?: Relay;
  /** KMS; its endpoint is a relay that can be taken down (setState). */
  moto?: MotoServer;
  /** A plain Temporal client (no codec): describe, terminate; never payloads. */
  client!: Client;
  private connection?: Connection;
  /** The environment the stack's processes were started with (their keys included). */
  private processEnv: NodeJS.ProcessEnv = {};
  private codecClient?: Client;
  private store?: ParticipantDataStore;
  devServerKills = 0;

  private constructor(readonly opts: StackOptions) {}

  get dbFile(): string {
    return path.join(this.opts.workDir, 'temporal.sqlite');
  }

  static async start(opts: StackOptions): Promise<Stack> {
    const stack = new Stack(opts);
    stacks.add(stack);
    try {
      await stack.boot();
    } catch (err) {
      await stack.stop();
      throw err;
    }
    return stack;
  }

  private async boot(): Promise<void> {
    const { workDir, log } = this.opts;
    for (const file of ['worker.js', 'api.js']) {
      if (!fs.existsSync(path.join(DIST, 'src', 'main', file))) throw new Error(`dist/src/main/${file} is missing: run \`npm run build\` (npm run drills does)`);
    }
    this.devServerPort = await freePort();
    await this.startDevServer();
    this.connection = await Connection.connect({ address: this.devServer!.address });
    this.client = new Client({ connection: this.connection, namespace: 'default' });

    const env: NodeJS.ProcessEnv = { ...process.env };
    // Nothing of the caller's own Parley settings leaks into the drill's processes.
    for (const name of Object.keys(env)) if (/^(PARLEY_|KMS_|CODEC_|AWS_|DATABASE_URL|TEMPORAL_|WORKER_|STORE_TIMEOUT)/.test(name)) delete env[name];
    Object.assign(env, {
      TEMPORAL_ADDRESS: this.devServer!.address,
      TEMPORAL_NAMESPACE: 'default',
      TEMPORAL_TASK_QUEUE: this.taskQueue,
      PARLEY_DATA_DIR: workDir,
      PARLEY_SQLITE_PATH: path.join(workDir, 'participant-data.sqlite'),
      LOG_LEVEL: process.env.DRILLS_LOG_LEVEL || 'warn',
      LOG_FORMAT: 'json',
      HOST: '127.0.0.1',
      WORKER_SHUTDOWN_GRACE: '2s',
      WORKFLOW_BUNDLE_PATH: path.join(DIST, 'workflow-bundle.js'),
      // The audit reads each conversation once it has ended: no grace window after CLOSED.
      CLOSED_GRACE_PERIOD: '0',
    });
    if (this.opts.postgres) {
      this.postgres = await startPostgres({ logFile: path.join(workDir, 'postgres.log') });
      this.pgRelay = await startRelay(this.postgres.port);
      env.DATABASE_URL = `postgresql://postgres@127.0.0.1:${this.pgRelay.port}/postgres`;
      log(`PostgreSQL on ${this.postgres.port}, Parley reaches it through a relay on ${this.pgRelay.port}`);
    }
    if (this.opts.kms) {
      this.moto = await startMoto({ logFile: path.join(workDir, 'moto.log'), detached: true });
      const keyArn = await this.moto.createKey('parley drill');
      Object.assign(env, {
        KMS_KEY_ID: keyArn,
        AWS_ENDPOINT_URL: this.moto.endpoint,
        AWS_REGION: MOTO_REGION,
        AWS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey,
        KMS_MAX_ATTEMPTS: '1',
        KMS_REQUEST_TIMEOUT: '2s',
      });
      log(`moto KMS, Parley reaches it through a relay at ${this.moto.endpoint}`);
    } else {
      // Made once here, before the worker and the API race to create it.
      env.PARLEY_KEY_FILE = path.join(workDir, 'keys.json');
      loadOrCreateLocalKeys(env.PARLEY_KEY_FILE);
    }
    Object.assign(env, this.opts.env);
    this.processEnv = env;

    for (let i = 0; i < (this.opts.workers ?? 1); i++) {
      const port = await freePort();
      this.workers.push(new NodeProcess(`worker ${i + 1}`, path.join(DIST, 'src', 'main', 'worker.js'), { ...env, WORKER_HEALTH_PORT: String(port) }, path.join(workDir, `worker-${i + 1}.log`), `http://127.0.0.1:${port}/healthz`));
    }
    const apiPort = await freePort();
    this.apiBase = `http://127.0.0.1:${apiPort}`;
    this.api = new NodeProcess('api', path.join(DIST, 'src', 'main', 'api.js'), { ...env, PORT: String(apiPort), ...credentialsEnv(this.credentials) }, path.join(workDir, 'api.log'), `${this.apiBase}/healthz`);
    // A crash is a finding, not the end of the drill: it is logged and counted (every drill reports
    // unexpected exits as a violation) and the process is started again so the audit can still run.
    for (const p of [...this.workers, this.api]) {
      p.onCrash = (how) => {
        log(`${p.name} CRASHED (${how}); see ${p.logFile}; starting it again`);
        setTimeout(() => void p.start().catch((err: unknown) => log(`${p.name} did not start again: ${String(err)}`)), 1_000);
      };
    }
    await Promise.all([...this.workers.map((w) => w.start()), this.api.start()]);
    this.store = createParticipantDataStore({ databaseUrl: this.postgres?.url, sqlitePath: path.join(workDir, 'participant-data.sqlite'), storeTimeoutMs: 8_000 });
    log(`stack up: dev server ${this.devServer!.address}, ${this.workers.length} worker(s), API ${this.apiBase}`);
  }

  /** Starts the dev server on the stack's SQLite file and port (the same ones after a kill). */
  async startDevServer(): Promise<void> {
    this.devServer = await startHeadlessDevServer(this.dbFile, { port: this.devServerPort, detached: true, logFile: path.join(this.opts.workDir, 'temporal-server.log') });
  }

  /** SIGKILL, not stop: the server gets no chance to flush or close its SQLite file. */
  async killDevServer(): Promise<void> {
    const server = this.devServer;
    if (!server || server.process.exitCode !== null || server.process.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => server.process.once('exit', () => resolve()));
    server.process.kill('SIGKILL');
    await gone;
    this.devServerKills++;
  }

  /** The participant-data store itself (not through the relay): what the audit reads. */
  get participantData(): ParticipantDataStore {
    if (!this.store) throw new Error('the stack is not up');
    return this.store;
  }

  /** Exits of the workers and the API that nobody asked for, as "worker 1: signal SIGABRT". */
  crashes(): string[] {
    return [...this.workers, this.api].flatMap((p) => p.unexpectedExits.map((how) => `${p.name}: ${how}`));
  }

  /**
   * A Temporal client with Parley's payload codec on the stack's own keys, for an audit that must
   * read what a recorded activity returned (the export drill: which local activity started the export).
   */
  payloadClient(): Client {
    if (!this.connection) throw new Error('the stack is not up');
    this.codecClient ??= new Client({
      connection: this.connection,
      namespace: 'default',
      dataConverter: createKeyServices(keyConfigFromEnv(this.processEnv), { namespace: 'default' }).dataConverter,
    });
    return this.codecClient;
  }

  /** Stops everything it started, in order (API, workers, dev server, store, KMS). Safe to call twice. */
  async stop(): Promise<void> {
    stacks.delete(this);
    for (const p of [...this.workers, this.api]) if (p) p.onCrash = undefined;
    await this.api?.stop().catch(() => undefined);
    await Promise.all(this.workers.map((w) => w.stop().catch(() => undefined)));
    await this.store?.close().catch(() => undefined);
    await this.connection?.close().catch(() => undefined);
    await this.devServer?.stop().catch(() => undefined);
    await this.pgRelay?.close().catch(() => undefined);
    await this.postgres?.stop().catch(() => undefined);
    await this.moto?.close().catch(() => undefined);
    await sleep(0);
  }
}

// Whatever happens to the runner, nothing it started is left running: every process is killed on
// exit (rigs/children.ts).
const stacks = new Set<Stack>();

export async function stopAllStacks(): Promise<void> {
  await Promise.all([...stacks].map((s) => s.stop()));
}
