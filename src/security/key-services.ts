// Builds the ciphers from configuration. The API needs the secured-value cipher and the codec; the
// worker only the codec: it never holds a secured plaintext.
import type { DataConverter } from '@temporalio/common';
import { createKeySource, type KeyConfig } from './keys';
import { KmsCallCounter } from './kms';
import { ParleyPayloadCodec, parleyDataConverter } from './payload-codec';
import { SecuredValueCipher } from './secured-values';

export interface KeyServices {
  securedValues: SecuredValueCipher;
  codec: ParleyPayloadCodec;
  /** `dataConverter` for Client and Worker options. */
  dataConverter: DataConverter;
  /** KMS calls made by these services (zero with local keys). */
  kmsCalls: KmsCallCounter;
  /** Where the keys are, for a start-up log line; no key material. */
  describe(): string;
}

export interface KeyServicesOptions {
  /** Temporal namespace payloads are bound to when the SDK gives no serialization context. */
  namespace: string;
  /** `false` turns the data-key cache off (to measure what it saves). */
  dataKeyCache?: boolean;
}

export function createKeyServices(config: KeyConfig, options: KeyServicesOptions): KeyServices {
  const kmsCalls = new KmsCallCounter();
  const kms = { aws: config.aws, counter: kmsCalls };
  const cache = options.dataKeyCache === false ? false : config.dataKeyCache;
  const securedSource = createKeySource(config.securedData, kms);
  // One source when both purposes name the same local file, so a rotation is seen by both at once.
  const codecSource = config.codec.kind === 'local' && config.securedData.kind === 'local' && config.codec.keyFile === config.securedData.keyFile ? securedSource : createKeySource(config.codec, kms);
  const securedValues = new SecuredValueCipher({ source: securedSource, cache });
  const codec = new ParleyPayloadCodec({ source: codecSource, cache, namespace: options.namespace });
  return {
    securedValues,
    codec,
    dataConverter: parleyDataConverter(codec),
    kmsCalls,
    describe: () => `secured data: ${securedSource.description}; Temporal payloads: ${codecSource.description}`,
  };
}
