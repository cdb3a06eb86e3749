// Preloaded into the bench's worker and API processes (`node -r dist/scripts/bench/probe.js …`):
// answers the bench over the IPC channel with this process's KMS call counts and memory (after a full
// garbage collection when asked and the process runs with --expose-gc, so what is measured is what the
// process holds, not garbage not yet collected). The channel is unref'd so it never keeps a stopping
// process alive.
import { kmsCallCounts } from '../../src/security/kms';

if (process.send && process.channel) {
  process.on('message', (message: unknown) => {
    if (typeof message !== 'object' || message === null || (message as { probe?: unknown }).probe === undefined) return;
    const gc = (globalThis as { gc?: () => void }).gc;
    if ((message as { gc?: boolean }).gc && gc) {
      gc();
      gc();
    }
    process.send?.({ probe: (message as { probe: unknown }).probe, kms: kmsCallCounts(), memory: process.memoryUsage() });
  });
  // Node refs the channel on the next tick after a 'message' listener is added; unref after that.
  setImmediate(() => process.channel?.unref());
}
