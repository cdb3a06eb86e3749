// Digital conversations (SMS and email) whose inbound messages and routing events are each delivered
// twice, shuffled and concurrently, while the worker is SIGKILLed and restarted. A local HTTP peer
// stands for both the channel gateway and the routing platform and records every delivery. Audit:
// every accepted message is in the transcript exactly once; every notification the conversations
// decided (their outbound transcript lines) reached the peer, and no conversation was told the same
// thing twice under two keys (ROUTED and CLOSED each give one notification, CREATED and QUEUED one or none).
import { startChannelPeer } from '../../rigs/channel-peer';
import { sleep, waitFor } from '../../rigs/wait';
import type { Drill } from './drill';
import { Stack } from './stack';
import { ApiClient, mapLimit, type Answer } from './traffic';
import { randomBetween, scaled, shuffled } from './util';

const PEER_TOKEN = 'drill-peer-token-digital';
/**
 * What every conversation is told. `created` and `queued` too unless they arrived after the ROUTED
 * (late: no longer true, so not told); at most once each either way.
 */
const EXPECTED_KINDS = ['routed', 'closed'];
const MESSAGES_PER_CONVERSATION = 4;

export const digitalChannels: Drill = {
  name: 'digital-channels',
  summary: 'inbound messages and routing events of SMS/email conversations delivered twice and shuffled while the worker is SIGKILLed; each message once in the transcript, each notification once at the peer',
  fast: true,
  async run({ scale, workDir, log }) {
    const peer = await startChannelPeer(PEER_TOKEN);
    const stack = await Stack.start({
      workDir,
      log,
      env: { CHANNEL_GATEWAY_URL: peer.url, CHANNEL_GATEWAY_TOKEN: PEER_TOKEN, ROUTING_PLATFORM_URL: peer.url, ROUTING_PLATFORM_TOKEN: PEER_TOKEN },
    });
    try {
      const conversations = scaled(100, scale, 6);
      const kills = scaled(4, scale, 1);
      const api = new ApiClient(() => stack.apiBase, stack.credentials);
      const run = Date.now().toString(36);
      const violations: string[] = [];
      /** Accepted message eventId → the conversation the API said it went to. */
      const acceptedMessages = new Map<string, string>();
      let acceptedEvents = 0;

      /** Until a 2xx: a 503 says the request may or may not have been taken, and a redelivery is safe. */
      const deliver = async (kind: 'message' | 'event', body: Record<string, unknown>): Promise<Answer> => {
        const url = kind === 'message' ? '/webhooks/inbound-messages' : '/webhooks/routing-events';
        const deadline = Date.now() + 180_000;
        for (;;) {
          const answer = await api.request(kind, 'POST', url, { body: JSON.stringify(body), scope: 'webhook' });
          if (answer.status >= 200 && answer.status < 300) return answer;
          if (answer.status >= 400 && answer.status < 500) {
            violations.push(`${kind} ${String(body.eventId)} refused with ${answer.status}: ${JSON.stringify(answer.body)}`);
            return answer;
          }
          if (Date.now() > deadline) {
            violations.push(`${kind} ${String(body.eventId)} not accepted within 180 s (last ${answer.status})`);
            return answer;
          }
          await sleep(randomBetween(200, 1_000));
        }
      };

      const one = async (i: number): Promise<void> => {
        const id = `dc-${run}-${i}`;
        const channel = i % 3 === 0 ? 'email' : 'sms';
        const at = (second: number) => new Date(Date.UTC(2026, 10, 27, 10, 0, second)).toISOString();
        const messages = Array.from({ length: MESSAGES_PER_CONVERSATION }, (_, m) => ({
          eventId: `${id}-m${m}`,
          conversationId: id,
          channel,
          from: channel === 'email' ? `customer${i}@example.com` : `+4477009${String(i).padStart(5, '0')}`,
          text: `message ${m} of ${id}`,
          ...(channel === 'email' ? { subject: `case ${i}` } : {}),
          destination: channel === 'email' ? 'email-app' : '+15550100',
          occurredAt: at(m * 2),
        }));
        const event = (n: number, eventType: string, extra: Record<string, unknown> = {}) => ({
          eventId: `${id}-e${n}`, eventType, conversationId: id, taskId: `task-${i}`, channel, occurredAt: at(n * 2 + 1), ...extra,
        });
        const events = [event(0, 'CREATED'), event(1, 'QUEUED', { estimatedWaitTime: 120 }), event(2, 'ROUTED', { agentId: `agent-${i % 5}` })];
        // Everything but the close twice, shuffled, concurrently; the close last (twice), once all else was taken.
        const inputs = shuffled([
          ...messages.flatMap((m) => [{ kind: 'message' as const, body: m }, { kind: 'message' as const, body: m }]),
          ...events.flatMap((e) => [{ kind: 'event' as const, body: e }, { kind: 'event' as const, body: e }]),
        ]);
        // The customer's first message starts the conversation (a task exists only after it); then the rest.
        await take({ kind: 'message', body: messages[0] });
        await mapLimit(inputs, 4, take);
        const closed = event(3, 'CLOSED');
        await take({ kind: 'event', body: closed });
        await take({ kind: 'event', body: closed });

        async function take(input: { kind: 'message' | 'event'; body: Record<string, unknown> }): Promise<void> {
          const answer = await deliver(input.kind, input.body);
          if (answer.status < 200 || answer.status >= 300) return;
          const eventId = String(input.body.eventId);
          if (input.kind === 'message') {
            const where = String(answer.body?.conversationId);
            const known = acceptedMessages.get(eventId);
            if (known !== undefined && known !== where) violations.push(`message ${eventId} answered for ${known} and for ${where}`);
            acceptedMessages.set(eventId, where);
          } else if (answer.status === 202) {
            acceptedEvents++;
          }
        }
      };

      let trafficDone = false;
      const traffic = mapLimit(Array.from({ length: conversations }, (_, i) => i), Math.min(conversations, 20), one).finally(() => (trafficDone = true));
      const worker = stack.workers[0];
      let killed = 0;
      for (; killed < kills && !trafficDone; killed++) {
        await sleep(randomBetween(1_000, 4_000));
        await worker.kill();
        await sleep(randomBetween(200, 1_500));
        await worker.start();
        log(`worker killed and back (${killed + 1}/${kills})`);
      }
      await traffic;
      log(`traffic done: ${acceptedMessages.size} messages, ${acceptedEvents} event deliveries accepted; auditing`);

      // A conversation's last act is its CLOSED notice (after its transcript lines): wait for it in each.
      const ids = Array.from({ length: conversations }, (_, i) => `dc-${run}-${i}`);
      const store = stack.participantData;
      const done = async (id: string): Promise<boolean> => {
        const transcript = await store.listMessages(id);
        const ids = new Set(transcript.map((m) => m.eventId));
        const messagesIn = [...acceptedMessages].every(([eventId, where]) => where !== id || ids.has(eventId));
        return messagesIn && transcript.some((m) => m.direction === 'outbound' && m.eventId.endsWith(':closed'));
      };
      await waitFor('every conversation\'s messages and its closing notice in its transcript', async () => {
        for (const id of ids) if (!(await done(id))) return false;
        return true;
      }, { timeoutMs: 180_000, intervalMs: 250 }).catch((err: unknown) => violations.push(String(err)));

      let messagesFound = 0;
      let notificationsFound = 0;
      let notificationsDecided = 0;
      let lost = 0;
      let doubled = 0;
      for (const id of ids) {
        const transcript = await store.listMessages(id);
        const inbound = transcript.filter((m) => m.direction === 'inbound').map((m) => m.eventId);
        for (const [eventId, where] of acceptedMessages) {
          if (where !== id) continue;
          const times = inbound.filter((e) => e === eventId).length;
          if (times === 0) lost++;
          else messagesFound++;
          if (times > 1) doubled++;
        }
        const decided = transcript.filter((m) => m.direction === 'outbound').map((m) => m.eventId);
        notificationsDecided += decided.length;
        const atPeer = peer.deliveries.filter((d) => d.body.conversationId === id);
        const keysAtPeer = new Set(atPeer.map((d) => d.key));
        for (const key of decided) {
          if (keysAtPeer.has(key)) notificationsFound++;
          else lost++;
        }
        // Told the same thing twice under different keys: a real double, whatever the peer de-duplicates.
        const kinds = [...keysAtPeer].map((key) => String(atPeer.find((d) => d.key === key)!.body.kind ?? ''));
        for (const kind of new Set(kinds)) if (kinds.filter((k) => k === kind).length > 1) doubled++;
        const missingKinds = EXPECTED_KINDS.filter((k) => !kinds.includes(k));
        if (missingKinds.length > 0) violations.push(`${id} was never told: ${missingKinds.join(', ')}`);
      }
      const repeats = peer.deliveries.length - new Set(peer.deliveries.map((d) => d.key)).size;
      return {
        accepted: { messages: acceptedMessages.size, notifications: notificationsDecided },
        reflected: { messages: messagesFound, notifications: notificationsFound },
        lost,
        doubled,
        violations,
        facts: {
          conversations,
          'inputs per conversation (each delivered twice)': `${MESSAGES_PER_CONVERSATION} messages, 4 events`,
          'worker SIGKILLs': killed,
          'deliveries at the peer': peer.deliveries.length,
          'same key received again (retry after a kill), taken once': repeats,
          'unexpected worker exits': worker.unexpectedExits.join(', ') || 'none',
          ...Object.fromEntries(Object.entries(api.statuses).map(([k, v]) => [`answers ${k}`, v])),
        },
      };
    } finally {
      await stack.stop();
      await peer.close();
    }
  },
};
