// The conversation's transcript for its export: the messages the store keeps for it (inbound ones
// masked at ingress, outbound ones Parley's own words), oldest first. The one place the export reads them.
import type { StoredMessage } from '../conversation';
import type { ParticipantDataStore } from '../store';

/** A stored message as the export carries it: masked text, never an attachment's content. */
export type TranscriptMessage = StoredMessage;

export function transcriptOf(store: ParticipantDataStore, conversationId: string): Promise<TranscriptMessage[]> {
  return store.listMessages(conversationId);
}
