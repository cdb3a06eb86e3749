// The data keys Temporal payloads are encrypted under: one AES-256 key shared by many payloads of a
// namespace, itself wrapped by the codec key (an Encryption SDK message through KMS or the local key
// file) and carried, wrapped, in every payload it encrypts. A payload then costs one AES-GCM
// operation instead of a whole Encryption SDK message (header, key commitment, HKDF, streams), and
// KMS is called once per data key, not once per conversation.
import { createHash, randomBytes } from 'node:crypto';
import type { Envelope } from './envelope';
import { SecuredValueMismatchError } from './errors';
import type { DataKeyCacheConfig } from './keys';

/** The Encryption SDK context a wrapped payload data key carries; checked when it is unwrapped. */
const PURPOSE_KEY = 'parley:purpose';
const NAMESPACE_KEY = 'parley:namespace';
export const PAYLOAD_DATA_KEY_PURPOSE = 'temporal-payload-data-key';

export const DATA_KEY_BYTES = 32;

export interface PayloadDataKey {
  key: Buffer;
  /** The key wrapped by the codec key: what a payload carries so that any process can unwrap it. */
  wrapped: Buffer;
}

interface CurrentKey extends PayloadDataKey {
  createdAt: number;
  uses: number;
}

export class PayloadDataKeys {
  /** The key new payloads of each namespace are encrypted under, or its creation in flight. */
  private readonly current = new Map<string, Promise<CurrentKey>>();
  /** Unwrapped keys by the digest of their wrapped form, least recently used first. */
  private readonly unwrapped = new Map<string, Promise<Buffer>>();

  constructor(
    private readonly envelope: Envelope,
    private readonly cache: DataKeyCacheConfig | false,
    private readonly now: () => number = Date.now,
  ) {}

  /** The data key for the next payload of `namespace`: a new one when the current one is too old or too used. */
  async forEncryption(namespace: string): Promise<PayloadDataKey> {
    if (!this.cache) return this.create(namespace);
    const pending = this.current.get(namespace);
    if (pending) {
      // A failed creation is forgotten (see below), so a rejection here is the caller's answer.
      const key = await pending;
      if (this.current.get(namespace) === pending && this.fresh(key)) {
        key.uses++;
        return key;
      }
      if (this.current.get(namespace) !== pending) return this.forEncryption(namespace);
    }
    const creating = this.create(namespace).then((key): CurrentKey => ({ ...key, createdAt: this.now(), uses: 0 }));
    this.current.set(namespace, creating);
    creating.catch(() => {
      if (this.current.get(namespace) === creating) this.current.delete(namespace);
    });
    const key = await creating;
    key.uses++;
    return key;
  }

  /**
   * The key a payload of `namespace` names. The wrapped key must be a payload data key of that very
   * namespace: the codec key may also be the secured-data key, and a secured value presented as a
   * wrapped key would otherwise be decrypted.
   */
  async forDecryption(wrapped: Buffer, namespace: string): Promise<Buffer> {
    const id = `${namespace}\u0000${createHash('sha256').update(wrapped).digest('base64')}`;
    const known = this.unwrapped.get(id);
    if (known) {
      this.unwrapped.delete(id);
      this.unwrapped.set(id, known);
      return known;
    }
    const unwrapping = this.unwrap(wrapped, namespace);
    this.remember(id, unwrapping);
    unwrapping.catch(() => {
      if (this.unwrapped.get(id) === unwrapping) this.unwrapped.delete(id);
    });
    return unwrapping;
  }

  /** The key that wrapped a data key: a KMS key ARN or a local key id. */
  keyIdOf(wrapped: Buffer): string {
    return this.envelope.keyIdOf(wrapped);
  }

  private fresh(key: CurrentKey): boolean {
    if (!this.cache) return false;
    return this.now() - key.createdAt < this.cache.maxAgeMs && key.uses < this.cache.maxMessagesPerKey;
  }

  private async create(namespace: string): Promise<PayloadDataKey> {
    const key = randomBytes(DATA_KEY_BYTES);
    const wrapped = await this.envelope.encrypt(key, { [PURPOSE_KEY]: PAYLOAD_DATA_KEY_PURPOSE, [NAMESPACE_KEY]: namespace });
    // This process decrypts its own payloads (a worker reads back what it wrote) without KMS.
    if (this.cache) this.remember(`${namespace}\u0000${createHash('sha256').update(wrapped).digest('base64')}`, Promise.resolve(key));
    return { key, wrapped };
  }

  private async unwrap(wrapped: Buffer, namespace: string): Promise<Buffer> {
    const header = this.envelope.header(wrapped);
    checkWrappedKeyContext(header.encryptionContext, namespace);
    const { plaintext, context } = await this.envelope.decrypt(wrapped, header);
    // Proven only now: the header's context is authenticated by the decryption.
    checkWrappedKeyContext(context, namespace);
    if (plaintext.length !== DATA_KEY_BYTES) throw new SecuredValueMismatchError('format', 'wrapped payload data key has the wrong length');
    return plaintext;
  }

  private remember(id: string, key: Promise<Buffer>): void {
    this.unwrapped.set(id, key);
    const capacity = this.cache ? this.cache.capacity : 1;
    while (this.unwrapped.size > capacity) {
      const oldest = this.unwrapped.keys().next().value;
      if (oldest === undefined) break;
      this.unwrapped.delete(oldest);
    }
  }
}

function checkWrappedKeyContext(context: Record<string, string>, namespace: string): void {
  if (context[PURPOSE_KEY] !== PAYLOAD_DATA_KEY_PURPOSE) throw new SecuredValueMismatchError('purpose', 'wrapped key is not a Temporal payload data key');
  if (context[NAMESPACE_KEY] !== namespace) throw new SecuredValueMismatchError('namespace', 'payload data key belongs to another namespace');
}
