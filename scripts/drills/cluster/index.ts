// `npm run drills -- --cluster [name …]`: one cluster stack (rigs/cluster-stack.ts: Temporal's server
// on PostgreSQL, two workers, two APIs behind nginx), built and started once, then each cluster drill
// on it in turn, each with its own conversations and its own exact audit.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ClusterStack, stopAllClusterStacks } from '../../../rigs/cluster-stack';
import { CrmPeer } from '../../../rigs/crm-peer';
import type { Drill } from '../drill';
import { runDrill, type DrillOutcome } from '../run';
import { CRM_CONFIGURATION, CRM_FAILING_WORKFLOW } from './run';
import { clusterApiKill, clusterPostgresRestart, clusterServerKill, clusterWorkerKill, type ClusterDrill } from './faults';
import { clusterRollingRestart } from './rolling-restart';

export const clusterDrills: ClusterDrill[] = [clusterWorkerKill, clusterApiKill, clusterServerKill, clusterPostgresRestart, clusterRollingRestart];

export { stopAllClusterStacks };

export async function runClusterDrills(selected: ClusterDrill[], opts: { scale: number; print: (line: string) => void; keep: boolean }): Promise<DrillOutcome[]> {
  const workDir = fs.mkdtempSync(path.join(process.env.PARLEY_TEST_TMP ?? os.tmpdir(), 'parley-cluster-'));
  const log = (line: string): void => opts.print(`  [cluster] ${line}`);
  opts.print(`\n== cluster stack (${workDir})`);
  // A CRM for the drills whose flows execute a CRM workflow (Workflow Execute); configured on every process.
  const crm = await new CrmPeer().start();
  crm.respond = () => ({ status: 500 });
  const registry = path.join(workDir, 'crm-integrations.json');
  fs.writeFileSync(registry, JSON.stringify({ configurations: { [CRM_CONFIGURATION]: { baseUrl: crm.url, auth: { header: 'Authorization', scheme: 'Bearer', secretEnv: 'DRILL_CRM_SECRET' }, workflows: [CRM_FAILING_WORKFLOW], defaultTimeoutMs: 2_000, maxTimeoutMs: 2_000 } } }));
  const outcomes: DrillOutcome[] = [];
  let stack: ClusterStack | undefined;
  try {
    stack = await ClusterStack.start({ workDir, log, env: { EXPORT_DIR: path.join(workDir, 'exports'), CRM_INTEGRATIONS_FILE: registry, DRILL_CRM_SECRET: `drill-crm-${Date.now().toString(36)}` } });
    const running = stack;
    for (const cd of selected) {
      // The runner's per-drill folder is unused: the stack keeps every log in its own.
      const drill: Drill = { name: cd.name, summary: cd.summary, fast: false, run: (ctx) => cd.run({ ...ctx, stack: running, crm }) };
      outcomes.push(await runDrill(drill, { scale: opts.scale, print: opts.print, keep: false, stopStacks: false }));
    }
  } finally {
    await stack?.stop();
    await crm.stop();
  }
  const passedAll = outcomes.every((o) => !o.error && o.audit && o.audit.lost === 0 && o.audit.doubled === 0 && (o.audit.violations ?? []).length === 0);
  if (opts.keep || !passedAll) opts.print(`  cluster logs and data kept in ${workDir}`);
  else fs.rmSync(workDir, { recursive: true, force: true });
  return outcomes;
}
