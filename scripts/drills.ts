// `npm run drills [-- name …]`: failure drills against the real processes (dev server, workers, API,
// PostgreSQL, KMS), each ending in an exact audit; a summary table at the end. Exit code 1 when any
// drill lost or doubled anything, broke one of its invariants, or failed to run. DRILLS_SCALE (default
// 1) scales every drill's size; DRILLS_KEEP=1 keeps each drill's folder (logs, SQLite files).
// `npm run drills -- --cluster [name …]` runs the cluster drills instead, on the production shape
// (Temporal's server on PostgreSQL, two workers, two APIs behind nginx), building what is missing.
import { clusterDrills, runClusterDrills, stopAllClusterStacks } from './drills/cluster/index';
import { drills } from './drills/index';
import { passed, runDrill, summaryTable, type DrillOutcome } from './drills/run';
import { stopAllStacks } from './drills/stack';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const cluster = args.includes('--cluster');
  const names = args.filter((a) => a !== '--cluster');
  const known = cluster ? clusterDrills : drills;
  const unknown = names.filter((n) => !known.some((d) => d.name === n));
  if (unknown.length) {
    console.error(`unknown ${cluster ? 'cluster ' : ''}drill(s): ${unknown.join(', ')}; known: ${known.map((d) => d.name).join(', ')}`);
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
      void Promise.all([stopAllStacks(), stopAllClusterStacks()]).finally(() => process.exit(130));
    });
  }
  const outcomes: DrillOutcome[] = [];
  const started = new Date();
  const print = (line: string): void => console.log(line);
  if (cluster) {
    const selected = names.length ? clusterDrills.filter((d) => names.includes(d.name)) : clusterDrills;
    outcomes.push(...(await runClusterDrills(selected, { scale, print, keep: !!process.env.DRILLS_KEEP })));
  } else {
    const selected = names.length ? drills.filter((d) => names.includes(d.name)) : drills;
    for (const drill of selected) {
      if (interrupted) break;
      outcomes.push(await runDrill(drill, { scale, print, keep: !!process.env.DRILLS_KEEP }));
    }
  }
  console.log(`\n${cluster ? 'Cluster drills' : 'Drills'} at scale ${scale}, started ${started.toISOString()}, ${Math.round((Date.now() - started.getTime()) / 1000)} s:\n`);
  console.log(summaryTable(outcomes));
  process.exitCode = outcomes.every(passed) ? 0 : 1;
  // A connection left open by a failed drill must not keep the runner alive once everything is stopped.
  process.exit();
}

main().catch(async (err) => {
  console.error(err);
  await Promise.all([stopAllStacks(), stopAllClusterStacks()]);
  process.exit(1);
});
