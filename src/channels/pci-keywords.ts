// Words that announce a card verification code or an expiry date, in English and French (the
// channel platforms' own documentation and customers write both), and the words that make a
// message about a payment card. Compared after lower-casing and removing accents, so "Sécurité",
// "securite" and "SECURITE" are one word.

export type KeywordKind = 'cvv' | 'expiry';

/** Each phrase is a list of words that follow one another, separated by spaces only. */
const PHRASES: ReadonlyArray<{ words: readonly string[]; kind: KeywordKind }> = [
  ...['cvv', 'cvc', 'cvn', 'csc', 'cid', 'cryptogramme', 'crypto'].map((w) => ({ words: [w], kind: 'cvv' as const })),
  { words: ['security', 'code'], kind: 'cvv' },
  { words: ['card', 'verification'], kind: 'cvv' },
  { words: ['code', 'de', 'securite'], kind: 'cvv' },
  { words: ['code', 'securite'], kind: 'cvv' },
  ...['exp', 'expiry', 'expires', 'expire', 'expiration', 'expiring', 'validite'].map((w) => ({ words: [w], kind: 'expiry' as const })),
  { words: ['valid', 'thru'], kind: 'expiry' },
  { words: ['valid', 'through'], kind: 'expiry' },
  { words: ['good', 'thru'], kind: 'expiry' },
];

/** An expiry keyword alone ("the offer expires 12/25") is not enough: the message must also be about a card. */
export const CARD_WORDS: ReadonlySet<string> = new Set(['card', 'cards', 'carte', 'cartes', 'cb', 'visa', 'mastercard', 'amex', 'maestro']);

/** Longer words are never keywords; normalising them would only cost time on hostile input. */
export const KEYWORD_MAX_CHARS = 16;

export function normaliseWord(word: string): string {
  return word.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

/**
 * The kind of keyword that `recent` (the last words, oldest first, each separated from the next by
 * spaces only) ends with, if any.
 */
export function keywordEndingWith(recent: readonly string[]): KeywordKind | undefined {
  for (const p of PHRASES) {
    if (p.words.length > recent.length) continue;
    const offset = recent.length - p.words.length;
    if (p.words.every((w, i) => recent[offset + i] === w)) return p.kind;
  }
  return undefined;
}

/** How many previous words a phrase can span. */
export const PHRASE_MAX_WORDS = Math.max(...PHRASES.map((p) => p.words.length));
