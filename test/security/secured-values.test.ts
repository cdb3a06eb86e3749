// Secured values against a real KMS (moto server) and a real local key file: round trips, binding to
// conversation and attribute name, outages, key errors, rotation, and what the data-key cache saves.
import { performance } from 'node:perf_hooks';
import { createKeySource, type KeyConfig, rotateLocalKey } from '../../src/security/keys';
import { KmsCallCounter, kmsCallCounts } from '../../src/security/kms';
import { KeyConfigurationError, KeyServiceUnavailableError, SecuredValueCipher, SecuredValueMismatchError } from '../../src/security/secured-values';
import { createKeyServices } from '../../src/security/key-services';
import { kmsKeyConfig, localKeyConfig } from '../../rigs/keys';
import { type KmsState, type MotoServer, startMoto } from '../../rigs/moto';
import { uniqueId } from '../../rigs/temp';
import { percentile } from '../support/percentile';

let moto: MotoServer;

beforeAll(async () => {
  moto = await startMoto();
});

afterAll(async () => {
  await moto?.close();
});

afterEach(async () => {
  if (moto?.state !== 'up') await moto.setState('up');
});

function cipherFor(config: KeyConfig, cache = true): { cipher: SecuredValueCipher; calls: KmsCallCounter } {
  const calls = new KmsCallCounter();
  const source = createKeySource(config.securedData, { aws: config.aws, counter: calls });
  return { cipher: new SecuredValueCipher({ source, cache: cache ? config.dataKeyCache : false }), calls };
}

/** Rewrites one encryption-context value in the message header, keeping its length. */
function retargetHeader(ciphertext: string, from: string, to: string): string {
  expect(to).toHaveLength(from.length);
  const bytes = Buffer.from(ciphertext, 'base64');
  const at = bytes.indexOf(Buffer.from(from));
  expect(at).toBeGreaterThan(0);
  Buffer.from(to).copy(bytes, at);
  return bytes.toString('base64');
}

describe('local key file', () => {
  test('round trip; the ciphertext names the local key and holds no plaintext', async () => {
    const { cipher } = cipherFor(localKeyConfig());
    const conversation = uniqueId('conv');
    const secret = 'card 4111-1111-1111-1111 canary-local-7f3a';
    const ciphertext = await cipher.encrypt(conversation, 'card', secret);
    expect(Buffer.from(ciphertext, 'base64').includes(Buffer.from('canary-local-7f3a'))).toBe(false);
    expect(await cipher.decrypt(conversation, 'card', ciphertext)).toBe(secret);
    expect(cipher.keyIdOf(ciphertext)).toMatch(/^key-\d{8}-[0-9a-f]{8}$/);
    // Empty and unicode values survive too.
    expect(await cipher.decrypt(conversation, 'x', await cipher.encrypt(conversation, 'x', ''))).toBe('');
    expect(await cipher.decrypt(conversation, 'ü', await cipher.encrypt(conversation, 'ü', 'naïve ✓'))).toBe('naïve ✓');
  });

  test('moved to another conversation or attribute name, or altered, it does not decrypt', async () => {
    const { cipher } = cipherFor(localKeyConfig());
    const ciphertext = await cipher.encrypt('conv-aaaa', 'pin', '1234');
    await expect(cipher.decrypt('conv-bbbb', 'pin', ciphertext)).rejects.toMatchObject({ name: 'SecuredValueMismatchError', reason: 'conversation' });
    await expect(cipher.decrypt('conv-aaaa', 'pan', ciphertext)).rejects.toMatchObject({ reason: 'name' });
    // The header says conv-bbbb now, but the data key and the body were bound to conv-aaaa.
    await expect(cipher.decrypt('conv-bbbb', 'pin', retargetHeader(ciphertext, 'conv-aaaa', 'conv-bbbb'))).rejects.toMatchObject({ reason: 'integrity' });
    const flipped = Buffer.from(ciphertext, 'base64');
    flipped[flipped.length - 20] ^= 1;
    await expect(cipher.decrypt('conv-aaaa', 'pin', flipped.toString('base64'))).rejects.toBeInstanceOf(SecuredValueMismatchError);
    await expect(cipher.decrypt('conv-aaaa', 'pin', 'bm90IGEgbWVzc2FnZQ==')).rejects.toMatchObject({ reason: 'format' });
  });

  test('a value from another key file is refused as a key configuration problem', async () => {
    const a = cipherFor(localKeyConfig()).cipher;
    const b = cipherFor(localKeyConfig()).cipher;
    const ciphertext = await a.encrypt('conv-1', 'n', 'v');
    await expect(b.decrypt('conv-1', 'n', ciphertext)).rejects.toBeInstanceOf(KeyConfigurationError);
  });

  test('rotation: new values use the new key, old ones still decrypt, also in a process that read the file before', async () => {
    const config = localKeyConfig();
    const before = cipherFor(config).cipher;
    const old = await before.encrypt('conv-1', 'n', 'old value');
    const oldKey = before.keyIdOf(old);

    const { keyId, keyIds } = rotateLocalKey((config.securedData as { keyFile: string }).keyFile);
    expect(keyIds).toEqual([keyId, oldKey]);

    const after = cipherFor(config).cipher;
    const fresh = await after.encrypt('conv-1', 'n', 'new value');
    expect(after.keyIdOf(fresh)).toBe(keyId);
    expect(await after.decrypt('conv-1', 'n', old)).toBe('old value');
    // `before` still encrypts with the old key until restarted, and rereads the file for the new one.
    expect(before.keyIdOf(await before.encrypt('conv-1', 'n', 'x'))).toBe(oldKey);
    expect(await before.decrypt('conv-1', 'n', fresh)).toBe('new value');
  });
});

describe('AWS KMS (moto)', () => {
  test('round trip; the ciphertext names the KMS key ARN; a moved value fails', async () => {
    const keyArn = await moto.createKey();
    const { cipher, calls } = cipherFor(kmsKeyConfig(moto, { KMS_KEY_ID: keyArn }));
    const ciphertext = await cipher.encrypt('conv-kms-1', 'ssn', '123-45-6789');
    expect(cipher.keyIdOf(ciphertext)).toBe(keyArn);
    expect(await cipher.decrypt('conv-kms-1', 'ssn', ciphertext)).toBe('123-45-6789');
    expect(calls.counts()).toMatchObject({ generateDataKey: 1, decrypt: 1, failed: 0 });

    await expect(cipher.decrypt('conv-kms-2', 'ssn', ciphertext)).rejects.toMatchObject({ reason: 'conversation' });
    await expect(cipher.decrypt('conv-kms-1', 'name', ciphertext)).rejects.toMatchObject({ reason: 'name' });
    // KMS itself refuses the data key under the rewritten context (moto checks it as KMS does).
    const before = calls.counts().decrypt;
    await expect(cipher.decrypt('conv-kms-9', 'ssn', retargetHeader(ciphertext, 'conv-kms-1', 'conv-kms-9'))).rejects.toMatchObject({ reason: 'integrity' });
    expect(calls.counts().decrypt).toBe(before + 1);
  });

  const outages: Array<[KmsState, string]> = [
    ['down', 'the port refuses connections'],
    ['unavailable', 'HTTP 503'],
    ['throttled', 'ThrottlingException'],
    ['hanging', 'no answer within KMS_REQUEST_TIMEOUT'],
  ];
  test.each(outages)('KMS %s (%s): KeyServiceUnavailableError, then works when it is back', async (state) => {
    const keyArn = await moto.createKey();
    const config = kmsKeyConfig(moto, { KMS_KEY_ID: keyArn, KMS_REQUEST_TIMEOUT: '500ms', KMS_MAX_ATTEMPTS: '2' });
    const { cipher } = cipherFor(config);
    const written = await cipher.encrypt('conv-before', 'n', 'written before the outage');
    // A fresh cipher: nothing cached, so both operations need KMS.
    const cold = cipherFor(config).cipher;

    await moto.setState(state);
    const encrypting = cold.encrypt('conv-during', 'n', 'v');
    await expect(encrypting).rejects.toBeInstanceOf(KeyServiceUnavailableError);
    await expect(encrypting).rejects.toThrow(/nothing was encrypted/);
    await expect(cold.decrypt('conv-before', 'n', written)).rejects.toBeInstanceOf(KeyServiceUnavailableError);

    await moto.setState('up');
    const after = await cold.encrypt('conv-during', 'n', 'v');
    expect(await cold.decrypt('conv-during', 'n', after)).toBe('v');
    expect(await cold.decrypt('conv-before', 'n', written)).toBe('written before the outage');
  });

  test('a key KMS does not have is a KeyConfigurationError, not an outage', async () => {
    const keyArn = await moto.createKey();
    const missing = keyArn.replace(/key\/.*/, 'key/00000000-0000-0000-0000-000000000000');
    const nowhere = cipherFor(kmsKeyConfig(moto, { KMS_KEY_ID: missing }));
    await expect(nowhere.cipher.encrypt('conv-3', 'n', 'v')).rejects.toThrow(/refused the key during encrypt \(NotFoundException\)/);
    await expect(nowhere.cipher.encrypt('conv-3', 'n', 'v')).rejects.toBeInstanceOf(KeyConfigurationError);

    // A value written through another KMS (another moto: another account's key, as far as this
    // one knows) under the same ARN format: this KMS denies access to the data key.
    const other = await startMoto();
    try {
      const foreignArn = await other.createKey();
      const written = await cipherFor(kmsKeyConfig(other, { KMS_KEY_ID: foreignArn })).cipher.encrypt('conv-1', 'n', 'v');
      const here = cipherFor(kmsKeyConfig(moto, { KMS_KEY_ID: foreignArn }));
      await expect(here.cipher.decrypt('conv-1', 'n', written)).rejects.toThrow(/refused the key during decrypt \((AccessDeniedException|NotFoundException)\)/);
      expect(here.calls.counts()).toMatchObject({ decrypt: 1, failed: 1 });
    } finally {
      await other.close();
    }
  });

  test('rotation to a new key id: new values use it, old ones decrypt while the old ARN is in KMS_DECRYPT_KEY_IDS', async () => {
    const oldArn = await moto.createKey('old');
    const newArn = await moto.createKey('new');
    const before = cipherFor(kmsKeyConfig(moto, { KMS_KEY_ID: oldArn })).cipher;
    const old = await before.encrypt('conv-r', 'n', 'old value');

    const after = cipherFor(kmsKeyConfig(moto, { KMS_KEY_ID: newArn, KMS_DECRYPT_KEY_IDS: oldArn })).cipher;
    const fresh = await after.encrypt('conv-r', 'n', 'new value');
    expect(after.keyIdOf(fresh)).toBe(newArn);
    expect(after.keyIdOf(old)).toBe(oldArn);
    expect(await after.decrypt('conv-r', 'n', old)).toBe('old value');
    expect(await after.decrypt('conv-r', 'n', fresh)).toBe('new value');

    // Without the old ARN in the decrypt list, the old value is refused before any KMS call.
    const forgetful = cipherFor(kmsKeyConfig(moto, { KMS_KEY_ID: newArn }));
    await expect(forgetful.cipher.decrypt('conv-r', 'n', old)).rejects.toThrow(new RegExp(`encrypted under key ${oldArn.replace(/[/.]/g, '\\$&')}`));
    expect(forgetful.calls.counts().decrypt).toBe(0);
  });

  test('data-key cache: 50 secured writes in one conversation cost 1 GenerateDataKey, 50 without the cache', async () => {
    const keyArn = await moto.createKey();
    const config = kmsKeyConfig(moto, { KMS_KEY_ID: keyArn });
    const measured: Record<string, unknown> = {};
    for (const cache of [true, false]) {
      const { cipher, calls } = cipherFor(config, cache);
      const conversation = uniqueId('conv-cache');
      const written = [];
      for (let i = 0; i < 50; i++) written.push(await cipher.encrypt(conversation, `attr${i % 5}`, `value ${i}`));
      const afterWrites = calls.counts();
      for (let i = 0; i < 50; i++) expect(await cipher.decrypt(conversation, `attr${i % 5}`, written[i])).toBe(`value ${i}`);
      const afterReads = calls.counts();
      measured[cache ? 'with cache' : 'without cache'] = {
        generateDataKey: afterWrites.generateDataKey,
        decryptFor50Reads: afterReads.decrypt - afterWrites.decrypt,
      };
      expect(afterWrites.generateDataKey).toBe(cache ? 1 : 50);
      expect(afterWrites.encrypt).toBe(0);
    }
    // A second conversation gets its own data key.
    const { cipher, calls } = cipherFor(config, true);
    await cipher.encrypt('conv-x', 'a', '1');
    await cipher.encrypt('conv-y', 'a', '1');
    await cipher.encrypt('conv-x', 'b', '2');
    expect(calls.counts().generateDataKey).toBe(2);
    console.log(`KMS calls for 50 secured writes (then 50 reads) in one conversation: ${JSON.stringify(measured)}`);
  });

  test('the cache is bounded by DATA_KEY_CACHE_MAX_MESSAGES and DATA_KEY_CACHE_MAX_AGE', async () => {
    const keyArn = await moto.createKey();
    const byCount = cipherFor(kmsKeyConfig(moto, { KMS_KEY_ID: keyArn, DATA_KEY_CACHE_MAX_MESSAGES: '10' }));
    for (let i = 0; i < 25; i++) await byCount.cipher.encrypt('conv-m', 'a', 'v');
    expect(byCount.calls.counts().generateDataKey).toBe(3);

    const byAge = cipherFor(kmsKeyConfig(moto, { KMS_KEY_ID: keyArn, DATA_KEY_CACHE_MAX_AGE: '300ms' }));
    await byAge.cipher.encrypt('conv-a', 'a', 'v');
    await byAge.cipher.encrypt('conv-a', 'a', 'v');
    await new Promise((r) => setTimeout(r, 400));
    await byAge.cipher.encrypt('conv-a', 'a', 'v');
    expect(byAge.calls.counts().generateDataKey).toBe(2);
  });

  test('createKeyServices counts its KMS calls, and the process-wide counter sees them too', async () => {
    const keyArn = await moto.createKey();
    const before = kmsCallCounts();
    const services = createKeyServices(kmsKeyConfig(moto, { KMS_KEY_ID: keyArn }), { namespace: 'default' });
    const c = await services.securedValues.encrypt('conv-s', 'n', 'v');
    await services.securedValues.decrypt('conv-s', 'n', c);
    expect(services.kmsCalls.counts()).toMatchObject({ generateDataKey: 1, decrypt: 1 });
    expect(kmsCallCounts().generateDataKey - before.generateDataKey).toBe(1);
    expect(services.describe()).toContain(keyArn);
  });
});

describe('latency an encrypt adds (figures, not assertions)', () => {
  async function measure(cipher: SecuredValueCipher, n: number): Promise<{ p50: number; p99: number }> {
    const times: number[] = [];
    const conversation = uniqueId('conv-latency');
    // The conversation's one data-key call, and the JIT's warm-up, stay out of the figures.
    for (let i = 0; i < 50; i++) await cipher.encrypt(conversation, 'warm', 'up');
    for (let i = 0; i < n; i++) {
      const start = performance.now();
      await cipher.encrypt(conversation, 'attr', `value number ${i} with some length to it`);
      times.push(performance.now() - start);
    }
    return { p50: percentile(times, 50), p99: percentile(times, 99) };
  }

  test('500 encrypts in one conversation, local key and KMS, with the cache', async () => {
    await measure(cipherFor(localKeyConfig()).cipher, 300); // warms the process up; not reported
    const local = await measure(cipherFor(localKeyConfig()).cipher, 500);
    const kms = await measure(cipherFor(kmsKeyConfig(moto, { KMS_KEY_ID: await moto.createKey() })).cipher, 500);
    const kmsUncached = await measure(cipherFor(kmsKeyConfig(moto, { KMS_KEY_ID: await moto.createKey() }), false).cipher, 100);
    const fmt = (m: { p50: number; p99: number }) => `p50 ${m.p50.toFixed(3)} ms, p99 ${m.p99.toFixed(3)} ms`;
    console.log(
      [
        'encrypt latency per secured value:',
        `  local key, cached data key: ${fmt(local)} (500 encrypts)`,
        `  KMS (moto), cached data key: ${fmt(kms)} (500 encrypts)`,
        `  KMS (moto), no cache (one GenerateDataKey each): ${fmt(kmsUncached)} (100 encrypts)`,
      ].join('\n'),
    );
    expect(local.p50).toBeGreaterThan(0);
  });
});
