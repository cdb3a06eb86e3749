// Exports as S3 objects. Create-if-absent is S3's conditional write: PutObject with
// `If-None-Match: *` fails with 412 when the key exists, so an object is never overwritten; then
// the existing object is read and its digest compared, to tell a retry from a conflict.
import { GetObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { contentDigest } from './record';
import { ExportConflictError, type ExportSink, type PutOutcome } from './sink';

export interface S3SinkConfig {
  bucket: string;
  /** Key prefix without leading or trailing "/"; '' for none. */
  prefix: string;
  region: string;
  /** An S3-compatible endpoint (moto, MinIO); unset means AWS's own for the region. */
  endpoint?: string;
  /** bucket in the path rather than the host name: what local endpoints need. */
  forcePathStyle: boolean;
}

/** User metadata on every export: lets a person see the content digest without reading the body. */
const DIGEST_METADATA = 'content-sha256';

export class S3ExportSink implements ExportSink {
  readonly description: string;
  readonly prefix: string;
  private readonly client: S3Client;

  /** `client` for tests that bring their own credentials; otherwise AWS's default credential chain. */
  constructor(
    private readonly config: S3SinkConfig,
    client?: S3Client,
  ) {
    this.prefix = config.prefix;
    this.description = `s3://${config.bucket}/${config.prefix}`;
    this.client = client ?? new S3Client({ region: config.region, endpoint: config.endpoint, forcePathStyle: config.forcePathStyle });
  }

  locationOf(key: string): string {
    return `s3://${this.config.bucket}/${key}`;
  }

  async putIfAbsent(key: string, body: Buffer, digest: string): Promise<PutOutcome> {
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.config.bucket,
          Key: key,
          Body: body,
          ContentType: 'application/json',
          IfNoneMatch: '*',
          Metadata: { [DIGEST_METADATA]: digest },
        }),
      );
      return 'written';
    } catch (err) {
      // 412: the key exists (this export's earlier attempt, or something else). Any other error
      // (409 for a concurrent conditional write, 5xx, network) is retried by the activity.
      if (!(err instanceof S3ServiceException && err.$metadata.httpStatusCode === 412)) throw err;
    }
    const existing = await this.client.send(new GetObjectCommand({ Bucket: this.config.bucket, Key: key }));
    const bytes = Buffer.from((await existing.Body?.transformToByteArray()) ?? []);
    if (contentDigest(bytes) === digest) return 'already-written';
    throw new ExportConflictError(this.locationOf(key));
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
