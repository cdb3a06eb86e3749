// The production shape of docker-compose.yml, without containers, for the cluster drills: Temporal's
// server (built from its Go module, scripts/temporal-server.js) on its own PostgreSQL, its schema
// created by Temporal's SQL tool through deploy/temporal/setup-schema.sh, the namespace and Parley's
// search attributes registered by deploy/temporal/register-search-attributes.sh, the server
// configured by deploy/temporal/config.yaml; Parley's own PostgreSQL; two workers and two API
// processes (the built dist/); Debian's nginx in front of the APIs with deploy/nginx's template.
// Every part can be SIGKILLed or restarted where it stood (same data, same ports). The variables the
// compose file gives each part are the ones below (test/deploy/compose-drift.test.ts compares them).
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import { createParticipantDataStore, type ParticipantDataStore } from '../src/store';
import { loadOrCreateLocalKeys } from '../src/security/keys';
import { killOnExit } from './children';
import { credentialsEnv, testCredentials, type TestCredentials } from './credentials';
import { NodeProcess } from './node-process';
import { freePort, freePortBetween } from './ports';
import { startPostgres, type ThrowawayPostgres } from './postgres';
import { DIST, ensureTemporalServer, PROJECT_ROOT, requireBinary } from './project';
import { sleep, StopWaiting, waitFor } from './wait';

export const DEPLOY = {
  serverConfig: path.join(PROJECT_ROOT, 'deploy', 'temporal', 'config.yaml'),
  dynamicConfig: path.join(PROJECT_ROOT, 'deploy', 'temporal', 'dynamicconfig.yaml'),
  setupSchema: path.join(PROJECT_ROOT, 'deploy', 'temporal', 'setup-schema.sh'),
  registerSearchAttributes: path.join(PROJECT_ROOT, 'deploy', 'temporal', 'register-search-attributes.sh'),
  nginxTemplate: path.join(PROJECT_ROOT, 'deploy', 'nginx', 'parley-api.conf.template'),
};

/** Temporal's database login, as the compose file's temporal-postgresql creates it. */
export const TEMPORAL_DB = { user: 'temporal', password: 'temporal' };
export const NAMESPACE = 'default';
export const TASK_QUEUE = 'parley-conversations';

export interface ServerPorts {
  frontendGrpc: number;
  frontendHttp: number;
  frontendMembership: number;
  historyGrpc: number;
  historyMembership: number;
  matchingGrpc: number;
  matchingMembership: number;
  workerGrpc: number;
  workerMembership: number;
  /** The server's own Prometheus metrics (PROMETHEUS_ENDPOINT). */
  metrics: number;
}

/**
 * The Temporal server's environment: the compose file's `temporal` service sets the same variables
 * (the ports and host aside, which containers do not need to move).
 */
export function temporalServerEnv(db: { host: string; port: number }, ports: ServerPorts): Record<string, string> {
  return {
    TEMPORAL_SERVER_CONFIG_FILE_PATH: DEPLOY.serverConfig,
    DB: 'postgres12',
    DB_PORT: String(db.port),
    POSTGRES_SEEDS: db.host,
    POSTGRES_USER: TEMPORAL_DB.user,
    POSTGRES_PWD: TEMPORAL_DB.password,
    NUM_HISTORY_SHARDS: '4',
    DYNAMIC_CONFIG_FILE_PATH: DEPLOY.dynamicConfig,
    BIND_ON_IP: '127.0.0.1',
    FRONTEND_GRPC_PORT: String(ports.frontendGrpc),
    FRONTEND_HTTP_PORT: String(ports.frontendHttp),
    FRONTEND_MEMBERSHIP_PORT: String(ports.frontendMembership),
    HISTORY_GRPC_PORT: String(ports.historyGrpc),
    HISTORY_MEMBERSHIP_PORT: String(ports.historyMembership),
    MATCHING_GRPC_PORT: String(ports.matchingGrpc),
    MATCHING_MEMBERSHIP_PORT: String(ports.matchingMembership),
    WORKER_GRPC_PORT: String(ports.workerGrpc),
    WORKER_MEMBERSHIP_PORT: String(ports.workerMembership),
    PROMETHEUS_ENDPOINT: `127.0.0.1:${ports.metrics}`,
  };
}

/** deploy/temporal/setup-schema.sh's environment (compose: temporal-schema). */
export function schemaSetupEnv(db: { host: string; port: number }, tools: { sqlTool: string; postgresSchema: string }): Record<string, string> {
  return {
    POSTGRES_SEEDS: db.host,
    DB_PORT: String(db.port),
    POSTGRES_USER: TEMPORAL_DB.user,
    POSTGRES_PWD: TEMPORAL_DB.password,
    TEMPORAL_SCHEMA_DIR: tools.postgresSchema,
    TEMPORAL_SQL_TOOL: tools.sqlTool,
  };
}

/** deploy/temporal/register-search-attributes.sh's environment (compose: temporal-setup). */
export function searchAttributeSetupEnv(temporalAddress: string): Record<string, string> {
  return { TEMPORAL_ADDRESS: temporalAddress, TEMPORAL_NAMESPACE: NAMESPACE, TEMPORAL_NAMESPACE_RETENTION: '72h', SETUP_TIMEOUT_SECONDS: '120' };
}

/** What every worker and API gets (compose: x-parley-env), and what each kind adds. */
export function parleyEnv(at: { temporalAddress: string; databaseUrl: string; keyFile: string }): {
  common: Record<string, string>;
  worker: (healthPort: number) => Record<string, string>;
  api: (port: number, credentials: Pick<TestCredentials, 'webhookSecret' | 'tokens'>) => Record<string, string>;
} {
  const common = {
    TEMPORAL_ADDRESS: at.temporalAddress,
    TEMPORAL_NAMESPACE: NAMESPACE,
    TEMPORAL_TASK_QUEUE: TASK_QUEUE,
    DATABASE_URL: at.databaseUrl,
    LOG_LEVEL: process.env.DRILLS_LOG_LEVEL || 'warn',
    PARLEY_KEY_FILE: at.keyFile,
  };
  return {
    common,
    worker: (healthPort) => ({ WORKER_SHUTDOWN_GRACE: '10s', WORKER_HEALTH_PORT: String(healthPort) }),
    api: (port, credentials) => ({
      HOST: '127.0.0.1',
      PORT: String(port),
      TEMPORAL_REQUEST_TIMEOUT: '5s',
      CONVERSATION_INACTIVITY_TIMEOUT: '30m',
      CONTINUE_AS_NEW_AFTER_EVENTS: '2000',
      // The audit reads each conversation once it has ended: no grace window after CLOSED (compose: 2m).
      CLOSED_GRACE_PERIOD: '0',
      ...credentialsEnv(credentials),
    }),
  };
}

/** deploy/nginx's template's variables (compose: parley-api-proxy). */
export function proxyEnv(listenPort: number, apiPorts: number[]): Record<string, string> {
  return {
    PARLEY_PROXY_PORT: `127.0.0.1:${listenPort}`,
    // Never consulted: the target names the upstream block, which nginx uses without DNS.
    PARLEY_PROXY_RESOLVER: '127.0.0.1',
    // A refused connection takes a replica out for fail_timeout (nginx's default 10 s); a rolling
    // restart stops the next replica sooner than that, and with both out nginx answers 502 at once.
    PARLEY_API_SERVERS: apiPorts.map((p) => `server 127.0.0.1:${p} max_fails=1 fail_timeout=1s;`).join(' '),
    PARLEY_API_TARGET: 'http://parley_api_replicas',
  };
}

/** envsubst as the nginx image runs it: only the variables given are replaced; any other `${…}` is an error here. */
export function renderTemplate(template: string, vars: Record<string, string>): string {
  const out = template.replace(/\$\{([A-Z0-9_]+)\}/g, (whole, name: string) => vars[name] ?? whole);
  const left = out.match(/\$\{[A-Z0-9_]+\}/g);
  if (left) throw new Error(`template variables not set: ${[...new Set(left)].join(', ')}`);
  return out;
}

/** A binary child (the Temporal server, nginx) that can be SIGKILLed and started again with the same settings. */
export class ServerProcess {
  private child?: ChildProcess;
  private exited: Promise<void> = Promise.resolve();
  readonly unexpectedExits: string[] = [];
  private expectingExit = false;

  constructor(
    readonly name: string,
    private readonly command: string,
    private readonly args: string[],
    private readonly env: NodeJS.ProcessEnv,
    readonly logFile: string,
    private readonly ready: () => Promise<boolean>,
  ) {}

  running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The running process's id (the bench measures it). */
  get pid(): number | undefined {
    return this.running() ? this.child?.pid : undefined;
  }

  async start(timeoutMs = 120_000): Promise<void> {
    if (this.running()) return;
    const fd = fs.openSync(this.logFile, 'a');
    fs.writeSync(fd, `--- ${new Date().toISOString()} start ${this.name}\n`);
    const child = spawn(this.command, this.args, { cwd: path.dirname(this.logFile), env: this.env, stdio: ['ignore', fd, fd], detached: true });
    fs.closeSync(fd);
    killOnExit(child);
    this.child = child;
    this.expectingExit = false;
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        if (!this.expectingExit && child === this.child) this.unexpectedExits.push(signal ? `signal ${signal}` : `code ${code}`);
        resolve();
      }),
    );
    await waitFor(
      `${this.name} to serve`,
      async () => {
        if (!this.running()) throw new StopWaiting(`${this.name} exited; its log ends: ${tail(this.logFile)}`);
        return this.ready();
      },
      { timeoutMs, intervalMs: 500 },
    );
  }

  async kill(): Promise<void> {
    if (!this.running()) return;
    this.expectingExit = true;
    this.child!.kill('SIGKILL');
    await this.exited;
  }

  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running()) return;
    this.expectingExit = true;
    this.child!.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

interface ProcessSpec {
  name: string;
  entry: string;
  env: NodeJS.ProcessEnv;
  logFile: string;
  healthUrl: string;
}

export interface ClusterStackOptions {
  workDir: string;
  log(line: string): void;
  /** Default 2, as the compose file runs. */
  workers?: number;
  /** Default 2, as deploy/compose.scale-api.yml runs. */
  apis?: number;
  /** More environment for the workers and APIs. */
  env?: NodeJS.ProcessEnv;
}

/** Temporal as the compose file runs it: its server on its own PostgreSQL, schema, namespace and search attributes set by deploy/'s scripts. */
export interface TemporalService {
  postgres: ThrowawayPostgres;
  temporal: ServerProcess;
  /** The frontend's gRPC address. */
  address: string;
  /** The server's own Prometheus metrics. */
  metricsUrl: string;
  stop(): Promise<void>;
}

/** Starts the Temporal service alone (the cluster stack without Parley): what the bench's cluster target measures. */
export async function startTemporalService(opts: { workDir: string; log(line: string): void }): Promise<TemporalService> {
  const { workDir, log } = opts;
  const tools = ensureTemporalServer(log);
  const started = Date.now();
  const postgres = await startPostgres({ logFile: path.join(workDir, 'temporal-postgresql.log') });
  let temporal: ServerProcess | undefined;
  const stop = async (): Promise<void> => {
    await temporal?.stop().catch(() => undefined);
    await postgres.stop().catch(() => undefined);
  };
  try {
    await runSql(postgres.url, `CREATE ROLE ${TEMPORAL_DB.user} LOGIN CREATEDB PASSWORD '${TEMPORAL_DB.password}'`);
    const db = { host: '127.0.0.1', port: postgres.port };
    await runScript(workDir, 'temporal-schema', DEPLOY.setupSchema, schemaSetupEnv(db, tools));
    // The membership ports go into a smallint column of Temporal's schema: below 32768.
    const membershipPort = (): Promise<number> => freePortBetween(20_000, 32_000);
    const ports: ServerPorts = {
      frontendGrpc: await freePort(), frontendHttp: await freePort(), frontendMembership: await membershipPort(),
      historyGrpc: await freePort(), historyMembership: await membershipPort(),
      matchingGrpc: await freePort(), matchingMembership: await membershipPort(),
      workerGrpc: await freePort(), workerMembership: await membershipPort(),
      metrics: await freePort(),
    };
    const address = `127.0.0.1:${ports.frontendGrpc}`;
    temporal = new ServerProcess('temporal server', tools.server, ['start'], { PATH: process.env.PATH, HOME: process.env.HOME, ...temporalServerEnv(db, ports) }, path.join(workDir, 'temporal-server.log'), () => frontendServes(address));
    await temporal.start();
    await runScript(workDir, 'temporal-setup', DEPLOY.registerSearchAttributes, { PATH: `${path.dirname(requireBinary('cli'))}:${process.env.PATH}`, ...searchAttributeSetupEnv(address) });
    log(`Temporal ${address} up, schema and search attributes set, in ${Math.round((Date.now() - started) / 1000)} s`);
    return { postgres, temporal, address, metricsUrl: `http://127.0.0.1:${ports.metrics}/metrics`, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function frontendServes(address: string): Promise<boolean> {
  const connection = await Connection.connect({ address, connectTimeout: 2_000 });
  try {
    await connection.workflowService.getSystemInfo({});
    return true;
  } finally {
    await connection.close();
  }
}

async function runSql(url: string, statement: string): Promise<void> {
  const client = new PgClient({ connectionString: url });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

/** Runs one of deploy/'s shell scripts as the compose file's one-shot service does; its output goes to `workDir`. */
function runScript(workDir: string, name: string, file: string, env: Record<string, string>): Promise<void> {
  const logFile = path.join(workDir, `${name}.log`);
  return new Promise((resolve, reject) => {
    execFile('sh', [file], { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, timeout: 180_000 }, (err, stdout, stderr) => {
      fs.appendFileSync(logFile, stdout + stderr);
      if (err) reject(new Error(`${name} (${path.relative(PROJECT_ROOT, file)}) failed: ${String(err)}; its output ends: ${(stdout + stderr).trim().split('\n').slice(-8).join('\n')}`));
      else resolve();
    });
  });
}

export class ClusterStack {
  readonly credentials: TestCredentials = testCredentials();
  /** Temporal's PostgreSQL (compose: temporal-postgresql). */
  postgres!: ThrowawayPostgres;
  /** Parley's participant-data PostgreSQL (compose: parley-postgresql). */
  parleyPostgres!: ThrowawayPostgres;
  temporal!: ServerProcess;
  temporalAddress = '';
  readonly workers: NodeProcess[] = [];
  readonly apis: NodeProcess[] = [];
  nginx!: ServerProcess;
  /** The API as callers reach it: through nginx. */
  apiUrl = '';
  /** A plain Temporal client (no codec): describe, never payloads. */
  client!: Client;
  private connection?: Connection;
  private service?: TemporalService;
  private store?: ParticipantDataStore;

  private constructor(readonly opts: ClusterStackOptions) {}

  static async start(opts: ClusterStackOptions): Promise<ClusterStack> {
    const stack = new ClusterStack(opts);
    clusterStacks.add(stack);
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
    const started = Date.now();
    const service = await startTemporalService({ workDir, log });
    this.service = service;
    this.postgres = service.postgres;
    this.temporal = service.temporal;
    this.temporalAddress = service.address;
    this.parleyPostgres = await startPostgres({ logFile: path.join(workDir, 'parley-postgresql.log') });
    this.connection = await Connection.connect({ address: this.temporalAddress });
    this.client = new Client({ connection: this.connection, namespace: NAMESPACE });

    const keyFile = path.join(workDir, 'keys.json');
    // Made once here, before the workers and the APIs race to create it (compose: a shared volume).
    loadOrCreateLocalKeys(keyFile);
    const env: NodeJS.ProcessEnv = { ...process.env };
    // Nothing of the caller's own Parley settings leaks into the stack's processes.
    for (const name of Object.keys(env)) if (/^(PARLEY_|KMS_|CODEC_|AWS_|DATABASE_URL|TEMPORAL_|WORKER_|STORE_TIMEOUT)/.test(name)) delete env[name];
    const pe = parleyEnv({ temporalAddress: this.temporalAddress, databaseUrl: this.parleyPostgres.url, keyFile });
    Object.assign(env, pe.common, { PARLEY_DATA_DIR: workDir, LOG_FORMAT: 'json', WORKFLOW_BUNDLE_PATH: path.join(DIST, 'workflow-bundle.js') }, this.opts.env);

    for (let i = 0; i < (this.opts.workers ?? 2); i++) {
      const port = await freePort();
      this.workers.push(this.nodeProcess({ name: `worker ${i + 1}`, entry: path.join(DIST, 'src', 'main', 'worker.js'), env: { ...env, ...pe.worker(port) }, logFile: path.join(workDir, `worker-${i + 1}.log`), healthUrl: `http://127.0.0.1:${port}/healthz` }));
    }
    const apiPorts: number[] = [];
    for (let i = 0; i < (this.opts.apis ?? 2); i++) {
      const port = await freePort();
      apiPorts.push(port);
      this.apis.push(this.nodeProcess({ name: `api ${i + 1}`, entry: path.join(DIST, 'src', 'main', 'api.js'), env: { ...env, ...pe.api(port, this.credentials) }, logFile: path.join(workDir, `api-${i + 1}.log`), healthUrl: `http://127.0.0.1:${port}/healthz` }));
    }
    await Promise.all([...this.workers.map((w) => w.start()), ...this.apis.map((a) => a.start())]);

    const proxyPort = await freePort();
    this.apiUrl = `http://127.0.0.1:${proxyPort}`;
    const nginxDir = path.join(workDir, 'nginx');
    fs.mkdirSync(path.join(nginxDir, 'conf.d'), { recursive: true });
    fs.writeFileSync(path.join(nginxDir, 'conf.d', 'parley-api.conf'), renderTemplate(fs.readFileSync(DEPLOY.nginxTemplate, 'utf8'), proxyEnv(proxyPort, apiPorts)));
    fs.writeFileSync(path.join(nginxDir, 'nginx.conf'), nginxMainConfig(nginxDir));
    this.nginx = new ServerProcess('nginx', nginxBinary(), ['-p', nginxDir, '-c', path.join(nginxDir, 'nginx.conf')], { PATH: process.env.PATH }, path.join(workDir, 'nginx.log'), async () => {
      const res = await fetch(`${this.apiUrl}/livez`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      return res.ok;
    });
    await this.nginx.start();

    this.store = createParticipantDataStore({ databaseUrl: this.parleyPostgres.url, sqlitePath: path.join(workDir, 'unused.sqlite'), storeTimeoutMs: 8_000 });
    log(`cluster up in ${Math.round((Date.now() - started) / 1000)} s: Temporal ${this.temporalAddress}, ${this.workers.length} workers, ${this.apis.length} APIs behind nginx ${this.apiUrl}`);
  }

  private readonly specs = new Map<NodeProcess, ProcessSpec>();
  /** Exits of processes replaced since (a replaced process's crashes still count). */
  private readonly retiredExits: string[] = [];

  /** A worker or API process; a crash is a finding: counted (the audit reports it) and the process started again, as compose's restart policy would. */
  private nodeProcess(spec: ProcessSpec): NodeProcess {
    const p = new NodeProcess(spec.name, spec.entry, spec.env, spec.logFile, spec.healthUrl);
    this.specs.set(p, spec);
    p.onCrash = (how) => {
      this.opts.log(`${p.name} CRASHED (${how}); see ${p.logFile}; starting it again`);
      setTimeout(() => void p.start().catch((err: unknown) => this.opts.log(`${p.name} did not start again: ${String(err)}`)), 1_000);
    };
    return p;
  }

  /** Stops process `p` as a deploy does (SIGTERM: a worker drains) and starts its replacement with `env` changed, on the same port and log. */
  private async replace(p: NodeProcess, env: NodeJS.ProcessEnv): Promise<NodeProcess> {
    const spec = this.specs.get(p)!;
    p.onCrash = undefined;
    await p.stop();
    this.retiredExits.push(...p.unexpectedExits.map((how) => `${p.name}: ${how}`));
    this.specs.delete(p);
    const next = this.nodeProcess({ ...spec, env: { ...spec.env, ...env } });
    await next.start();
    return next;
  }

  /** Worker i replaced (a rolling deploy's step), e.g. with another WORKFLOW_BUNDLE_PATH. */
  async replaceWorker(i: number, env: NodeJS.ProcessEnv): Promise<void> {
    this.workers[i] = await this.replace(this.workers[i], env);
  }

  /** API replica i replaced behind nginx (same port). */
  async replaceApi(i: number, env: NodeJS.ProcessEnv): Promise<void> {
    this.apis[i] = await this.replace(this.apis[i], env);
  }

  /** SIGKILL worker i (0-based); `start` again with `workers[i].start()`. */
  killWorker(i: number): Promise<void> {
    return this.workers[i].kill();
  }

  killApi(i: number): Promise<void> {
    return this.apis[i].kill();
  }

  /** SIGKILLs the Temporal server and starts it again on the same database and ports; resolves once it serves. */
  async restartServer(downMs = 0): Promise<number> {
    const t = Date.now();
    await this.temporal.kill();
    await sleep(downMs);
    await this.temporal.start();
    return Date.now() - t;
  }

  /** Restarts Temporal's PostgreSQL (fast shutdown, as `docker restart` or a failover does). */
  async restartPostgres(): Promise<number> {
    const t = Date.now();
    await this.postgres.restart();
    return Date.now() - t;
  }

  /** The participant-data store itself: what the audit reads. */
  get participantData(): ParticipantDataStore {
    if (!this.store) throw new Error('the stack is not up');
    return this.store;
  }

  /** Exits nobody asked for, as "worker 1: signal SIGABRT" (the Temporal server and nginx included). */
  crashes(): string[] {
    const live = [...this.workers, ...this.apis, this.temporal, this.nginx].filter(Boolean).flatMap((p) => p.unexpectedExits.map((how) => `${p.name}: ${how}`));
    return [...this.retiredExits, ...live];
  }

  /** Stops everything, in order; safe to call twice and after a failed start. */
  async stop(): Promise<void> {
    clusterStacks.delete(this);
    for (const p of [...this.workers, ...this.apis]) p.onCrash = undefined;
    await this.nginx?.stop().catch(() => undefined);
    await Promise.all(this.apis.map((a) => a.stop().catch(() => undefined)));
    await Promise.all(this.workers.map((w) => w.stop().catch(() => undefined)));
    await this.store?.close().catch(() => undefined);
    await this.connection?.close().catch(() => undefined);
    await this.service?.stop();
    await this.parleyPostgres?.stop().catch(() => undefined);
  }
}

const clusterStacks = new Set<ClusterStack>();

export async function stopAllClusterStacks(): Promise<void> {
  await Promise.all([...clusterStacks].map((s) => s.stop()));
}

function nginxBinary(): string {
  for (const candidate of [process.env.NGINX_PATH, '/usr/sbin/nginx', '/usr/bin/nginx']) if (candidate && fs.existsSync(candidate)) return candidate;
  throw new Error('nginx is needed for the cluster drills: install Debian\'s (`apt-get install nginx-light`; its service need not run) or set NGINX_PATH');
}

/** nginx's main file for a non-root prefix: in the foreground, every path under the prefix, the template's server block included. */
function nginxMainConfig(prefix: string): string {
  return [
    // As root nginx would hand its workers to `nobody`, which cannot write the temp paths here.
    ...(process.getuid?.() === 0 ? ['user root;'] : []),
    'daemon off;',
    'worker_processes 1;',
    `pid ${path.join(prefix, 'nginx.pid')};`,
    'error_log stderr warn;',
    'events { worker_connections 1024; }',
    'http {',
    '  access_log off;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${path.join(prefix, `${t}_temp`)};`),
    `  include ${path.join(prefix, 'conf.d', '*.conf')};`,
    '}',
    '',
  ].join('\n');
}

function tail(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-8).join('\n');
  } catch {
    return '(no log)';
  }
}
