// PostgreSQL unreachable mid-run (30 s at full scale), then back; then KMS unreachable for a while,
// then back. Writes and webhooks during either outage must be answered honestly (a 5xx that says
// "nothing was changed" must be true, never a 500), and nothing accepted may be lost: a flush that
// cannot reach the store is retried until it can.
import type { Drill } from './drill';
import { Stack } from './stack';
import { ApiClient, Ledger } from './traffic';
import { workflowIdFor } from '../../src/conversation';
import { sleep, waitFor } from '../../rigs/wait';
import { driveThrough, scaled } from './util';

export const storeOutage: Drill = {
  name: 'store-outage',
  summary: 'PostgreSQL unreachable mid-run, then KMS unreachable, each then back; answers during the outages honest, nothing accepted lost',
  fast: true,
  async run({ scale, workDir, log }) {
    const stack = await Stack.start({ workDir, log, postgres: true, kms: true });
    try {
      const conversations = scaled(200, scale, 10);
      const storeDownMs = scaled(30_000, scale, 5_000);
      const kmsDownMs = scaled(20_000, scale, 4_000);
      const api = new ApiClient(() => stack.apiBase, stack.credentials);
      const ledger = new Ledger(api, { retryForMs: 240_000 });
      const run = Date.now().toString(36);
      let faultsDone = false;
      const traffic = driveThrough(conversations, Math.min(conversations, 50), () => faultsDone, (i) => ledger.standardConversation(`so-${run}-${i}`, { secured: i % 2 === 0 }));

      // A conversation that ended before the outage: its stored attributes are read during it.
      const before = `so-${run}-before`;
      await ledger.standardConversation(before);
      // Ended and flushed, so its attributes are read from the store, not from the workflow.
      await waitFor(`${before} to end`, async () => (await stack.client.workflow.getHandle(workflowIdFor(before)).describe()).status.name === 'COMPLETED', { timeoutMs: 60_000, intervalMs: 250 });
      const reads: Record<string, number> = {};
      const readStored = async (): Promise<void> => {
        const a = await api.request('stored read', 'GET', `/conversations/${before}/attributes/w1_1`, { scope: 'agent-script' });
        if (a.status === 200 && a.body?.source !== 'stored') throw new Error(`${before}: w1_1 was not read from the store (${JSON.stringify(a.body)})`);
        reads[a.status] = (reads[a.status] ?? 0) + 1;
      };

      await sleep(2_000);
      await stack.pgRelay!.setState('down');
      log(`PostgreSQL unreachable for ${storeDownMs / 1000} s`);
      const storeBack = Date.now() + storeDownMs;
      while (Date.now() < storeBack) {
        await readStored();
        await sleep(1_000);
      }
      await stack.pgRelay!.setState('up');
      log('PostgreSQL reachable again');
      await sleep(2_000);
      await stack.moto!.setState('down');
      log(`KMS unreachable for ${kmsDownMs / 1000} s`);
      await sleep(kmsDownMs);
      await stack.moto!.setState('up');
      log('KMS reachable again');
      faultsDone = true;
      const started = await traffic;
      log(`traffic done (${started} conversations); auditing`);
      const audit = await ledger.audit(stack, 240_000, log);
      audit.facts = {
        'concurrent conversations': Math.min(conversations, 50),
        'PostgreSQL down s': storeDownMs / 1000,
        'KMS down s': kmsDownMs / 1000,
        'stored-attribute reads during the store outage, by status': Object.entries(reads).map(([k, v]) => `${k}: ${v}`).join(', '),
        'unexpected worker/API exits': stack.crashes().join(', ') || 'none',
        ...audit.facts,
      };
      for (const status of Object.keys(reads)) if (!['200', '503', '504'].includes(status)) audit.violations!.push(`a stored read during the store outage was answered ${status}`);
      return audit;
    } finally {
      await stack.stop();
    }
  },
};
