// A TCP relay a drill puts between a Parley process and one of its peers (PostgreSQL, KMS), so the
// peer can be made unreachable and brought back while it keeps its data: down, the relay's port
// refuses connections and every open connection through it is cut, which is what a client sees of
// a peer whose network went away.
import net from 'node:net';

export interface Relay {
  port: number;
  readonly up: boolean;
  setUp(up: boolean): Promise<void>;
  close(): Promise<void>;
}

export async function startRelay(targetPort: number, port = 0): Promise<Relay> {
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  let listenPort = port;
  const cut = (): void => {
    for (const s of sockets) s.destroy();
    sockets.clear();
  };
  const relay: Relay = {
    get port() {
      return listenPort;
    },
    get up() {
      return server !== undefined;
    },
    async setUp(up) {
      cut();
      if (!up) {
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
    close: () => relay.setUp(false),
  };

  function onConnection(client: net.Socket): void {
    sockets.add(client);
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(upstream);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  }

  await relay.setUp(true);
  return relay;
}
