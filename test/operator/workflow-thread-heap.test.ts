// WORKER_SEMI_SPACE_MB: the young generation of the worker's heaps. V8 lets a young generation grow to
// three 16 MiB semi-spaces on 64-bit and keeps the pages after a burst; the worker caps it. Which
// threads get the cap (the SDK's workflow threads only), that a real SDK workflow thread keeps to it
// under a burst of allocation, the setting, and the node options a launcher starts the worker with.
import fs from 'node:fs';
import path from 'node:path';
import worker_threads from 'node:worker_threads';
import { tempDir } from '../../rigs/temp';
import type * as WorkflowThreads from '../../src/worker/workflow-threads';
import { startWorkflowThreadsWith, workflowThreadOptions } from '../../src/worker/workflow-threads';
import { workerNodeFlags, workerSettingsFromEnv } from '../../src/worker/settings';

const SDK_THREAD = require.resolve('@temporalio/worker/lib/workflow/workflow-worker-thread');

describe('the workflow threads young generation', () => {
  it('only the SDK workflow threads get the limit, three semi-spaces, over the resource limits they were given', () => {
    expect(workflowThreadOptions(SDK_THREAD, undefined, { semiSpaceMiB: 4 })).toEqual({ resourceLimits: { maxYoungGenerationSizeMb: 12 } });
    expect(workflowThreadOptions(SDK_THREAD, { resourceLimits: { stackSizeMb: 8 } }, { semiSpaceMiB: 2 })).toEqual({ resourceLimits: { stackSizeMb: 8, maxYoungGenerationSizeMb: 6 } });
    expect(workflowThreadOptions(SDK_THREAD, { workerData: 1 }, {})).toEqual({ workerData: 1 });
    expect(workflowThreadOptions('/app/dist/src/other-thread.js', undefined, { semiSpaceMiB: 4 })).toBeUndefined();
    expect(workflowThreadOptions(SDK_THREAD, { eval: true }, { semiSpaceMiB: 4 })).toEqual({ eval: true });
    expect(workflowThreadOptions(SDK_THREAD, undefined, { preload: '/opt/p.js', semiSpaceMiB: 4 })).toEqual({
      execArgv: [...process.execArgv, '--require', '/opt/p.js'],
      resourceLimits: { maxYoungGenerationSizeMb: 12 },
    });
  });

  it("the SDK's own workflow thread module keeps its young generation to the limit under a burst of allocation, and grows past it without one", async () => {
    // A preload that allocates like a burst of conversations, then reports its heap: the SDK's thread
    // itself answers only the SDK's protocol.
    const reporter = path.join(tempDir('workflow-thread-heap'), 'reports-heap.js');
    fs.writeFileSync(
      reporter,
      `const v8 = require('node:v8');
       const threads = require('node:worker_threads');
       let held = [];
       for (let i = 0; i < 3e6; i++) { held.push({ i, text: 'x' + i }); if (held.length > 1e5) held = []; }
       const newSpace = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
       threads.parentPort.postMessage({ limitMiB: threads.resourceLimits.maxYoungGenerationSizeMb, newSpaceMiB: newSpace.space_size / 2 ** 20 });`,
    );
    const heapOfAThread = async (): Promise<{ limitMiB: number; newSpaceMiB: number }> => {
      const thread = new worker_threads.Worker(SDK_THREAD);
      try {
        return await new Promise((resolve, reject) => {
          thread.once('message', resolve);
          thread.once('error', reject);
        });
      } finally {
        await thread.terminate();
      }
    };
    const capped = startWorkflowThreadsWith({ preload: reporter, semiSpaceMiB: 4 });
    let withLimit: { limitMiB: number; newSpaceMiB: number };
    try {
      withLimit = await heapOfAThread();
    } finally {
      capped();
    }
    const uncapped = startWorkflowThreadsWith({ preload: reporter });
    let withoutLimit: { limitMiB: number; newSpaceMiB: number };
    try {
      withoutLimit = await heapOfAThread();
    } finally {
      uncapped();
    }
    // Two semi-spaces of 4 MiB; without the limit, V8's own (two of 16 on 64-bit).
    expect(withLimit).toEqual({ limitMiB: 12, newSpaceMiB: 8 });
    expect(withoutLimit.limitMiB).toBeGreaterThan(12);
    expect(withoutLimit.newSpaceMiB).toBeGreaterThan(8);
    expect(worker_threads.Worker.name).toBe('Worker');
  }, 60_000);

  it('a second install replaces the first, also from another copy of the module (a test runner loads one per test file), and restore puts Node\'s constructor back', () => {
    type Module = typeof WorkflowThreads;
    let other: Module | undefined;
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- a second copy of the module, as another test file would load it
      other = require('../../src/worker/workflow-threads') as Module;
    });
    const nodes = worker_threads.Worker;
    other!.startWorkflowThreadsWith({ semiSpaceMiB: 4 });
    const wrapper = worker_threads.Worker;
    expect(wrapper).not.toBe(nodes);
    const restore = startWorkflowThreadsWith({ semiSpaceMiB: 2 });
    // Not a wrapper around the other copy's wrapper: the same one, with the new settings.
    expect(worker_threads.Worker).toBe(wrapper);
    restore();
    expect(worker_threads.Worker).toBe(nodes);
    other!.restoreWorkflowThreads();
    expect(worker_threads.Worker).toBe(nodes);
  });

  it('WORKER_SEMI_SPACE_MB is 4 by default, 0 leaves V8 its own, and anything else is refused by name', () => {
    expect(workerSettingsFromEnv({}).semiSpaceMiB).toBe(4);
    expect(workerSettingsFromEnv({ WORKER_SEMI_SPACE_MB: '0' }).semiSpaceMiB).toBe(0);
    expect(workerSettingsFromEnv({ WORKER_SEMI_SPACE_MB: '16' }).semiSpaceMiB).toBe(16);
    expect(() => workerSettingsFromEnv({ WORKER_SEMI_SPACE_MB: '65' })).toThrow(/WORKER_SEMI_SPACE_MB/);
    expect(() => workerSettingsFromEnv({ WORKER_SEMI_SPACE_MB: 'small' })).toThrow(/WORKER_SEMI_SPACE_MB/);
  });

  it("a launcher starts the worker's process with the same semi-space, unless NODE_OPTIONS sets one or the setting is 0 or invalid", () => {
    expect(workerNodeFlags({})).toEqual(['--max-semi-space-size=4']);
    expect(workerNodeFlags({ WORKER_SEMI_SPACE_MB: '8' })).toEqual(['--max-semi-space-size=8']);
    expect(workerNodeFlags({ WORKER_SEMI_SPACE_MB: '0' })).toEqual([]);
    expect(workerNodeFlags({ NODE_OPTIONS: '--max-semi-space-size=16 --enable-source-maps' })).toEqual([]);
    expect(workerNodeFlags({ NODE_OPTIONS: '--enable-source-maps' })).toEqual(['--max-semi-space-size=4']);
    // The worker refuses it itself, naming the variable, rather than its launcher failing first.
    expect(workerNodeFlags({ WORKER_SEMI_SPACE_MB: 'small' })).toEqual([]);
  });
});
