// The participant-data queue: writes wait in the conversation's state and reach the store in one
// batch when the conversation ends (or at a hand-over); these rules decide what the batch holds.
import { type AttributeWriteOutcome, type ConversationState, type RefusedWrite, attributeWriteKey } from './messages';
import { APPLIED_WRITE_WINDOW, REFUSED_WRITE_NAMES_KEPT, REFUSED_WRITES_KEPT, STORED_NAMES_KEPT } from './state';

/**
 * Queues an attribute write (last write wins) unless the same write id was already applied, in
 * this run or an earlier one: a retried write must not overwrite what was written after it.
 */
export function applyAttributeWrite(
  state: ConversationState,
  attributes: Record<string, string>,
  writeId: string | undefined,
  secured = false,
): 'applied' | 'duplicate' {
  if (writeId !== undefined) {
    if (state.appliedWriteIds.includes(writeId)) return 'duplicate';
    state.appliedWriteIds.push(writeId);
    if (state.appliedWriteIds.length > APPLIED_WRITE_WINDOW) state.appliedWriteIds.splice(0, state.appliedWriteIds.length - APPLIED_WRITE_WINDOW);
  }
  Object.assign(state.pending, attributes);
  // The last write decides whether a name holds secured data, as it decides the value.
  const securedNames = new Set(state.pendingSecured);
  for (const name of Object.keys(attributes)) {
    if (secured) securedNames.add(name);
    else securedNames.delete(name);
  }
  state.pendingSecured = [...securedNames];
  return 'applied';
}

/**
 * Remembers the names of a written batch: the most recent STORED_NAMES_KEPT distinct names, the
 * latest written last; `storedNamesTruncated` says older ones were left out (the store has them).
 */
export function rememberStored(state: ConversationState, names: string[]): void {
  const written = new Set(names);
  const kept = [...state.storedNames.filter((name) => !written.has(name)), ...written];
  if (kept.length > STORED_NAMES_KEPT) {
    kept.splice(0, kept.length - STORED_NAMES_KEPT);
    state.storedNamesTruncated = true;
  }
  state.storedNames = kept;
}

/** Removes names from the queue once their batch is written (their secured mark goes with them). */
export function dequeueWritten(state: ConversationState, written: Record<string, string>): void {
  for (const [name, value] of Object.entries(written)) {
    // A write that arrived while the batch was in flight stays queued for the next batch.
    if (state.pending[name] === value) delete state.pending[name];
  }
  state.pendingSecured = state.pendingSecured.filter((name) => Object.hasOwn(state.pending, name));
}

/** Keeps a refused accepted write's outcome (the latest refusal of that id replaces an earlier one), its names bounded. */
export function rememberRefused(state: ConversationState, refusal: { writeId: string; reason: string; message: string; names: string[] }): void {
  const { names, ...rest } = refusal;
  const refused: RefusedWrite = { ...rest, names: names.slice(0, REFUSED_WRITE_NAMES_KEPT) };
  if (names.length > REFUSED_WRITE_NAMES_KEPT) refused.moreNames = names.length - REFUSED_WRITE_NAMES_KEPT;
  const kept = (state.refusedWrites ?? []).filter((r) => r.writeId !== refused.writeId);
  kept.push(refused);
  if (kept.length > REFUSED_WRITES_KEPT) kept.splice(0, kept.length - REFUSED_WRITES_KEPT);
  state.refusedWrites = kept;
}

/** What became of the write the caller named `writeId` (its Idempotency-Key, or the id a 202 gave it). */
export function attributeWriteOutcome(state: ConversationState, writeId: string): AttributeWriteOutcome {
  // Applied wins: a write refused while the store was behind may be sent again and taken.
  if (state.appliedWriteIds.includes(attributeWriteKey(writeId))) return { writeId, status: 'applied' };
  const refused = state.refusedWrites?.find((r) => r.writeId === writeId);
  if (refused) return { status: 'refused', ...refused, names: [...refused.names] };
  return { writeId, status: 'unknown' };
}
