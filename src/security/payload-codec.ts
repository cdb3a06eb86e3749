// The Temporal payload codec: every payload Parley's clients and workers send is an Encryption SDK
// message under the codec key, so Temporal's history, its database and its UI hold ciphertext only.
// Each payload is bound to its namespace and workflow id through the encryption context: with the
// SDK's serialization context (the worker, and the client for start, signal-with-start, update,
// query) a payload copied into another conversation's history fails to decode. The codec server
// (the Temporal UI's calls name only the namespace) decodes using the header's own context.
import type { DataConverter, Payload, PayloadCodec, SerializationContext } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { Envelope, type EncryptionContext } from './envelope';
import { SecuredValueMismatchError } from './errors';
import type { DataKeyCacheConfig, KeySource } from './keys';

export const ENCRYPTED_ENCODING = 'binary/parley-encrypted';
export const TEMPORAL_PAYLOAD_PURPOSE = 'temporal-payload';
const PURPOSE_KEY = 'parley:purpose';
const NAMESPACE_KEY = 'parley:namespace';
const WORKFLOW_KEY = 'parley:workflow';

const ENCODING_BYTES = new TextEncoder().encode(ENCRYPTED_ENCODING);
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
  private readonly namespace: string;

  constructor(options: ParleyPayloadCodecOptions) {
    this.envelope = new Envelope(options.source, options.cache);
    this.namespace = options.namespace;
  }

  async encode(payloads: Payload[], context?: SerializationContext): Promise<Payload[]> {
    const encryptionContext = payloadContext(context?.namespace ?? this.namespace, context?.workflowId);
    return Promise.all(
      payloads.map(async (payload) => {
        const message = await this.envelope.encrypt(Buffer.from(PayloadProto.encode(payload).finish()), encryptionContext);
        return { metadata: { encoding: ENCODING_BYTES }, data: message };
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
    const message = Buffer.from(payload.data ?? new Uint8Array());
    const header = this.envelope.header(message);
    checkContext(header.encryptionContext, namespace, workflowId);
    const { plaintext, context } = await this.envelope.decrypt(message, header);
    checkContext(context, namespace, workflowId);
    return PayloadProto.decode(plaintext);
  }

  /** The key that wrote an encoded payload: a KMS key ARN or a local key id. */
  keyIdOf(payload: Payload): string {
    return this.envelope.keyIdOf(Buffer.from(payload.data ?? new Uint8Array()));
  }
}

export function isEncrypted(payload: Payload): boolean {
  const encoding = payload.metadata?.encoding;
  return encoding !== undefined && encoding !== null && Buffer.from(encoding).equals(ENCODING_BYTES);
}

function payloadContext(namespace: string, workflowId: string | undefined): EncryptionContext {
  const context: EncryptionContext = { [PURPOSE_KEY]: TEMPORAL_PAYLOAD_PURPOSE, [NAMESPACE_KEY]: namespace };
  if (workflowId !== undefined) context[WORKFLOW_KEY] = workflowId;
  return context;
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
