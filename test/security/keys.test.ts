// Key configuration from the environment and the local key file on disk.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../../src/platform/config';
import { keyConfigFromEnv, loadOrCreateLocalKeys, readLocalKeys, rotateLocalKey } from '../../src/security/keys';
import { tempDir } from '../../rigs/temp';

const root = path.resolve(__dirname, '..', '..');

/**
 * A module as `npm run build` compiles it (npm test builds first); compiled here when missing, so
 * the file also runs on its own.
 */
function compiled(relative: string): string {
  const file = path.join(root, 'dist', relative);
  if (!fs.existsSync(file)) execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  return file;
}

const ARN_A = 'arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555';
const ARN_B = 'arn:aws:kms:eu-west-1:123456789012:key/mrk-0123456789abcdef0123456789abcdef';

describe('keyConfigFromEnv', () => {
  test('no KMS: the local key file, by default in the data folder', () => {
    const config = keyConfigFromEnv({ PARLEY_DATA_DIR: '/var/parley' });
    expect(config.securedData).toEqual({ kind: 'local', keyFile: '/var/parley/keys.json' });
    expect(config.codec).toEqual(config.securedData);
    expect(keyConfigFromEnv({ PARLEY_KEY_FILE: '/etc/parley/keys.json' }).securedData).toEqual({ kind: 'local', keyFile: '/etc/parley/keys.json' });
    expect(config.dataKeyCache).toEqual({ maxAgeMs: 300_000, maxMessagesPerKey: 10_000, capacity: 1_000 });
  });

  test('KMS_KEY_ID: both purposes on KMS, the codec on its own key when named, older keys for decrypt', () => {
    const config = keyConfigFromEnv({
      KMS_KEY_ID: ARN_A,
      KMS_DECRYPT_KEY_IDS: ` ${ARN_B}, ${ARN_A} `,
      AWS_REGION: 'eu-west-1',
      AWS_ENDPOINT_URL: 'http://127.0.0.1:4566',
      DATA_KEY_CACHE_MAX_AGE: '30s',
      DATA_KEY_CACHE_MAX_MESSAGES: '100',
    });
    expect(config.securedData).toEqual({ kind: 'kms', keyArn: ARN_A, decryptKeyArns: [ARN_B] });
    expect(config.codec).toEqual({ kind: 'kms', keyArn: ARN_A, decryptKeyArns: [ARN_B] });
    expect(config.aws).toMatchObject({ region: 'eu-west-1', endpoint: 'http://127.0.0.1:4566' });
    expect(config.dataKeyCache).toMatchObject({ maxAgeMs: 30_000, maxMessagesPerKey: 100 });
    expect(keyConfigFromEnv({ KMS_KEY_ID: ARN_A, CODEC_KMS_KEY_ID: ARN_B }).codec).toEqual({ kind: 'kms', keyArn: ARN_B, decryptKeyArns: [] });
    expect(keyConfigFromEnv({ KMS_KEY_ID: ARN_A, AWS_ENDPOINT_URL: 'http://a', AWS_ENDPOINT_URL_KMS: 'http://kms' }).aws.endpoint).toBe('http://kms');
  });

  test.each([
    [{ KMS_KEY_ID: 'alias/parley' }, /KMS_KEY_ID must be a KMS key ARN/],
    [{ KMS_KEY_ID: '11111111-2222-3333-4444-555555555555' }, /KMS_KEY_ID must be a KMS key ARN/],
    [{ KMS_KEY_ID: ARN_A, KMS_DECRYPT_KEY_IDS: 'alias/old' }, /KMS_DECRYPT_KEY_IDS must be a KMS key ARN/],
    [{ CODEC_KMS_KEY_ID: ARN_A }, /need KMS_KEY_ID/],
    [{ KMS_DECRYPT_KEY_IDS: ARN_A }, /need KMS_KEY_ID/],
    [{ DATA_KEY_CACHE_MAX_AGE: '5 minutes' }, /DATA_KEY_CACHE_MAX_AGE/],
    [{ DATA_KEY_CACHE_MAX_MESSAGES: '0' }, /DATA_KEY_CACHE_MAX_MESSAGES must be a whole number from 1/],
    [{ KMS_MAX_ATTEMPTS: 'x' }, /KMS_MAX_ATTEMPTS/],
  ])('%j is a ConfigError', (env, message) => {
    expect(() => keyConfigFromEnv(env)).toThrow(ConfigError);
    expect(() => keyConfigFromEnv(env)).toThrow(message);
  });
});

describe('local key file', () => {
  test('created on first use with mode 0600, one 256-bit key; read back the same', () => {
    const file = path.join(tempDir('keyfile'), 'nested', 'keys.json');
    const keys = loadOrCreateLocalKeys(file);
    expect(keys).toHaveLength(1);
    expect(keys[0].key).toHaveLength(32);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const json = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(json.keys[0]).toEqual({ id: keys[0].id, createdAt: expect.any(String), aes256: expect.any(String) });
    expect(loadOrCreateLocalKeys(file)[0].id).toBe(keys[0].id);
  });

  test('processes creating it at the same moment end with one key', async () => {
    const file = path.join(tempDir('keyfile-race'), 'keys.json');
    const child = `const { loadOrCreateLocalKeys } = require(process.argv[1]); console.log(loadOrCreateLocalKeys(process.argv[2])[0].id);`;
    const ids = await Promise.all(
      Array.from(
        { length: 4 },
        () =>
          new Promise<string>((resolve, reject) => {
            const p = spawn(process.execPath, ['-e', child, compiled('src/security/keys.js'), file], { stdio: ['ignore', 'pipe', 'inherit'] });
            let out = '';
            p.stdout.on('data', (d: Buffer) => (out += d));
            p.on('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`child exited ${code}`))));
          }),
      ),
    );
    expect(new Set(ids).size).toBe(1);
    expect(readLocalKeys(file)).toHaveLength(1);
  });

  test('rotation puts a new key first and keeps the old ones', () => {
    const file = path.join(tempDir('keyfile-rotate'), 'keys.json');
    const first = loadOrCreateLocalKeys(file)[0].id;
    const { keyId, keyIds } = rotateLocalKey(file);
    expect(keyIds).toEqual([keyId, first]);
    expect(readLocalKeys(file).map((k) => k.id)).toEqual([keyId, first]);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  test.each([
    ['{}', /at least one key/],
    ['{"keys":[{"id":"a","aes256":"c2hvcnQ="}]}', /base64 of 32 random bytes/],
    ['{"keys":[{"id":"has space","aes256":""}]}', /needs an "id"/],
    ['not json', /cannot be read as JSON/],
  ])('a bad key file (%s) is a ConfigError', (content, message) => {
    const file = path.join(tempDir('keyfile-bad'), 'keys.json');
    fs.writeFileSync(file, content);
    expect(() => readLocalKeys(file)).toThrow(ConfigError);
    expect(() => readLocalKeys(file)).toThrow(message);
  });

  test('a key file that is not JSON is refused without quoting it: the text is key material', () => {
    const file = path.join(tempDir('keyfile-edited'), 'keys.json');
    const material = Buffer.alloc(32, 9).toString('base64');
    // A hand edit that lost the quotes: the JSON parser's own message would quote the text around it.
    fs.writeFileSync(file, `{"keys":[{"id":"k","aes256":${material}}]}`);
    let message = '';
    try {
      readLocalKeys(file);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      message = (err as Error).message;
    }
    expect(message).toMatch(/cannot be read as JSON/);
    expect(message).toContain(file);
    expect(message).not.toContain(material.slice(0, 8));
  });

  test('the same key id twice is refused', () => {
    const file = path.join(tempDir('keyfile-dup'), 'keys.json');
    const key = Buffer.alloc(32, 7).toString('base64');
    fs.writeFileSync(file, JSON.stringify({ keys: [{ id: 'k', aes256: key }, { id: 'k', aes256: key }] }));
    expect(() => readLocalKeys(file)).toThrow(/appears twice/);
  });
});

describe('npm run rotate-key', () => {
  test('rotates the file named by PARLEY_KEY_FILE, and refuses with KMS configured', () => {
    const file = path.join(tempDir('keyfile-script'), 'keys.json');
    const first = loadOrCreateLocalKeys(file)[0].id;
    const script = compiled('src/cli/rotate-key.js');
    const out = execFileSync(process.execPath, [script], { env: { ...process.env, PARLEY_KEY_FILE: file, KMS_KEY_ID: '' }, encoding: 'utf8' });
    const ids = readLocalKeys(file).map((k) => k.id);
    expect(ids).toHaveLength(2);
    expect(ids[1]).toBe(first);
    expect(out).toContain(`new key ${ids[0]} now encrypts`);
    expect(() => execFileSync(process.execPath, [script], { env: { ...process.env, KMS_KEY_ID: ARN_A }, stdio: 'pipe' })).toThrow(/KMS_DECRYPT_KEY_IDS/);
  });
});
