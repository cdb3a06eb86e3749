// The command line of `npm run replay`: what to replay, or a usage error (exit 2) saying what is wrong.
import { DEFAULT_SAMPLE, type ReplaySelection } from '../worker/replay-selection';

export class UsageError extends Error {}

export const REPLAY_USAGE = `usage: npm run replay -- <conversationId | workflowId>
       npm run replay -- --query '<Temporal visibility query>'
       npm run replay -- --since <30m | 24h | 7d> [--sample N]   (default ${DEFAULT_SAMPLE} closed; every open one)`;

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `30m`, `24h`, `7d` (or seconds, `90s`): the window in milliseconds. */
export function parseWindow(text: string): number {
  const match = /^(\d+)([smhd])$/.exec(text);
  if (!match || Number(match[1]) === 0) throw new UsageError(`--since takes a window such as 30m, 24h or 7d, got "${text}"`);
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

/** `help` when asked for the usage text. */
export function parseReplayArgs(args: readonly string[]): ReplaySelection | 'help' {
  if (args.includes('--help') || args.includes('-h')) return 'help';
  let id: string | undefined;
  let query: string | undefined;
  let since: number | undefined;
  let sample: number | undefined;
  const valueOf = (flag: string, i: number): string => {
    const value = args[i + 1];
    if (value === undefined || value.startsWith('--')) throw new UsageError(`${flag} needs a value`);
    return value;
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--query') {
      query = valueOf(arg, i++).trim();
      if (!query) throw new UsageError('--query needs a visibility query');
    } else if (arg === '--since') {
      since = parseWindow(valueOf(arg, i++));
    } else if (arg === '--sample') {
      const text = valueOf(arg, i++);
      if (!/^\d+$/.test(text)) throw new UsageError(`--sample takes a whole number, got "${text}"`);
      sample = Number(text);
    } else if (arg.startsWith('-')) {
      throw new UsageError(`unknown option ${arg}`);
    } else if (id !== undefined) {
      throw new UsageError(`one conversation or workflow id at a time (got "${id}" and "${arg}")`);
    } else if (!arg.trim()) {
      throw new UsageError('an empty conversation id');
    } else {
      id = arg;
    }
  }
  const chosen = [id !== undefined, query !== undefined, since !== undefined].filter(Boolean).length;
  if (sample !== undefined && since === undefined) throw new UsageError('--sample goes with --since');
  if (chosen === 0) throw new UsageError('say what to replay');
  if (chosen > 1) throw new UsageError('give one of: an id, --query or --since');
  if (id !== undefined) return { kind: 'id', id };
  if (query !== undefined) return { kind: 'query', query };
  return { kind: 'since', windowMs: since as number, sample: sample ?? DEFAULT_SAMPLE };
}
