// The conversation's transcript for its export. Inbound messages (SMS, chat, email) are stored
// already masked at ingress; this is the one place that reads them for the export.
import type { ParticipantDataStore } from '../store';

/** A stored message as the export carries it: masked text, never an attachment's content. */
export interface TranscriptMessage {
  eventId: string;
  channel: string;
  direction: string;
  occurredAt: string;
  text: string;
  subject?: string;
  attachmentCount: number;
}

/**
 * The store does not keep messages yet (inbound messages arrive with the digital-channels work,
 * which adds `listMessages(conversationId)` to the store): until then every transcript is empty.
 * When it lands, return `store.listMessages(conversationId)` here.
 */
export async function transcriptOf(_store: ParticipantDataStore, _conversationId: string): Promise<TranscriptMessage[]> {
  return [];
}
