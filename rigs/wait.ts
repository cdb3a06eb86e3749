// Waiting on something another process or server brings about: a fixed pause, or polling a condition.

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Thrown from a waitFor predicate: give up now instead of retrying until the deadline. */
export class StopWaiting extends Error {}

/** What a check that did not answer before the deadline resolves to in the race below. */
const NO_ANSWER = Symbol('no answer');
/** How long past the deadline a check started before it may still answer (a slow call under load). */
const CHECK_GRACE_MS = 5_000;

/**
 * Polls `predicate` until it holds; a predicate that throws counts as not yet (its last error is reported).
 * The deadline holds even when one check never settles (a server call without a deadline of its own
 * that is never answered): the wait fails CHECK_GRACE_MS after it, saying so, instead of hanging until
 * the test's timeout.
 */
export async function waitFor(
  what: string,
  predicate: () => Promise<boolean> | boolean,
  { timeoutMs = 30_000, intervalMs = 100 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<typeof NO_ANSWER>((resolve) => (timer = setTimeout(() => resolve(NO_ANSWER), Math.max(0, deadline - Date.now()) + CHECK_GRACE_MS)));
    let answer: boolean | typeof NO_ANSWER = false;
    try {
      answer = await Promise.race([Promise.resolve().then(predicate), late]);
      lastError = undefined;
    } catch (err) {
      if (err instanceof StopWaiting) throw err;
      lastError = err;
    } finally {
      clearTimeout(timer);
    }
    if (answer === NO_ANSWER) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: the last check did not answer`);
    if (answer) return;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ''}`);
    }
    await sleep(intervalMs);
  }
}
