// The cluster drills: each breaks one part of the production shape while conversations run.
import type { ClusterDrillContext } from './run';
import { withTraffic } from './run';
import type { DrillAudit } from '../drill';
import { sleep } from '../../../rigs/wait';
import { randomBetween } from '../util';

export interface ClusterDrill {
  name: string;
  summary: string;
  run(ctx: ClusterDrillContext): Promise<DrillAudit>;
}

export const clusterWorkerKill: ClusterDrill = {
  name: 'cluster-worker-kill',
  summary: 'conversations in flight while worker 1 is SIGKILLed and restarted, then worker 2',
  run: (ctx) =>
    withTraffic(ctx, {
      prefix: 'cwk',
      conversations: 20,
      faults: async () => {
        const down: number[] = [];
        for (const i of [0, 1]) {
          await sleep(randomBetween(2_000, 4_000));
          await ctx.stack.killWorker(i);
          const t = Date.now();
          await sleep(randomBetween(1_000, 3_000));
          await ctx.stack.workers[i].start();
          down.push(Date.now() - t);
          ctx.log(`worker ${i + 1} SIGKILLed and back after ${down.at(-1)} ms`);
        }
        return { 'worker SIGKILLs': 2, 'down ms (each)': down.join(', ') };
      },
    }),
};

export const clusterApiKill: ClusterDrill = {
  name: 'cluster-api-kill',
  summary: 'one API replica SIGKILLed behind nginx and restarted; callers redeliver on 502/503 and no answer',
  run: (ctx) =>
    withTraffic(ctx, {
      prefix: 'cak',
      conversations: 20,
      faults: async () => {
        await sleep(randomBetween(2_000, 4_000));
        await ctx.stack.killApi(0);
        const t = Date.now();
        await sleep(randomBetween(3_000, 5_000));
        await ctx.stack.apis[0].start();
        ctx.log(`API 1 SIGKILLed and back after ${Date.now() - t} ms`);
        return { 'API SIGKILLs': 1, 'down ms': Date.now() - t };
      },
    }),
};

export const clusterServerKill: ClusterDrill = {
  name: 'cluster-server-kill',
  summary: 'the Temporal server process SIGKILLed and restarted on its PostgreSQL',
  run: (ctx) =>
    withTraffic(ctx, {
      prefix: 'csk',
      conversations: 20,
      faults: async () => {
        await sleep(randomBetween(2_000, 4_000));
        const ms = await ctx.stack.restartServer(randomBetween(500, 2_000));
        ctx.log(`Temporal server SIGKILLed and serving again after ${ms} ms`);
        return { 'server SIGKILLs': 1, 'kill to serving ms': ms };
      },
    }),
};

export const clusterPostgresRestart: ClusterDrill = {
  name: 'cluster-postgres-restart',
  summary: "Temporal's PostgreSQL restarted (fast shutdown, same data) under the running server",
  run: (ctx) =>
    withTraffic(ctx, {
      prefix: 'cpr',
      conversations: 20,
      faults: async () => {
        await sleep(randomBetween(2_000, 4_000));
        const ms = await ctx.stack.restartPostgres();
        ctx.log(`Temporal's PostgreSQL restarted in ${ms} ms`);
        return { 'PostgreSQL restarts': 1, 'restart ms': ms };
      },
    }),
};
