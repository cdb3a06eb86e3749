// Envelope encryption with the AWS Encryption SDK over one key source: a committing, unsigned
// algorithm suite, and optionally a cache of data keys so that many messages under the same
// encryption context cost one KMS call. Translates the SDK's and KMS's failures into Parley's errors.
import {
  AlgorithmSuiteIdentifier,
  buildClient,
  CommitmentPolicy,
  getLocalCryptographicMaterialsCache,
  type KeyringNode,
  type NodeAlgorithmSuite,
  NodeCachingMaterialsManager,
  type NodeMaterialsManager,
} from '@aws-crypto/client-node';
import { KeyConfigurationError, KeyServiceUnavailableError, SecuredValueMismatchError } from './errors';
import type { DataKeyCacheConfig, KeySource } from './keys';
import { withKmsFailures } from './kms';
import { MessageHeaderFormatError, type MessageHeaderSummary, readMessageHeader, wrappingKeyId } from './message-header';

export type EncryptionContext = Record<string, string>;

const SUITE = AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY;

// Parley's messages carry one wrapped data key; a bound keeps a forged message with thousands of
// them from costing thousands of KMS calls.
const { encrypt, decrypt } = buildClient({ commitmentPolicy: CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT, maxEncryptedDataKeys: 3 });

/** Larger than Temporal's 2 MB payload limit, so any payload fits in one frame check. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

export class Envelope {
  private readonly encryptWith: NodeMaterialsManager | KeyringNode;
  private decryptWith: NodeMaterialsManager | KeyringNode;
  private decryptKeyring: KeyringNode;

  constructor(
    readonly source: KeySource,
    private readonly cache: DataKeyCacheConfig | false,
  ) {
    this.encryptWith = this.materials(source.encryptKeyring());
    this.decryptKeyring = source.decryptKeyring();
    this.decryptWith = this.materials(this.decryptKeyring);
  }

  private materials(keyring: KeyringNode): NodeMaterialsManager | KeyringNode {
    if (!this.cache) return keyring;
    return new NodeCachingMaterialsManager({
      backingMaterials: keyring,
      cache: getLocalCryptographicMaterialsCache<NodeAlgorithmSuite>(this.cache.capacity),
      maxAge: this.cache.maxAgeMs,
      maxMessagesEncrypted: this.cache.maxMessagesPerKey,
    });
  }

  async encrypt(plaintext: Buffer, context: EncryptionContext): Promise<Buffer> {
    const outcome = await withKmsFailures(() => encrypt(this.encryptWith, plaintext, { suiteId: SUITE, encryptionContext: context }));
    if (outcome.ok) return outcome.value.result;
    throw translate(outcome.error, outcome.failures, 'encrypt');
  }

  /**
   * Decrypts a message whose header the caller has already checked (see `header`). Returns the
   * authenticated encryption context, which the caller checks again: only now is it proven.
   */
  async decrypt(message: Buffer, header: MessageHeaderSummary): Promise<{ plaintext: Buffer; context: EncryptionContext }> {
    if (header.algorithmSuiteId !== SUITE) throw new SecuredValueMismatchError('format', 'message is not written with the expected algorithm suite');
    const keyId = wrappingKeyId(header.encryptedDataKeys[0]);
    if (!header.encryptedDataKeys.some((edk) => this.source.accepts(wrappingKeyId(edk)))) {
      throw new KeyConfigurationError(`message was encrypted under key ${keyId}, which this service does not hold for decryption (${this.source.description})`);
    }
    if (this.source.decryptKeyring() !== this.decryptKeyring) {
      // A local source reread its key file and found a new key.
      this.decryptKeyring = this.source.decryptKeyring();
      this.decryptWith = this.materials(this.decryptKeyring);
    }
    const outcome = await withKmsFailures(() => decrypt(this.decryptWith, message, { maxBodySize: MAX_BODY_BYTES }));
    if (outcome.ok) return { plaintext: outcome.value.plaintext, context: { ...outcome.value.messageHeader.encryptionContext } };
    throw translate(outcome.error, outcome.failures, 'decrypt');
  }

  /** Reads a message's plaintext header; a malformed one is a mismatch, never a crash. */
  header(message: Buffer): MessageHeaderSummary {
    try {
      return readMessageHeader(message);
    } catch (err) {
      if (err instanceof MessageHeaderFormatError) throw new SecuredValueMismatchError('format', `not an encrypted Parley message: ${err.message}`);
      throw err;
    }
  }

  keyIdOf(message: Buffer): string {
    try {
      return wrappingKeyId(this.header(message).encryptedDataKeys[0]);
    } catch (err) {
      if (err instanceof MessageHeaderFormatError) throw new SecuredValueMismatchError('format', `not an encrypted Parley message: ${err.message}`);
      throw err;
    }
  }
}

/**
 * KMS failures decide: an outage anywhere makes the whole call "unavailable" (retry later) even if
 * another key also refused, because the key that would have worked may be the one that timed out.
 */
function translate(error: unknown, failures: Array<{ kind: string; code: string }>, op: 'encrypt' | 'decrypt'): Error {
  const codes = [...new Set(failures.map((f) => f.code))].join(', ');
  if (failures.some((f) => f.kind === 'unavailable')) {
    return new KeyServiceUnavailableError(`key service unavailable during ${op} (${codes}); nothing was ${op}ed`, { cause: error, operation: op });
  }
  if (failures.some((f) => f.kind === 'configuration')) {
    return new KeyConfigurationError(`key service refused the key during ${op} (${codes}): check the key id, its policy and the credentials`, { cause: error });
  }
  if (op === 'decrypt') {
    // KMS's InvalidCiphertextException, or a local key's authentication failure: the header's
    // context or the bytes are not what was encrypted.
    return new SecuredValueMismatchError('integrity', 'ciphertext does not decrypt: altered, or encrypted for another context', { cause: error });
  }
  return error instanceof Error ? error : new Error(String(error));
}
