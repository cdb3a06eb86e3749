// How the API stops without failing requests that are on their way to it.
//
// Node's `server.close()` (which Fastify's `close()` calls) also destroys every connection with no
// request in progress, and a proxy that has just connected and is still sending its request looks
// exactly like that: its POST is cut off after being sent, which a proxy must not retry elsewhere
// (nginx answers its caller 502). So the API stops in three steps:
//   1. draining (SHUTDOWN_DRAIN, default 0): still listening and serving, `/healthz` answers 503 so an
//      orchestrator or load balancer that probes it stops sending, every answer says
//      `Connection: close` so keep-alive clients reconnect elsewhere;
//   2. the listening socket closes (a new connection is refused, which a proxy retries on another
//      replica) and the connections already open are served until they end, up to SETTLE_MS;
//   3. connections still idle are closed, requests in progress finish (up to FINISH_MS), and then
//      Fastify closes.
import net from 'node:net';
import type http from 'node:http';
import type { Logger } from 'pino';

/** Shared by the routes (readiness, response headers) and the process's stop sequence. */
export class ServingState {
  draining = false;
}

/** How long open connections may take to bring their requests in once the listener is closed. */
const SETTLE_MS = 1_000;

/** How long requests already in progress may take to finish once nothing new comes in. */
const FINISH_MS = 30_000;

/** What of a Fastify app stopping needs (any logger type). */
export interface ClosableServer {
  server: http.Server;
  close(): PromiseLike<unknown>;
}

export async function stopServing(app: ClosableServer, state: ServingState, opts: { drainMs: number; logger: Logger }): Promise<void> {
  state.draining = true;
  if (opts.drainMs > 0) {
    opts.logger.info({ drainMs: opts.drainMs }, 'API draining: /healthz answers 503, requests are still served');
    await sleep(opts.drainMs);
  }
  const server = app.server;
  if (server.listening) {
    // Connections waiting in the kernel's accept queue are reset when the listener closes, after a
    // proxy has sent its request into them: one more turn of the event loop accepts those first.
    await new Promise((resolve) => setImmediate(resolve));
    // Emitted once the listener is closed and the last connection has ended.
    const ended = new Promise<void>((resolve) => server.once('close', () => resolve()));
    // net.Server's close, not http.Server's: stop accepting without destroying the connections whose
    // request has not been read yet (http.Server.close() would close them as idle).
    net.Server.prototype.close.call(server);
    await Promise.race([ended, sleep(SETTLE_MS)]);
    // Keep-alive connections that brought nothing in the meantime; those with a request in progress stay.
    server.closeIdleConnections();
    const finished = await Promise.race([ended.then(() => true), sleep(FINISH_MS).then(() => false)]);
    if (!finished) {
      opts.logger.warn({ finishMs: FINISH_MS }, 'API stopping: requests still in progress were cut off');
      server.closeAllConnections();
    }
  }
  await app.close();
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
