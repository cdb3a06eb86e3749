// `npm run drills [-- name …]`: failure drills against the real processes (dev server, workers, API,
// PostgreSQL, KMS), each ending in an exact audit; a summary table at the end. Exit code 1 when any
// drill lost or doubled anything, broke one of its invariants, or failed to run. DRILLS_SCALE (default
// 1) scales every drill's size; DRILLS_KEEP=1 keeps each drill's folder (logs, SQLite files).
import { drills } from './drills/index';
import { passed, runDrill, summaryTable, type DrillOutcome } from './drills/run';
import { stopAllStacks } from './drills/stack';

async function main(): Promise<void> {
  const names = process.argv.slice(2);
  const unknown = names.filter((n) => !drills.some((d) => d.name === n));
  if (unknown.length) {
    console.error(`unknown drill(s): ${unknown.join(', ')}; known: ${drills.map((d) => d.name).join(', ')}`);
    process.exit(2);
  }
  const scale = Number(process.env.DRILLS_SCALE ?? '1');
  if (!(scale > 0)) throw new Error(`DRILLS_SCALE must be a positive number, got "${process.env.DRILLS_SCALE}"`);
  let interrupted = false;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (interrupted) return;
      interrupted = true;
      console.error(`\n${signal}: stopping everything the drills started…`);
      void stopAllStacks().finally(() => process.exit(130));
    });
  }
  const selected = names.length ? drills.filter((d) => names.includes(d.name)) : drills;
  const outcomes: DrillOutcome[] = [];
  const started = new Date();
  for (const drill of selected) {
    if (interrupted) break;
    outcomes.push(await runDrill(drill, { scale, print: (line) => console.log(line), keep: !!process.env.DRILLS_KEEP }));
  }
  console.log(`\nDrills at scale ${scale}, started ${started.toISOString()}, ${Math.round((Date.now() - started.getTime()) / 1000)} s:\n`);
  console.log(summaryTable(outcomes));
  process.exitCode = outcomes.every(passed) ? 0 : 1;
  // A connection left open by a failed drill must not keep the runner alive once everything is stopped.
  process.exit();
}

main().catch(async (err) => {
  console.error(err);
  await stopAllStacks();
  process.exit(1);
});
