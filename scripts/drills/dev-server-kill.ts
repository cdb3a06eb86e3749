// The Temporal dev server SIGKILLed (not stopped) mid-run and started again on its SQLite file.
// The upstream dev server has had reports of workflows lost after a SQLite restart: the audit says
// whether Parley lost any accepted webhook or write, and the facts say what the callers saw.
import type { Drill } from './drill';
import { Stack } from './stack';
import { ApiClient, Ledger } from './traffic';
import { driveThrough, repeatedOutages, scaled } from './util';

export const devServerKill: Drill = {
  name: 'dev-server-kill',
  summary: 'the Temporal dev server SIGKILLed mid-run and restarted on its SQLite file; every accepted input audited',
  fast: true,
  async run({ scale, workDir, log }) {
    const stack = await Stack.start({ workDir, log });
    try {
      const conversations = scaled(100, scale, 10);
      const kills = scaled(2, scale, 1);
      const api = new ApiClient(() => stack.apiBase, stack.credentials);
      let faultsDone = false;
      const ledger = new Ledger(api, { retryForMs: 240_000 });
      const run = Date.now().toString(36);
      const traffic = driveThrough(conversations, Math.min(conversations, 50), () => faultsDone, (i) => ledger.standardConversation(`dk-${run}-${i}`));
      const outages = await repeatedOutages(kills, { upMs: [2_000, 5_000], downMs: [500, 2_000] }, () => stack.killDevServer(), () => stack.startDevServer(), (n, ms) =>
        log(`dev server SIGKILLed and back on its SQLite file (${n}/${kills}) after ${ms} ms`),
      );
      faultsDone = true;
      const started = await traffic;
      log(`traffic done (${started} conversations); auditing`);
      const audit = await ledger.audit(stack, 240_000, log);
      audit.facts = {
        conversations,
        'dev server SIGKILLs': outages.length,
        'dev server down ms (kill to answering again)': outages.join(', '),
        'unexpected worker/API exits': stack.crashes().join(', ') || 'none',
        ...audit.facts,
      };
      return audit;
    } finally {
      await stack.stop();
    }
  },
};
