// Conversations at full concurrency while the worker is SIGKILLed at random moments and started
// again, several times: nothing accepted may be lost, no batch written twice.
import type { Drill } from './drill';
import { Stack } from './stack';
import { ApiClient, Ledger } from './traffic';
import { driveThrough, repeatedOutages, scaled } from './util';

export const workerKill: Drill = {
  name: 'worker-kill',
  summary: 'conversations at full concurrency (webhooks, attribute writes, close) while the worker is SIGKILLed at random moments and restarted',
  fast: true,
  async run({ scale, workDir, log }) {
    const stack = await Stack.start({ workDir, log });
    try {
      const conversations = scaled(200, scale, 10);
      const kills = scaled(5, scale, 2);
      const api = new ApiClient(() => stack.apiBase, stack.credentials);
      let faultsDone = false;
      const ledger = new Ledger(api, { retryForMs: 180_000 });
      const run = Date.now().toString(36);
      const traffic = driveThrough(conversations, conversations, () => faultsDone, (i) => ledger.standardConversation(`wk-${run}-${i}`, { secured: i % 4 === 0 }));
      const worker = stack.workers[0];
      // Kills spread over the traffic: a random pause, SIGKILL, a random pause, start again.
      const downtimes = await repeatedOutages(kills, { upMs: [1_000, 6_000], downMs: [200, 2_000] }, () => worker.kill(), () => worker.start(), (n, ms) =>
        log(`worker killed and back (${n}/${kills}) after ${ms} ms`),
      );
      faultsDone = true;
      const started = await traffic;
      log(`traffic done (${started} conversations); auditing`);
      const audit = await ledger.audit(stack, 180_000, log);
      audit.facts = {
        'concurrent conversations': conversations,
        'worker SIGKILLs': downtimes.length,
        'worker down ms (each, to serving again)': downtimes.join(', '),
        'unexpected worker/API exits': stack.crashes().join(', ') || 'none',
        ...audit.facts,
      };
      return audit;
    } finally {
      await stack.stop();
    }
  },
};
