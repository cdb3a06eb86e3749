// BENCH_ROUNDS: each core level run several times, the floor and Parley taking turns to go first.
// On a shared 2-core virtual machine the same configuration ran at 13 and at 17.7 floor
// conversations/s a few minutes apart: one pass per system measures the minute it ran in as much as
// the system. Rounds that alternate put both systems in the same minutes, and the level reports the
// median of each figure over the rounds, and each ratio as the median of the rounds' own ratios.
import { median, round } from './stats';

/** Fields that count things: the rounds' values add up. */
const SUMMED = new Set(['conversations', 'closed', 'terminated', 'count', 'complete', 'startedLate', 'writesHandedOver']);
/** Highest values (and everything under peakRssMiB): the highest round's. Every other number is a rate, a latency or a cost: its median is kept. */
const HIGHEST = new Set(['max', 'maxRuns', 'peakRssMiB', 'inFlightMax', 'backlogGrowth']);

/** One result with the rounds' figures merged: counts and errors summed, every other number the median over the rounds. */
export function mergeRounds<T>(rounds: T[]): T {
  if (rounds.length === 1) return rounds[0];
  return mergeValues(rounds as unknown[], undefined, false) as T;
}

function mergeValues(values: unknown[], key: string | undefined, highest: boolean): unknown {
  const present = values.filter((v) => v !== undefined && v !== null);
  if (present.length === 0) return undefined;
  const first = present[0];
  const takeHighest = highest || (key !== undefined && HIGHEST.has(key));
  if (typeof first === 'number') {
    const xs = present.filter((v): v is number => typeof v === 'number' && !Number.isNaN(v));
    if (xs.length === 0) return NaN;
    if (key !== undefined && SUMMED.has(key)) return xs.reduce((a, b) => a + b, 0);
    if (takeHighest) return Math.max(...xs);
    return round(median(xs), 3);
  }
  if (typeof first !== 'object' || Array.isArray(first)) return first;
  // Errors by kind and status: every failed request of every round counts.
  if (key === 'errors') return sumCounts(present as Record<string, Record<string, number>>[]);
  const keys = new Set(present.flatMap((v) => Object.keys(v as object)));
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    const merged = mergeValues(present.map((v) => (v as Record<string, unknown>)[k]), k, takeHighest);
    if (merged !== undefined) out[k] = merged;
  }
  return out;
}

function sumCounts(all: Record<string, Record<string, number>>[]): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const errors of all) {
    for (const [kind, byStatus] of Object.entries(errors)) {
      for (const [status, n] of Object.entries(byStatus)) (out[kind] ??= {})[status] = (out[kind][status] ?? 0) + n;
    }
  }
  return out;
}

/**
 * Parley's figure over the floor's, round by round (the two ran in the same minutes), and the median
 * of those ratios; undefined when either side has no figure in any round.
 */
export function medianRatio<T>(parley: T[], floor: T[], figure: (r: T) => number | undefined): number | undefined {
  const ratios: number[] = [];
  for (let i = 0; i < Math.min(parley.length, floor.length); i++) {
    const p = figure(parley[i]);
    const f = figure(floor[i]);
    if (p !== undefined && f !== undefined && f !== 0 && !Number.isNaN(p) && !Number.isNaN(f)) ratios.push(p / f);
  }
  return ratios.length ? round(median(ratios), 2) : undefined;
}
