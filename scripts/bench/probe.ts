// Preloaded into the bench's worker and API processes (`node -r dist/scripts/bench/probe.js …`):
// answers the bench over the IPC channel with this process's KMS call counts and memory. The channel
// is unref'd so it never keeps a stopping process alive.
import { kmsCallCounts } from '../../src/security/kms';

if (process.send && process.channel) {
  process.on('message', (message: unknown) => {
    if (typeof message !== 'object' || message === null || (message as { probe?: unknown }).probe === undefined) return;
    process.send?.({ probe: (message as { probe: unknown }).probe, kms: kmsCallCounts(), memory: process.memoryUsage() });
  });
  // Node refs the channel on the next tick after a 'message' listener is added; unref after that.
  setImmediate(() => process.channel?.unref());
}
