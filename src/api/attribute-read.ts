// One participant-data value as a caller reads it: the queued one (from the conversation), else the
// stored one (from the store, which keeps it past the workflow's retention). A secured value is
// decrypted for an agent script only; any other caller learns that it exists.
import type { Logger } from 'pino';
import { StoreTimeoutError, StoreUnavailableError, type ParticipantDataStore } from '../store';
import type { ConversationGateway } from './gateway';
import { HttpError } from './temporal-errors';

export interface AttributeRead {
  name: string;
  value?: string;
  source: 'pending' | 'stored';
  secured?: boolean;
}

export interface AttributeReader {
  gateway: ConversationGateway;
  store: ParticipantDataStore;
  logger: Logger;
}

export async function readAttribute(
  { gateway, store, logger }: AttributeReader,
  conversationId: string,
  name: string,
  scopes: ReadonlySet<string> | undefined,
): Promise<AttributeRead | undefined> {
  const answer = async (value: string, source: 'pending' | 'stored', secured: boolean): Promise<AttributeRead> => {
    if (!secured) return { name, value, source };
    if (!scopes?.has('agent-script')) return { name, source, secured: true };
    return { name, value: await gateway.decrypt(conversationId, name, value), source, secured: true };
  };
  const lookup = await gateway.pendingAttribute(conversationId, name);
  // `secured` is absent from runs that started before secured data existed.
  if (lookup?.pending) return answer(lookup.value, 'pending', lookup.secured === true);
  const stored = await store.getAttribute(conversationId, name).catch((err: unknown) => {
    if (err instanceof StoreTimeoutError) throw new HttpError(504, `the participant-data store gave no answer within ${err.timeoutMs} ms (STORE_TIMEOUT); nothing was changed, retry`);
    if (err instanceof StoreUnavailableError) {
      logger.warn({ what: 'getAttribute', error: err.message }, 'participant-data store unreachable');
      throw new HttpError(503, 'the participant-data store is unreachable right now; nothing was changed, retry later');
    }
    throw err;
  });
  return stored ? answer(stored.value, 'stored', stored.secured) : undefined;
}
