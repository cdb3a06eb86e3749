// `npm start`: everything on one machine. Starts the Temporal dev server (unless TEMPORAL_ADDRESS
// names a cluster), then the worker and the API as separate processes, as production runs them.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { type Config, loadConfig } from '../config';
import { type DevServer, startDevServer } from '../platform/dev-server';
import { Connection } from '@temporalio/client';
import { createLogger } from '../platform/logger';
import { registerSearchAttributes } from '../platform/search-attributes';
import { temporalConnectionOptions } from '../platform/temporal-client';
import { loadOrCreateLocalKeys } from '../security/keys';
import { ensureSecretsFile, secretsFileNotice } from '../security/secrets';
import { ensurePortsFree, type NamedPort, PortInUseError } from '../platform/port-holder';
import { LaunchRecordFile, LauncherRunningError, LeftoverNotStoppedError, stopLeftovers } from './launch-record';
import { RestartBudget } from './restart-budget';
import { workerNodeFlags } from '../worker/settings';
import type * as TemporalBinaries from '../../scripts/temporal-binaries';
// eslint-disable-next-line @typescript-eslint/no-require-imports -- plain JS shared with bootstrap.js, which runs before any build; tsc does not emit it into dist/, so it loads from the source tree
const { requireBinary } = require(path.join(__dirname, '..', '..', '..', 'scripts', 'temporal-binaries.js')) as typeof TemporalBinaries;

async function main(): Promise<void> {
  // The API's secrets are not checked here: this launcher creates them on a first run.
  const config = loadConfig(process.env, ['keys']);
  const logger = createLogger(config.logLevel, 'parley', config.logFormat);
  fs.mkdirSync(config.dataDir, { recursive: true });
  // A previous launcher killed outright (SIGKILL, out of memory) left its processes running on our
  // ports: stop them first, then make sure nothing else holds a port we need.
  await stopLeftovers(config.dataDir, logger);
  const ports = portsOf(config);
  await ensurePortsFree(Object.values(ports).flat());
  const record = new LaunchRecordFile(config.dataDir);
  // The API refuses to start without secrets; on a first run on this machine they are made here.
  const secrets = ensureSecretsFile(process.env, config.dataDir);
  // Likewise the local key file, unless KMS is configured: made once here rather than raced by worker and API.
  const keyFiles = new Set([config.keys.securedData, config.keys.codec].flatMap((source) => (source.kind === 'local' ? [source.keyFile] : [])));
  for (const keyFile of keyFiles) logger.info({ keyFile, keys: loadOrCreateLocalKeys(keyFile).length }, 'local encryption keys');

  let devServer: DevServer | undefined;
  let stopping = false;
  /** Restarts waiting for their back-off; cleared when everything stops. */
  const pendingRestarts = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void): void => {
    const timer = setTimeout(() => {
      pendingRestarts.delete(timer);
      if (!stopping) fn();
    }, ms);
    pendingRestarts.add(timer);
  };
  const children = new Map<string, ChildProcess>();
  /** A dev server restart under way: stopping waits for it, so no server is left running behind the launcher. */
  let restarting: Promise<void> | undefined;
  /** `graceMs`: how long each process may take to stop before it is killed. */
  const stopAll = async (code: number, graceMs = 30_000): Promise<void> => {
    if (stopping) return;
    stopping = true;
    for (const timer of pendingRestarts) clearTimeout(timer);
    logger.info('stopping: API and worker first (the worker drains), then Temporal');
    await Promise.all(
      [...children].map(async ([entry, child]) => {
        const { code, signal } = await stopChild(child, graceMs);
        logger.info({ entry, code, signal }, 'process stopped');
      }),
    );
    await restarting;
    await devServer?.stop();
    record.remove();
    process.exit(code);
  };
  const giveUp = (what: string, budget: RestartBudget): void => {
    logger.error({ process: what, restarts: budget.max }, `${what} keeps exiting (${budget.max} restarts within 10 minutes); stopping everything`);
    // Without Temporal a worker's drain cannot finish (its pollers wait for the server): a short grace.
    void stopAll(1, what === DEV_SERVER ? 5_000 : 30_000);
  };

  const env = { ...process.env };
  if (!config.temporalAddress) {
    const dbFile = path.join(config.dataDir, 'temporal.sqlite');
    const options = {
      cliPath: requireBinary('cli'),
      dbFile,
      port: config.devServerPort,
      uiPort: config.uiPort,
      metricsPort: config.devServerMetricsPort,
      logFile: path.join(config.dataDir, 'temporal-server.log'),
      detached: true,
      uiCodecEndpoint: `${apiUrl(config.host, config.port)}/codec`,
    };
    logger.info({ dbFile }, 'starting the Temporal dev server');
    devServer = await startDevServer(options);
    record.started(DEV_SERVER, devServer.process.pid, ports.devServer);
    // Supervised: a dev server that dies (killed, out of memory) is started again on the same SQLite
    // file and port, where the worker and the API reconnect by themselves; its history is in the file.
    const budget = new RestartBudget();
    const watch = (server: DevServer): void => {
      server.process.once('exit', (code, signal) => {
        if (stopping) return;
        const next = budget.next();
        if (!next) return giveUp(DEV_SERVER, budget);
        logger.error({ code, signal, dbFile, restartInMs: next.delayMs, attempt: next.attempt, maxAttempts: budget.max }, 'the Temporal dev server exited unexpectedly; restarting it on the same SQLite file');
        const restart = (): void => {
          restarting = startDevServer(options).then(
            (restarted) => {
              devServer = restarted;
              record.started(DEV_SERVER, restarted.process.pid, ports.devServer);
              if (stopping) return;
              logger.info({ address: restarted.address, attempt: next.attempt }, 'the Temporal dev server is back');
              watch(restarted);
            },
            (err: unknown) => {
              const again = budget.next();
              if (!again) {
                logger.error({ error: err instanceof Error ? err.message : String(err) }, 'could not restart the Temporal dev server');
                return giveUp(DEV_SERVER, budget);
              }
              logger.error({ error: err instanceof Error ? err.message : String(err), restartInMs: again.delayMs, attempt: again.attempt, maxAttempts: budget.max }, 'the Temporal dev server did not start again; retrying');
              later(again.delayMs, restart);
            },
          );
        };
        later(next.delayMs, restart);
      });
    };
    watch(devServer);
    // The UI calls the codec from the browser, with the operator's cookie: its origin must be allowed.
    if (!env.CODEC_CORS_ORIGINS && devServer.uiUrl) env.CODEC_CORS_ORIGINS = new URL(devServer.uiUrl).origin;
    process.once('exit', () => devServer?.process.kill('SIGTERM'));
    env.TEMPORAL_ADDRESS = devServer.address;
  } else {
    await registerOnCluster(config, logger);
  }

  // `npm start` builds the bundle first (npm run build); the worker then skips webpack.
  const bundle = path.join(__dirname, '..', '..', 'workflow-bundle.js');
  if (!env.WORKFLOW_BUNDLE_PATH && fs.existsSync(bundle)) env.WORKFLOW_BUNDLE_PATH = bundle;

  const launch = (entry: string, budget: RestartBudget): void => {
    // Own process group, like the dev server: a terminal's Ctrl-C signals the whole foreground group,
    // and the SDK treats a second signal (ours, on top of the terminal's) as "die now, mid-drain".
    // So only this launcher hears Ctrl-C, and each process gets exactly one SIGTERM from it.
    // The worker's main-thread heap is sized when its process starts (WORKER_SEMI_SPACE_MB).
    const nodeFlags = entry === 'worker.js' ? workerNodeFlags(env) : [];
    const child = spawn(process.execPath, [...nodeFlags, path.join(__dirname, entry)], { env, stdio: 'inherit', detached: true });
    children.set(entry, child);
    record.started(entry, child.pid, entry === 'api.js' ? ports.api : ports.worker);
    child.once('exit', (code, signal) => {
      if (stopping) return;
      const next = budget.next();
      if (!next) {
        logger.error({ entry, code, signal }, 'a Parley process exited');
        return giveUp(entry, budget);
      }
      logger.error({ entry, code, signal, restartInMs: next.delayMs, attempt: next.attempt, maxAttempts: budget.max }, 'a Parley process exited unexpectedly; restarting it');
      later(next.delayMs, () => {
        launch(entry, budget);
        logger.info({ entry, pid: children.get(entry)?.pid, attempt: next.attempt }, 'process restarted');
      });
    });
  };
  process.once('exit', () => {
    for (const child of children.values()) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  });
  for (const entry of ['worker.js', 'api.js']) launch(entry, new RestartBudget());

  // SIGHUP: the terminal closed. The processes above are in their own groups, so they would not hear it.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void stopAll(0));

  // Announce only once the API answers, so the addresses printed are usable right away.
  const listening = await waitForApi(config.host, config.port, () => stopping);
  if (stopping) return;
  if (!listening) logger.warn({ port: config.port }, 'the API has not answered within 60 s; see its log lines above');
  const ui = devServer?.uiUrl ?? '(your cluster’s UI)';
  logger.info({ api: `http://${config.host}:${config.port}`, temporalUi: ui, temporal: env.TEMPORAL_ADDRESS }, 'Parley is up');
  if (secrets.created) console.log(secretsFileNotice(secrets.file, `http://${config.host}:${config.port}`));
  console.log(`\n  Parley API   http://${config.host}:${config.port}\n  Temporal UI  ${ui}\n  Ctrl-C stops everything.\n`);
}

const DEV_SERVER = 'the Temporal dev server';

/** The ports this launcher's processes bind, each with the variable that moves it. */
function portsOf(config: Config): { devServer: NamedPort[]; worker: NamedPort[]; api: NamedPort[] } {
  const loopback = '127.0.0.1';
  return {
    devServer: config.temporalAddress
      ? []
      : [
          { port: config.devServerPort, variable: 'TEMPORAL_DEV_PORT', owner: 'the Temporal dev server', host: loopback },
          { port: config.uiPort, variable: 'TEMPORAL_UI_PORT', owner: 'the Temporal Web UI', host: loopback },
          ...(config.devServerMetricsPort === undefined ? [] : [{ port: config.devServerMetricsPort, variable: 'TEMPORAL_DEV_METRICS_PORT', owner: "the Temporal dev server's metrics", host: loopback }]),
        ],
    worker: [
      ...(config.workerHealthPort === undefined ? [] : [{ port: config.workerHealthPort, variable: 'WORKER_HEALTH_PORT', owner: "the worker's health endpoint", host: config.host }]),
      ...(config.temporalMetricsPort === undefined ? [] : [{ port: config.temporalMetricsPort, variable: 'TEMPORAL_METRICS_PORT', owner: "the worker's Temporal SDK metrics", host: config.host }]),
    ].filter((p) => p.port !== 0),
    api: [{ port: config.port, variable: 'PORT', owner: 'the API', host: config.host }],
  };
}

/** Best effort: a cluster where Parley may not administer the namespace (Temporal Cloud) is configured by hand. */
async function registerOnCluster(config: Config, logger: ReturnType<typeof createLogger>): Promise<void> {
  try {
    const connection = await Connection.connect(temporalConnectionOptions(config));
    await registerSearchAttributes(connection, config.temporalNamespace);
    await connection.close();
  } catch (err) {
    logger.warn({ error: err instanceof Error ? err.message : String(err) }, 'could not register Parley search attributes; register them on the namespace by hand');
  }
}

/** The API's address as a browser on this machine reaches it (a wildcard bind is reached on loopback). */
function apiUrl(host: string, port: number): string {
  const reachable = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
}

/** True once the API answers at all (its /healthz may still say Temporal is unreachable). */
async function waitForApi(host: string, port: number, cancelled: () => boolean): Promise<boolean> {
  const reachable = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const url = `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}/healthz`;
  const deadline = Date.now() + 60_000;
  while (!cancelled() && Date.now() < deadline) {
    try {
      await fetch(url);
      return true;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return false;
}

/** SIGTERM, then SIGKILL if it has not exited within `graceMs`; resolves with how it ended. */
function stopChild(child: ChildProcess, graceMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
    child.kill('SIGTERM');
  });
}

main().catch((err) => {
  // Said in one line, without a stack: what is in the way and what to do about it.
  if (err instanceof PortInUseError || err instanceof LauncherRunningError || err instanceof LeftoverNotStoppedError) console.error(`parley: ${err.message}`);
  else console.error(err);
  process.exit(1);
});
