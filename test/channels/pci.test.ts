// PCI masking at ingress: every corpus case, precision and recall over the corpus (for the chosen
// card rule and for Luhn and length alone), properties over generated cards and texts, hostile
// input, and the attachment rule.
import fc from 'fast-check';
import { isSensitiveAttachment, maskSensitiveText } from '../../src/channels/pci';
import { maskWith } from '../../src/channels/pci-mask';
import { type Span, describeEvaluation, evaluate, expectedMasking, loadCorpus } from './pci-metrics';

const corpus = loadCorpus();

describe('corpus', () => {
  test('has at least 60 true positives and 60 true negatives', () => {
    expect(corpus.positives.length).toBeGreaterThanOrEqual(60);
    expect(corpus.negatives.length).toBeGreaterThanOrEqual(60);
    expect(corpus.positives.every((c) => c.expected.length > 0)).toBe(true);
  });

  test.each(corpus.positives.map((c) => [c.id, c] as const))('positive %s: exactly the marked spans are masked', (_id, c) => {
    const result = maskSensitiveText(c.text);
    expect(result.findings).toEqual(c.expected);
    expect(result.text).toBe(expectedMasking(c.text, c.expected));
  });

  test.each(corpus.negatives.map((c) => [c.id, c] as const))('negative %s: left as written', (_id, c) => {
    expect(maskSensitiveText(c.text)).toEqual({ text: c.text, findings: [] });
  });

  test('precision and recall: 1 with issuer ranges; Luhn and length alone is measured for comparison', () => {
    const all = [...corpus.positives, ...corpus.negatives];
    const chosen = evaluate(all, maskSensitiveText);
    const luhnOnly = evaluate(all, (text) => maskWith(text, 'luhn-length'));
    console.log(
      [
        `PCI corpus: ${corpus.positives.length} true-positive texts (${corpus.positives.reduce((n, c) => n + c.expected.length, 0)} sensitive spans), ${corpus.negatives.length} true-negative texts`,
        describeEvaluation('Luhn + length + issuer range (used)', chosen),
        describeEvaluation('Luhn + length only', luhnOnly),
      ].join('\n'),
    );
    expect(chosen.mistakes).toEqual([]);
    expect(chosen.precision).toBe(1);
    expect(chosen.recall).toBe(1);
    // The reason for the choice: the issuer table may only remove false positives here.
    expect(chosen.precision).toBeGreaterThanOrEqual(luhnOnly.precision);
    expect(chosen.recall).toBeGreaterThanOrEqual(luhnOnly.recall);
  });
});

describe('mask format', () => {
  test.each([
    ['4111 1111 1111 1111', '**** **** **** 1111'],
    ['4111-1111-1111-1111', '****-****-****-1111'],
    ['3782 822463 10005', '**** ****** *0005'],
    ['card 4111111111111111 exp 12/27 cvv 123', 'card ************1111 exp **/** cvv ***'],
    ['%B4111111111111111^DOE/JOHN^27121011000000000000?', '*************************************************'],
    ['４１１１ １１１１ １１１１ １１１１', '**** **** **** １１１１'],
  ])('%j → %j', (input, output) => {
    expect(maskSensitiveText(input).text).toBe(output);
  });

  test('digits outside the BMP: one * per UTF-16 code unit, so offsets still index both texts', () => {
    // Mathematical bold digits, U+1D7CE… (two code units each).
    const bold = (s: string): string => s.replace(/[0-9]/g, (d) => String.fromCodePoint(0x1d7ce + Number(d)));
    const input = `card ${bold('4111 1111 1111 1111')} ok`;
    const { text, findings } = maskSensitiveText(input);
    expect(findings).toEqual([{ kind: 'card-number', start: 5, end: 5 + bold('4111 1111 1111 1111').length }]);
    expect(text).toBe(`card ******** ******** ******** ${bold('1111')} ok`);
    expect(text.length).toBe(input.length);
  });

  test('a finding carries its kind and offsets, never the matched text', () => {
    const { findings } = maskSensitiveText('pay 4111 1111 1111 1111 cvv 123');
    expect(findings).toEqual([
      { kind: 'card-number', start: 4, end: 23 },
      { kind: 'cvv', start: 28, end: 31 },
    ]);
    for (const f of findings) expect(Object.keys(f).sort()).toEqual(['end', 'kind', 'start']);
    expect(JSON.stringify(findings)).not.toContain('4111');
  });
});

// ---- generators ---------------------------------------------------------------------------------

/** Luhn, written again here so the properties do not trust the implementation under test. */
function checkDigit(body: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < body.length; i++) {
    let d = body[body.length - 1 - i];
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return (10 - (sum % 10)) % 10;
}

/** Issuer prefixes with a length each issuer uses. */
const BRANDS: ReadonlyArray<readonly [string, number]> = [
  ['4', 16], ['4', 13], ['4', 19], ['51', 16], ['55', 16], ['2221', 16], ['2720', 16], ['34', 15], ['37', 15],
  ['300', 14], ['36', 14], ['38', 16], ['3528', 16], ['3589', 19], ['6011', 16], ['644', 16], ['65', 19],
  ['62', 17], ['81', 16], ['50', 16], ['67', 18], ['2200', 16], ['9792', 16], ['1', 15], ['60', 16], ['82', 16],
];

const pan = fc
  .tuple(fc.constantFrom(...BRANDS), fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 19, maxLength: 19 }))
  .map(([[prefix, length], random]) => {
    const body = [...prefix].map(Number).concat(random).slice(0, length - 1);
    return [...body, checkDigit(body)].join('');
  });

const FULLWIDTH = (s: string): string => s.replace(/[0-9]/g, (d) => String.fromCharCode(0xff10 + Number(d)));

function grouped(digits: string, sizes: readonly number[], sep: string): string {
  const parts: string[] = [];
  let at = 0;
  for (const n of sizes) {
    if (at >= digits.length) break;
    parts.push(digits.slice(at, at + n));
    at += n;
  }
  return parts.join(sep);
}

/** A PAN written in one of the supported formats. */
const writtenPan = fc
  .tuple(pan, fc.constantFrom('plain', 'fours', 'amex-diners'), fc.constantFrom(' ', '-', '\u00a0', '\u2013'), fc.boolean())
  .map(([digits, format, sep, fullwidth]) => {
    let text = digits;
    if (format === 'fours') text = grouped(digits, [4, 4, 4, 4, 4], sep);
    if (format === 'amex-diners' && (digits.length === 14 || digits.length === 15)) text = grouped(digits, [4, 6, 5], sep);
    return { digits, text: fullwidth ? FULLWIDTH(text) : text };
  });

const anyText = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }));

function checkInvariants(input: string, result: { text: string; findings: Span[] }): void {
  expect(result.text.length).toBe(input.length);
  let at = 0;
  for (const f of result.findings) {
    expect(f.start).toBeGreaterThanOrEqual(at);
    expect(f.end).toBeGreaterThan(f.start);
    expect(f.end).toBeLessThanOrEqual(input.length);
    expect(result.text.slice(at, f.start)).toBe(input.slice(at, f.start));
    expect(result.text.slice(f.start, f.end)).toBe(expectedMasking(input.slice(f.start, f.end), [{ ...f, start: 0, end: f.end - f.start }]));
    const digits = Array.from(input.slice(f.start, f.end)).filter((c) => /\p{Nd}/u.test(c)).length;
    if (f.kind === 'card-number') expect(digits).toBeGreaterThanOrEqual(13);
    if (f.kind === 'cvv') expect([3, 4]).toContain(digits);
    at = f.end;
  }
  expect(result.text.slice(at)).toBe(input.slice(at));
}

describe('properties', () => {
  test('a Luhn-valid card in any supported format, inside any text, is masked at its exact offsets', () => {
    fc.assert(
      fc.property(anyText, fc.constantFrom('\n', ': ', ' (', '\t'), writtenPan, fc.constantFrom('\n', '. ', ') ', '\t', ', '), anyText, (before, open, card, close, after) => {
        const input = before + open + card.text + close + after;
        const start = before.length + open.length;
        const result = maskSensitiveText(input);
        expect(result.findings).toContainEqual({ kind: 'card-number', start, end: start + card.text.length });
        const masked = result.text.slice(start, start + card.text.length);
        // Only its last four digits survive, so the output holds no run of 13 (or even 5) of the card's digits.
        expect(Array.from(masked).filter((c) => /\p{Nd}/u.test(c)).join('')).toBe(Array.from(card.text).filter((c) => /\p{Nd}/u.test(c)).slice(-4).join(''));
        checkInvariants(input, result);
      }),
      { numRuns: 2000 },
    );
  });

  // Texts made of the pieces the scanner cares about, so the properties reach its corners.
  const piece = fc.oneof(
    writtenPan.map((p) => p.text),
    fc.constantFrom('cvv', 'CVV2', 'exp', 'expires', 'cryptogramme', 'code de sécurité', 'card', 'carte', 'valid thru', '12/27', '09/2028', '123', '1227', '0456'),
    fc.constantFrom(' ', '-', '\n', '/', '*', '**', '+', '%B', 'B', '^', '=', ';', '?', '€', '.', ',', ':', 'DOE/JOHN', '\u00a0'),
    fc.stringMatching(/^[0-9]{1,20}$/),
    anyText,
  );
  const pieces = fc.array(piece, { maxLength: 24 }).map((xs) => xs.join(''));

  test('masking is idempotent and every finding has correct offsets', () => {
    fc.assert(
      fc.property(fc.oneof(pieces, anyText), (input) => {
        const once = maskSensitiveText(input);
        checkInvariants(input, once);
        const twice = maskSensitiveText(once.text);
        expect(twice.text).toBe(once.text);
        expect(twice.findings).toEqual([]);
      }),
      { numRuns: 5000 },
    );
  });

  test('a text without digits is returned unchanged', () => {
    fc.assert(
      fc.property(anyText, fc.array(fc.constantFrom('cvv ', 'exp ', '%B', '^', '=', ';', '?', 'card ', ' ', '-'), { maxLength: 10 }), (text, extra) => {
        const input = (text + extra.join('')).replace(/\p{Nd}/gu, '');
        expect(maskSensitiveText(input)).toEqual({ text: input, findings: [] });
      }),
      { numRuns: 2000 },
    );
  });
});

describe('hostile input', () => {
  // A linear scan finishes these in well under a second each; a backtracking regular expression
  // would not finish at all. No timing is asserted: finishing inside the test timeout is the proof.
  const TWO_MB = 2 * 1024 * 1024;
  const fill = (unit: string): string => unit.repeat(Math.ceil(TWO_MB / unit.length)).slice(0, TWO_MB);

  let state = 42;
  const random = (): number => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
  const randomDigitsAndSeparators = Array.from({ length: TWO_MB }, () => '0123456789 -'[Math.floor(random() * 12)]).join('');

  test.each([
    ['digits only', fill('9')],
    ['single digits and separators', fill('1 2-3 ')],
    ['random digits, spaces and dashes', randomDigitsAndSeparators],
    ['cards back to back', fill('4111 1111 1111 1111 ')],
    ['track sentinels without tracks', fill('%B4111111111111111^')],
    ['keywords followed by codes', fill('cvv 123 exp 12/27 ')],
    ['one long word', fill('a')],
  ])('2 MB of %s', (_label, input) => {
    const result = maskSensitiveText(input);
    expect(result.text.length).toBe(input.length);
    // Characters change only to '*' and only inside findings.
    const inFinding = new Uint8Array(input.length);
    for (const f of result.findings) inFinding.fill(1, f.start, f.end);
    let wrong = 0;
    for (let i = 0; i < input.length; i++) if (result.text[i] !== input[i] && (result.text[i] !== '*' || !inFinding[i])) wrong++;
    expect(wrong).toBe(0);
  });

  test('2 MB of cards back to back: every card is masked', () => {
    const input = fill('4111 1111 1111 1111 ');
    const { text, findings } = maskSensitiveText(input);
    expect(findings.filter((f) => f.kind === 'card-number').length).toBe(Math.floor(input.length / 20));
    expect(text).not.toMatch(/4111 1111/);
  });
});

describe('attachments', () => {
  test('a sender-flagged sensitive attachment is dropped', () => {
    expect(isSensitiveAttachment({ sensitive: true, contentType: 'image/png', filename: 'photo.png' })).toBe(true);
    expect(isSensitiveAttachment({ sensitive: true })).toBe(true);
  });

  test('a filename holding card data is dropped, whatever the flag', () => {
    expect(isSensitiveAttachment({ sensitive: false, filename: 'visa-4111111111111111.jpg' })).toBe(true);
    expect(isSensitiveAttachment({ filename: 'card 4111 1111 1111 1111.pdf' })).toBe(true);
  });

  test('content type alone, an ordinary filename or no metadata keeps the attachment', () => {
    expect(isSensitiveAttachment({})).toBe(false);
    expect(isSensitiveAttachment({ sensitive: false, contentType: 'application/pdf', filename: 'invoice-2024-000123.pdf' })).toBe(false);
    expect(isSensitiveAttachment({ contentType: 'image/jpeg', filename: 'receipt 12-03-2024.jpg' })).toBe(false);
  });
});
