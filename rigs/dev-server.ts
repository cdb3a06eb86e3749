// The Temporal CLI's dev server as a headless child process on a SQLite file: stopped, killed and
// started again on the same file and port, it still holds every workflow.
import { type DevServer, startDevServer } from '../src/platform/dev-server';
import { PortInUseError } from '../src/platform/port-holder';
import { killOnExit } from './children';
import { freePort } from './ports';
import { requireBinary } from './project';

export interface HeadlessDevServerOptions {
  /** Default: a free one. Pass the old port to start again where clients expect it. */
  port?: number;
  /** Default: next to the SQLite file. */
  logFile?: string;
  /** Own process group, so a terminal's Ctrl-C reaches only the runner, which stops the server itself. */
  detached?: boolean;
  /** Serve Temporal's own Prometheus metrics on this port (the bench reads them per phase). */
  metricsPort?: number;
}

export async function startHeadlessDevServer(dbFile: string, opts: HeadlessDevServerOptions = {}): Promise<DevServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      const server = await startDevServer({
        cliPath: requireBinary('cli'),
        dbFile,
        port: opts.port ?? (await freePort()),
        headless: true,
        detached: opts.detached,
        metricsPort: opts.metricsPort,
        logFile: opts.logFile ?? `${dbFile}.log`,
      });
      killOnExit(server.process);
      return server;
    } catch (err) {
      // A port found free can be taken by another suite's server before ours binds it: draw another,
      // unless the caller asked for this one.
      if (!(err instanceof PortInUseError) || opts.port !== undefined || attempt >= 3) throw err;
    }
  }
}

/** The port a dev server listens on, to start it again there. */
export const portOf = (server: DevServer): number => Number(server.address.split(':').at(-1));
