// Wires the digital-channel rules (digital-channel-state.ts) into a conversation: the inbound-message
// update, the notifications routing events give, the routing task's creation and re-submission, the
// web-callback and welcome-menu clocks, and one sender that performs the queued operations in order. A conversation that never receives a message issues no
// command from here, so its history is what it was before digital channels existed.
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { type ConversationState, ErrorType, type RoutingEvent } from '../messages';
import { PATCHES } from '../versions';
import { type InboundMessage, type OutboundOp, type StoredMessage, inboundMessageUpdate, inboundMessageSeenQuery } from '../contracts/channels';
import {
  type DigitalFlowVersions,
  callbackClockRuns,
  menuDeadlineMs,
  menuTimedOut,
  menuWaits,
  notifyRoutingEvent,
  offerCallback,
  receiveInboundMessage,
} from '../digital-channel-state';

const { notifyCustomer, requestRoutingOperation, appendTranscript } = proxyActivities<Activities>({
  // One HTTP call or one store write; bounds a peer that accepts the connection and never answers.
  startToCloseTimeout: '30 seconds',
  // A send lost with a crashed worker is retried after 5 s; the idempotency key makes the retry harmless.
  heartbeatTimeout: '5 seconds',
  // No maximum attempts: a peer that is down gets the message when it is back. A peer that refuses it (4xx) fails it for good.
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

export interface DigitalChannel {
  /** After a routing event was taken (not a duplicate): queue the notification it gives, if any. */
  onRoutingEvent(event: RoutingEvent, wasClosed: boolean): void;
  /** Resolves once every queued operation was performed: before continue-as-new and before completing. */
  idle(): Promise<void>;
  /** Resolves once no operation is being performed (a cancelled conversation's sender stops with what it has started). */
  settled(): Promise<void>;
}

export function installDigitalChannel(state: ConversationState, hooks: { onActivity(): void }): DigitalChannel {
  const { conversationId } = state;
  let sending = false;
  const seen = (eventId: string): boolean => state.digital?.seenMessageIds.includes(eventId) ?? false;
  // Each asked only where its behaviour would apply, so other conversations' histories carry no marker.
  const flow: DigitalFlowVersions = {
    createsTask: () => patched(PATCHES.digitalCreateTask),
    resubmitsTask: () => patched(PATCHES.digitalResubmitTask),
    asksMenu: () => patched(PATCHES.digitalWelcomeMenu),
    chainId: workflowInfo().firstExecutionRunId,
  };

  setHandler(
    inboundMessageUpdate,
    (message: InboundMessage) => {
      // patched() is asked only for a message the two end rules judge differently, so a history
      // holds the marker only where the rule changed what the conversation did.
      const outcome = receiveInboundMessage(state, message, new Date().toISOString(), flow, { searchEndPhrase: () => patched(PATCHES.endPhraseSearch) });
      if (outcome !== 'duplicate') hooks.onActivity();
      // Ids and outcome only: the address and the text stay in the (encrypted) payloads.
      log.info('inbound message', { conversationId, eventId: message.eventId, channel: message.channel, outcome, status: state.status });
      return { outcome };
    },
    {
      validator: (message: InboundMessage) => {
        if (typeof message?.eventId !== 'string' || typeof message.text !== 'string' || !message.destinationSettings) {
          throw ApplicationFailure.nonRetryable('an inbound message needs an eventId, a text and its destination settings', ErrorType.InvalidMessage);
        }
        // A redelivery of a message this conversation took is answered as a duplicate even after the close.
        if (state.status === 'closed' && !seen(message.eventId)) {
          throw ApplicationFailure.nonRetryable('the conversation is closed; a new message starts a new conversation', ErrorType.ConversationClosed);
        }
      },
    },
  );
  setHandler(inboundMessageSeenQuery, (eventId: string) => seen(eventId));

  /** Performs the queued operations one at a time, in order; consecutive transcript lines go in one write. */
  const sender = async (): Promise<void> => {
    for (;;) {
      await condition(() => (state.digital?.outbox.length ?? 0) > 0);
      const outbox = state.digital!.outbox;
      const head = outbox[0];
      let taken = 1;
      sending = true;
      try {
        // Never abandoned half-way: a cancelled conversation still says what it already decided to say.
        await CancellationScope.nonCancellable(async () => {
          if (head.kind === 'transcript') {
            const lines: StoredMessage[] = [];
            while (taken <= outbox.length && outbox[taken - 1].kind === 'transcript') {
              lines.push(...(outbox[taken - 1] as Extract<OutboundOp, { kind: 'transcript' }>).messages);
              taken++;
            }
            taken--;
            await appendTranscript({ conversationId, messages: lines });
          } else if (head.kind === 'notify') {
            await notifyCustomer(head.request);
          } else {
            await requestRoutingOperation(head.request);
          }
        });
      } catch (err) {
        // Only a peer's definite refusal (4xx) ends up here; retrying it could not help.
        log.warn('outbound operation refused by its peer; dropped', {
          conversationId,
          kind: head.kind,
          key: head.kind === 'transcript' ? undefined : head.request.key,
          error: err instanceof Error ? err.message : String(err),
        });
      }
      outbox.splice(0, taken);
      sending = false;
    }
  };

  /** One timer at a time: started when a chat starts waiting in a queue, cancelled when it stops. */
  const callbackClock = async (): Promise<void> => {
    for (;;) {
      await condition(() => callbackClockRuns(state));
      const threshold = state.digital!.settings.callbackThresholdMs!;
      const stopped = await condition(() => !callbackClockRuns(state), threshold);
      if (!stopped) {
        offerCallback(state, new Date().toISOString());
        log.info('web callback offered', { conversationId });
      }
    }
  };

  /** The welcome menu's timer: no choice by its deadline (kept across continue-as-new), the default selector. */
  const menuClock = async (): Promise<void> => {
    for (;;) {
      await condition(() => menuWaits(state));
      const chosen = await condition(() => !menuWaits(state), Math.max(1, menuDeadlineMs(state) - Date.now()));
      if (!chosen) {
        menuTimedOut(state, flow);
        hooks.onActivity();
        log.info('welcome menu timed out; the default script selector is taken', { conversationId });
      }
    }
  };

  // A cancelled conversation rejects their waits: that ends them (what was not sent by then is not sent).
  const ended = (what: string) => (err: unknown) => {
    if (!isCancellation(err)) log.error(`${what} stopped`, { conversationId, error: err instanceof Error ? err.message : String(err) });
  };
  // Not awaited: the loops run beside the conversation for its whole life; how each ends is caught here.
  void sender().catch(ended('digital-channel sender'));
  void callbackClock().catch(ended('web-callback clock'));
  void menuClock().catch(ended('welcome-menu clock'));

  return {
    onRoutingEvent(event, wasClosed) {
      const kind = notifyRoutingEvent(state, event, wasClosed, flow);
      if (kind) log.info('notification queued', { conversationId, eventId: event.eventId, kind });
    },
    idle: () => condition(() => !sending && (state.digital?.outbox.length ?? 0) === 0),
    settled: () => condition(() => !sending),
  };
}
