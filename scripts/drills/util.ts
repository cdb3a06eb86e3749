// Small helpers every drill shares.
import net from 'node:net';

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A whole number of at least `min`: a drill's full-scale figure times the scale. */
export const scaled = (full: number, scale: number, min = 1): number => Math.max(min, Math.round(full * scale));

export const randomBetween = (lo: number, hi: number): number => lo + Math.random() * (hi - lo);

/** `concurrency` loops, each taking the next index until `count` were run (or `stop()` says so). */
export async function drive(count: number, concurrency: number, one: (i: number) => Promise<void>, stop: () => boolean = () => false): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count && !stop()) await one(next++);
    }),
  );
}

export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, intervalMs = 250): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

/**
 * Traffic that outlasts a fault schedule: `concurrency` loops start conversation after conversation
 * until at least `minCount` were started and `faultsDone()` says the faults are over, so every fault
 * lands mid-run however fast the machine is. Resolves with how many were started.
 */
export async function driveThrough(minCount: number, concurrency: number, faultsDone: () => boolean, one: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < minCount || !faultsDone()) await one(next++);
    }),
  );
  return next;
}
