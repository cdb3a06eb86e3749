// The end phrase: the words with which a customer ends a digital conversation. Webex Connect's
// inbound flows search the text message for the phrase ("End Conversation" by default) rather than
// compare the whole message with it, so the phrase ends the conversation wherever it stands.
// Imported by workflow code and by the API's configuration check: deterministic, no Node APIs.

export const DEFAULT_END_PHRASE = 'End Conversation';

/** A configured phrase is a few words, not a text: bounded so the search stays cheap on every message. */
export const END_PHRASE_MAX_CHARS = 100;

/** Why a configured phrase cannot be used, or undefined when it can. */
export function endPhraseProblem(phrase: unknown): string | undefined {
  if (typeof phrase !== 'string') return 'must be a string';
  const words = phraseWords(phrase);
  if (words.length === 0) return 'must hold at least one word (not only whitespace)';
  if (phrase.trim().length > END_PHRASE_MAX_CHARS) return `must be at most ${END_PHRASE_MAX_CHARS} characters`;
  return undefined;
}

/**
 * Whether the text holds the phrase: any case, as a whole phrase (neither end glued to a letter,
 * digit or underscore), any run of whitespace between its words (space, tab, newline, no-break
 * space). The phrase is taken literally, whatever characters it holds. A sentence that goes on after
 * the phrase still holds it ("how do I end conversation history?" ends the conversation): the vendor
 * rule is a search for the phrase, and a customer who types it mostly means it.
 */
export function containsEndPhrase(text: string, phrase: string = DEFAULT_END_PHRASE): boolean {
  const words = phraseWords(phrase);
  if (words.length === 0) return false;
  const body = words.map(escapeLiterally).join('\\s+');
  return new RegExp(`(?<![\\p{L}\\p{M}\\p{N}_])${body}(?![\\p{L}\\p{M}\\p{N}_])`, 'iu').test(text);
}

/**
 * The rule before the phrase was searched for: the whole message is "End Conversation", in any
 * case, with any surrounding or repeated whitespace. Kept for conversations whose history was
 * recorded under it.
 */
export function isExactEndKeyword(text: string): boolean {
  return text.trim().replace(/\s+/g, ' ').toLowerCase() === 'end conversation';
}

function phraseWords(phrase: string): string[] {
  return phrase.split(/\s+/u).filter((word) => word.length > 0);
}

/** Escapes the characters the pattern syntax gives a meaning to (the `u` flag accepts no other escape). */
function escapeLiterally(word: string): string {
  return word.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}
