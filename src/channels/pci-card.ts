// What makes a digit sequence a payment card number: the Luhn check, the issuer ranges (IIN) with
// the lengths each issuer uses, and the groupings people type. Pure functions over digit values so
// the scanner in pci-detect.ts stays about text and offsets.

/**
 * 'luhn-length': 13–19 digits and Luhn-valid (the rule as the issue states it).
 * 'luhn-length-iin': also inside a known issuer range at a length that issuer uses. Measured on
 * the corpus (docs/digital-channels.md): it removes the false positives of Luhn-valid identifiers that are
 * not cards (IMEI, SIRET, SIM ICCID, EAN-13, epoch microseconds, zero-padded references) and
 * loses no card.
 */
export type CardRule = 'luhn-length' | 'luhn-length-iin';

export const CARD_MIN_DIGITS = 13;
export const CARD_MAX_DIGITS = 19;

export function luhnValid(digits: readonly number[]): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits[i];
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return digits.length > 0 && sum % 10 === 0;
}

interface IssuerRange {
  brand: string;
  /** Inclusive bounds of the leading digits, both of the same length. */
  from: string;
  to: string;
  lengths: readonly number[];
}

const L16_19 = [16, 17, 18, 19];

// Public ranges of the card schemes. Overlaps are harmless: a number needs to fit one entry.
// Deliberately absent: first digit 0 (no issuer), 7 (petroleum/fleet), 89 (telecom: SIM ICCIDs).
const ISSUER_RANGES: readonly IssuerRange[] = [
  { brand: 'visa', from: '4', to: '4', lengths: [13, 16, 19] },
  { brand: 'mastercard', from: '51', to: '55', lengths: [16] },
  { brand: 'mastercard', from: '2221', to: '2720', lengths: [16] },
  { brand: 'amex', from: '34', to: '34', lengths: [15] },
  { brand: 'amex', from: '37', to: '37', lengths: [15] },
  { brand: 'diners', from: '300', to: '305', lengths: [14, ...L16_19] },
  { brand: 'diners', from: '3095', to: '3095', lengths: [14, ...L16_19] },
  { brand: 'diners', from: '36', to: '36', lengths: [14, ...L16_19] },
  { brand: 'diners', from: '38', to: '39', lengths: [14, ...L16_19] },
  { brand: 'jcb', from: '3528', to: '3589', lengths: L16_19 },
  { brand: 'discover', from: '6011', to: '6011', lengths: L16_19 },
  { brand: 'discover', from: '644', to: '649', lengths: L16_19 },
  { brand: 'discover', from: '65', to: '65', lengths: L16_19 },
  { brand: 'unionpay', from: '62', to: '62', lengths: L16_19 },
  { brand: 'unionpay', from: '81', to: '81', lengths: L16_19 },
  { brand: 'rupay', from: '60', to: '60', lengths: [16] },
  { brand: 'rupay', from: '82', to: '82', lengths: [16] },
  // Maestro also allows 12–15 digits, rarely issued; 13-digit EAN product barcodes start with 50–69 too.
  { brand: 'maestro', from: '50', to: '50', lengths: L16_19 },
  { brand: 'maestro', from: '56', to: '69', lengths: L16_19 },
  { brand: 'mir', from: '2200', to: '2204', lengths: L16_19 },
  { brand: 'troy', from: '9792', to: '9792', lengths: [16] },
  { brand: 'uatp', from: '1', to: '1', lengths: [15] },
];

export function issuerOf(digits: readonly number[]): string | undefined {
  for (const r of ISSUER_RANGES) {
    if (!r.lengths.includes(digits.length)) continue;
    let lead = '';
    for (let i = 0; i < r.from.length; i++) lead += String(digits[i]);
    if (lead >= r.from && lead <= r.to) return r.brand;
  }
  return undefined;
}

export function isCardNumber(digits: readonly number[], rule: CardRule): boolean {
  if (digits.length < CARD_MIN_DIGITS || digits.length > CARD_MAX_DIGITS) return false;
  if (!luhnValid(digits)) return false;
  return rule === 'luhn-length' || issuerOf(digits) !== undefined;
}

/**
 * The groupings in which card numbers are written: one unbroken run of 13–19 digits; groups of
 * four with a shorter last group (4-4-4-1 … 4-4-4-4-3); 4-6-4 (Diners) and 4-6-5 (Amex).
 * Anything else (phone numbers in pairs, 3-7-7 order numbers, a 2-digit group in front) is not a
 * card, whatever its checksum.
 */
export function isUsualGrouping(groups: readonly number[]): boolean {
  const total = groups.reduce((a, b) => a + b, 0);
  if (total < CARD_MIN_DIGITS || total > CARD_MAX_DIGITS) return false;
  if (groups.length === 1) return true;
  if (groups.length === 3 && groups[0] === 4 && groups[1] === 6 && (groups[2] === 4 || groups[2] === 5)) return true;
  for (let i = 0; i < groups.length - 1; i++) if (groups[i] !== 4) return false;
  const last = groups[groups.length - 1];
  return last >= 1 && last <= 4;
}
