// Where exports go, from the environment: checked at start-up, so a worker never starts writing
// somewhere nobody meant.
import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';

test('by default a folder under the data directory; EXPORT_DIR names another', () => {
  expect(loadConfig({ PARLEY_DATA_DIR: '/srv/parley' }).exportTarget).toEqual({ kind: 'folder', dir: path.resolve('/srv/parley/exports') });
  expect(loadConfig({ EXPORT_DIR: 'out/exports' }).exportTarget).toEqual({ kind: 'folder', dir: path.resolve('out/exports') });
});

test('an ended conversation\'s export is written inline for up to 5 s by default; EXPORT_INLINE_WRITE_MS=0 sends every export through its workflow', () => {
  expect(loadConfig({}).exportInlineWriteMs).toBe(5_000);
  expect(loadConfig({ EXPORT_INLINE_WRITE_MS: '0' }).exportInlineWriteMs).toBe(0);
  expect(loadConfig({ EXPORT_INLINE_WRITE_MS: '20000' }).exportInlineWriteMs).toBe(20_000);
});

test('S3 when a bucket is named: prefix, region, endpoint and path style', () => {
  expect(loadConfig({ EXPORT_S3_BUCKET: 'acme-exports' }).exportTarget).toEqual({
    kind: 's3',
    bucket: 'acme-exports',
    prefix: 'conversations',
    region: 'us-east-1',
    endpoint: undefined,
    forcePathStyle: false,
  });
  expect(
    loadConfig({ EXPORT_S3_BUCKET: 'acme-exports', EXPORT_S3_PREFIX: '/cc/eu-1/', EXPORT_S3_ENDPOINT: 'http://127.0.0.1:5000', AWS_REGION: 'eu-west-3' }).exportTarget,
  ).toEqual({ kind: 's3', bucket: 'acme-exports', prefix: 'cc/eu-1', region: 'eu-west-3', endpoint: 'http://127.0.0.1:5000', forcePathStyle: true });
  expect(loadConfig({ EXPORT_S3_BUCKET: 'acme-exports', EXPORT_S3_PREFIX: '', EXPORT_S3_REGION: 'ap-south-1', EXPORT_S3_FORCE_PATH_STYLE: 'true' }).exportTarget).toMatchObject({
    prefix: '',
    region: 'ap-south-1',
    forcePathStyle: true,
  });
});

test.each([
  [{ EXPORT_S3_BUCKET: 'acme-exports', EXPORT_DIR: '/tmp/x' }, /exclusive/],
  [{ EXPORT_S3_PREFIX: 'p' }, /EXPORT_S3_PREFIX set without EXPORT_S3_BUCKET/],
  [{ EXPORT_S3_ENDPOINT: 'http://127.0.0.1:5000' }, /without EXPORT_S3_BUCKET/],
  [{ EXPORT_S3_BUCKET: 'Acme_Exports' }, /not a valid S3 bucket name/],
  [{ EXPORT_S3_BUCKET: 'acme-exports', EXPORT_S3_PREFIX: 'a/../b' }, /EXPORT_S3_PREFIX/],
  [{ EXPORT_S3_BUCKET: 'acme-exports', EXPORT_S3_PREFIX: 'a b' }, /EXPORT_S3_PREFIX/],
  [{ EXPORT_S3_BUCKET: 'acme-exports', EXPORT_S3_ENDPOINT: 'localhost:5000' }, /EXPORT_S3_ENDPOINT must be an http\(s\) URL/],
  [{ EXPORT_S3_BUCKET: 'acme-exports', EXPORT_S3_FORCE_PATH_STYLE: 'yes' }, /EXPORT_S3_FORCE_PATH_STYLE must be true or false/],
  // Past 20 s the inline write would outlast the local activity that runs it, and never hand over.
  [{ EXPORT_INLINE_WRITE_MS: '20001' }, /EXPORT_INLINE_WRITE_MS must be a whole number from 0 to 20000/],
  [{ EXPORT_INLINE_WRITE_MS: '5s' }, /EXPORT_INLINE_WRITE_MS/],
])('refused at start-up: %j', (env, message) => {
  expect(() => loadConfig(env)).toThrow(ConfigError);
  expect(() => loadConfig(env)).toThrow(message);
});
