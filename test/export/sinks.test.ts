// The two export destinations' create-if-absent on real peers: S3 on moto (its conditional
// PutObject) and a folder on the local file system. Same content again: already written;
// other content: refused, the existing object untouched.
import fs from 'node:fs';
import path from 'node:path';
import { PutObjectCommand, S3ServiceException, type S3Client } from '@aws-sdk/client-s3';
import { contentDigest, ExportConflictError, FolderExportSink, S3ExportSink, TEMP_PREFIX } from '../../src/export';
import { MOTO_REGION, type MotoServer, startMoto } from '../../rigs/moto';
import { createBucket, listKeys, motoS3Client, readObject } from '../../rigs/s3';
import { tempDir } from '../../rigs/temp';

const BUCKET = 'parley-sink-tests';
let moto: MotoServer;
let s3: S3Client;

beforeAll(async () => {
  moto = await startMoto();
  s3 = motoS3Client(moto.endpoint);
  await createBucket(s3, BUCKET);
}, 90_000);

afterAll(async () => {
  s3?.destroy();
  await moto?.close();
});

const body = (text: string) => Buffer.from(text, 'utf8');

test('moto honours If-None-Match: * on PutObject: a second conditional put of the key fails with 412', async () => {
  const put = (text: string) => s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'probe/once.json', Body: text, IfNoneMatch: '*' }));
  await put('first');
  const err = await put('second').then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(S3ServiceException);
  expect((err as S3ServiceException).$metadata.httpStatusCode).toBe(412);
  expect((await readObject(s3, BUCKET, 'probe/once.json')).text).toBe('first');
});

test('S3 sink: written once; the same content again is already written; other content is a conflict and overwrites nothing', async () => {
  const sink = new S3ExportSink({ bucket: BUCKET, prefix: 'p', region: MOTO_REGION, endpoint: moto.endpoint, forcePathStyle: true }, motoS3Client(moto.endpoint));
  const key = 'p/2026/11/22/c1/export-c1-r1.json';
  const content = body('{"a":1}\n');
  expect(await sink.putIfAbsent(key, content, contentDigest(content))).toBe('written');
  const first = await readObject(s3, BUCKET, key);
  expect(await sink.putIfAbsent(key, content, contentDigest(content))).toBe('already-written');
  const other = body('{"a":2}\n');
  await expect(sink.putIfAbsent(key, other, contentDigest(other))).rejects.toThrow(ExportConflictError);
  await expect(sink.putIfAbsent(key, other, contentDigest(other))).rejects.toThrow(`s3://${BUCKET}/${key} already exists with other content`);
  const after = await readObject(s3, BUCKET, key);
  expect([after.text, after.etag, after.lastModified]).toEqual([first.text, first.etag, first.lastModified]);
  expect(await listKeys(s3, BUCKET, 'p/')).toEqual([key]);
  await sink.close();
});

test('folder sink: written once; the same content again is already written; other content is a conflict; no temporary file is left', async () => {
  const dir = tempDir('folder-sink');
  const sink = new FolderExportSink(dir);
  const key = '2026/11/22/c1/export-c1-r1.json';
  const file = path.join(dir, '2026', '11', '22', 'c1', 'export-c1-r1.json');
  const content = body('{"a":1}\n');
  expect(await sink.putIfAbsent(key, content, contentDigest(content))).toBe('written');
  const before = fs.statSync(file);
  expect(await sink.putIfAbsent(key, content, contentDigest(content))).toBe('already-written');
  const other = body('{"a":2}\n');
  await expect(sink.putIfAbsent(key, other, contentDigest(other))).rejects.toThrow(ExportConflictError);
  const after = fs.statSync(file);
  expect([after.ino, after.mtimeMs, fs.readFileSync(file, 'utf8')]).toEqual([before.ino, before.mtimeMs, '{"a":1}\n']);
  // Owner-only: an export holds personal data.
  expect(after.mode & 0o777).toBe(0o600);
  expect(fs.readdirSync(path.dirname(file)).filter((f) => f.startsWith(TEMP_PREFIX))).toEqual([]);
});

test('folder sink: concurrent writers of one key leave one file, all of them told it is there', async () => {
  const dir = tempDir('folder-race');
  const sink = new FolderExportSink(dir);
  const content = body('{"same":true}\n');
  const outcomes = await Promise.all(Array.from({ length: 8 }, () => sink.putIfAbsent('k/x.json', content, contentDigest(content))));
  expect(outcomes.filter((o) => o === 'written')).toHaveLength(1);
  expect(outcomes.filter((o) => o === 'already-written')).toHaveLength(7);
  expect(fs.readdirSync(path.join(dir, 'k'))).toEqual(['x.json']);
});
