// The channel gateway and routing platform for the bench: a real HTTP peer on 127.0.0.1 and an
// ephemeral port that checks the bearer token, takes each Idempotency-Key once (answering 200 either
// way, as a peer honouring the key does) and counts what it took per conversation and kind.
import http from 'node:http';
import { listenLocally } from '../../rigs/local-server';

export interface BenchChannelPeer {
  url: string;
  /** Requests received, repeats of a key included. */
  received(): number;
  /** Notification keys taken (first deliveries) for this conversation; routing operations (the create-task each conversation sends) are not counted. */
  takenFor(conversationId: string): number;
  /** Keys taken for conversations whose id starts with `prefix`, by kind (notification) or operation (routing). */
  kindsFor(prefix: string): Record<string, number>;
  close(): Promise<void>;
}

export async function startBenchChannelPeer(token: string): Promise<BenchChannelPeer> {
  const keys = new Set<string>();
  const byConversation = new Map<string, { count: number; kinds: Map<string, number> }>();
  let received = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received++;
      if (req.headers.authorization !== `Bearer ${token}`) return void res.writeHead(401).end();
      let body: { conversationId?: unknown; kind?: unknown; operation?: unknown };
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
      } catch {
        return void res.writeHead(400).end();
      }
      const key = String(req.headers['idempotency-key'] ?? '');
      if (!keys.has(key)) {
        keys.add(key);
        const conversation = String(body.conversationId);
        const entry = byConversation.get(conversation) ?? { count: 0, kinds: new Map<string, number>() };
        const kind = String(body.kind ?? body.operation ?? '?');
        if (body.kind !== undefined) entry.count++;
        entry.kinds.set(kind, (entry.kinds.get(kind) ?? 0) + 1);
        byConversation.set(conversation, entry);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  const local = await listenLocally(server);
  return {
    url: `${local.url}/deliveries`,
    received: () => received,
    takenFor: (conversationId) => byConversation.get(conversationId)?.count ?? 0,
    kindsFor(prefix) {
      const out: Record<string, number> = {};
      for (const [conversation, entry] of byConversation) {
        if (!conversation.startsWith(prefix)) continue;
        for (const [kind, n] of entry.kinds) out[kind] = (out[kind] ?? 0) + n;
      }
      return out;
    },
    close: () => local.close(),
  };
}
