// The AWS KMS clients the keyrings use: one per region, each counting its calls by operation and
// remembering, for the Parley operation that made them, which calls failed and how. The Encryption
// SDK folds KMS errors on decrypt into one message string; the failures recorded here are what lets
// a caller tell "KMS is down" (retry later) from "the key is wrong" (fix the configuration).
import { AsyncLocalStorage } from 'node:async_hooks';
import { KMS } from '@aws-sdk/client-kms';

export interface AwsSettings {
  /** AWS_REGION; the region of a key ARN wins for that key's calls. */
  region?: string;
  /** AWS_ENDPOINT_URL: a local or private KMS endpoint (moto in the tests). */
  endpoint?: string;
  /** Bound on one KMS HTTP request; the SDK's default is no bound at all. */
  requestTimeoutMs: number;
  /** Attempts per KMS call, the first included. */
  maxAttempts: number;
  /** Explicit credentials; unset means the SDK's usual chain (environment, profile, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

export interface KmsCallCounts {
  generateDataKey: number;
  encrypt: number;
  decrypt: number;
  other: number;
  /** Calls that ended in an error (also counted under their operation). */
  failed: number;
}

export class KmsCallCounter {
  private current: KmsCallCounts = emptyCounts();

  record(commandName: string | undefined, failed: boolean): void {
    switch (commandName) {
      case 'GenerateDataKeyCommand':
        this.current.generateDataKey++;
        break;
      case 'EncryptCommand':
        this.current.encrypt++;
        break;
      case 'DecryptCommand':
        this.current.decrypt++;
        break;
      default:
        this.current.other++;
    }
    if (failed) this.current.failed++;
  }

  counts(): KmsCallCounts {
    return { ...this.current };
  }

  reset(): void {
    this.current = emptyCounts();
  }
}

function emptyCounts(): KmsCallCounts {
  return { generateDataKey: 0, encrypt: 0, decrypt: 0, other: 0, failed: 0 };
}

/** Every KMS call made by this process, whichever key service made it. */
const processCounter = new KmsCallCounter();

/** KMS calls made by this process so far, by operation (a call retried by the SDK counts once). */
export function kmsCallCounts(): KmsCallCounts {
  return processCounter.counts();
}

export function resetKmsCallCounts(): void {
  processCounter.reset();
}

export type KmsFailureKind = 'unavailable' | 'configuration' | 'ciphertext';

export interface KmsFailure {
  kind: KmsFailureKind;
  /** The AWS error name (e.g. ThrottlingException, ECONNREFUSED): safe to log, no payload in it. */
  code: string;
}

const failuresOfOperation = new AsyncLocalStorage<KmsFailure[]>();

/**
 * Runs `fn` and collects the KMS failures that happen inside it (the async context follows the
 * Encryption SDK's calls down to the client middleware).
 */
export async function withKmsFailures<T>(fn: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown; failures: KmsFailure[] }> {
  const failures: KmsFailure[] = [];
  try {
    return { ok: true, value: await failuresOfOperation.run(failures, fn) };
  } catch (error) {
    return { ok: false, error, failures };
  }
}

// KMS's throttling and internal-failure errors (https://docs.aws.amazon.com/kms/latest/APIReference/CommonErrors.html
// and each operation's Errors section): retrying later can succeed.
const UNAVAILABLE_NAMES = new Set([
  'ThrottlingException',
  'KMSInternalException',
  'DependencyTimeoutException',
  'KeyUnavailableException',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'InternalFailure',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'RequestAbortedError',
]);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND', 'EPIPE', 'ECONNABORTED']);

/** What a KMS client error means to the caller. */
export function classifyKmsError(err: unknown): KmsFailure {
  const e = (err ?? {}) as { name?: unknown; code?: unknown; $metadata?: { httpStatusCode?: number }; $fault?: unknown };
  const name = typeof e.name === 'string' ? e.name : 'Error';
  const code = typeof e.code === 'string' ? e.code : undefined;
  if (code && NETWORK_CODES.has(code)) return { kind: 'unavailable', code };
  if (UNAVAILABLE_NAMES.has(name)) return { kind: 'unavailable', code: name };
  if (name === 'InvalidCiphertextException') return { kind: 'ciphertext', code: name };
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined && (status >= 500 || status === 429)) return { kind: 'unavailable', code: name };
  // An answer from KMS in the 4xx range (access denied, not found, disabled, bad credentials) or a
  // credentials-provider failure: the request reached a working service that refused the key.
  if (status !== undefined || name === 'CredentialsProviderError') return { kind: 'configuration', code: name };
  // No HTTP answer at all: the request never got one (socket errors without a code, aborted reads).
  return { kind: 'unavailable', code: code ?? name };
}

/**
 * A KMS client supplier for the Encryption SDK's keyrings. The keyring asks for the region of each
 * key ARN; an id without a region gets AWS_REGION's client.
 */
export function kmsClientSupplier(aws: AwsSettings, counter: KmsCallCounter): (region: string) => KMS {
  const clients = new Map<string, KMS>();
  return (region: string) => {
    const key = region || aws.region || '';
    let client = clients.get(key);
    if (!client) {
      client = createKmsClient({ ...aws, region: key || undefined }, counter);
      clients.set(key, client);
    }
    return client;
  };
}

export function createKmsClient(aws: AwsSettings, counter: KmsCallCounter): KMS {
  const client = new KMS({
    region: aws.region,
    endpoint: aws.endpoint,
    maxAttempts: aws.maxAttempts,
    credentials: aws.credentials,
    // Without throwOnRequestTimeout the handler only logs a warning and keeps waiting.
    requestHandler: { connectionTimeout: aws.requestTimeoutMs, requestTimeout: aws.requestTimeoutMs, throwOnRequestTimeout: true },
  });
  // `initialize` runs once per operation, outside the SDK's retries: a call is counted once however
  // many attempts it took, and its failure is the final one.
  client.middlewareStack.add(
    (next, context) => async (args) => {
      try {
        const out = await next(args);
        counter.record(context.commandName, false);
        processCounter.record(context.commandName, false);
        return out;
      } catch (err) {
        counter.record(context.commandName, true);
        processCounter.record(context.commandName, true);
        failuresOfOperation.getStore()?.push(classifyKmsError(err));
        throw err;
      }
    },
    { step: 'initialize', name: 'parleyKmsCallCounter' },
  );
  return client;
}
