// Every webhook delivered twice and in shuffled order, concurrently, to one conversation of each
// pair; the same events once and in order to its twin. The record is a function of the set of events
// received, so the twins' states (GET /conversations/:id) must be identical, and each event counted once.
import type { RoutingEvent } from '../../src/conversation';
import type { Drill, DrillAudit } from './drill';
import { Stack } from './stack';
import { ApiClient, mapLimit, type Answer } from './traffic';
import { sleep, waitFor } from '../../rigs/wait';
import { scaled, shuffled } from './util';

/** A conversation's events (same ids for both twins: ids are unique per conversation). */
function script(conversationId: string, variant: number): RoutingEvent[] {
  const at = (minute: number) => new Date(Date.UTC(2026, 0, 1, 9, minute)).toISOString();
  const base = { conversationId, taskId: `task-${variant}`, channel: 'voice' as const };
  const events: RoutingEvent[] = [
    { ...base, eventId: 'e1', eventType: 'CREATED', occurredAt: at(0), queue: 'sales', taskContext: { lang: 'fr', segment: 'a' } },
    { ...base, eventId: 'e2', eventType: 'QUEUED', occurredAt: at(1), queue: 'sales', estimatedWaitTime: 40, taskContext: { segment: 'b' } },
    { ...base, eventId: 'e3', eventType: 'ROUTED', occurredAt: at(2), agentId: 'agent-1', taskContext: { vip: 'yes' } },
    { ...base, eventId: 'e4', eventType: 'TRANSFERRED', occurredAt: at(3), destination: 'support', taskContext: { segment: 'c' } },
    { ...base, eventId: 'e5', eventType: 'QUEUED', occurredAt: at(3), queue: 'support', estimatedWaitTime: variant },
    { ...base, eventId: 'e6', eventType: 'ROUTED', occurredAt: at(4), agentId: `agent-${2 + (variant % 3)}` },
  ];
  // Some pairs transfer twice, some close in the same minute as their last routing.
  if (variant % 2 === 1) events.push({ ...base, eventId: 'e7', eventType: 'TRANSFERRED', occurredAt: at(5), destination: 'billing', taskContext: { segment: 'd' } });
  events.push({ ...base, eventId: 'e9', eventType: 'CLOSED', occurredAt: at(variant % 2 === 1 ? 6 : 4), dispositionCode: variant });
  return events;
}

/** The parts of a view that depend on the events alone (not on the id or when the workflow started). */
function comparable(view: Record<string, unknown>): string {
  const { conversationId: _id, createdAt: _created, runCount: _runs, ...rest } = view;
  return JSON.stringify(rest, Object.keys(rest).sort());
}

export const duplicateShuffled: Drill = {
  name: 'duplicate-shuffled',
  summary: 'every webhook delivered twice, shuffled and concurrently; the final state must equal the in-order twin\'s',
  fast: true,
  async run({ scale, workDir, log }) {
    // Events that arrive after CLOSED are folded in during the grace window; it must outlast the deliveries.
    const stack = await Stack.start({ workDir, log, env: { CLOSED_GRACE_PERIOD: '20s' } });
    try {
      const pairs = scaled(50, scale, 4);
      const api = new ApiClient(() => stack.apiBase, stack.credentials);
      const run = Date.now().toString(36);
      const violations: string[] = [];
      const accepted = { webhooks: 0 };
      const reflected = { webhooks: 0 };
      let lost = 0;
      let doubled = 0;
      const deliver = async (event: RoutingEvent): Promise<Answer> => {
        for (let attempt = 1; ; attempt++) {
          const a = await api.webhook(event);
          if ((a.status >= 200 && a.status < 500) || attempt >= 30) return a;
          await sleep(500 * Math.min(attempt, 4));
        }
      };
      const twins = Array.from({ length: pairs }, (_, i) => ({ inOrder: `ds-${run}-${i}-a`, shuffled: `ds-${run}-${i}-b`, variant: i }));
      const acceptedIds = new Map<string, Set<string>>();
      let shuffledDeliveries = 0;
      await mapLimit(twins, 10, async ({ inOrder, shuffled: other, variant }) => {
        for (const e of script(inOrder, variant)) await deliver(e);
        const twice = shuffled([...script(other, variant), ...script(other, variant)]);
        shuffledDeliveries += twice.length;
        const ids = new Set<string>();
        await Promise.all(twice.map(async (e, k) => {
          await sleep(k * 20);
          const a = await deliver(e);
          if (a.status === 202 || (a.status === 200 && a.body?.accepted === true)) ids.add(e.eventId);
          else if (a.status !== 200) violations.push(`${other}: ${e.eventId} answered ${a.status}`);
        }));
        acceptedIds.set(other, ids);
      });
      log(`${pairs} pairs delivered; waiting for the grace windows to end`);
      await mapLimit(twins, 8, async ({ inOrder, shuffled: other }) => {
        const views: Record<string, unknown>[] = [];
        for (const id of [inOrder, other]) {
          await waitFor(`${id} to end`, async () => (await stack.client.workflow.getHandle(`conversation-${id}`).describe()).status.name !== 'RUNNING', { timeoutMs: 180_000, intervalMs: 1_000 }).catch((err: unknown) => violations.push(String(err)));
          const a = await api.view(id);
          if (a.status !== 200) violations.push(`${id}: GET answered ${a.status}`);
          views.push(a.body ?? {});
        }
        if (comparable(views[0]) !== comparable(views[1])) violations.push(`${other} differs from its in-order twin: ${comparable(views[1])} vs ${comparable(views[0])}`);
        const recent = (views[1].recentEvents as { eventId: string }[] | undefined) ?? [];
        for (const id of acceptedIds.get(other) ?? []) {
          accepted.webhooks++;
          const n = recent.filter((e) => e.eventId === id).length;
          if (n === 0) lost++;
          else reflected.webhooks++;
          if (n > 1) doubled++;
        }
      });
      for (const crash of stack.crashes()) violations.push(`${crash} exited unexpectedly (a crash) during the drill`);
      const audit: DrillAudit = {
        accepted,
        reflected,
        lost,
        doubled,
        facts: { pairs, 'deliveries to the shuffled twins (each event twice)': shuffledDeliveries, answers: Object.entries(api.statuses).sort().map(([k, v]) => `${k}: ${v}`).join(', ') },
        violations,
      };
      return audit;
    } finally {
      await stack.stop();
    }
  },
};
