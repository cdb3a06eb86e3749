// Where exports go, from the environment: checked at start-up, so a worker never starts writing
// somewhere nobody meant.
import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';

test('by default a folder under the data directory; EXPORT_DIR names another', () => {
  expect(loadConfig({ PARLEY_DATA_DIR: '/srv/parley' }).exportTarget).toEqual({ kind: 'folder', dir: path.resolve('/srv/parley/exports') });
  expect(loadConfig({ EXPORT_DIR: 'out/exports' }).exportTarget).toEqual({ kind: 'folder', dir: path.resolve('out/exports') });
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
])('refused at start-up: %j', (env, message) => {
  expect(() => loadConfig(env)).toThrow(ConfigError);
  expect(() => loadConfig(env)).toThrow(message);
});
