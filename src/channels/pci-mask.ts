// Applies the mask format documented in pci.ts to the findings of the scanner. Separate from
// pci.ts so the corpus evaluation can run the masker under either card rule.

import type { CardRule } from './pci-card';
import { type Finding, type FindingKind, detectSensitive, isDecimalDigit } from './pci-detect';

/** The masker under a given card rule; the corpus evaluation compares the rules with it. */
export function maskWith(text: string, cardRule: CardRule): { text: string; findings: Finding[] } {
  const findings = detectSensitive(text, { cardRule });
  if (findings.length === 0) return { text, findings: [] };
  let out = '';
  let at = 0;
  for (const f of findings) {
    out += text.slice(at, f.start) + maskSpan(text.slice(f.start, f.end), f.kind);
    at = f.end;
  }
  out += text.slice(at);
  return { text: out, findings: findings.map(({ kind, start, end }) => ({ kind, start, end })) };
}

function maskSpan(span: string, kind: FindingKind): string {
  if (kind === 'track-data') return '*'.repeat(span.length);
  let digits = 0;
  for (const ch of span) if (isDecimalDigit(ch.codePointAt(0) as number)) digits++;
  const keep = kind === 'card-number' ? 4 : 0;
  let seen = 0;
  let out = '';
  for (const ch of span) {
    if (isDecimalDigit(ch.codePointAt(0) as number) && seen++ < digits - keep) out += '*'.repeat(ch.length);
    else out += ch;
  }
  return out;
}

