// The Temporal payload codec on its own: binding to namespace and workflow id through the SDK's
// serialization context, decoding without one (the codec server), rotation, and no plaintext in the
// encoded bytes. Local key file and KMS (moto).
import { DefaultFailureConverter, defaultPayloadConverter, type Payload, type SerializationContext } from '@temporalio/common';
import { loadDataConverter } from '@temporalio/common/lib/internal-non-workflow';
import { createKeySource, type KeyConfig, rotateLocalKey } from '../../src/security/keys';
import { KmsCallCounter } from '../../src/security/kms';
import { ENCRYPTED_ENCODING, isEncrypted, ParleyPayloadCodec, parleyDataConverter } from '../../src/security/payload-codec';
import { SecuredValueCipher, SecuredValueMismatchError } from '../../src/security/secured-values';
import { Envelope } from '../../src/security/envelope';
import { temporal } from '@temporalio/proto';
import { kmsKeyConfig, localKeyConfig } from '../../rigs/keys';
import { type MotoServer, startMoto } from '../../rigs/moto';

const A: SerializationContext = { type: 'workflow', namespace: 'default', workflowId: 'conversation-a' };
const B: SerializationContext = { type: 'workflow', namespace: 'default', workflowId: 'conversation-b' };
const ACTIVITY_OF_A: SerializationContext = { type: 'activity', namespace: 'default', workflowId: 'conversation-a', activityId: '1', isLocal: false };

function codecFor(config: KeyConfig, namespace = 'default'): { codec: ParleyPayloadCodec; calls: KmsCallCounter } {
  const calls = new KmsCallCounter();
  const source = createKeySource(config.codec, { aws: config.aws, counter: calls });
  return { codec: new ParleyPayloadCodec({ source, cache: config.dataKeyCache, namespace }), calls };
}

const toPayload = (value: unknown): Payload => defaultPayloadConverter.toPayload(value);
const fromPayload = (payload: Payload): unknown => defaultPayloadConverter.fromPayload(payload);

function bytesOf(payloads: Payload[]): Buffer {
  return Buffer.concat(payloads.flatMap((p) => [Buffer.from(p.data ?? []), ...Object.values(p.metadata ?? {}).map((m) => Buffer.from(m))]));
}

describe.each([
  ['local key file', async () => localKeyConfig()],
  ['AWS KMS (moto)', async () => kmsKeyConfig(moto, { KMS_KEY_ID: await moto.createKey() })],
])('payload codec with %s', (_label, makeConfig) => {
  test('encodes to ciphertext only, and decodes under the same workflow (workflow and activity contexts)', async () => {
    const { codec } = codecFor(await makeConfig());
    const canary = 'plain-canary-0e1d4c';
    const payloads = [toPayload({ attribute: 'mood', value: canary }), toPayload(null), toPayload(new Uint8Array([1, 2, 3]))];
    const encoded = await codec.encode(payloads, A);
    expect(encoded.every(isEncrypted)).toBe(true);
    expect(Buffer.from(encoded[0].metadata!.encoding!).toString()).toBe(ENCRYPTED_ENCODING);
    // Neither the value nor the original encoding (json/plain) is visible.
    expect(bytesOf(encoded).includes(Buffer.from(canary))).toBe(false);
    expect(bytesOf(encoded).includes(Buffer.from('json/plain'))).toBe(false);

    const decoded = await codec.decode(encoded, A);
    expect(fromPayload(decoded[0])).toEqual({ attribute: 'mood', value: canary });
    expect(fromPayload(decoded[1])).toBeNull();
    expect(fromPayload(decoded[2])).toEqual(new Uint8Array([1, 2, 3]));
    // An activity of the same workflow: the worker's activity context carries the workflow id.
    expect(fromPayload((await codec.decode(await codec.encode([toPayload('x')], ACTIVITY_OF_A), A))[0])).toBe('x');
    expect(fromPayload((await codec.decode(await codec.encode([toPayload('y')], A), ACTIVITY_OF_A))[0])).toBe('y');
  });

  test('a payload of workflow A does not decode under workflow B or another namespace', async () => {
    const { codec } = codecFor(await makeConfig());
    const encoded = await codec.encode([toPayload('belongs to A')], A);
    await expect(codec.decode(encoded, B)).rejects.toMatchObject({ name: 'SecuredValueMismatchError', reason: 'workflow' });
    await expect(codec.decode(encoded, { ...A, namespace: 'other' })).rejects.toMatchObject({ reason: 'namespace' });
    await expect(codec.decodeForNamespace(encoded, 'other')).rejects.toMatchObject({ reason: 'namespace' });
    // Rewriting the workflow id the payload claims to B's does not help: the decryption
    // authenticates it.
    const forged: Payload = { ...encoded[0], metadata: { ...encoded[0].metadata, 'parley-workflow': Buffer.from('conversation-b') } };
    await expect(codec.decode([forged], B)).rejects.toMatchObject({ reason: 'integrity' });
    // Nor does dropping the claim (a payload with no workflow id is accepted under any workflow).
    const unclaimed: Payload = { ...encoded[0], metadata: Object.fromEntries(Object.entries(encoded[0].metadata!).filter(([k]) => k !== 'parley-workflow')) };
    await expect(codec.decode([unclaimed], B)).rejects.toMatchObject({ reason: 'integrity' });
    // Nor flipping a byte of the ciphertext.
    const flipped = Buffer.from(encoded[0].data!);
    flipped[flipped.length - 20] ^= 1;
    await expect(codec.decode([{ ...encoded[0], data: flipped }], A)).rejects.toMatchObject({ reason: 'integrity' });
  });

  test("a data key wrapped for one namespace does not decrypt another namespace's payload", async () => {
    const config = await makeConfig();
    const { codec: other } = codecFor(config, 'other');
    const { codec } = codecFor(config);
    const mine = await codec.encode([toPayload('default namespace')], A);
    const theirs = await other.encode([toPayload('other namespace')], { ...A, namespace: 'other' });
    // Their payload, relabelled as ours: the wrapped key says "other".
    const relabelled: Payload = { ...theirs[0], metadata: { ...theirs[0].metadata, 'parley-namespace': Buffer.from('default') } };
    await expect(codec.decode([relabelled], A)).rejects.toMatchObject({ reason: 'namespace' });
    // Our payload carrying their key: refused before any decryption of the body.
    const swapped: Payload = { ...mine[0], metadata: { ...mine[0].metadata, 'parley-data-key': theirs[0].metadata!['parley-data-key'] } };
    await expect(codec.decode([swapped], A)).rejects.toMatchObject({ reason: 'namespace' });
  });

  test('payloads written as whole Encryption SDK messages (before shared data keys) still decode, bound as they were', async () => {
    const config = await makeConfig();
    const { codec } = codecFor(config);
    const envelope = new Envelope(createKeySource(config.codec, { aws: config.aws, counter: new KmsCallCounter() }), false);
    const context = { 'parley:purpose': 'temporal-payload', 'parley:namespace': 'default', 'parley:workflow': 'conversation-a' };
    const legacy: Payload = {
      metadata: { encoding: new TextEncoder().encode(ENCRYPTED_ENCODING) },
      data: await envelope.encrypt(Buffer.from(temporal.api.common.v1.Payload.encode(toPayload({ written: 'before' })).finish()), context),
    };
    expect(fromPayload((await codec.decode([legacy], A))[0])).toEqual({ written: 'before' });
    expect(fromPayload((await codec.decode([legacy]))[0])).toEqual({ written: 'before' });
    await expect(codec.decode([legacy], B)).rejects.toMatchObject({ reason: 'workflow' });
    expect(codec.keyIdOf(legacy)).toBe(codec.keyIdOf((await codec.encode([toPayload('new')], A))[0]));
  });

  test('without a context (the codec server, for the UI) it decodes from the header', async () => {
    const { codec } = codecFor(await makeConfig());
    const encoded = await codec.encode([toPayload({ n: 1 })], A);
    expect(fromPayload((await codec.decode(encoded))[0])).toEqual({ n: 1 });
    expect(fromPayload((await codec.decodeForNamespace(encoded, 'default'))[0])).toEqual({ n: 1 });
    // Encoded with no context: bound to the codec's namespace, accepted under any workflow of it.
    const unbound = await codec.encode([toPayload('from a schedule')]);
    expect(fromPayload((await codec.decode(unbound, B))[0])).toBe('from a schedule');
  });

  test('a secured value presented as a payload is refused (same key, other purpose)', async () => {
    const config = await makeConfig();
    const { codec } = codecFor(config);
    const cipher = new SecuredValueCipher({ source: createKeySource(config.securedData, { aws: config.aws, counter: new KmsCallCounter() }), cache: false });
    const secured = Buffer.from(await cipher.encrypt('conversation-a', 'card', '4111'), 'base64');
    const disguised: Payload = { metadata: { encoding: new TextEncoder().encode(ENCRYPTED_ENCODING) }, data: secured };
    await expect(codec.decode([disguised])).rejects.toMatchObject({ reason: 'purpose' });
    await expect(codec.decode([disguised], A)).rejects.toBeInstanceOf(SecuredValueMismatchError);
    // Nor as a payload's wrapped data key: it would decrypt to the secured value.
    const [real] = await codec.encode([toPayload('x')], A);
    const asKey: Payload = { ...real, metadata: { ...real.metadata, 'parley-data-key': secured } };
    await expect(codec.decode([asKey], A)).rejects.toMatchObject({ reason: 'purpose' });
    await expect(codec.decodeForNamespace([asKey], 'default')).rejects.toMatchObject({ reason: 'purpose' });
  });

  test('payloads that are not encrypted pass through (history from before encryption)', async () => {
    const { codec } = codecFor(await makeConfig());
    const plain = toPayload('written before');
    expect(await codec.decode([plain], A)).toEqual([plain]);
  });
});

describe('rotation', () => {
  test('local key file: old payloads decode after a rotation, new ones use the new key', async () => {
    const config = localKeyConfig();
    const before = codecFor(config).codec;
    const old = await before.encode([toPayload('old')], A);
    const { keyId } = rotateLocalKey((config.codec as { keyFile: string }).keyFile);
    const after = codecFor(config).codec;
    const fresh = await after.encode([toPayload('new')], A);
    expect(after.keyIdOf(fresh[0])).toBe(keyId);
    expect(after.keyIdOf(old[0])).not.toBe(keyId);
    expect(fromPayload((await after.decode(old, A))[0])).toBe('old');
    // A worker started before the rotation meets a new-key payload: it rereads the key file.
    expect(fromPayload((await before.decode(fresh, A))[0])).toBe('new');
  });

  test('KMS: CODEC_KMS_KEY_ID moves to a new key; the old one stays in KMS_DECRYPT_KEY_IDS', async () => {
    const shared = await moto.createKey('shared');
    const oldCodec = await moto.createKey('codec old');
    const newCodec = await moto.createKey('codec new');
    const before = codecFor(kmsKeyConfig(moto, { KMS_KEY_ID: shared, CODEC_KMS_KEY_ID: oldCodec })).codec;
    const old = await before.encode([toPayload('old')], A);
    expect(before.keyIdOf(old[0])).toBe(oldCodec);
    const after = codecFor(kmsKeyConfig(moto, { KMS_KEY_ID: shared, CODEC_KMS_KEY_ID: newCodec, KMS_DECRYPT_KEY_IDS: oldCodec })).codec;
    const fresh = await after.encode([toPayload('new')], A);
    expect(after.keyIdOf(fresh[0])).toBe(newCodec);
    expect(fromPayload((await after.decode(old, A))[0])).toBe('old');
    expect(fromPayload((await after.decode(fresh, A))[0])).toBe('new');
  });
});

test('KMS calls: one GenerateDataKey per namespace for any number of payloads and workflows, one Decrypt per data key in another process', async () => {
  const config = kmsKeyConfig(moto, { KMS_KEY_ID: await moto.createKey() });
  const { codec, calls } = codecFor(config);
  const encoded = [];
  for (let i = 0; i < 40; i++) encoded.push(...(await codec.encode([toPayload({ event: i })], i % 2 === 0 ? A : B)));
  expect(calls.counts().generateDataKey).toBe(1);
  // The process that wrote them reads them back without KMS.
  for (let i = 0; i < 40; i++) await codec.decode([encoded[i]], i % 2 === 0 ? A : B);
  expect(calls.counts().decrypt).toBe(0);
  // Another process (the API reading what the worker wrote) unwraps the data key once.
  const { codec: reader, calls: readerCalls } = codecFor(config);
  await Promise.all(encoded.map((p, i) => reader.decode([p], i % 2 === 0 ? A : B)));
  expect(readerCalls.counts().decrypt).toBe(1);
});

test('a data key is replaced after DATA_KEY_CACHE_MAX_MESSAGES payloads; with the cache off every payload has its own', async () => {
  const config = kmsKeyConfig(moto, { KMS_KEY_ID: await moto.createKey() });
  const source = createKeySource(config.codec, { aws: config.aws, counter: new KmsCallCounter() });
  const codec = new ParleyPayloadCodec({ source, cache: { ...config.dataKeyCache, maxMessagesPerKey: 5 }, namespace: 'default' });
  const encoded = await codec.encode(Array.from({ length: 12 }, (_, i) => toPayload(i)), A);
  expect(new Set(encoded.map((p) => Buffer.from(p.metadata!['parley-data-key']!).toString('base64'))).size).toBe(3);
  const uncached = new ParleyPayloadCodec({ source, cache: false, namespace: 'default' });
  const each = await uncached.encode([toPayload(1), toPayload(2)], A);
  expect(new Set(each.map((p) => Buffer.from(p.metadata!['parley-data-key']!).toString('base64'))).size).toBe(2);
  expect((await uncached.decode(each, A)).map(fromPayload)).toEqual([1, 2]);
});

test('parleyDataConverter: the codec and a failure converter that encodes messages and stack traces', async () => {
  const { codec } = codecFor(localKeyConfig());
  const loaded = loadDataConverter(parleyDataConverter(codec));
  expect(loaded.payloadCodecs).toEqual([codec]);
  expect(loaded.failureConverter).toBeInstanceOf(DefaultFailureConverter);
  const failure = loaded.failureConverter.errorToFailure(new Error('failure-canary-91b2'), loaded.payloadConverter);
  expect(failure.message).toBe('Encoded failure');
  expect(failure.encodedAttributes).toBeTruthy();
  expect(JSON.stringify(failure)).not.toContain('failure-canary-91b2');
});

let moto: MotoServer;

beforeAll(async () => {
  moto = await startMoto();
});

afterAll(async () => {
  await moto?.close();
});
