// A TCP relay between a Parley process (or a test's client) and one of its peers (PostgreSQL, KMS),
// so the peer can be taken away and brought back while it keeps its data: restarting moto would lose
// its keys, restarting PostgreSQL is not what an outage looks like. The relay keeps its port.
// - `up`: connections reach the peer.
// - `down`: the port refuses connections and every open one is cut (the peer stopped or its network went away).
// - `hanging`: connections are accepted and never answered.
// - a canned state: every connection's first request gets that fixed answer (e.g. an HTTP 503).
import net from 'node:net';

export type RelayState<Canned extends string = never> = 'up' | 'down' | 'hanging' | Canned;

export interface Relay<Canned extends string = never> {
  readonly port: number;
  readonly state: RelayState<Canned>;
  /** Connections of the previous state end with it: a pooled keep-alive socket must not carry requests through an outage. */
  setState(state: RelayState<Canned>): Promise<void>;
  close(): Promise<void>;
}

export async function startRelay<Canned extends string = never>(targetPort: number, canned: Record<Canned, string> = {} as Record<Canned, string>): Promise<Relay<Canned>> {
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  let listenPort = 0;
  let state: RelayState<Canned> = 'down';

  const cut = (): void => {
    for (const s of sockets) s.destroy();
    sockets.clear();
  };

  function onConnection(client: net.Socket): void {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    if (state === 'hanging') return;
    const answer = (canned as Record<string, string>)[state];
    if (answer !== undefined) {
      client.once('data', () => client.end(answer));
      return;
    }
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(upstream);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  }

  const relay: Relay<Canned> = {
    get port() {
      return listenPort;
    },
    get state() {
      return state;
    },
    async setState(next) {
      state = next;
      cut();
      if (next === 'down') {
        const closing = server;
        server = undefined;
        if (closing) await new Promise<void>((resolve) => closing.close(() => resolve()));
        return;
      }
      if (server) return;
      const s = net.createServer(onConnection);
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(listenPort, '127.0.0.1', () => resolve());
      });
      listenPort = (s.address() as net.AddressInfo).port;
      server = s;
    },
    close: () => relay.setState('down'),
  };
  await relay.setState('up');
  return relay;
}
