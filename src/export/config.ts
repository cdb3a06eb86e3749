// Where ended conversations are exported, from the environment: S3 (or a compatible store) when
// EXPORT_S3_BUCKET is set, else the folder EXPORT_DIR (default `<data dir>/exports`). Checked at
// start-up, so a worker never starts writing somewhere nobody meant.
import path from 'node:path';
import { ConfigError, type Env, flag, integerInRange } from '../platform/env';
import type { S3SinkConfig } from './s3-sink';

export type ExportTarget = ({ kind: 's3' } & S3SinkConfig) | { kind: 'folder'; dir: string };

/** S3's bucket naming rules (general purpose buckets), short of the IP-address form. */
const BUCKET_NAME = /^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
/** Key prefix segments: nothing a shell, URL or file system would read differently. */
const PREFIX_SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

export function exportTargetFromEnv(env: Env, dataDir: string): ExportTarget {
  const bucket = env.EXPORT_S3_BUCKET?.trim();
  if (!bucket) {
    // An S3 setting without a bucket would otherwise export to the local folder without a word.
    const stray = ['EXPORT_S3_PREFIX', 'EXPORT_S3_ENDPOINT', 'EXPORT_S3_REGION', 'EXPORT_S3_FORCE_PATH_STYLE'].filter((name) => env[name]);
    if (stray.length > 0) throw new ConfigError(`${stray.join(', ')} set without EXPORT_S3_BUCKET`);
    return { kind: 'folder', dir: path.resolve(env.EXPORT_DIR || path.join(dataDir, 'exports')) };
  }
  if (env.EXPORT_DIR) throw new ConfigError('EXPORT_DIR and EXPORT_S3_BUCKET are exclusive: exports go to one destination');
  if (!BUCKET_NAME.test(bucket)) throw new ConfigError(`EXPORT_S3_BUCKET is not a valid S3 bucket name: "${bucket}"`);
  const prefix = (env.EXPORT_S3_PREFIX ?? 'conversations').trim().replace(/^\/+|\/+$/g, '');
  if (prefix !== '' && !prefix.split('/').every((segment) => PREFIX_SEGMENT.test(segment))) {
    throw new ConfigError(`EXPORT_S3_PREFIX must be "/"-separated segments of letters, digits, ".", "_" and "-" (not starting with "."), got "${env.EXPORT_S3_PREFIX}"`);
  }
  const endpoint = env.EXPORT_S3_ENDPOINT?.trim() || undefined;
  if (endpoint !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(endpoint);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw new ConfigError(`EXPORT_S3_ENDPOINT must be an http(s) URL, got "${endpoint}"`);
  }
  const pathStyle = flag(env, 'EXPORT_S3_FORCE_PATH_STYLE');
  return {
    kind: 's3',
    bucket,
    prefix,
    region: env.EXPORT_S3_REGION || env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1',
    endpoint,
    // Local S3 endpoints (moto, MinIO) serve buckets by path; AWS by host name.
    forcePathStyle: pathStyle ?? endpoint !== undefined,
  };
}

/** How long an ended conversation's export may take inline before its own workflow takes it over. */
export const DEFAULT_EXPORT_INLINE_WRITE_MS = 5_000;

/**
 * EXPORT_INLINE_WRITE_MS: the worker writes an ended conversation's export at once when the
 * destination takes it within this time, and starts the export workflow (which retries until the
 * destination takes it) only when it does not. 0: every export goes through its workflow.
 */
export function exportInlineWriteMsFromEnv(env: Env): number {
  return integerInRange(env, 'EXPORT_INLINE_WRITE_MS', DEFAULT_EXPORT_INLINE_WRITE_MS, 0, MAX_EXPORT_INLINE_WRITE_MS);
}

/**
 * The local activity that runs the inline write has 30 s (src/conversation/workflows/export.ts):
 * the inline attempt must leave it time to start the export workflow, or a destination slower than
 * the activity's timeout would retry the inline write forever and never hand it over.
 */
export const MAX_EXPORT_INLINE_WRITE_MS = 20_000;
