// A real HTTP peer on 127.0.0.1 and an ephemeral port, standing for the channel gateway or the
// routing platform: it records every delivery it receives (headers and body) and de-duplicates on
// the Idempotency-Key header as a real peer does, answering 200 either way.
import http from 'node:http';
import { listenLocally } from './local-server';

export interface Delivery {
  key: string;
  authorization?: string;
  body: Record<string, unknown>;
  receivedAt: number;
}

export interface ChannelPeer {
  url: string;
  /** Every request received, repeats included, in order. */
  readonly deliveries: Delivery[];
  /** The first delivery of each key, in order: what the peer acted on. */
  accepted(): Delivery[];
  /** Deliveries of `kind` (notifications) or `operation` (routing) for this conversation. */
  of(conversationId: string, what?: string): Delivery[];
  /**
   * The next request matching `match` is recorded and then held without an answer until release()
   * (for crash tests: the worker dies while the peer has the request).
   */
  holdNext(match: (body: Record<string, unknown>) => boolean): { received: Promise<Delivery>; release(): void };
  /**
   * The next request matching `match` is recorded (the peer acted on it) and answered `status`
   * instead of 200, as when the answer is lost: the sender retries under the same key.
   */
  answerNext(match: (body: Record<string, unknown>) => boolean, status: number): Promise<Delivery>;
  close(): Promise<void>;
}

export async function startChannelPeer(token: string): Promise<ChannelPeer> {
  const deliveries: Delivery[] = [];
  const holds: Array<{ match: (body: Record<string, unknown>) => boolean; resolve(d: Delivery): void; released: Promise<void> }> = [];
  const failures: Array<{ match: (body: Record<string, unknown>) => boolean; status: number; resolve(d: Delivery): void }> = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.headers.authorization !== `Bearer ${token}`) {
        res.writeHead(401).end();
        return;
      }
      const key = String(req.headers['idempotency-key'] ?? '');
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      } catch {
        res.writeHead(400).end();
        return;
      }
      const delivery: Delivery = { key, authorization: req.headers.authorization, body, receivedAt: Date.now() };
      deliveries.push(delivery);
      const failure = failures.findIndex((f) => f.match(body));
      if (failure >= 0) {
        const [f] = failures.splice(failure, 1);
        f.resolve(delivery);
        res.writeHead(f.status).end();
        return;
      }
      const hold = holds.findIndex((h) => h.match(body));
      if (hold >= 0) {
        const [h] = holds.splice(hold, 1);
        h.resolve(delivery);
        void h.released.then(() => {
          if (!res.destroyed) res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
        });
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  const local = await listenLocally(server);

  const accepted = (): Delivery[] => {
    const seen = new Set<string>();
    return deliveries.filter((d) => (seen.has(d.key) ? false : (seen.add(d.key), true)));
  };
  return {
    url: `${local.url}/deliveries`,
    deliveries,
    accepted,
    of: (conversationId, what) =>
      accepted().filter((d) => d.body.conversationId === conversationId && (what === undefined || d.body.kind === what || d.body.operation === what)),
    holdNext(match) {
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      let resolve!: (d: Delivery) => void;
      const received = new Promise<Delivery>((r) => (resolve = r));
      holds.push({ match, resolve, released });
      return { received, release };
    },
    answerNext(match, status) {
      return new Promise<Delivery>((resolve) => failures.push({ match, status, resolve }));
    },
    close: () => local.close(),
  };
}
