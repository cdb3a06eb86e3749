// How often `npm start` restarts a process that died: a bounded back-off, so a process that cannot
// run (a broken configuration, a port taken for good) ends the launcher with a reason instead of
// restarting forever, while one crash now and then is simply repaired.

export interface RestartPolicy {
  /** Restarts allowed within `windowMs`; one more and the launcher gives up. */
  maxRestarts: number;
  windowMs: number;
  /** The first restart waits this long; each further one in the window twice as long as the one before. */
  firstDelayMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = { maxRestarts: 5, windowMs: 10 * 60_000, firstDelayMs: 1_000 };

export class RestartBudget {
  private readonly restarts: number[] = [];

  constructor(private readonly policy: RestartPolicy = DEFAULT_RESTART_POLICY, private readonly now: () => number = Date.now) {}

  /** The wait before the next restart and its number in the window, or undefined when the budget is spent. */
  next(): { delayMs: number; attempt: number } | undefined {
    const now = this.now();
    while (this.restarts.length && now - this.restarts[0] >= this.policy.windowMs) this.restarts.shift();
    if (this.restarts.length >= this.policy.maxRestarts) return undefined;
    this.restarts.push(now);
    return { delayMs: this.policy.firstDelayMs * 2 ** (this.restarts.length - 1), attempt: this.restarts.length };
  }

  get max(): number {
    return this.policy.maxRestarts;
  }
}
