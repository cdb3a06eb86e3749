// The two outbound peers of digital channels: the channel gateway (messages to customers) and the
// routing platform (task operations). Each is an HTTP endpoint, or by default a local outbox file.
// Every delivery carries an idempotency key; both kinds of peer take a key once.
import fs from 'node:fs';
import path from 'node:path';

export interface OutboundPeer {
  /** Where it delivers, for log lines (a URL without credentials, or a file path). */
  readonly describe: string;
  /** Delivers `body` once under `key`: a repeat of a key already taken changes nothing. */
  deliver(key: string, body: Record<string, unknown>): Promise<{ delivered: 'sent' | 'already-sent' }>;
}

/** The peer answered 4xx (other than 408, 409, 429): the same request can never succeed. */
export class PeerRefusedError extends Error {
  override readonly name = 'PeerRefusedError';
  constructor(readonly status: number, peer: string) {
    super(`${peer} refused the request with HTTP ${status}`);
  }
}

/**
 * POSTs JSON with `Idempotency-Key: <key>` (the peer de-duplicates on it) and, when configured,
 * `Authorization: Bearer <token>`. 2xx is delivered; 409 means the peer already had that key.
 * Errors name the peer and the status, never the body (it holds the customer's address).
 */
export class HttpPeer implements OutboundPeer {
  readonly describe: string;
  constructor(
    private readonly url: string,
    private readonly token: string | undefined,
    private readonly timeoutMs: number,
  ) {
    const shown = new URL(url);
    shown.username = '';
    shown.password = '';
    shown.search = '';
    this.describe = shown.toString();
  }

  async deliver(key: string, body: Record<string, unknown>): Promise<{ delivered: 'sent' | 'already-sent' }> {
    let response: Response;
    try {
      response = await fetch(this.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'idempotency-key': key,
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      // The body is not needed; reading it frees the connection.
      await response.arrayBuffer().catch(() => undefined);
    } catch (err) {
      const reason = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      throw new Error(`${this.describe} could not be reached (${reason})`);
    }
    if (response.status === 409) return { delivered: 'already-sent' };
    if (response.ok) return { delivered: 'sent' };
    if (response.status >= 400 && response.status < 500 && response.status !== 408 && response.status !== 429) {
      throw new PeerRefusedError(response.status, this.describe);
    }
    throw new Error(`${this.describe} answered HTTP ${response.status}`);
  }
}

/**
 * The embedded peer for `npm start`: one JSON line per delivery appended to a file, e.g.
 * `.data/outbox/gateway.jsonl`. A key already in the file is not written again; the keys are read
 * from the file itself (new lines since the last look), so a restarted worker, or a second one
 * sharing the folder, still writes each key once (a single append is the unit: lines are small).
 */
export class OutboxFilePeer implements OutboundPeer {
  readonly describe: string;
  private readonly keys = new Set<string>();
  private readOffset = 0;
  private tail = Promise.resolve();

  constructor(private readonly file: string) {
    this.describe = file;
  }

  deliver(key: string, body: Record<string, unknown>): Promise<{ delivered: 'sent' | 'already-sent' }> {
    // One delivery at a time in this process, so the check and the append cannot interleave.
    const result = this.tail.then(() => this.deliverNow(key, body));
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  private deliverNow(key: string, body: Record<string, unknown>): { delivered: 'sent' | 'already-sent' } {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    this.catchUp();
    if (this.keys.has(key)) return { delivered: 'already-sent' };
    const line = `${JSON.stringify({ key, at: new Date().toISOString(), ...redactAddress(body) })}\n`;
    fs.appendFileSync(this.file, line, { mode: 0o600 });
    this.keys.add(key);
    this.readOffset += Buffer.byteLength(line);
    return { delivered: 'sent' };
  }

  /** Reads the lines appended since the last look (by this or another process) for their keys. */
  private catchUp(): void {
    if (!fs.existsSync(this.file)) return;
    const size = fs.statSync(this.file).size;
    if (size <= this.readOffset) return;
    const fd = fs.openSync(this.file, 'r');
    try {
      const buffer = Buffer.alloc(size - this.readOffset);
      fs.readSync(fd, buffer, 0, buffer.length, this.readOffset);
      const text = buffer.toString('utf8');
      const complete = text.lastIndexOf('\n') + 1;
      for (const line of text.slice(0, complete).split('\n')) {
        if (!line) continue;
        try {
          const key = (JSON.parse(line) as { key?: unknown }).key;
          if (typeof key === 'string') this.keys.add(key);
        } catch {
          // A line that is not JSON (edited by hand) holds no key.
        }
      }
      this.readOffset += Buffer.byteLength(text.slice(0, complete));
    } finally {
      fs.closeSync(fd);
    }
  }
}

/**
 * A local file is not the gateway: the customer's address and a callback number are kept to their
 * last 4 characters there, so tailing the outbox shows who without exposing them.
 */
function redactAddress(body: Record<string, unknown>): Record<string, unknown> {
  const out = { ...body };
  for (const field of ['to', 'phoneNumber']) {
    const value = out[field];
    if (typeof value === 'string') out[field] = `…${value.slice(-4)}`;
  }
  return out;
}

export interface ChannelPeers {
  gateway: OutboundPeer;
  routing: OutboundPeer;
}
