// Secured attribute values: encrypted at the API edge, before they enter Temporal, and decrypted only
// for a caller allowed to read them. The data key's encryption context names the conversation only,
// so the data-key cache serves all of a conversation's writes with one KMS call; the attribute name
// is bound by being inside the authenticated plaintext. A ciphertext moved to another conversation
// or name fails to decrypt.
import { Envelope, type EncryptionContext } from './envelope';
import { SecuredValueMismatchError } from './errors';
import type { DataKeyCacheConfig, KeySource } from './keys';

export { KeyConfigurationError, KeyServiceUnavailableError, SecuredValueMismatchError } from './errors';

export const SECURED_ATTRIBUTE_PURPOSE = 'secured-attribute';
const PURPOSE_KEY = 'parley:purpose';
const CONVERSATION_KEY = 'parley:conversation';

/** The encryption context of a conversation's secured values, as the message header records it. */
export function securedValueContext(conversationId: string): EncryptionContext {
  return { [PURPOSE_KEY]: SECURED_ATTRIBUTE_PURPOSE, [CONVERSATION_KEY]: conversationId };
}

export interface SecuredValueCipherOptions {
  source: KeySource;
  /** Data-key cache bounds; `false` makes every encrypt ask the key source for a new data key. */
  cache: DataKeyCacheConfig | false;
}

export class SecuredValueCipher {
  private readonly envelope: Envelope;

  constructor(options: SecuredValueCipherOptions) {
    this.envelope = new Envelope(options.source, options.cache);
  }

  /** Says which key source encrypts, for start-up logs. */
  get description(): string {
    return this.envelope.source.description;
  }

  /** Base64 of an Encryption SDK message. */
  async encrypt(conversationId: string, name: string, plaintext: string): Promise<string> {
    const body = Buffer.from(JSON.stringify({ n: name, v: plaintext }), 'utf8');
    const message = await this.envelope.encrypt(body, securedValueContext(conversationId));
    return message.toString('base64');
  }

  async decrypt(conversationId: string, name: string, ciphertext: string): Promise<string> {
    const message = Buffer.from(ciphertext, 'base64');
    const header = this.envelope.header(message);
    // Checked before decrypting so a misplaced value costs no KMS call, and after, because only
    // the decryption authenticates the header.
    checkContext(header.encryptionContext, conversationId);
    const { plaintext, context } = await this.envelope.decrypt(message, header);
    checkContext(context, conversationId);
    let body: { n?: unknown; v?: unknown };
    try {
      body = JSON.parse(plaintext.toString('utf8')) as { n?: unknown; v?: unknown };
    } catch {
      throw new SecuredValueMismatchError('format', 'decrypted value is not a Parley secured value');
    }
    if (typeof body?.v !== 'string' || typeof body.n !== 'string') throw new SecuredValueMismatchError('format', 'decrypted value is not a Parley secured value');
    if (body.n !== name) throw new SecuredValueMismatchError('name', 'secured value belongs to another attribute name');
    return body.v;
  }

  /** The key that wrote the value (a KMS key ARN or a local key id), read from its header: no KMS call. */
  keyIdOf(ciphertext: string): string {
    return this.envelope.keyIdOf(Buffer.from(ciphertext, 'base64'));
  }
}

function checkContext(context: EncryptionContext, conversationId: string): void {
  if (context[PURPOSE_KEY] !== SECURED_ATTRIBUTE_PURPOSE) throw new SecuredValueMismatchError('purpose', 'ciphertext is not a secured attribute value');
  if (context[CONVERSATION_KEY] !== conversationId) throw new SecuredValueMismatchError('conversation', 'secured value belongs to another conversation');
  const extra = Object.keys(context).filter((k) => k !== PURPOSE_KEY && k !== CONVERSATION_KEY);
  if (extra.length > 0) throw new SecuredValueMismatchError('format', 'secured value carries an unexpected encryption context');
}
