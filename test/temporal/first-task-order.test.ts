// The write tail the load bench found: one new conversation's first workflow task in twenty waited
// about 5 s at 20 concurrent conversations. Temporal writes a task queue's new tasks to one of its
// four partitions, and a task in a partition no poller happened to be on waited there while later
// tasks in other partitions were handed out. The dev server `npm start` runs (src/platform/
// dev-server.ts) writes new tasks to one partition, so first tasks are handed out in about the order they
// were scheduled. This holds that in place by behaviour, not by the flag: tasks scheduled with no
// worker polling, then taken by one poller one at a time, must come out in about their order, none
// left behind. Run against a dev server with Temporal's default four write partitions, the same check
// failed four times of four: some task was overtaken by 21 to 36 of the 39 scheduled after it
// (with one write partition: 2 to 5, neighbours swapped by the matcher).
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { startHeadlessDevServer } from '../../rigs/dev-server';
import { tempDir, uniqueId } from '../../rigs/temp';
import type { DevServer } from '../../src/platform/dev-server';

const TASKS = 40;
/** How many later tasks may be handed out before a task: the matcher's local reordering, far below TASKS. */
const MOST_OVERTAKEN = 10;

let devServer: DevServer | undefined;
let connection: Connection | undefined;
afterAll(async () => {
  await connection?.close();
  await devServer?.stop();
});

test('first workflow tasks are handed out in the order they were scheduled, none stranded in a partition', async () => {
  devServer = await startHeadlessDevServer(path.join(tempDir('first-task-order'), 'temporal.sqlite'));
  connection = await Connection.connect({ address: devServer.address });
  const client = new Client({ connection });
  const taskQueue = uniqueId('first-task-order');

  // Each start awaited, so the order the tasks were scheduled in is the order of this list.
  const started: string[] = [];
  for (let i = 0; i < TASKS; i++) {
    const workflowId = `${taskQueue}-${String(i).padStart(2, '0')}`;
    await client.workflow.start('recordsNothing', { workflowId, taskQueue, workflowTaskTimeout: '1 minute' });
    started.push(workflowId);
  }

  // One poller, one poll at a time, as a worker's lone poller would. A task stranded in a partition
  // this poller's polls do not reach makes a poll come back empty (after its deadline) or hands
  // out later tasks first.
  const taken: string[] = [];
  const empty: number[] = [];
  for (let poll = 0; poll < TASKS + 5 && taken.length < TASKS; poll++) {
    const task = await connection.withDeadline(Date.now() + 5_000, () =>
      connection!.workflowService.pollWorkflowTaskQueue({
        namespace: 'default',
        taskQueue: { name: taskQueue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
        identity: 'first-task-order-test',
      }),
    ).catch((err: unknown) => {
      if ((err as { code?: number }).code === 4 /* DEADLINE_EXCEEDED */) return undefined;
      throw err;
    });
    const workflowId = task?.workflowExecution?.workflowId;
    if (workflowId) taken.push(workflowId);
    else empty.push(poll);
  }
  // Temporal's matcher hands out a backlog in about its order, not exactly: a few neighbours swap.
  // A task left in a partition no poll reached is overtaken by everything scheduled after it.
  const overtakenBy = started.map((id, i) => started.slice(i + 1).filter((later) => taken.indexOf(later) < taken.indexOf(id)).length);
  console.log(`first tasks overtaken by later ones, most: ${Math.max(...overtakenBy)}; polls that came back empty: ${empty.length}`);
  expect({ empty, missing: started.filter((id) => !taken.includes(id)) }).toEqual({ empty: [], missing: [] });
  expect(Math.max(...overtakenBy)).toBeLessThanOrEqual(MOST_OVERTAKEN);
}, 120_000);
