// The Temporal payload codec: every payload Parley's clients and workers send is encrypted under a
// data key wrapped by the codec key, so Temporal's history, its database and its UI hold ciphertext
// only. Each payload is AES-256-GCM with its namespace and workflow id as additional authenticated
// data: with the SDK's serialization context (the worker, and the client for start,
// signal-with-start, update, query) a payload copied into another conversation's history fails to
// decode. The codec server (the Temporal UI's calls name only the namespace) decodes using the
// payload's own context, proven by the decryption.
//
// Payloads written before the shared data keys (each one a whole Encryption SDK message under a
// per-conversation data key) still decode: they carry no cipher name in their metadata.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { DataConverter, Payload, PayloadCodec, SerializationContext } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { Envelope, type EncryptionContext } from './envelope';
import { SecuredValueMismatchError } from './errors';
import type { DataKeyCacheConfig, KeySource } from './keys';
import { PayloadDataKeys } from './payload-data-keys';

export const ENCRYPTED_ENCODING = 'binary/parley-encrypted';
export const TEMPORAL_PAYLOAD_PURPOSE = 'temporal-payload';
const PURPOSE_KEY = 'parley:purpose';
const NAMESPACE_KEY = 'parley:namespace';
const WORKFLOW_KEY = 'parley:workflow';

const ENCODING_BYTES = new TextEncoder().encode(ENCRYPTED_ENCODING);
/** Metadata of a payload under a shared data key (absent from the older Encryption SDK payloads). */
const CIPHER_META = 'parley-cipher';
const DATA_KEY_META = 'parley-data-key';
const NAMESPACE_META = 'parley-namespace';
const WORKFLOW_META = 'parley-workflow';
const AES_GCM_V1 = 'aes-256-gcm/1';
const AES_GCM_V1_BYTES = new TextEncoder().encode(AES_GCM_V1);
const IV_BYTES = 12;
const TAG_BYTES = 16;
const { Payload: PayloadProto } = temporal.api.common.v1;

export interface ParleyPayloadCodecOptions {
  source: KeySource;
  cache: DataKeyCacheConfig | false;
  /**
   * The namespace a payload is bound to when the SDK gives no serialization context (schedules,
   * a few client paths): the namespace this process's clients and workers use.
   */
  namespace: string;
}

export class ParleyPayloadCodec implements PayloadCodec {
  private readonly envelope: Envelope;
  private readonly dataKeys: PayloadDataKeys;
  private readonly namespace: string;

  constructor(options: ParleyPayloadCodecOptions) {
    this.envelope = new Envelope(options.source, options.cache);
    this.dataKeys = new PayloadDataKeys(this.envelope, options.cache);
    this.namespace = options.namespace;
  }

  async encode(payloads: Payload[], context?: SerializationContext): Promise<Payload[]> {
    const namespace = context?.namespace ?? this.namespace;
    const workflowId = context?.workflowId;
    return Promise.all(
      payloads.map(async (payload) => {
        const { key, wrapped } = await this.dataKeys.forEncryption(namespace);
        const iv = randomBytes(IV_BYTES);
        const cipher = createCipheriv('aes-256-gcm', key, iv);
        cipher.setAAD(additionalData(namespace, workflowId));
        const body = Buffer.concat([iv, cipher.update(PayloadProto.encode(payload).finish()), cipher.final(), cipher.getAuthTag()]);
        const metadata: Record<string, Uint8Array> = {
          encoding: ENCODING_BYTES,
          [CIPHER_META]: AES_GCM_V1_BYTES,
          [DATA_KEY_META]: wrapped,
          [NAMESPACE_META]: Buffer.from(namespace),
        };
        if (workflowId !== undefined) metadata[WORKFLOW_META] = Buffer.from(workflowId);
        return { metadata, data: body };
      }),
    );
  }

  /**
   * With a context, a payload must carry that namespace and workflow id (one encoded with no
   * workflow id at all is accepted: it was written by a path that had none to give). Without one,
   * the header's context is used as it is, proven by the decryption.
   */
  async decode(payloads: Payload[], context?: SerializationContext): Promise<Payload[]> {
    return Promise.all(payloads.map((p) => this.decodeOne(p, context?.namespace, context?.workflowId)));
  }

  /** For the codec server: the UI's request names the namespace and nothing else. */
  async decodeForNamespace(payloads: Payload[], namespace: string): Promise<Payload[]> {
    return Promise.all(payloads.map((p) => this.decodeOne(p, namespace, undefined)));
  }

  private async decodeOne(payload: Payload, namespace: string | undefined, workflowId: string | undefined): Promise<Payload> {
    // Payloads written before encryption was turned on, or by another codec, pass through.
    if (!isEncrypted(payload)) return payload;
    const cipherName = payload.metadata?.[CIPHER_META];
    if (cipherName === undefined || cipherName === null) return this.decodeEnvelopeMessage(payload, namespace, workflowId);
    if (Buffer.from(cipherName).toString() !== AES_GCM_V1) throw new SecuredValueMismatchError('format', 'payload names a cipher this codec does not know');
    const meta = (name: string): string | undefined => {
      const value = payload.metadata?.[name];
      return value === undefined || value === null ? undefined : Buffer.from(value).toString();
    };
    const payloadNamespace = meta(NAMESPACE_META);
    const payloadWorkflow = meta(WORKFLOW_META);
    const wrapped = payload.metadata?.[DATA_KEY_META];
    if (payloadNamespace === undefined || !wrapped) throw new SecuredValueMismatchError('format', 'payload carries no namespace or data key');
    const claimed: EncryptionContext = { [PURPOSE_KEY]: TEMPORAL_PAYLOAD_PURPOSE, [NAMESPACE_KEY]: payloadNamespace };
    if (payloadWorkflow !== undefined) claimed[WORKFLOW_KEY] = payloadWorkflow;
    checkContext(claimed, namespace, workflowId);
    const key = await this.dataKeys.forDecryption(Buffer.from(wrapped), payloadNamespace);
    const body = Buffer.from(payload.data ?? new Uint8Array());
    if (body.length < IV_BYTES + TAG_BYTES) throw new SecuredValueMismatchError('format', 'payload too short to be encrypted');
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, body.subarray(0, IV_BYTES));
      decipher.setAAD(additionalData(payloadNamespace, payloadWorkflow));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      const plaintext = Buffer.concat([decipher.update(body.subarray(IV_BYTES, body.length - TAG_BYTES)), decipher.final()]);
      return PayloadProto.decode(plaintext);
    } catch (err) {
      // The namespace and workflow id it claims, or its bytes, are not what was encrypted.
      throw new SecuredValueMismatchError('integrity', 'payload does not decrypt: altered, or encrypted for another workflow', { cause: err });
    }
  }

  /** A payload written as a whole Encryption SDK message (before the shared data keys). */
  private async decodeEnvelopeMessage(payload: Payload, namespace: string | undefined, workflowId: string | undefined): Promise<Payload> {
    const message = Buffer.from(payload.data ?? new Uint8Array());
    const header = this.envelope.header(message);
    checkContext(header.encryptionContext, namespace, workflowId);
    const { plaintext, context } = await this.envelope.decrypt(message, header);
    checkContext(context, namespace, workflowId);
    return PayloadProto.decode(plaintext);
  }

  /** The key that wrote an encoded payload: a KMS key ARN or a local key id. */
  keyIdOf(payload: Payload): string {
    const wrapped = payload.metadata?.[DATA_KEY_META];
    if (wrapped) return this.dataKeys.keyIdOf(Buffer.from(wrapped));
    return this.envelope.keyIdOf(Buffer.from(payload.data ?? new Uint8Array()));
  }
}

export function isEncrypted(payload: Payload): boolean {
  const encoding = payload.metadata?.encoding;
  return encoding !== undefined && encoding !== null && Buffer.from(encoding).equals(ENCODING_BYTES);
}

/** What a payload is bound to, authenticated with it: its format, namespace and workflow id (or none). */
function additionalData(namespace: string, workflowId: string | undefined): Buffer {
  return Buffer.from(JSON.stringify([AES_GCM_V1, TEMPORAL_PAYLOAD_PURPOSE, namespace, workflowId ?? null]));
}

function checkContext(context: EncryptionContext, namespace: string | undefined, workflowId: string | undefined): void {
  // The codec key may be the secured-data key: without this check the codec server would decrypt a
  // secured value presented to it as a payload.
  if (context[PURPOSE_KEY] !== TEMPORAL_PAYLOAD_PURPOSE) throw new SecuredValueMismatchError('purpose', 'ciphertext is not a Temporal payload');
  if (namespace !== undefined && context[NAMESPACE_KEY] !== namespace) throw new SecuredValueMismatchError('namespace', 'payload belongs to another namespace');
  if (workflowId !== undefined && context[WORKFLOW_KEY] !== undefined && context[WORKFLOW_KEY] !== workflowId) {
    throw new SecuredValueMismatchError('workflow', 'payload belongs to another workflow');
  }
}

/** Module with the `failureConverter` export, for Client, Worker and `bundleWorkflowCode`. */
export const FAILURE_CONVERTER_PATH = require.resolve('./failure-converter');

/**
 * The data converter for Client and Worker options. A prebuilt workflow bundle needs the same
 * failure converter: pass `failureConverterPath: FAILURE_CONVERTER_PATH` to `bundleWorkflowCode`.
 */
export function parleyDataConverter(codec: PayloadCodec): DataConverter {
  return { payloadCodecs: [codec], failureConverterPath: FAILURE_CONVERTER_PATH };
}
