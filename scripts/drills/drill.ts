// The contract every failure drill keeps, so `npm run drills` can run them one after another and
// print comparable audits: what was accepted, what the final state and the store reflect, and
// the difference, which must be zero both ways.

export interface DrillAudit {
  /** Inputs the service accepted, by kind (e.g. `webhooks: 1200` answered 202, `writes: 400` answered 200). */
  accepted: Record<string, number>;
  /** Accepted inputs found exactly once, with their last value, in the final state or the store, by the same kinds. */
  reflected: Record<string, number>;
  /** Accepted inputs missing from the final state or the store. Must be 0. */
  lost: number;
  /** Inputs applied or delivered more than once (a row written twice, a CRM or gateway call repeated). Must be 0. */
  doubled: number;
  /** What the drill did and saw: faults injected, recovery times, statuses answered. Printed as they are. */
  facts: Record<string, number | string>;
  /**
   * The drill's own invariants that did not hold, in words (an answer that claimed something false, a
   * 5xx while Temporal was up, twin states that differ, a workflow that failed). Must be empty.
   */
  violations?: string[];
}

export interface DrillContext {
  /** 1 for the full drill (`npm run drills`); smaller (e.g. 0.1) for the fast version run inside `npm test`. */
  scale: number;
  /** A directory of its own for data files, logs and keys; removed by the runner afterwards. */
  workDir: string;
  /** One line of progress, printed by the runner. */
  log(line: string): void;
}

export interface Drill {
  /** Short kebab-case name, used on the command line (`npm run drills -- worker-kill`). */
  name: string;
  /** One sentence: the fault injected and what the audit checks. */
  summary: string;
  /** Fast enough (well under a minute at its test scale) to run inside `npm test` too. */
  fast: boolean;
  /** Starts everything it needs, injects its fault, audits, and stops everything it started, also when it fails. */
  run(ctx: DrillContext): Promise<DrillAudit>;
}
