// The launcher's restart back-off: doubling waits, a bounded number of restarts in a sliding window.
import { RestartBudget } from '../../src/main/restart-budget';

test('restarts wait 1, 2, 4, 8, 16 s; a sixth within the window is refused; restarts older than the window no longer count', () => {
  let now = 0;
  const budget = new RestartBudget({ maxRestarts: 5, windowMs: 600_000, firstDelayMs: 1_000 }, () => now);
  const delays: (number | undefined)[] = [];
  for (let i = 0; i < 6; i++) {
    delays.push(budget.next()?.delayMs);
    now += 10_000;
  }
  expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, undefined]);
  // Ten minutes after the first restart it leaves the window: one restart is allowed again, at the delay its place in the window gives.
  now = 600_000;
  expect(budget.next()).toEqual({ delayMs: 16_000, attempt: 5 });
  expect(budget.next()).toBeUndefined();
  // Long after, a crash starts from the first delay again.
  now = 10_000_000;
  expect(budget.next()).toEqual({ delayMs: 1_000, attempt: 1 });
});
