// Small helpers the drills share (ports, waits and processes are rigs/).
import { sleep } from '../../rigs/wait';

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

/** The items in a random order (Fisher–Yates). */
export function shuffled<T>(items: T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/**
 * `times` outages, one after another: a pause of `upMs` (a random span within the range), `kill()`,
 * a pause of `downMs`, `start()`. Resolves with each outage's length, from the kill until start()
 * resolved (the process serving again), in ms; `onBack` hears of each as it ends.
 */
export async function repeatedOutages(
  times: number,
  pauses: { upMs: [number, number]; downMs: [number, number] },
  kill: () => Promise<void>,
  start: () => Promise<void>,
  onBack: (outage: number, ms: number) => void,
): Promise<number[]> {
  const outages: number[] = [];
  for (let n = 1; n <= times; n++) {
    await sleep(randomBetween(...pauses.upMs));
    await kill();
    const down = Date.now();
    await sleep(randomBetween(...pauses.downMs));
    await start();
    outages.push(Date.now() - down);
    onBack(n, outages[n - 1]);
  }
  return outages;
}
