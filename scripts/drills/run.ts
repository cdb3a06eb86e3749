// Runs drills one after another, each in a temp folder of its own, and prints each audit. Shared by
// `npm run drills` (scripts/drills.ts) and the jest test that runs the fast ones.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Drill, DrillAudit } from './drill';
import { stopAllStacks } from './stack';

export interface DrillOutcome {
  drill: Drill;
  audit?: DrillAudit;
  error?: unknown;
  seconds: number;
}

/** Passed: it ran to its end, lost and doubled nothing, and broke none of its own invariants. */
export const passed = (o: DrillOutcome): boolean => !o.error && !!o.audit && o.audit.lost === 0 && o.audit.doubled === 0 && (o.audit.violations ?? []).length === 0;

export async function runDrill(drill: Drill, opts: { scale: number; print: (line: string) => void; keep?: boolean; stopStacks?: boolean }): Promise<DrillOutcome> {
  const workDir = fs.mkdtempSync(path.join(process.env.PARLEY_TEST_TMP ?? os.tmpdir(), `parley-drill-${drill.name}-`));
  const started = Date.now();
  opts.print(`\n== ${drill.name} (scale ${opts.scale}): ${drill.summary}`);
  let outcome: DrillOutcome;
  try {
    const audit = await drill.run({ scale: opts.scale, workDir, log: (line) => opts.print(`  [${drill.name}] ${line}`) });
    outcome = { drill, audit, seconds: (Date.now() - started) / 1000 };
  } catch (error) {
    outcome = { drill, error, seconds: (Date.now() - started) / 1000 };
  } finally {
    // A drill stops what it started; this catches a drill that failed before it could. A drill on a
    // stack it shares with the next ones (the cluster drills) leaves it to its owner.
    if (opts.stopStacks !== false) await stopAllStacks();
  }
  opts.print(formatAudit(outcome));
  if (opts.keep || !passed(outcome)) opts.print(`  logs and data kept in ${workDir}`);
  else fs.rmSync(workDir, { recursive: true, force: true });
  return outcome;
}

export function formatAudit(o: DrillOutcome): string {
  const lines = [`-- ${o.drill.name}: ${passed(o) ? 'PASSED' : 'FAILED'} in ${Math.round(o.seconds)} s`];
  if (o.error) lines.push(`  error: ${o.error instanceof Error ? o.error.stack ?? o.error.message : String(o.error)}`);
  const a = o.audit;
  if (a) {
    const kinds = [...new Set([...Object.keys(a.accepted), ...Object.keys(a.reflected)])];
    for (const k of kinds) lines.push(`  ${k.padEnd(10)} accepted ${a.accepted[k] ?? 0}, reflected ${a.reflected[k] ?? 0}`);
    lines.push(`  lost ${a.lost}, doubled ${a.doubled}`);
    for (const [k, v] of Object.entries(a.facts)) lines.push(`  ${k}: ${v}`);
    const violations = a.violations ?? [];
    lines.push(`  violations: ${violations.length === 0 ? 'none' : violations.length}`);
    for (const v of violations.slice(0, 20)) lines.push(`    - ${v}`);
    if (violations.length > 20) lines.push(`    … ${violations.length - 20} more`);
  }
  return lines.join('\n');
}

export function summaryTable(outcomes: DrillOutcome[]): string {
  const rows = outcomes.map((o) => {
    const a = o.audit;
    const sum = (r?: Record<string, number>) => (r ? Object.values(r).reduce((x, y) => x + y, 0) : 0);
    return [o.drill.name, passed(o) ? 'passed' : 'FAILED', String(sum(a?.accepted)), String(sum(a?.reflected)), String(a?.lost ?? '–'), String(a?.doubled ?? '–'), String(a ? (a.violations ?? []).length : '–'), `${Math.round(o.seconds)} s`];
  });
  const head = ['drill', 'result', 'accepted', 'reflected', 'lost', 'doubled', 'violations', 'time'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
