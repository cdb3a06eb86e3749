// Input rules shared by the HTTP API (first line of defence, before Temporal is touched) and the
// workflow's update validator (the authority, since clients other than the API can send updates).
// Deterministic and Node-free: the workflow bundle imports it.

export const LIMITS = {
  attributeNameMaxChars: 255,
  attributeValueMaxChars: 2000,
  attributesPerCall: 100,
  /** Distinct queued names a conversation holds before its batch is written; bounds workflow state. */
  pendingAttributesMax: 500,
  callVariableMaxBytes: 40,
  eccVariableMaxBytes: 210,
  callVariableCount: 10,
  conversationIdPattern: /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/,
} as const;

/** Counts code points, so an emoji is one character as a user would count it. */
export function charLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** UTF-8 size without TextEncoder/Buffer, which workflow code cannot rely on. */
export function utf8Length(s: string): number {
  let bytes = 0;
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  }
  return bytes;
}

// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/** Returns a message naming the first problem, or undefined when the attributes are acceptable. */
export function attributeProblem(attributes: unknown): string | undefined {
  if (typeof attributes !== 'object' || attributes === null || Array.isArray(attributes)) {
    return 'attributes must be an object of name/value strings';
  }
  const entries = Object.entries(attributes as Record<string, unknown>);
  if (entries.length === 0) return 'attributes must hold at least one name/value pair';
  if (entries.length > LIMITS.attributesPerCall) {
    return `attributes holds ${entries.length} pairs; at most ${LIMITS.attributesPerCall} per call`;
  }
  for (const [name, value] of entries) {
    if (name.trim() === '') return 'attribute name must not be empty or blank';
    if (CONTROL_CHARS.test(name)) return `attribute name "${printable(name)}" contains control characters`;
    if (charLength(name) > LIMITS.attributeNameMaxChars) {
      return `attribute name "${printable(name)}" is longer than ${LIMITS.attributeNameMaxChars} characters`;
    }
    // Values are never echoed back: they may be sensitive.
    if (typeof value !== 'string') return `attribute "${printable(name)}" must have a string value`;
    if (charLength(value) > LIMITS.attributeValueMaxChars) {
      return `attribute "${printable(name)}" has a value longer than ${LIMITS.attributeValueMaxChars} characters`;
    }
  }
  return undefined;
}

/** Seed 003: cv_1..cv_10 at most 40 bytes, ECC variables ("user" prefix) at most 210 bytes, others free. */
export function taskContextProblem(taskContext: unknown): string | undefined {
  if (typeof taskContext !== 'object' || taskContext === null || Array.isArray(taskContext)) {
    return 'taskContext must be an object of name/value strings';
  }
  for (const [name, value] of Object.entries(taskContext as Record<string, unknown>)) {
    if (typeof value !== 'string') return `taskContext.${printable(name)} must be a string`;
    if (name.startsWith('cv_')) {
      const n = Number(name.slice(3));
      if (!/^cv_\d+$/.test(name) || n < 1 || n > LIMITS.callVariableCount) {
        return `taskContext.${printable(name)} is not a call variable: they are cv_1 to cv_${LIMITS.callVariableCount}`;
      }
      if (utf8Length(value) > LIMITS.callVariableMaxBytes) {
        return `taskContext.${name} is ${utf8Length(value)} bytes; call variables hold at most ${LIMITS.callVariableMaxBytes}`;
      }
    } else if (name.startsWith('user')) {
      if (utf8Length(value) > LIMITS.eccVariableMaxBytes) {
        return `taskContext.${printable(name)} is ${utf8Length(value)} bytes; ECC variables hold at most ${LIMITS.eccVariableMaxBytes}`;
      }
    }
  }
  return undefined;
}

function printable(name: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = name.replace(/[\u0000-\u001f\u007f]/g, '?');
  return charLength(clean) > 64 ? [...clean].slice(0, 64).join('') + '…' : clean;
}
