// Digital channels: chat conversations driven through the inbound-messages webhook. Each one: the
// customer's first message (it starts the conversation), CREATED, ROUTED, the rest of its messages
// (a share carrying a card number, so PCI masking runs and a sensitive-data notice follows), then
// CLOSED. Notifications are counted where they land, at a local HTTP gateway peer, against what
// the traffic asks for: created, routed, closed, and one notice per message that held a card.
import { performance } from 'node:perf_hooks';
import { workflowIdFor } from '../../src/conversation';
import { maskSensitiveText } from '../../src/channels/pci';
import { sleep } from '../../rigs/wait';
import type { BenchChannelPeer } from './channel-peer';
import { countsPerLevel, levelsFrom, postWebhook, routingEvent, type PhaseContext } from './phase-context';
import { countError, mapLimit, median, quantiles, round, type Quantiles } from './stats';

export const CHANNELS_LEVELS = levelsFrom('BENCH_CHANNELS_LEVELS', '1,20');
export const CHANNELS_CONVERSATIONS = countsPerLevel('BENCH_CHANNELS_CONVERSATIONS', CHANNELS_LEVELS, (c) => (c === 1 ? 16 : 80));
export const CHANNELS_MESSAGES = messagesPerConversation();
/** The chat destination the bench's messages name; with no CHANNEL_DESTINATIONS_FILE every destination gets every notification. */
const DESTINATION = 'chat-app-bench';
/** Card numbers that pass Luhn and the issuer ranges, as a customer would type them. */
const CARDS = ['4111 1111 1111 1111', '5555-5555-5555-4444', '3782 822463 10005', '4012888888881881'];
const NOTICES_PER_CONVERSATION = ['created', 'routed', 'closed'];

function messagesPerConversation(): number {
  const raw = process.env.BENCH_CHANNELS_MESSAGES;
  if (raw === undefined || raw.trim() === '') return 5;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`BENCH_CHANNELS_MESSAGES must be a whole number ≥ 1, got "${raw}"`);
  return n;
}

/** Which messages carry a card: about one in four, spread over positions and conversations. */
const carriesCard = (i: number, m: number): boolean => (i * CHANNELS_MESSAGES + m) % 4 === 1;

function messageText(i: number, m: number): string {
  return carriesCard(i, m)
    ? `hi, can you check a payment? my card is ${CARDS[(i + m) % CARDS.length]}, it was declined yesterday`
    : `message ${m} of conversation ${i}: I have a question about my last invoice and the delivery date`;
}

export interface ChannelsLevelResult {
  concurrency: number;
  conversations: number;
  messagesPerConversation: number;
  messages: number;
  messagesWithCard: number;
  drivenSeconds: number;
  messagesPerSecond: number;
  latencyMs: { message?: Quantiles; event?: Quantiles };
  errors: Record<string, Record<string, number>>;
  notifications: { expected: number; got: number; expectedPerConversation: number; gotPerConversation: number; conversationsShort: number; byKind: Record<string, number>; waitedSeconds: number };
  historyEvents?: { median: number; max: number; conversations: number };
  closed: number;
  terminated: number;
}

export interface PciCost {
  messages: number;
  withCard: number;
  /** Card-bearing messages the masker found a card in (should equal withCard). */
  masked: number;
  samples: number;
  /** Per message, in microseconds. */
  perMessageUs: { all?: Quantiles; withCard?: Quantiles; plain?: Quantiles };
}

export async function channelsPhase(ctx: PhaseContext, peer: BenchChannelPeer, log: (line: string) => void): Promise<{ levels: ChannelsLevelResult[]; pciMasking: PciCost }> {
  const levels: ChannelsLevelResult[] = [];
  for (const [index, concurrency] of CHANNELS_LEVELS.entries()) {
    if (ctx.halted()) break;
    await sleep(ctx.pauseMs);
    const r = await level(ctx, peer, concurrency, CHANNELS_CONVERSATIONS[index], `chan-c${concurrency}`);
    log(`channels level ${concurrency}: ${r.conversations} chat conversations × ${r.messagesPerConversation} messages… ${r.messagesPerSecond} messages/s, notifications ${r.notifications.got}/${r.notifications.expected}${Object.keys(r.errors).length ? `, errors ${JSON.stringify(r.errors)}` : ''}`);
    levels.push(r);
  }
  return { levels, pciMasking: pciCost(Math.max(0, ...CHANNELS_CONVERSATIONS)) };
}

async function level(ctx: PhaseContext, peer: BenchChannelPeer, concurrency: number, count: number, label: string): Promise<ChannelsLevelResult> {
  const prefix = `bench-${ctx.runId}-${label}-`;
  const ids = Array.from({ length: count }, (_, i) => `${prefix}${i}`);
  const latencies = { message: [] as number[], event: [] as number[] };
  const errors: Record<string, Record<string, number>> = {};
  const clean: boolean[] = new Array(count).fill(false);
  const expected = (i: number) => NOTICES_PER_CONVERSATION.length + Array.from({ length: CHANNELS_MESSAGES }, (_, m) => carriesCard(i, m)).filter(Boolean).length;

  const t0 = performance.now();
  await ctx.drive(count, concurrency, async (i) => {
    const id = ids[i];
    let step = 0;
    let ok = true;
    const message = async (m: number) => {
      const a = await postWebhook(ctx, '/webhooks/inbound-messages', {
        eventId: `${id}-m${m}`, conversationId: id, channel: 'chat', from: `chat-user-${i}`, text: messageText(i, m),
        destination: DESTINATION, occurredAt: new Date(Date.UTC(2026, 0, 1, 0, 0, ++step)).toISOString(),
      });
      latencies.message.push(a.ms);
      // A 200 is a duplicate, which the bench never sends: only 202 took the message.
      if (a.status !== '202') {
        countError(errors, 'message', a.status);
        ok = false;
      }
    };
    const event = async (type: string, extra?: Record<string, unknown>) => {
      const a = await postWebhook(ctx, '/webhooks/routing-events', routingEvent(id, ++step, type, 'chat', extra));
      latencies.event.push(a.ms);
      if (!a.ok) {
        countError(errors, 'event', a.status);
        ok = false;
      }
    };
    await message(0);
    await event('CREATED', { queue: 'chat' });
    await event('ROUTED', { agentId: `agent-${i % 10}` });
    for (let m = 1; m < CHANNELS_MESSAGES; m++) await message(m);
    await event('CLOSED');
    clean[i] = ok;
  });
  const drivenMs = performance.now() - t0;

  const deadline = Date.now() + ctx.settleTimeoutMs;
  const closed = await mapLimit(ids, 50, (id) => ctx.awaitClosed(workflowIdFor(id), deadline));
  // A closed conversation may still be delivering its last notices; wait for them, within the settle time.
  const w0 = performance.now();
  const missing = () => ids.filter((id, i) => peer.takenFor(id) < expected(i)).length;
  const waitUntil = Math.min(deadline, Date.now() + 30_000);
  while (missing() > 0 && Date.now() < waitUntil && !ctx.halted()) await sleep(250);
  const waitedSeconds = (performance.now() - w0) / 1000;
  const unclosed = ids.filter((_, i) => !closed[i]);
  await mapLimit(unclosed, 10, (id) => ctx.terminate(workflowIdFor(id), 'bench: not closed within BENCH_SETTLE_TIMEOUT_S'));

  const histories = await mapLimit(ids.filter((_, i) => closed[i] && clean[i]), 10, (id) => ctx.chainHistory(workflowIdFor(id)).catch(() => undefined));
  const events = histories.filter((h) => h !== undefined).map((h) => h!.events);
  const expectedTotal = ids.reduce((n, _, i) => n + expected(i), 0);
  const got = ids.reduce((n, id) => n + peer.takenFor(id), 0);
  const messages = count * CHANNELS_MESSAGES;
  return {
    concurrency,
    conversations: count,
    messagesPerConversation: CHANNELS_MESSAGES,
    messages,
    messagesWithCard: ids.reduce((n, _, i) => n + expected(i) - NOTICES_PER_CONVERSATION.length, 0),
    drivenSeconds: round(drivenMs / 1000, 2),
    messagesPerSecond: round(latencies.message.length / (drivenMs / 1000), 1),
    latencyMs: { message: quantiles(latencies.message), event: quantiles(latencies.event) },
    errors,
    notifications: {
      expected: expectedTotal,
      got,
      expectedPerConversation: round(expectedTotal / count, 2),
      gotPerConversation: round(got / count, 2),
      conversationsShort: missing(),
      byKind: peer.kindsFor(prefix),
      waitedSeconds: round(waitedSeconds, 1),
    },
    historyEvents: events.length ? { median: median(events), max: Math.max(...events), conversations: events.length } : undefined,
    closed: closed.filter(Boolean).length,
    terminated: unclosed.length,
  };
}

/**
 * What masking costs the API per message: the bench's own messages (those of the largest level)
 * masked in this process, each timed alone, after one untimed pass; passes repeat until there are
 * at least 2,000 samples, so p99 rests on more than a handful.
 */
function pciCost(conversations: number): PciCost {
  const texts: { text: string; card: boolean }[] = [];
  for (let i = 0; i < conversations; i++) for (let m = 0; m < CHANNELS_MESSAGES; m++) texts.push({ text: messageText(i, m), card: carriesCard(i, m) });
  // The untimed pass: JIT, and whether every card-bearing message was found to hold one.
  let masked = 0;
  for (const t of texts) if (maskSensitiveText(t.text).findings.length > 0 && t.card) masked++;
  const all: number[] = [];
  const withCard: number[] = [];
  const plain: number[] = [];
  const passes = texts.length === 0 ? 0 : Math.max(1, Math.ceil(2000 / texts.length));
  for (let pass = 0; pass < passes; pass++) {
    for (const t of texts) {
      const t0 = performance.now();
      maskSensitiveText(t.text);
      const us = (performance.now() - t0) * 1000;
      all.push(us);
      (t.card ? withCard : plain).push(us);
    }
  }
  return {
    messages: texts.length,
    withCard: texts.filter((t) => t.card).length,
    masked,
    samples: all.length,
    perMessageUs: { all: quantiles(all, 2), withCard: quantiles(withCard, 2), plain: quantiles(plain, 2) },
  };
}
