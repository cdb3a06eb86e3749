// Precision and recall of a masker over the PCI corpus (pci-corpus.json). The corpus marks each
// sensitive span inline, `[[kind:text]]`, so a reviewer reads the expected result in the message
// itself; parseMarked turns that into the plain text and the expected findings, and
// expectedMasking writes the expected output from the mask format's rules, independently of the
// masker under test.

import corpusJson from './pci-corpus.json';

export type Kind = 'card-number' | 'cvv' | 'expiry' | 'track-data';
const KINDS: readonly Kind[] = ['card-number', 'cvv', 'expiry', 'track-data'];

export interface Span {
  kind: Kind;
  start: number;
  end: number;
}

export interface CorpusCase {
  id: string;
  text: string;
  expected: Span[];
}

export interface Masker {
  (text: string): { text: string; findings: Span[] };
}

export function parseMarked(marked: string): { text: string; expected: Span[] } {
  const expected: Span[] = [];
  let text = '';
  let i = 0;
  for (;;) {
    const open = marked.indexOf('[[', i);
    if (open < 0) break;
    const colon = marked.indexOf(':', open);
    const close = marked.indexOf(']]', colon);
    const kind = marked.slice(open + 2, colon) as Kind;
    if (colon < 0 || close < 0 || !KINDS.includes(kind)) throw new Error(`bad marker at ${open} in ${JSON.stringify(marked)}`);
    text += marked.slice(i, open);
    const start = text.length;
    text += marked.slice(colon + 1, close);
    expected.push({ kind, start, end: text.length });
    i = close + 2;
  }
  return { text: text + marked.slice(i), expected };
}

export function loadCorpus(): { positives: CorpusCase[]; negatives: CorpusCase[] } {
  return {
    positives: corpusJson.positives.map((c) => ({ id: c.id, ...parseMarked(c.marked) })),
    negatives: corpusJson.negatives.map((c) => ({ id: c.id, text: c.text, expected: [] })),
  };
}

const DIGIT = /\p{Nd}/u;

/**
 * The mask format, restated: a card keeps its last four digits, a code or an expiry keeps none,
 * separators stay, a track becomes all '*'; one '*' per UTF-16 code unit.
 */
export function expectedMasking(text: string, spans: readonly Span[]): string {
  let out = '';
  let at = 0;
  for (const s of [...spans].sort((a, b) => a.start - b.start)) {
    out += text.slice(at, s.start);
    const chars = Array.from(text.slice(s.start, s.end));
    const digits = chars.filter((c) => DIGIT.test(c)).length;
    const keep = s.kind === 'card-number' ? 4 : 0;
    let seen = 0;
    for (const c of chars) {
      if (s.kind === 'track-data') out += '*'.repeat(c.length);
      else if (DIGIT.test(c) && seen++ < digits - keep) out += '*'.repeat(c.length);
      else out += c;
    }
    at = s.end;
  }
  return out + text.slice(at);
}

export interface Evaluation {
  truePositives: number;
  falsePositives: number;
  falseNegatives: number;
  precision: number;
  recall: number;
  /** Cases whose findings differ from the expected ones, with what differs. */
  mistakes: Array<{ id: string; missed: Span[]; extra: Span[] }>;
}

const same = (a: Span, b: Span): boolean => a.kind === b.kind && a.start === b.start && a.end === b.end;

/** Counted per sensitive span: a finding is right only with the expected kind and exact offsets. */
export function evaluate(cases: readonly CorpusCase[], mask: Masker): Evaluation {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  const mistakes: Evaluation['mistakes'] = [];
  for (const c of cases) {
    const found = mask(c.text).findings;
    const missed = c.expected.filter((e) => !found.some((f) => same(e, f)));
    const extra = found.filter((f) => !c.expected.some((e) => same(e, f)));
    tp += found.length - extra.length;
    fp += extra.length;
    fn += missed.length;
    if (missed.length > 0 || extra.length > 0) mistakes.push({ id: c.id, missed, extra });
  }
  return {
    truePositives: tp,
    falsePositives: fp,
    falseNegatives: fn,
    precision: tp + fp === 0 ? 1 : tp / (tp + fp),
    recall: tp + fn === 0 ? 1 : tp / (tp + fn),
    mistakes,
  };
}

export function describeEvaluation(label: string, e: Evaluation): string {
  const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
  const lines = [
    `${label}: precision ${pct(e.precision)}, recall ${pct(e.recall)} (${e.truePositives} true positives, ${e.falsePositives} false positives, ${e.falseNegatives} missed)`,
  ];
  for (const m of e.mistakes) {
    const show = (s: Span): string => `${s.kind}@${s.start}-${s.end}`;
    lines.push(`  ${m.id}: missed [${m.missed.map(show).join(', ')}] extra [${m.extra.map(show).join(', ')}]`);
  }
  return lines.join('\n');
}
