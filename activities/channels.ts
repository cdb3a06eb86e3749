// Digital-channel side effects: a notification through the channel gateway, a task operation on the
// routing platform, transcript lines into the participant-data store. Each is idempotent on a key
// the workflow derives (conversation id, the cause's event id, the kind), so a retry after a crash
// is taken once by the peer and once by the store.
import { trace } from '@opentelemetry/api';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Logger } from 'pino';
import { ActivityErrorType, type Activities, type Delivery, type NotificationRequest, type RoutingRequest, type StoredMessage, type TranscriptLines } from '../src/conversation';
import { PeerRefusedError, type ChannelPeers, type OutboundPeer } from '../src/channels/peers';
import type { ParticipantDataStore } from '../src/store';

export interface ChannelActivityDeps {
  store: ParticipantDataStore;
  logger: Logger;
  /** The gateway and the routing platform; a worker without them fails these activities (never retried). */
  channels?: ChannelPeers;
}

export function createChannelActivities(deps: ChannelActivityDeps): Pick<Activities, 'notifyCustomer' | 'requestRoutingOperation' | 'appendTranscript'> {
  const peers = (): ChannelPeers => {
    if (!deps.channels) {
      throw ApplicationFailure.create({ type: ActivityErrorType.PeerRefused, message: 'this worker has no channel peers configured', nonRetryable: true });
    }
    return deps.channels;
  };

  async function deliver(peer: OutboundPeer, key: string, body: Record<string, unknown>, about: Record<string, unknown>): Promise<'sent' | 'already-sent'> {
    // Heartbeats let Temporal retry a send lost with a crashed worker after the heartbeat timeout.
    const context = Context.current();
    const beat = setInterval(() => context.heartbeat(), 1000);
    try {
      const { delivered } = await peer.deliver(key, body);
      // Ids and kinds only: the address and the words stay out of logs.
      deps.logger.info({ ...about, key, peer: peer.describe, delivered }, 'channel delivery');
      // On the activity's span when tracing is on (a no-op otherwise): the kind of delivery, never the words.
      trace.getActiveSpan()?.setAttribute('parley.delivery', delivered);
      return delivered;
    } catch (err) {
      if (err instanceof PeerRefusedError) {
        deps.logger.error({ ...about, key, peer: peer.describe, status: err.status }, 'channel delivery refused; not retried');
        trace.getActiveSpan()?.setAttributes({ 'parley.delivery': 'refused', ...(typeof err.status === 'number' ? { 'http.response.status_code': err.status } : {}) });
        throw ApplicationFailure.create({ type: ActivityErrorType.PeerRefused, message: err.message, nonRetryable: true });
      }
      deps.logger.warn({ ...about, key, peer: peer.describe, reason: err instanceof Error ? err.message : String(err) }, 'channel delivery failed; will be retried');
      throw err;
    } finally {
      clearInterval(beat);
    }
  }

  return {
    /** Sends one notification through the channel gateway, then adds it to the transcript as an outbound line. */
    async notifyCustomer(request: NotificationRequest): Promise<Delivery> {
      const { key, ...body } = request;
      const delivered = await deliver(peers().gateway, key, { key, ...body }, { conversationId: request.conversationId, kind: request.kind, audience: request.audience });
      if (request.audience === 'customer') {
        const line: StoredMessage = {
          eventId: key,
          channel: request.channel,
          direction: 'outbound',
          occurredAt: request.occurredAt,
          text: request.text,
          attachmentCount: 0,
          ...(request.subject !== undefined ? { subject: request.subject } : {}),
        };
        await deps.store.appendMessages(request.conversationId, [line]);
      }
      return { delivered };
    },

    /** Asks the routing platform to end or cancel a task, or to place a voice callback. */
    async requestRoutingOperation(request: RoutingRequest): Promise<Delivery> {
      const { key, ...body } = request;
      const delivered = await deliver(peers().routing, key, { key, ...body }, { conversationId: request.conversationId, operation: request.operation });
      return { delivered };
    },

    /** Stores transcript lines (idempotent on conversation id and event id). */
    async appendTranscript(input: TranscriptLines): Promise<{ lines: number }> {
      await deps.store.appendMessages(input.conversationId, input.messages);
      return { lines: input.messages.length };
    },
  };
}
