// The scanner behind maskSensitiveText (pci.ts). One pass collects the runs of digits; every later
// step walks those runs (or the words, for keywords) once, each looking at a bounded window, so the
// time is linear in the text whatever it contains. The regular expressions are single-character
// classes (or run on a word of at most 16 letters), so none can backtrack over the message.
//
// Digits are any Unicode decimal digits (\p{Nd}): a card typed on a phone keyboard in fullwidth
// (４１１１…) or Arabic-Indic digits is still a card. Offsets are UTF-16 code units, as
// String.prototype.slice counts them.

import { CARD_MAX_DIGITS, type CardRule, isCardNumber, isUsualGrouping } from './pci-card';
import { CARD_WORDS, KEYWORD_MAX_CHARS, PHRASE_MAX_WORDS, keywordEndingWith, normaliseWord } from './pci-keywords';

export type FindingKind = 'card-number' | 'cvv' | 'expiry' | 'track-data';

export interface Finding {
  kind: FindingKind;
  start: number;
  end: number;
}

export interface DetectOptions {
  cardRule: CardRule;
}

interface Run {
  start: number;
  end: number;
  /** Number of digits (a digit outside the BMP is two code units). */
  len: number;
}

/** Between the groups of a card number: one space or dash, in any of their Unicode spellings. */
const SEPARATORS = new Set([0x20, 0xa0, 0x2007, 0x202f, 0x3000, 0x2d, 0x2010, 0x2011, 0x2012, 0x2013, 0x2212, 0xfe63, 0xff0d]);
/** Between the month and the year of an expiry date. */
const DATE_SEPARATORS = new Set([0x2f, 0x2e, 0xff0f, ...SEPARATORS]);
/** How far after a keyword its value may start ("cryptogramme visuel au dos : 123"). */
const KEYWORD_WINDOW = 24;
/** How far a verification code or expiry may sit from the card it follows, with no word between. */
const NEAR_GAP_MAX = 3;
const TRACK1_MAX = 79;
const TRACK2_MAX = 40;
const TRACK_PAN_MIN = 12;

const ND = /\p{Nd}/u;
const LETTER = /[\p{L}\p{M}]/u;
// Scripts written without spaces between words: a card number next to them is not glued to a word
// ("カード番号は４１１１…です").
const UNSPACED_SCRIPT = /[\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}\p{sc=Thai}\p{sc=Lao}\p{sc=Khmer}\p{sc=Myanmar}]/u;
const CURRENCY = /\p{Sc}/u;

const digitValues = new Map<number, number>();

/**
 * The value of a decimal digit, or -1. Unicode encodes every decimal digit in a contiguous run of
 * ten, 0 to 9, and runs that touch are whole runs of ten, so the value is the distance from the
 * first digit of the surrounding block, modulo ten.
 */
function digitValue(cp: number): number {
  if (cp >= 0x30 && cp <= 0x39) return cp - 0x30;
  if (cp < 0x80) return -1;
  const known = digitValues.get(cp);
  if (known !== undefined) return known;
  let value = -1;
  if (ND.test(String.fromCodePoint(cp))) {
    let below = 0;
    while (ND.test(String.fromCodePoint(cp - below - 1))) below++;
    value = below % 10;
  }
  if (digitValues.size < 4096) digitValues.set(cp, value);
  return value;
}

export function isDecimalDigit(cp: number): boolean {
  return digitValue(cp) >= 0;
}

export function hasDigit(text: string): boolean {
  return ND.test(text);
}

class Scan {
  readonly runs: Run[] = [];
  readonly consumed: Uint8Array;
  readonly runAt = new Map<number, number>();
  readonly findings: Finding[] = [];

  constructor(readonly text: string, readonly options: DetectOptions) {
    for (let i = 0; i < text.length; ) {
      const cp = text.codePointAt(i) as number;
      const size = cp > 0xffff ? 2 : 1;
      if (digitValue(cp) >= 0) {
        const last = this.runs[this.runs.length - 1];
        if (last !== undefined && last.end === i) {
          last.end += size;
          last.len++;
        } else {
          this.runAt.set(i, this.runs.length);
          this.runs.push({ start: i, end: i + size, len: 1 });
        }
      }
      i += size;
    }
    this.consumed = new Uint8Array(this.runs.length);
  }

  // ---- characters -------------------------------------------------------------------------

  cpAt(i: number): number {
    return i >= 0 && i < this.text.length ? (this.text.codePointAt(i) as number) : -1;
  }
  /** The code point that ends just before offset i. */
  cpBefore(i: number): number {
    if (i <= 0) return -1;
    const unit = this.text.charCodeAt(i - 1);
    if (unit >= 0xdc00 && unit <= 0xdfff && i >= 2) return this.text.codePointAt(i - 2) as number;
    return unit;
  }
  /** A letter of a script that puts spaces between words: a number touching it is part of a word (an IBAN, a reference). */
  static isLetter(cp: number): boolean {
    if (cp < 0) return false;
    if (cp < 0x80) return (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a);
    const ch = String.fromCodePoint(cp);
    return LETTER.test(ch) && !UNSPACED_SCRIPT.test(ch);
  }
  static isDigit(cp: number): boolean {
    return cp >= 0 && digitValue(cp) >= 0;
  }
  /** A digit, or the '*' a mask leaves in its place: masking again must see the same boundaries. */
  static isDigitLike(cp: number): boolean {
    return cp === 0x2a || Scan.isDigit(cp);
  }
  static isCurrency(cp: number): boolean {
    if (cp === 0x24) return true;
    return cp >= 0x80 && CURRENCY.test(String.fromCodePoint(cp));
  }
  static isSeparator(cp: number): boolean {
    return SEPARATORS.has(cp);
  }

  digitsOf(r: Run): number[] {
    const out: number[] = [];
    for (let i = r.start; i < r.end; ) {
      const cp = this.text.codePointAt(i) as number;
      out.push(digitValue(cp));
      i += cp > 0xffff ? 2 : 1;
    }
    return out;
  }

  /** Run k+1 follows run k after exactly one separator. */
  joined(k: number): boolean {
    const a = this.runs[k];
    const b = this.runs[k + 1];
    return b !== undefined && b.start === a.end + 1 && Scan.isSeparator(this.text.charCodeAt(a.end)) && !this.consumed[k + 1];
  }

  /**
   * A value that stands on its own: not glued to letters or digits (or a mask), not the tail of a
   * decimal, a time or a ratio, not an amount.
   */
  standalone(start: number, end: number, afterKeyword = -1): boolean {
    return (start === afterKeyword || this.standsAfter(start)) && this.standsBefore(end);
  }

  private standsAfter(start: number): boolean {
    const before = this.cpBefore(start);
    if (Scan.isLetter(before) || Scan.isDigitLike(before) || Scan.isCurrency(before)) return false;
    if (before >= 0 && (Scan.isSeparator(before) || before === 0x2e || before === 0x2c || before === 0x3a || before === 0x2f)) {
      if (Scan.isDigitLike(this.cpBefore(start - 1))) return false;
    }
    return true;
  }

  private standsBefore(end: number): boolean {
    const after = this.cpAt(end);
    if (Scan.isLetter(after) || Scan.isDigitLike(after) || Scan.isCurrency(after) || after === 0x25) return false;
    if (after >= 0 && (Scan.isSeparator(after) || after === 0x2e || after === 0x2c || after === 0x3a || after === 0x2f)) {
      if (Scan.isDigitLike(this.cpAt(end + 1))) return false;
    }
    return true;
  }

  consume(from: number, to: number): void {
    for (let k = from; k <= to; k++) this.consumed[k] = 1;
  }

  // ---- magnetic stripe tracks ---------------------------------------------------------------

  /**
   * Track 1 `%B<PAN>^<NAME>^<YYMM><service code><discretionary>?` and track 2
   * `;<PAN>=<YYMM><service code><discretionary>?`, also without their sentinels (then the PAN must
   * be Luhn-valid). The whole track is sensitive: it holds the PAN, the name and the expiry.
   */
  tracks(): void {
    const { text, runs } = this;
    for (let k = 0; k < runs.length; k++) {
      const r = runs[k];
      if (this.consumed[k] || r.len < TRACK_PAN_MIN || r.len > CARD_MAX_DIGITS) continue;
      const next = text.charCodeAt(r.end);
      let span: [number, number] | undefined;
      if (next === 0x5e /* ^ */) span = this.track1(r);
      else if (next === 0x3d /* = */) span = this.track2(k);
      if (span === undefined) continue;
      this.findings.push({ kind: 'track-data', start: span[0], end: span[1] });
      for (let m = k; m < runs.length && runs[m].start < span[1]; m++) this.consumed[m] = 1;
    }
  }

  private track1(pan: Run): [number, number] | undefined {
    const { text } = this;
    if (text[pan.start - 1] !== 'B') return undefined;
    const sentinel = text[pan.start - 2] === '%';
    const start = sentinel ? pan.start - 2 : pan.start - 1;
    if (!sentinel && (Scan.isLetter(this.cpBefore(start)) || Scan.isDigitLike(this.cpBefore(start)))) return undefined;
    const limit = Math.min(text.length, start + TRACK1_MAX);
    let i = pan.end + 1;
    while (i < limit && text[i] !== '^' && text[i] !== '?' && text[i] !== '\n') i++;
    if (text[i] !== '^' || i - pan.end - 1 > 26) return undefined;
    i++;
    const date = this.runAt.get(i);
    if (date === undefined || this.runs[date].len < 4) return undefined;
    if (!sentinel && !isCardNumber(this.digitsOf(pan), 'luhn-length')) return undefined;
    while (i < limit && text[i] !== '?' && !/\s/.test(text[i])) i++;
    return [start, i < limit && text[i] === '?' ? i + 1 : i];
  }

  private track2(k: number): [number, number] | undefined {
    const { text } = this;
    const pan = this.runs[k];
    const sentinel = text[pan.start - 1] === ';';
    const start = sentinel ? pan.start - 1 : pan.start;
    if (!sentinel && (Scan.isLetter(this.cpBefore(start)) || Scan.isDigitLike(this.cpBefore(start)))) return undefined;
    const data = this.runs[k + 1];
    if (data === undefined || data.start !== pan.end + 1 || data.len < 4) return undefined;
    let end = data.end;
    if (text[end] === '?') end++;
    if (end - start > TRACK2_MAX) return undefined;
    if (!sentinel && !isCardNumber(this.digitsOf(pan), 'luhn-length')) return undefined;
    return [start, end];
  }

  // ---- card numbers and what follows them -----------------------------------------------------

  /** The last run of the longest card number that starts at run `from` (runs joined by separators), or -1. */
  cardAt(from: number): number {
    if (this.consumed[from]) return -1;
    const groups: number[] = [];
    const digits: number[] = [];
    let best = -1;
    for (let k = from; k < this.runs.length; k++) {
      const r = this.runs[k];
      if (digits.length + r.len > CARD_MAX_DIGITS) break;
      groups.push(r.len);
      digits.push(...this.digitsOf(r));
      // "6011 1111 1111 1117 12/27": the 12 is a month, not the end of an 18-digit card.
      const monthOfExpiry = k > from && this.expiryAt(k) !== undefined;
      if (!monthOfExpiry && isUsualGrouping(groups) && isCardNumber(digits, this.options.cardRule)) best = k;
      if (!this.joined(k)) break;
    }
    return best;
  }

  /**
   * Card numbers must not be glued to letters (IBANs, references like "INV4111…"), follow a '+'
   * (an international phone number) or be part of a decimal number: what comes before a chain
   * of groups, and after the run where a card ends.
   */
  mayStartCard(first: Run): boolean {
    const before = this.cpBefore(first.start);
    if (Scan.isLetter(before) || before === 0x2b /* + */) return false;
    return !((before === 0x2e || before === 0x2c) && Scan.isDigitLike(this.cpBefore(first.start - 1)));
  }

  mayEndCard(last: Run): boolean {
    const after = this.cpAt(last.end);
    if (Scan.isLetter(after)) return false;
    return !((after === 0x2e || after === 0x2c) && Scan.isDigitLike(this.cpAt(last.end + 1)));
  }

  /**
   * A verification code or an expiry at run k, close to what precedes it (prevEnd): only spaces or
   * punctuation between, at most NEAR_GAP_MAX characters. Returns the token and its last run.
   */
  nearToken(k: number, prevEnd: number): { finding: Finding; last: number } | undefined {
    const r = this.runs[k];
    if (r === undefined || this.consumed[k]) return undefined;
    const gap = r.start - prevEnd;
    if (gap < 1 || gap > NEAR_GAP_MAX) return undefined;
    for (let i = prevEnd; i < r.start; i++) {
      const c = this.text.charCodeAt(i);
      if (Scan.isLetter(c) || c === 0x2a || Scan.isCurrency(c)) return undefined;
    }
    const expiry = this.expiryAt(k);
    if (expiry !== undefined) {
      const end = this.runs[expiry].end;
      const after = this.cpAt(end);
      if (Scan.isLetter(after) || Scan.isCurrency(after) || after === 0x25) return undefined; // "12.50€" is an amount
      return { finding: { kind: 'expiry', start: r.start, end }, last: expiry };
    }
    if (r.len < 3 || r.len > 4) return undefined;
    const after = this.cpAt(r.end);
    if (Scan.isLetter(after) || Scan.isCurrency(after) || after === 0x25) return undefined;
    if ((after === 0x2e || after === 0x2c) && Scan.isDigitLike(this.cpAt(r.end + 1))) return undefined;
    let kind: FindingKind = 'cvv';
    // "4111… 1227 123": a four-digit month-year followed by the code.
    if (r.len === 4 && this.startsWithMonth(r) && this.cvvShapedAfter(k)) kind = 'expiry';
    return { finding: { kind, start: r.start, end: r.end }, last: k };
  }

  private cvvShapedAfter(k: number): boolean {
    const next = this.runs[k + 1];
    const r = this.runs[k];
    if (next === undefined || next.len < 3 || next.len > 4) return false;
    const gap = next.start - r.end;
    if (gap < 1 || gap > NEAR_GAP_MAX) return false;
    for (let i = r.end; i < next.start; i++) if (Scan.isLetter(this.text.charCodeAt(i))) return false;
    return true;
  }

  /** The run's first two digits (its only digit if it has one) are a month, 01–12. Callers bound r.len. */
  startsWithMonth(r: Run): boolean {
    const d = this.digitsOf(r);
    const m = d.length === 1 ? d[0] : d[0] * 10 + d[1];
    return m >= 1 && m <= 12;
  }

  /**
   * MM/YY, MM/YYYY, MM-YY, MM.YY, MM YY, MM / YY (one or two month digits) starting at run k: its
   * last run, or undefined.
   */
  expiryAt(k: number): number | undefined {
    const mm = this.runs[k];
    const yy = this.runs[k + 1];
    if (mm === undefined || yy === undefined || this.consumed[k + 1] || mm.len > 2) return undefined;
    if (yy.start - mm.end !== 1 && yy.start - mm.end !== 3) return undefined;
    const gap = this.text.slice(mm.end, yy.start);
    if (!(gap.length === 1 && DATE_SEPARATORS.has(gap.charCodeAt(0))) && gap !== ' / ' && gap !== ' - ') return undefined;
    if (!this.startsWithMonth(mm)) return undefined;
    if (yy.len === 2) return k + 1;
    if (yy.len === 4) {
      const y = this.digitsOf(yy);
      if ((y[0] === 1 && y[1] === 9) || (y[0] === 2 && y[1] === 0)) return k + 1;
    }
    return undefined;
  }

  cards(): void {
    const { runs } = this;
    for (let k = 0; k < runs.length; ) {
      if (this.consumed[k]) {
        k++;
        continue;
      }
      let last = k;
      while (this.joined(last)) last++;
      this.chain(k, last);
      k = last + 1;
    }
  }

  /**
   * A chain of runs joined by single separators. It holds cards from its first run on, each
   * followed by at most two codes (expiry, verification code); whatever is left at the end must be
   * short (three groups, eight digits), or the chain is one long reference and nothing in it is a card.
   */
  private chain(first: number, last: number): void {
    if (!this.mayStartCard(this.runs[first])) return;
    const found: Finding[] = [];
    let pos = first;
    let tokenEnd = -1;
    let tokens = 0;
    // A code may end past the chain: in "4111… 12/27" the chain ends at the month.
    for (;;) {
      const card = pos <= last ? this.cardAt(pos) : -1;
      // Inside the chain a separator follows the card; at its end, whatever the text holds.
      if (card >= 0 && card <= last && (card < last || this.mayEndCard(this.runs[card]))) {
        found.push({ kind: 'card-number', start: this.runs[pos].start, end: this.runs[card].end });
        this.consume(pos, card);
        tokenEnd = this.runs[card].end;
        tokens = 0;
        pos = card + 1;
        continue;
      }
      if (found.length === 0 || tokens >= 2 || pos > last) break;
      const token = this.nearToken(pos, tokenEnd);
      if (token === undefined) break;
      found.push(token.finding);
      this.consume(pos, token.last);
      tokenEnd = token.finding.end;
      tokens++;
      pos = token.last + 1;
    }
    if (found.length === 0) return;
    let leftGroups = 0;
    let leftDigits = 0;
    for (let k = pos; k <= last; k++) {
      leftGroups++;
      leftDigits += this.runs[k].len;
    }
    if (leftGroups > 3 || leftDigits > 8) {
      for (let k = first; k < Math.max(pos, last + 1); k++) this.consumed[k] = 0;
      return;
    }
    for (const f of found) this.findings.push(f); // not push(...found): a chain can hold 10⁵ cards
    if (pos <= last) return;
    // Codes after the chain, on the same line or the next: "4111…, 12/27, 123".
    for (let k = pos; tokens < 2 && k < this.runs.length; tokens++) {
      if (this.cardAt(k) >= 0) return;
      const token = this.nearToken(k, tokenEnd);
      if (token === undefined) return;
      this.findings.push(token.finding);
      this.consume(k, token.last);
      tokenEnd = token.finding.end;
      k = token.last + 1;
    }
  }

  // ---- keywords -------------------------------------------------------------------------------

  /**
   * "cvv 123", "cryptogramme : 123", "exp. 12/27", "date d'expiration 12/2027": the first value in
   * the window after a keyword. Verification codes are masked on the keyword alone; an expiry
   * only when the message is about a card (a card, track or code found, or a card word).
   */
  keywords(): void {
    const { text } = this;
    const recent: string[] = [];
    let recentEnd = -1;
    let cardWord = false;
    const expiries: Array<{ start: number; end: number; first: number; last: number }> = [];
    for (let i = 0; i < text.length; ) {
      const cp = text.codePointAt(i) as number;
      if (!Scan.isLetter(cp)) {
        i += cp > 0xffff ? 2 : 1;
        continue;
      }
      const start = i;
      while (i < text.length && Scan.isLetter(text.codePointAt(i) as number)) i += (text.codePointAt(i) as number) > 0xffff ? 2 : 1;
      if (i - start > KEYWORD_MAX_CHARS) {
        recent.length = 0;
        continue;
      }
      const word = normaliseWord(text.slice(start, i));
      if (CARD_WORDS.has(word)) cardWord = true;
      // Phrases are words separated by spaces only.
      if (recentEnd < 0 || start - recentEnd > 3 || !/^ +$/.test(text.slice(recentEnd, start))) recent.length = 0;
      recent.push(word);
      if (recent.length > PHRASE_MAX_WORDS) recent.shift();
      recentEnd = i;
      const kind = keywordEndingWith(recent);
      if (kind === undefined) continue;
      const value = this.valueAfter(i);
      if (value === undefined) continue;
      // A value glued to its keyword ("cvv123", "exp12/27") is still its value.
      if (kind === 'cvv') this.keywordCvv(value, i);
      else {
        const e = this.keywordExpiry(value, i);
        if (e !== undefined) expiries.push(e);
      }
    }
    const paymentContext = cardWord || this.findings.length > 0;
    if (!paymentContext) return;
    for (const e of expiries) {
      if (this.consumed[e.first]) continue;
      this.findings.push({ kind: 'expiry', start: e.start, end: e.end });
      this.consume(e.first, e.last);
    }
  }

  /** The run where the first value after a keyword ending at `from` starts, within the window. */
  private valueAfter(from: number): number | undefined {
    const limit = Math.min(this.text.length, from + KEYWORD_WINDOW);
    let i = from;
    // "cvv2", "cvc2": the 2 belongs to the keyword.
    const glued = this.runAt.get(i);
    if (glued !== undefined && this.runs[glued].len === 1 && this.digitsOf(this.runs[glued])[0] === 2) i = this.runs[glued].end;
    for (; i < limit; i++) {
      const c = this.text.charCodeAt(i);
      if (c === 0x2a) return undefined;
      const k = this.runAt.get(i);
      if (k !== undefined) return k;
    }
    return undefined;
  }

  private keywordCvv(k: number, keywordEnd: number): void {
    const r = this.runs[k];
    if (this.consumed[k] || r.len < 3 || r.len > 4 || !this.standalone(r.start, r.end, keywordEnd)) return;
    this.findings.push({ kind: 'cvv', start: r.start, end: r.end });
    this.consumed[k] = 1;
  }

  private keywordExpiry(k: number, keywordEnd: number): { start: number; end: number; first: number; last: number } | undefined {
    if (this.consumed[k]) return undefined;
    const r = this.runs[k];
    const last = this.expiryAt(k);
    if (last !== undefined) {
      const end = this.runs[last].end;
      return this.standalone(r.start, end, keywordEnd) ? { start: r.start, end, first: k, last } : undefined;
    }
    // MMYY written as one number: "exp 1227".
    if (r.len === 4 && this.startsWithMonth(r) && this.standalone(r.start, r.end, keywordEnd)) return { start: r.start, end: r.end, first: k, last: k };
    return undefined;
  }
}

export function detectSensitive(text: string, options: DetectOptions): Finding[] {
  if (!hasDigit(text)) return [];
  const scan = new Scan(text, options);
  scan.tracks();
  scan.cards();
  scan.keywords();
  return scan.findings.sort((a, b) => a.start - b.start);
}
