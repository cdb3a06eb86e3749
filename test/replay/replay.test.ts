// Replays histories recorded from earlier test runs against today's workflow code: a change that
// would break running conversations (non-determinism) fails here. versions.test.ts checks that the
// histories were recorded on today's code; `npm run record-histories` records them again.
// The loop is `npm run replay`'s (src/worker/replay.ts): what passes here passes there.
import { outcomeLine, replayHistories } from '../../src/worker/replay';
import { bundleWorkflows } from '../support/temporal';
import { KEPT_HISTORIES_DIR, loadRecordedHistories } from '../support/histories';

/** Each history's replay on today's bundle: its workflow id and, if it failed, the report's line. */
async function replayed(histories: ReturnType<typeof loadRecordedHistories>): Promise<Array<{ workflowId: string; error?: string }>> {
  const bundle = await bundleWorkflows();
  const results = [];
  for await (const outcome of replayHistories({ workflowBundle: bundle }, histories)) {
    results.push({ workflowId: outcome.workflowId, error: outcome.failure ? outcomeLine(outcome) : undefined });
  }
  return results;
}

test('recorded conversation histories replay without non-determinism', async () => {
  const histories = loadRecordedHistories();
  expect(histories.length).toBeGreaterThanOrEqual(4);
  expect(await replayed(histories)).toEqual(histories.map(({ workflowId }) => ({ workflowId, error: undefined })));
});

test('histories kept from older workflow code (conversations started before a patch) replay on the old branches', async () => {
  const histories = loadRecordedHistories(KEPT_HISTORIES_DIR);
  expect(histories.length).toBeGreaterThanOrEqual(20);
  expect(await replayed(histories)).toEqual(histories.map(({ workflowId }) => ({ workflowId, error: undefined })));
});
