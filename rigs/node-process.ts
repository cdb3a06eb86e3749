// A node child (a worker or an API, from the built dist/) that can be SIGKILLed, stopped and started
// again with the same settings and log file; it counts the exits nobody asked for (crashes). Used by
// the drills' stacks (scripts/drills/stack.ts) and the cluster stack (rigs/cluster-stack.ts).
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import { killOnExit } from './children';
import { PROJECT_ROOT } from './project';
import { waitFor } from './wait';

/** A node child (worker or API) that can be killed and started again with the same settings. */
export class NodeProcess {
  private child?: ChildProcess;
  private exitedPromise: Promise<string> = Promise.resolve('not started');
  starts = 0;
  /** Exits nobody asked for (a crash), as "code N" / "signal S". */
  readonly unexpectedExits: string[] = [];
  private expectingExit = false;
  /** Called on an exit nobody asked for; the stack restarts the process, as a supervisor would. */
  onCrash?: (how: string) => void;

  constructor(
    readonly name: string,
    private readonly entry: string,
    private readonly env: NodeJS.ProcessEnv,
    readonly logFile: string,
    /** Resolves once the process serves (its /healthz answers 200). */
    private readonly healthUrl: string,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(timeoutMs = 90_000): Promise<void> {
    if (this.running()) return;
    const fd = fs.openSync(this.logFile, 'a');
    fs.writeSync(fd, `--- ${new Date().toISOString()} start ${this.name}\n`);
    // Own process group: a terminal's Ctrl-C reaches only the runner, which stops each child once.
    const child = spawn(process.execPath, [this.entry], { cwd: PROJECT_ROOT, env: this.env, stdio: ['ignore', fd, fd], detached: true });
    fs.closeSync(fd);
    killOnExit(child);
    this.child = child;
    this.starts++;
    this.expectingExit = false;
    this.exitedPromise = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        const how = signal ? `signal ${signal}` : `code ${code}`;
        if (!this.expectingExit && child === this.child) {
          this.unexpectedExits.push(how);
          this.onCrash?.(how);
        }
        resolve(how);
      }),
    );
    await waitFor(
      `${this.name} to serve ${this.healthUrl}`,
      async () => {
        if (!this.running()) throw new Error(`${this.name} exited (${await this.exitedPromise}); its log ends: ${tail(this.logFile)}`);
        const res = await fetch(this.healthUrl, { signal: AbortSignal.timeout(2_000) });
        await res.arrayBuffer();
        return res.ok;
      },
      { timeoutMs, intervalMs: 250 },
    );
  }

  /** SIGKILL: no drain, no goodbye; resolves once it is gone. */
  async kill(): Promise<void> {
    if (!this.running()) return;
    this.expectingExit = true;
    this.child!.kill('SIGKILL');
    await this.exitedPromise;
  }

  /** SIGTERM (a worker drains), SIGKILL after the grace. */
  async stop(graceMs = 15_000): Promise<void> {
    if (!this.running()) return;
    this.expectingExit = true;
    this.child!.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), graceMs);
    await this.exitedPromise;
    clearTimeout(timer);
  }
}

function tail(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-5).join('\n');
  } catch {
    return '(no log)';
  }
}
