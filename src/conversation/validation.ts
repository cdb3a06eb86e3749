// Input rules shared by the HTTP API (first line of defence, before Temporal is touched) and the
// workflow's update validator (the authority, since clients other than the API can send updates).
// Deterministic and Node-free: the workflow bundle imports it.

export const LIMITS = {
  attributeNameMaxChars: 255,
  attributeValueMaxChars: 2000,
  /** Base64 of an encrypted value of at most attributeValueMaxChars characters (see SECURED_VALUE). */
  securedValueMaxChars: 16_384,
  attributesPerCall: 100,
  /** Distinct queued names a conversation holds before its batch is written; bounds workflow state. */
  pendingAttributesMax: 500,
  /**
   * JSON size of the queued names and values. The queue travels in the flush activity's input and
   * the continue-as-new input, each a single Temporal payload (2 MB hard limit, 512 KB warning).
   */
  pendingBytesMax: 1_000_000,
  eventIdMaxBytes: 200,
  taskContextEntriesMax: 100,
  /** JSON size of one event's taskContext; it is carried in the conversation's state. */
  taskContextBytesMax: 64 * 1024,
  /** What a conversation keeps of the task context merged from all its events (it travels in the continue-as-new input). */
  conversationTaskContextEntriesMax: 200,
  conversationTaskContextBytesMax: 256 * 1024,
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

// eslint-disable-next-line no-control-regex -- control characters are what this pattern exists to find
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
/** Half of a surrogate pair with no other half: no UTF-8 encoding exists, a store would alter or refuse it. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Size of a string as it travels in a Temporal payload: JSON-escaped, UTF-8. */
export function jsonBytes(s: string): number {
  return utf8Length(JSON.stringify(s));
}

/**
 * For identifiers and labels (names, ids, queues): printable, valid Unicode. Free text (values)
 * may hold line breaks and tabs, but not NUL, which PostgreSQL text cannot store.
 */
function textProblem(label: string, s: string, kind: 'label' | 'free text'): string | undefined {
  if (kind === 'label' && CONTROL_CHARS.test(s)) return `${label} contains control characters`;
  if (kind === 'free text' && s.includes('\u0000')) return `${label} contains a NUL character`;
  if (LONE_SURROGATE.test(s)) return `${label} is not valid Unicode (an unpaired surrogate)`;
  return undefined;
}

/**
 * A secured value as it reaches Temporal: the API encrypted the plaintext (held to the plain value
 * rules first) into an AWS Encryption SDK message, base64. Its size allows the largest plaintext with
 * the message header, the encrypted data keys and the attribute name bound inside it.
 */
const SECURED_VALUE = /^[A-Za-z0-9+/]+={0,2}$/;

/** Returns a message naming the first problem, or undefined when the attributes are acceptable. */
export function attributeProblem(attributes: unknown, secured = false): string | undefined {
  if (typeof attributes !== 'object' || attributes === null || Array.isArray(attributes)) {
    return 'attributes must be an object of name/value strings';
  }
  const entries = Object.entries(attributes as Record<string, unknown>);
  if (entries.length === 0) return 'attributes must hold at least one name/value pair';
  if (entries.length > LIMITS.attributesPerCall) {
    return `attributes holds ${entries.length} pairs; at most ${LIMITS.attributesPerCall} per call`;
  }
  for (const [name, value] of entries) {
    const nameProblem = attributeNameProblem(name);
    if (nameProblem) return nameProblem;
    // Values are never echoed back: they may be sensitive.
    if (typeof value !== 'string') return `attribute "${printable(name)}" must have a string value`;
    if (secured) {
      if (value.length > LIMITS.securedValueMaxChars || !SECURED_VALUE.test(value)) {
        return `attribute "${printable(name)}" is marked secured but its value is not a ciphertext made by the API`;
      }
      continue;
    }
    if (charLength(value) > LIMITS.attributeValueMaxChars) {
      return `attribute "${printable(name)}" has a value longer than ${LIMITS.attributeValueMaxChars} characters`;
    }
    const valueProblem = textProblem(`the value of attribute "${printable(name)}"`, value, 'free text');
    if (valueProblem) return valueProblem;
  }
  return undefined;
}

/** Names are what a reader asks for, too: the same rule answers both. */
export function attributeNameProblem(name: string): string | undefined {
  if (name.trim() === '') return 'attribute name must not be empty or blank';
  const problem = textProblem(`attribute name "${printable(name)}"`, name, 'label');
  if (problem) return problem;
  if (charLength(name) > LIMITS.attributeNameMaxChars) {
    return `attribute name "${printable(name)}" is longer than ${LIMITS.attributeNameMaxChars} characters`;
  }
  return undefined;
}

/** Whether queuing `attributes` on top of `pending` stays within what one batch may hold. */
export function pendingProblem(pending: Record<string, string>, attributes: Record<string, string>): string | undefined {
  const queued = Object.keys(pending);
  const newNames = Object.keys(attributes).filter((name) => !Object.hasOwn(pending, name));
  if (queued.length + newNames.length > LIMITS.pendingAttributesMax) {
    return `the conversation already queues ${queued.length} attributes; at most ${LIMITS.pendingAttributesMax} distinct names`;
  }
  let bytes = 0;
  for (const [name, value] of Object.entries(pending)) {
    if (!Object.hasOwn(attributes, name)) bytes += jsonBytes(name) + jsonBytes(value);
  }
  for (const [name, value] of Object.entries(attributes)) bytes += jsonBytes(name) + jsonBytes(value);
  if (bytes > LIMITS.pendingBytesMax) {
    return `queued participant data would reach ${bytes} bytes; at most ${LIMITS.pendingBytesMax} until the conversation's batch is written`;
  }
  return undefined;
}

/** The webhook's identifiers and labels; they reach search attributes and the conversation's state. */
export function routingTextProblem(fields: Record<string, unknown>): string | undefined {
  for (const [field, value] of Object.entries(fields)) {
    if (typeof value !== 'string') continue;
    const problem = textProblem(field, value, field === 'dispositionCode' ? 'free text' : 'label');
    if (problem) return problem;
  }
  // A conversation remembers its last 1,000 event ids; bytes, not characters, bound that list.
  if (typeof fields.eventId === 'string' && utf8Length(fields.eventId) > LIMITS.eventIdMaxBytes) {
    return `eventId is ${utf8Length(fields.eventId)} bytes; at most ${LIMITS.eventIdMaxBytes}`;
  }
  return undefined;
}

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:[Zz]|([+-])(\d{2})(?::?(\d{2}))?)$/;

/**
 * The instant of an RFC 3339 date-time in every form the API's schema accepts, including those
 * JavaScript's Date.parse does not (an offset without minutes, a leap second, which is taken as the
 * last millisecond of its minute). NaN when the date does not exist (February 30).
 */
export function instantOf(dateTime: string): number {
  const m = DATE_TIME.exec(dateTime);
  if (!m) return NaN;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const millis = m[7] ? Number(m[7].slice(0, 3).padEnd(3, '0')) : 0;
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 60) return NaN;
  const offsetMinutes = m[8] ? (m[8] === '-' ? -1 : 1) * (Number(m[9]) * 60 + Number(m[10] ?? 0)) : 0;
  // setUTCFullYear, not Date.UTC, which reads years 0–99 as 1900–1999.
  const local = new Date(0);
  local.setUTCFullYear(year, month - 1, day);
  if (local.getUTCDate() !== day) return NaN;
  local.setUTCHours(hour, minute, Math.min(second, 59), second === 60 ? 999 : millis);
  return local.getTime() - offsetMinutes * 60_000;
}

/** Cisco CCE task context: cv_1..cv_10 at most 40 bytes, ECC variables ("user" prefix) at most 210 bytes, others free. */
export function taskContextProblem(taskContext: unknown): string | undefined {
  if (typeof taskContext !== 'object' || taskContext === null || Array.isArray(taskContext)) {
    return 'taskContext must be an object of name/value strings';
  }
  const entries = Object.entries(taskContext as Record<string, unknown>);
  if (entries.length > LIMITS.taskContextEntriesMax) {
    return `taskContext holds ${entries.length} variables; at most ${LIMITS.taskContextEntriesMax}`;
  }
  let bytes = 0;
  for (const [name, value] of entries) {
    if (typeof value !== 'string') return `taskContext.${printable(name)} must be a string`;
    const problem =
      textProblem(`taskContext name "${printable(name)}"`, name, 'label') ?? textProblem(`taskContext.${printable(name)}`, value, 'free text');
    if (problem) return problem;
    if (name.trim() === '') return 'taskContext names must not be empty or blank';
    if (charLength(name) > LIMITS.attributeNameMaxChars) {
      return `taskContext name "${printable(name)}" is longer than ${LIMITS.attributeNameMaxChars} characters`;
    }
    bytes += jsonBytes(name) + jsonBytes(value);
    if (bytes > LIMITS.taskContextBytesMax) return `taskContext is larger than ${LIMITS.taskContextBytesMax} bytes`;
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
  // eslint-disable-next-line no-control-regex -- control characters are what this pattern replaces
  const clean = name.replace(/[\u0000-\u001f\u007f]/g, '?').replace(new RegExp(LONE_SURROGATE.source, 'g'), '?');
  return charLength(clean) > 64 ? [...clean].slice(0, 64).join('') + '…' : clean;
}
