// A real HTTP CRM for tests and drills, on 127.0.0.1 and an ephemeral port. It executes workflows
// at POST /workflows/<workflowId>/execute the way a CRM that honours Idempotency-Key does: it acts
// once per key and answers a repeated key with the answer it gave (or is about to give) the first
// time. Each call's answer is scripted: a status, a delay, Retry-After, a body that is not JSON, or
// a dropped connection. It counts calls, keys, acts and repeated keys.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface PeerAction {
  /** HTTP status (default 200). A 2xx means the CRM acted. */
  status?: number;
  /** JSON body (default: an echo of the call). */
  body?: unknown;
  /** A body sent as is (e.g. text that is not JSON). */
  raw?: string;
  /** Wait this long before answering (the CRM acts at once: a slow answer is an act whose answer is late). */
  delayMs?: number;
  retryAfter?: string;
  /** Close the connection without an answer (nothing acted). */
  drop?: boolean;
}

export interface PeerCall {
  workflowId: string;
  idempotencyKey: string | undefined;
  authorization: string | undefined;
  payload: unknown;
  /** What this call got: the scripted action, or `replayed` for a key already acted on. */
  answer: 'replayed' | 'acted' | 'failed' | 'dropped';
  at: number;
}

interface Acted {
  status: number;
  body: string;
  ready: Promise<void>;
}

export class CrmPeer {
  readonly calls: PeerCall[] = [];
  /** How many times the peer acted on each key (a CRM honouring the key: never more than once). */
  readonly acted = new Map<string, number>();
  /** Calls that repeated a key already acted on, answered from the first act. */
  duplicatesSeen = 0;
  /** The header carrying the credential, as configured in the registry used with this peer. */
  authHeader = 'authorization';
  private readonly scripts = new Map<string, PeerAction[]>();
  private readonly done = new Map<string, Acted>();
  /** Decides an unscripted call's action; default: 200 with an echo. */
  respond: (call: { workflowId: string; payload: unknown; key: string | undefined }) => PeerAction = () => ({});
  private server?: http.Server;
  private readonly sockets = new Set<Socket>();

  /** The actions for the next calls to this workflow id, in order; the last one repeats. */
  script(workflowId: string, actions: PeerAction[]): void {
    this.scripts.set(workflowId, [...actions]);
  }

  callsFor(workflowId: string): PeerCall[] {
    return this.calls.filter((c) => c.workflowId === workflowId);
  }

  get url(): string {
    const address = this.server?.address() as AddressInfo | undefined;
    if (!address) throw new Error('the CRM peer is not listening');
    return `http://127.0.0.1:${address.port}`;
  }

  async start(port = 0): Promise<this> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, '127.0.0.1', () => resolve());
    });
    return this;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private nextAction(workflowId: string, payload: unknown, key: string | undefined): PeerAction {
    const script = this.scripts.get(workflowId);
    if (script && script.length > 0) return script.length > 1 ? script.shift()! : script[0];
    return this.respond({ workflowId, payload, key });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const match = /^\/workflows\/([^/]+)\/execute$/.exec(req.url ?? '');
    if (req.method !== 'POST' || !match) {
      res.writeHead(404).end();
      return;
    }
    const workflowId = decodeURIComponent(match[1]);
    const key = typeof req.headers['idempotency-key'] === 'string' ? req.headers['idempotency-key'] : undefined;
    const authorization = req.headers[this.authHeader.toLowerCase()] as string | undefined;
    let payload: unknown;
    try {
      payload = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      payload = undefined;
    }
    const call: PeerCall = { workflowId, idempotencyKey: key, authorization, payload, answer: 'acted', at: Date.now() };
    this.calls.push(call);

    const previous = key === undefined ? undefined : this.done.get(key);
    if (previous) {
      call.answer = 'replayed';
      this.duplicatesSeen++;
      await previous.ready;
      if (!res.destroyed) res.writeHead(previous.status, { 'content-type': 'application/json' }).end(previous.body);
      return;
    }
    const action = this.nextAction(workflowId, payload, key);
    const status = action.status ?? 200;
    if (action.drop) {
      call.answer = 'dropped';
      if (action.delayMs) await sleep(action.delayMs);
      req.socket.destroy();
      return;
    }
    const body = action.raw ?? JSON.stringify(action.body ?? { ok: true, workflowId, received: payload });
    if (status >= 200 && status < 300) {
      // Acting happens now; only the answer waits.
      let release!: () => void;
      const ready = new Promise<void>((resolve) => (release = resolve));
      if (key !== undefined) {
        this.done.set(key, { status, body, ready });
        this.acted.set(key, (this.acted.get(key) ?? 0) + 1);
      }
      if (action.delayMs) await sleep(action.delayMs);
      release();
      if (!res.destroyed) res.writeHead(status, { 'content-type': 'application/json' }).end(body);
      return;
    }
    call.answer = 'failed';
    if (action.delayMs) await sleep(action.delayMs);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (action.retryAfter !== undefined) headers['retry-after'] = action.retryAfter;
    if (!res.destroyed) res.writeHead(status, headers).end(body);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
