// Traffic a drill sends through Parley's real HTTP API, as its callers would (a signed webhook per
// routing event, a flow's bearer token per attribute write), and the ledger that makes its audit
// exact. A sender retries what was not confirmed the way the API's answers tell it to:
// - a webhook answered 5xx or not answered is redelivered with the same eventId (a redelivery
//   changes nothing); each delivery carries a task-context marker naming its attempt, so the state
//   shows which delivery was recorded and a delivery answered "nothing was changed" that was
//   recorded anyway is caught;
// - a write answered "may still be applied" (or not answered) is retried with the same
//   Idempotency-Key and name; a write answered "nothing was changed" is given up and a new write with
//   a new name is sent instead, so a store holding the abandoned name proves the answer false.
// The audit then wants every accepted webhook in the conversation's state, every accepted write in
// the store exactly once (version 1: each write has its own name) and `last` holding the last
// accepted write's value, nothing refused stored, nothing else stored.
import type { Scope } from '../../src/security/auth';
import { signWebhook } from '../../src/security/webhook-signature';
import { workflowIdFor, type ConversationView, type RoutingEvent } from '../../src/conversation';
import type { DrillAudit } from './drill';
import type { TestCredentials } from '../../rigs/credentials';
import { sleep } from '../../rigs/wait';
import type { Stack } from './stack';

/** What the audit reads of a stack: Temporal (describe only), the store, and the processes' crashes. */
export type AuditedStack = Pick<Stack, 'client' | 'participantData' | 'crashes'>;

export interface Answer {
  /** HTTP status, or 0 when no answer came (connection refused, reset, timed out). */
  status: number;
  body: Record<string, unknown> | undefined;
  error?: string;
}

export const REQUEST_TIMEOUT_MS = 30_000;

export class ApiClient {
  /** Every answer, by request kind and status: "webhook 202", "write 503", "read 0". */
  readonly statuses: Record<string, number> = {};

  constructor(readonly base: () => string, readonly credentials: TestCredentials) {}

  count(kind: string, status: number): void {
    const key = `${kind} ${status === 0 ? 'no answer' : status}`;
    this.statuses[key] = (this.statuses[key] ?? 0) + 1;
  }

  async request(kind: string, method: string, url: string, opts: { body?: string; scope?: Scope | 'webhook' | 'none'; headers?: Record<string, string> } = {}): Promise<Answer> {
    const headers: Record<string, string> = { ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}) };
    if (opts.scope === 'webhook') Object.assign(headers, signWebhook(this.credentials.webhookSecret, opts.body ?? ''));
    else if (opts.scope && opts.scope !== 'none') headers.authorization = `Bearer ${this.credentials.tokens[opts.scope]}`;
    Object.assign(headers, opts.headers);
    let answer: Answer;
    try {
      const res = await fetch(`${this.base()}${url}`, { method, headers, body: opts.body, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      const text = await res.text();
      let body: Record<string, unknown> | undefined;
      try {
        body = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
      } catch {
        body = { text: text.slice(0, 200) };
      }
      answer = { status: res.status, body };
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause;
      answer = { status: 0, body: undefined, error: cause?.code ?? (err as Error).name };
    }
    this.count(kind, answer.status);
    return answer;
  }

  webhook(event: RoutingEvent): Promise<Answer> {
    return this.request('webhook', 'POST', '/webhooks/routing-events', { body: JSON.stringify(event), scope: 'webhook' });
  }

  write(conversationId: string, attributes: Record<string, string>, idempotencyKey: string, secured = false): Promise<Answer> {
    return this.request('write', 'POST', `/conversations/${encodeURIComponent(conversationId)}/attributes`, {
      body: JSON.stringify(secured ? { attributes, secured: true } : { attributes }),
      scope: 'flow',
      headers: { 'idempotency-key': idempotencyKey },
    });
  }

  async view(conversationId: string): Promise<Answer> {
    return this.request('read', 'GET', `/conversations/${encodeURIComponent(conversationId)}`, { scope: 'operator' });
  }
}

/** "nothing was changed" in a 5xx answer: the API promises the request had no effect. */
export const promisesNothingChanged = (a: Answer): boolean => a.status >= 500 && /nothing was changed/i.test(String(a.body?.message ?? ''));

interface EventEntry {
  eventId: string;
  marker: string;
  /** The attempt answered 2xx (accepted: true). */
  acceptedAttempt?: number;
  /** Attempts answered 5xx with "nothing was changed". */
  nothingChanged: number[];
  refused?: number;
}

interface WriteEntry {
  name: string;
  value: string;
  accepted: boolean;
  /** Answered "nothing was changed": must not be in the store. */
  abandoned: boolean;
  refused?: number;
  secured: boolean;
}

export interface ConversationLedger {
  id: string;
  events: EventEntry[];
  writes: WriteEntry[];
  /** The value `last` must hold: the last accepted write's. */
  lastValue?: string;
  minute: number;
}

export interface SendPolicy {
  /** Give up redelivering after this long (the request is then counted as unconfirmed). */
  retryForMs: number;
  stop?: () => boolean;
}

export class Ledger {
  readonly conversations = new Map<string, ConversationLedger>();
  unconfirmed = 0;
  /** Claims the API made that the audit found false, in words. */
  readonly violations: string[] = [];

  constructor(readonly api: ApiClient, readonly policy: SendPolicy) {}

  conversation(id: string): ConversationLedger {
    let c = this.conversations.get(id);
    if (!c) this.conversations.set(id, (c = { id, events: [], writes: [], minute: 0 }));
    return c;
  }

  /** The routing event, with its occurrence time a minute after the conversation's previous one. */
  event(c: ConversationLedger, eventType: RoutingEvent['eventType'], extra: Partial<RoutingEvent> = {}): RoutingEvent {
    const n = ++c.minute;
    return {
      eventId: `${c.id}-e${n}`, eventType, conversationId: c.id, taskId: `task-${c.id}`, channel: 'chat',
      occurredAt: new Date(Date.UTC(2026, 0, 1, 9, n)).toISOString(), ...extra,
    };
  }

  /** Delivers until answered 2xx or 4xx, or the retry window passed. */
  async deliver(c: ConversationLedger, event: RoutingEvent): Promise<number> {
    const marker = `m_${c.events.length + 1}`;
    const entry: EventEntry = { eventId: event.eventId, marker, nothingChanged: [] };
    c.events.push(entry);
    const until = Date.now() + this.policy.retryForMs;
    for (let attempt = 1; ; attempt++) {
      const a = await this.api.webhook({ ...event, taskContext: { ...event.taskContext, [marker]: `${event.eventId}#${attempt}` } });
      if (a.status === 202 || (a.status === 200 && a.body?.accepted === true)) {
        entry.acceptedAttempt = attempt;
        return a.status;
      }
      if ((a.status >= 200 && a.status < 300) || (a.status >= 400 && a.status < 500)) {
        entry.refused = a.status;
        return a.status;
      }
      if (promisesNothingChanged(a)) entry.nothingChanged.push(attempt);
      if (Date.now() > until || this.policy.stop?.()) {
        this.unconfirmed++;
        return a.status;
      }
      await sleep(Math.min(2_000, 200 * attempt));
    }
  }

  /** One attribute write: a name of its own plus `last` (a secured write: its name only). Retried until confirmed, refused, or the window passed. */
  async write(c: ConversationLedger, opts: { secured?: boolean; value?: string } = {}): Promise<number> {
    const until = Date.now() + this.policy.retryForMs;
    const seq = c.writes.length + 1;
    for (let fresh = 1; ; fresh++) {
      const name = `w${seq}_${fresh}`;
      const value = opts.value ?? `${c.id}:${name}`;
      const entry: WriteEntry = { name, value, accepted: false, abandoned: false, secured: opts.secured ?? false };
      c.writes.push(entry);
      const key = `${c.id}-${name}`;
      for (let attempt = 1; ; attempt++) {
        const a = await this.api.write(c.id, opts.secured ? { [name]: value } : { [name]: value, last: name }, key, opts.secured);
        // 202: no worker confirmed it in time and the API kept it at the edge; it is applied before
        // anything this conversation sends next, so it counts as taken.
        if (a.status === 200 || a.status === 202) {
          entry.accepted = true;
          if (!opts.secured) c.lastValue = name;
          return a.status;
        }
        if (a.status >= 400 && a.status < 500) {
          entry.refused = a.status;
          return a.status;
        }
        if (Date.now() > until || this.policy.stop?.()) {
          this.unconfirmed++;
          return a.status;
        }
        await sleep(Math.min(2_000, 200 * attempt));
        if (promisesNothingChanged(a)) {
          entry.abandoned = true;
          break;
        }
      }
    }
  }

  /** The standard conversation: CREATED, QUEUED, a write, ROUTED, two writes (one secured if asked), CLOSED. */
  async standardConversation(id: string, opts: { secured?: boolean; close?: boolean } = {}): Promise<void> {
    const c = this.conversation(id);
    await this.deliver(c, this.event(c, 'CREATED', { queue: 'sales' }));
    await this.deliver(c, this.event(c, 'QUEUED', { queue: 'sales', estimatedWaitTime: 30 }));
    await this.write(c);
    await this.deliver(c, this.event(c, 'ROUTED', { agentId: `agent-${id.length % 7}` }));
    await this.write(c);
    await this.write(c, { secured: opts.secured });
    if (opts.close !== false) await this.deliver(c, this.event(c, 'CLOSED', { dispositionCode: 'done' }));
  }

  /**
   * Waits for every conversation to end (its workflow no longer running), then compares the
   * ledger with the state each one shows and with the store. Waiting is bounded by `settleMs`.
   */
  async audit(stack: AuditedStack, settleMs: number, log: (line: string) => void): Promise<DrillAudit> {
    const accepted = { webhooks: 0, writes: 0 };
    const reflected = { webhooks: 0, writes: 0 };
    let lost = 0;
    let doubled = 0;
    const notEnded: string[] = [];
    const deadline = Date.now() + settleMs;
    const ids = [...this.conversations.keys()];
    // Statuses of the workflows at the end, e.g. COMPLETED: 200.
    const ends: Record<string, number> = {};
    await mapLimit(ids, 8, async (id) => {
      const c = this.conversations.get(id)!;
      const status = await this.awaitEnded(stack, id, deadline);
      ends[status] = (ends[status] ?? 0) + 1;
      if (status === 'RUNNING' || status === 'unknown') notEnded.push(id);
      else if (status !== 'COMPLETED') this.violations.push(`${id}: workflow ended ${status}`);

      // Webhooks: every accepted delivery's marker in the state's task context, from an attempt not
      // answered "nothing was changed"; each event once in the recent events.
      const view = await this.readView(id, deadline);
      const context = view?.taskContext ?? {};
      const seen = new Map<string, number>();
      for (const e of view?.recentEvents ?? []) seen.set(e.eventId, (seen.get(e.eventId) ?? 0) + 1);
      for (const e of c.events) {
        if ((seen.get(e.eventId) ?? 0) > 1) doubled++;
        const recorded = context[e.marker];
        const attempt = recorded ? Number(recorded.split('#')[1]) : undefined;
        if (attempt !== undefined && e.nothingChanged.includes(attempt)) this.violations.push(`${id}: webhook ${e.eventId} attempt ${attempt} was answered "nothing was changed" and was recorded`);
        if (e.acceptedAttempt === undefined) continue;
        accepted.webhooks++;
        if (recorded?.startsWith(`${e.eventId}#`)) reflected.webhooks++;
        else lost++;
      }

      // Writes: in the store exactly once with their value; `last` with the last accepted value.
      const stored = new Map((await stack.participantData.listAttributes(id)).map((a) => [a.name, a]));
      for (const w of c.writes) {
        const row = stored.get(w.name);
        if (w.accepted) {
          accepted.writes++;
          if (!row) {
            lost++;
            continue;
          }
          if (row.version > 1) doubled++;
          const value = w.secured ? await this.readSecured(id, w.name) : row.value;
          if (value === w.value && row.version === 1) reflected.writes++;
          else if (value !== w.value) lost++;
        } else if (row) {
          if (w.abandoned) this.violations.push(`${id}: write ${w.name} was answered "nothing was changed" and is stored`);
          else if (w.refused) this.violations.push(`${id}: write ${w.name} was refused (${w.refused}) and is stored`);
          // Otherwise unconfirmed (never answered within the window): stored or not, both are truthful.
        }
      }
      const last = stored.get('last');
      if (c.lastValue !== undefined && last?.value !== c.lastValue) {
        lost++;
        this.violations.push(`${id}: last holds ${last?.value ?? 'nothing'}, the last accepted write was ${c.lastValue}`);
      }
      const known = new Set(['last', ...c.writes.map((w) => w.name)]);
      for (const name of stored.keys()) if (!known.has(name)) this.violations.push(`${id}: the store holds ${name}, never sent`);
    });
    for (const crash of stack.crashes()) this.violations.push(`${crash} exited unexpectedly (a crash) during the drill`);
    const fiveHundreds = Object.entries(this.api.statuses).filter(([k]) => / 500$/.test(k)).reduce((n, [, v]) => n + v, 0);
    if (fiveHundreds) this.violations.push(`${fiveHundreds} answer(s) 500 (an internal error, not an outage)`);
    if (notEnded.length) {
      log(`${notEnded.length} conversation(s) had not ended ${Math.round(settleMs / 1000)} s after the last request, e.g. ${notEnded.slice(0, 3).join(', ')}`);
      this.violations.push(`${notEnded.length} conversation(s) never ended`);
    }
    return {
      accepted,
      reflected,
      lost,
      doubled,
      facts: {
        conversations: ids.length,
        'workflows ended': Object.entries(ends).map(([k, v]) => `${k} ${v}`).join(', '),
        'unconfirmed requests (gave up retrying)': this.unconfirmed,
        answers: Object.entries(this.api.statuses).sort().map(([k, v]) => `${k}: ${v}`).join(', '),
      },
      violations: this.violations,
    };
  }

  private async awaitEnded(stack: AuditedStack, id: string, deadline: number): Promise<string> {
    let status = 'unknown';
    while (Date.now() < deadline) {
      try {
        status = (await stack.client.workflow.getHandle(workflowIdFor(id)).describe()).status.name;
        if (status !== 'RUNNING') return status;
      } catch (err) {
        status = `unknown`;
        if ((err as Error).name === 'WorkflowNotFoundError') return 'NOT_FOUND';
      }
      await sleep(1_000);
    }
    return status;
  }

  private async readView(id: string, deadline: number): Promise<ConversationView | undefined> {
    for (;;) {
      const a = await this.api.view(id);
      if (a.status === 200) return a.body as unknown as ConversationView;
      if (Date.now() > deadline || a.status === 404) return undefined;
      await sleep(1_000);
    }
  }

  private async readSecured(id: string, name: string): Promise<string | undefined> {
    for (let i = 0; i < 30; i++) {
      const a = await this.api.request('read', 'GET', `/conversations/${encodeURIComponent(id)}/attributes/${encodeURIComponent(name)}`, { scope: 'agent-script' });
      if (a.status === 200) return String(a.body?.value);
      if (a.status === 404) return undefined;
      await sleep(1_000);
    }
    return undefined;
  }
}

export async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}
