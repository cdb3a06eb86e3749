// One participant-data value as a caller reads it: the queued one (from the conversation), else the
// stored one (from the store, which keeps it past the workflow's retention). A secured value is
// decrypted here, in the API, for the two readers allowed its plaintext: a flow that asks for it
// explicitly (Genesys Architect's Get Secured Data) and an agent script. A plain read by a flow
// only learns that the value exists, so a Get Participant Data never hands out a secured value by
// accident.
import type { Logger } from 'pino';
import type { Scope } from '../security/auth';
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

/** Who reads, and how: `secured` is the explicit secured read (Get Secured Data). */
export interface ReadAccess {
  scopes: ReadonlySet<Scope> | undefined;
  /** The token's configured name, for the audit line of a decrypted read (never the token). */
  caller?: string;
  secured: boolean;
}

/** The scopes that may ask for the explicit secured read. */
export const SECURED_READ_SCOPES: readonly Scope[] = ['flow', 'agent-script'];

/**
 * Whether this read gets a secured value's plaintext: an agent script always (its script is the
 * only place an agent sees the value), a flow only through the explicit secured read.
 */
export function readsPlaintext(access: ReadAccess): boolean {
  if (access.scopes?.has('agent-script')) return true;
  return access.secured && SECURED_READ_SCOPES.some((scope) => access.scopes?.has(scope));
}

export async function readAttribute(
  { gateway, store, logger }: AttributeReader,
  conversationId: string,
  name: string,
  access: ReadAccess,
): Promise<AttributeRead | undefined> {
  // The route's scope hook admits the same scopes; this keeps the rule true for any future caller.
  if (access.secured && !SECURED_READ_SCOPES.some((scope) => access.scopes?.has(scope))) {
    throw new HttpError(403, 'the secured read needs a token with the scope "flow" or "agent-script"');
  }
  const answer = async (value: string, source: 'pending' | 'stored', secured: boolean): Promise<AttributeRead> => {
    if (!secured) return { name, value, source };
    if (!readsPlaintext(access)) return { name, source, secured: true };
    const plaintext = await gateway.decrypt(conversationId, name, value);
    // Who read which secured value, and from where: an audit trail that names, never shows, the value.
    logger.info({ what: 'secured value read', conversationId, attribute: name, source, caller: access.caller, explicit: access.secured }, 'secured value decrypted for a caller');
    return { name, value: plaintext, source, secured: true };
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
