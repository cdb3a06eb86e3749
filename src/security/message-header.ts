// Reads the plaintext header of an AWS Encryption SDK message (format version 2, the only one the
// committing algorithm suites write): the encryption context and the encrypted data keys' provider
// fields. Reading it needs no key, so a caller can check where a message belongs, and which key wrote
// it, before any KMS call. Nothing read here is authenticated until the message is decrypted.
// Layout: https://docs.aws.amazon.com/encryption-sdk/latest/developer-guide/body-aad-reference.html
// and .../message-format.html#header-structure.

export interface MessageHeaderSummary {
  algorithmSuiteId: number;
  encryptionContext: Record<string, string>;
  encryptedDataKeys: Array<{ providerId: string; providerInfo: Buffer }>;
}

/** Provider id of data keys wrapped by AWS KMS; their provider info is the KMS key ARN. */
export const KMS_PROVIDER_ID = 'aws-kms';

const VERSION_2 = 0x02;
const MESSAGE_ID_LENGTH_V2 = 32;

export class MessageHeaderFormatError extends Error {}

export function readMessageHeader(message: Uint8Array): MessageHeaderSummary {
  const buf = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  let at = 0;
  const need = (n: number): void => {
    if (at + n > buf.length) throw new MessageHeaderFormatError('truncated message header');
  };
  const u8 = (): number => {
    need(1);
    return buf.readUInt8(at++);
  };
  const u16 = (): number => {
    need(2);
    const v = buf.readUInt16BE(at);
    at += 2;
    return v;
  };
  const bytes = (n: number): Buffer => {
    need(n);
    const v = buf.subarray(at, at + n);
    at += n;
    return v;
  };

  const version = u8();
  if (version !== VERSION_2) throw new MessageHeaderFormatError(`unsupported message format version ${version}`);
  const algorithmSuiteId = u16();
  bytes(MESSAGE_ID_LENGTH_V2);

  const aadLength = u16();
  const encryptionContext: Record<string, string> = {};
  if (aadLength > 0) {
    const aadEnd = at + aadLength;
    const pairs = u16();
    for (let i = 0; i < pairs; i++) {
      const key = bytes(u16()).toString('utf8');
      const value = bytes(u16()).toString('utf8');
      if (Object.prototype.hasOwnProperty.call(encryptionContext, key)) throw new MessageHeaderFormatError('duplicate encryption context key');
      encryptionContext[key] = value;
    }
    if (at !== aadEnd) throw new MessageHeaderFormatError('encryption context length does not match its contents');
  }

  const edkCount = u16();
  if (edkCount === 0) throw new MessageHeaderFormatError('message has no encrypted data key');
  const encryptedDataKeys: MessageHeaderSummary['encryptedDataKeys'] = [];
  for (let i = 0; i < edkCount; i++) {
    const providerId = bytes(u16()).toString('utf8');
    const providerInfo = Buffer.from(bytes(u16()));
    bytes(u16()); // the wrapped data key itself
    encryptedDataKeys.push({ providerId, providerInfo });
  }
  return { algorithmSuiteId, encryptionContext, encryptedDataKeys };
}

/**
 * The id of the key that wrapped a data key: the KMS key ARN, or the local key id. A raw AES
 * keyring's provider info is the key name, then the tag length in bits (4 bytes), the IV length
 * (4 bytes, always 12 for AES-GCM wrapping) and the IV.
 */
export function wrappingKeyId(edk: { providerId: string; providerInfo: Buffer }): string {
  if (edk.providerId === KMS_PROVIDER_ID) return edk.providerInfo.toString('utf8');
  const info = edk.providerInfo;
  const suffix = 4 + 4 + RAW_AES_IV_LENGTH;
  if (info.length < suffix || info.readUInt32BE(info.length - RAW_AES_IV_LENGTH - 4) !== RAW_AES_IV_LENGTH) {
    throw new MessageHeaderFormatError('malformed raw key provider info');
  }
  return info.subarray(0, info.length - suffix).toString('utf8');
}

const RAW_AES_IV_LENGTH = 12;
