// Where Parley's keys come from. Two purposes, each a key source: secured data (the customer's key)
// and the Temporal payload codec (the namespace key). A key source is AWS KMS when KMS_KEY_ID is set,
// otherwise the local key file. Its encrypt keyring holds only the current key; its decrypt keyring
// holds every key still accepted, so a rotation never strands an old ciphertext.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { type KeyringNode, KmsKeyringNode, MultiKeyringNode, RawAesKeyringNode, RawAesWrappingSuiteIdentifier } from '@aws-crypto/client-node';
import { dataDirOf } from '../platform/data-dir';
import { ConfigError, type Env, duration, integerInRange, list, trimmed } from '../platform/env';
import { type AwsSettings, type KmsCallCounter, kmsClientSupplier } from './kms';

export type KeySourceConfig =
  /** AWS KMS: `keyArn` generates data keys; `decryptKeyArns` are older keys still accepted. */
  | { kind: 'kms'; keyArn: string; decryptKeyArns: string[] }
  /** The local key file: its first key encrypts, all its keys decrypt. */
  | { kind: 'local'; keyFile: string };

export interface DataKeyCacheConfig {
  /** How long a data key is reused (DATA_KEY_CACHE_MAX_AGE). */
  maxAgeMs: number;
  /** Messages encrypted under one data key before a new one is made (DATA_KEY_CACHE_MAX_MESSAGES). */
  maxMessagesPerKey: number;
  /** Data keys held at once (one per active conversation and purpose), least recently used evicted. */
  capacity: number;
}

export interface KeyConfig {
  securedData: KeySourceConfig;
  codec: KeySourceConfig;
  aws: AwsSettings;
  dataKeyCache: DataKeyCacheConfig;
}

export const DEFAULT_DATA_KEY_CACHE: DataKeyCacheConfig = { maxAgeMs: 5 * 60_000, maxMessagesPerKey: 10_000, capacity: 1_000 };

/** The Encryption SDK's bound on messages per cached data key (2^32). */
const MAX_MESSAGES_PER_CACHED_KEY = 2 ** 32;

// The Encryption SDK records a KMS-wrapped data key under the key's ARN and its decrypt keyring only
// matches ARNs, so an alias or a bare key id would encrypt and then fail to decrypt.
const KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/;

export function keyConfigFromEnv(env: Env = process.env): KeyConfig {
  const kmsKey = trimmed(env, 'KMS_KEY_ID');
  const codecKey = trimmed(env, 'CODEC_KMS_KEY_ID');
  const decryptKeys = list(env, 'KMS_DECRYPT_KEY_IDS', ',');

  let securedData: KeySourceConfig;
  let codec: KeySourceConfig;
  if (kmsKey) {
    for (const [name, value] of [['KMS_KEY_ID', kmsKey], ['CODEC_KMS_KEY_ID', codecKey], ...decryptKeys.map((k) => ['KMS_DECRYPT_KEY_IDS', k])] as const) {
      if (value !== undefined && !KEY_ARN.test(value)) {
        throw new ConfigError(`${name} must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), got "${value}": encrypted messages record the key ARN and are decrypted by it`);
      }
    }
    securedData = { kind: 'kms', keyArn: kmsKey, decryptKeyArns: without(decryptKeys, kmsKey) };
    const codecArn = codecKey ?? kmsKey;
    codec = { kind: 'kms', keyArn: codecArn, decryptKeyArns: without(decryptKeys, codecArn) };
  } else {
    if (codecKey || decryptKeys.length > 0) {
      throw new ConfigError('CODEC_KMS_KEY_ID and KMS_DECRYPT_KEY_IDS need KMS_KEY_ID; without it Parley uses the local key file');
    }
    const keyFile = path.resolve(env.PARLEY_KEY_FILE || path.join(dataDirOf(env), 'keys.json'));
    securedData = { kind: 'local', keyFile };
    codec = { kind: 'local', keyFile };
  }

  return {
    securedData,
    codec,
    aws: {
      region: trimmed(env, 'AWS_REGION') ?? trimmed(env, 'AWS_DEFAULT_REGION'),
      endpoint: trimmed(env, 'AWS_ENDPOINT_URL_KMS') ?? trimmed(env, 'AWS_ENDPOINT_URL'),
      requestTimeoutMs: duration(env, 'KMS_REQUEST_TIMEOUT', 5_000),
      maxAttempts: integerInRange(env, 'KMS_MAX_ATTEMPTS', 3, 1, 10),
    },
    dataKeyCache: {
      maxAgeMs: duration(env, 'DATA_KEY_CACHE_MAX_AGE', DEFAULT_DATA_KEY_CACHE.maxAgeMs),
      maxMessagesPerKey: integerInRange(env, 'DATA_KEY_CACHE_MAX_MESSAGES', DEFAULT_DATA_KEY_CACHE.maxMessagesPerKey, 1, MAX_MESSAGES_PER_CACHED_KEY),
      capacity: integerInRange(env, 'DATA_KEY_CACHE_CAPACITY', DEFAULT_DATA_KEY_CACHE.capacity, 1, 1_000_000),
    },
  };
}

function without(ids: string[], item: string): string[] {
  return [...new Set(ids)].filter((x) => x !== item);
}

// ---------------------------------------------------------------------------------------------
// Key sources

export interface KeySource {
  readonly kind: 'kms' | 'local';
  /** Says where the keys are, for start-up logs; no key material. */
  readonly description: string;
  /** The id new messages are written under: a KMS key ARN or a local key id. */
  currentKeyId(): string;
  encryptKeyring(): KeyringNode;
  decryptKeyring(): KeyringNode;
  /** Whether a message wrapped by `keyId` can be decrypted; a local source rereads its file once first. */
  accepts(keyId: string): boolean;
}

export interface KmsAccess {
  aws: AwsSettings;
  counter: KmsCallCounter;
}

export function createKeySource(config: KeySourceConfig, kms: KmsAccess): KeySource {
  return config.kind === 'kms' ? new KmsKeySource(config, kms) : new LocalKeySource(config.keyFile);
}

class KmsKeySource implements KeySource {
  readonly kind = 'kms';
  readonly description: string;
  private readonly encrypting: KeyringNode;
  private readonly decrypting: KeyringNode;
  private readonly accepted: Set<string>;
  private readonly keyArn: string;

  constructor(config: Extract<KeySourceConfig, { kind: 'kms' }>, kms: KmsAccess) {
    this.keyArn = config.keyArn;
    const clientProvider = kmsClientSupplier(kms.aws, kms.counter);
    this.encrypting = new KmsKeyringNode({ generatorKeyId: config.keyArn, clientProvider });
    // keyIds without a generator: this keyring only ever decrypts, so it never wraps a data key
    // under the old keys too.
    this.decrypting = new KmsKeyringNode({ keyIds: [config.keyArn, ...config.decryptKeyArns], clientProvider });
    this.accepted = new Set([config.keyArn, ...config.decryptKeyArns]);
    this.description = `AWS KMS key ${config.keyArn}` + (config.decryptKeyArns.length ? ` (also decrypting with ${config.decryptKeyArns.join(', ')})` : '');
  }

  currentKeyId(): string {
    return this.keyArn;
  }
  encryptKeyring(): KeyringNode {
    return this.encrypting;
  }
  decryptKeyring(): KeyringNode {
    return this.decrypting;
  }
  accepts(keyId: string): boolean {
    return this.accepted.has(keyId);
  }
}

export const LOCAL_KEY_NAMESPACE = 'parley';

class LocalKeySource implements KeySource {
  readonly kind = 'local';
  readonly description: string;
  private keys!: LocalKey[];
  private encrypting!: KeyringNode;
  private decrypting!: KeyringNode;

  constructor(private readonly file: string) {
    this.description = `local key file ${file}`;
    this.load(loadOrCreateLocalKeys(file));
  }

  private load(keys: LocalKey[]): void {
    const keyrings = keys.map(
      (k) =>
        new RawAesKeyringNode({
          keyNamespace: LOCAL_KEY_NAMESPACE,
          keyName: k.id,
          unencryptedMasterKey: k.key,
          wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
        }),
    );
    this.keys = keys;
    this.encrypting = keyrings[0];
    this.decrypting = keyrings.length === 1 ? keyrings[0] : new MultiKeyringNode({ children: keyrings });
  }

  currentKeyId(): string {
    return this.keys[0].id;
  }
  encryptKeyring(): KeyringNode {
    return this.encrypting;
  }
  decryptKeyring(): KeyringNode {
    return this.decrypting;
  }
  accepts(keyId: string): boolean {
    if (this.keys.some((k) => k.id === keyId)) return true;
    // Another process may have rotated the file since this one read it: the new key's messages
    // reach this process before its restart does.
    const reread = readLocalKeys(this.file);
    if (!reread.some((k) => k.id === keyId)) return false;
    this.load(reread);
    return true;
  }
}

// ---------------------------------------------------------------------------------------------
// The local key file: { "keys": [ { "id", "createdAt", "aes256": base64 of 32 bytes } ] }, newest first.

export interface LocalKeyFileEntry {
  id: string;
  createdAt: string;
  aes256: string;
}

interface LocalKey {
  id: string;
  key: Uint8Array;
}

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

function newKeyEntry(): LocalKeyFileEntry {
  const now = new Date();
  return {
    id: `key-${now.toISOString().slice(0, 10).replace(/-/g, '')}-${crypto.randomBytes(4).toString('hex')}`,
    createdAt: now.toISOString(),
    aes256: crypto.randomBytes(32).toString('base64'),
  };
}

/** Reads the key file; creates it (mode 0600, one new key) when it does not exist. */
export function loadOrCreateLocalKeys(file: string): LocalKey[] {
  if (!fs.existsSync(file)) {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
    fs.writeFileSync(tmp, serialize([newKeyEntry()]), { mode: 0o600, flag: 'wx' });
    try {
      // link, unlike rename, fails when the file exists: the API and the worker starting together
      // must end with one key, not each with its own.
      fs.linkSync(tmp, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }
  return readLocalKeys(file);
}

export function readLocalKeys(file: string): LocalKey[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    // Not the parser's message: it quotes the text around the mistake, which is key material here.
    throw new ConfigError(`key file ${file} cannot be read as JSON (${(err as NodeJS.ErrnoException).code ?? 'not valid JSON'})`);
  }
  const entries = (parsed as { keys?: unknown })?.keys;
  if (!Array.isArray(entries) || entries.length === 0) throw new ConfigError(`key file ${file} must hold {"keys": [ ... ]} with at least one key`);
  const seen = new Set<string>();
  return entries.map((entry: unknown, i: number) => {
    const e = entry as Partial<LocalKeyFileEntry>;
    if (typeof e?.id !== 'string' || !KEY_ID.test(e.id)) throw new ConfigError(`key file ${file}: key #${i + 1} needs an "id" of 1-64 letters, digits, '.', '_' or '-'`);
    if (seen.has(e.id)) throw new ConfigError(`key file ${file}: key id "${e.id}" appears twice`);
    seen.add(e.id);
    const key = typeof e.aes256 === 'string' ? Buffer.from(e.aes256, 'base64') : Buffer.alloc(0);
    if (key.length !== 32 || key.toString('base64') !== e.aes256) throw new ConfigError(`key file ${file}: key "${e.id}" needs "aes256", the base64 of 32 random bytes`);
    // The SDK wants the key alone in its memory (Buffer.from may slice a shared pool).
    return { id: e.id, key: Uint8Array.from(key) };
  });
}

/**
 * Puts a new key first in the file (creating the file if needed): new messages are written under it,
 * the older keys keep decrypting what they wrote. Returns the new key's id and every id now in the file.
 */
export function rotateLocalKey(file: string): { keyId: string; keyIds: string[] } {
  loadOrCreateLocalKeys(file);
  const current = (JSON.parse(fs.readFileSync(file, 'utf8')) as { keys: LocalKeyFileEntry[] }).keys;
  readLocalKeys(file); // validates before anything is rewritten
  const entry = newKeyEntry();
  const keys = [entry, ...current];
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  fs.writeFileSync(tmp, serialize(keys), { mode: 0o600, flag: 'wx' });
  fs.renameSync(tmp, file);
  return { keyId: entry.id, keyIds: keys.map((k) => k.id) };
}

function serialize(keys: LocalKeyFileEntry[]): string {
  return JSON.stringify({ keys }, null, 2) + '\n';
}
