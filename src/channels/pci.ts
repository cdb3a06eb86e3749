// PCI masking at ingress: the API calls this on every inbound message before the text reaches
// Temporal, a log line or the store. Pure and dependency-free; never imported by workflow code
// (it needs no Node API, but the workflow only ever sees text that went through it).
//
// Mask format — chosen so a masked message still reads naturally, keeps its length, and masking it
// again changes nothing:
//   card number   every digit but the last four becomes '*', separators stay:
//                 "4111 1111 1111 1111" → "**** **** **** 1111". PCI DSS allows showing at most
//                 the first six and last four; keeping only the last four leaves the customer and
//                 the agent enough to tell cards apart and nothing to look an issuer up with.
//   cvv, expiry   every digit becomes '*', separators stay: "123" → "***", "12/27" → "**/**".
//   track data    every character of the track becomes '*' (it holds the PAN and the holder's name).
// Each masked character is replaced by one '*' per UTF-16 code unit, so `text.length` is unchanged
// and a finding's offsets index both the original and the masked text.

import type { CardRule } from './pci-card';
import { detectSensitive } from './pci-detect';
import { maskWith } from './pci-mask';

// The public types are declared here (the module callers import) and structurally identical to
// the scanner's own.
export interface PciFinding {
  kind: 'card-number' | 'cvv' | 'expiry' | 'track-data';
  /** UTF-16 offsets in the original text; the matched text itself is never kept. */
  start: number;
  end: number;
}

export interface MaskResult {
  text: string;
  findings: PciFinding[];
}

/** Luhn, length and issuer range: measured against Luhn and length alone on the corpus (docs/digital-channels.md). */
const CARD_RULE: CardRule = 'luhn-length-iin';

export function maskSensitiveText(text: string): MaskResult {
  return maskWith(text, CARD_RULE);
}

/**
 * Whether an inbound attachment must be dropped rather than stored. The sender (the channel
 * platform's own PCI check) flags sensitive attachments, and Parley cannot inspect the content,
 * so that flag decides. The one other case: a filename that itself holds card data
 * ("visa-4111111111111111.jpg"), because the filename would otherwise travel unmasked and masking
 * it would no longer name the sender's file. Content type alone says nothing about card data and
 * never drops an attachment.
 */
export function isSensitiveAttachment(a: { sensitive?: boolean; contentType?: string; filename?: string }): boolean {
  if (a.sensitive === true) return true;
  return typeof a.filename === 'string' && detectSensitive(a.filename, { cardRule: CARD_RULE }).length > 0;
}
