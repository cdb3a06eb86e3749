// Where exports are written. Every destination offers one operation: create the object if it is
// absent, atomically, and otherwise tell whether what is there is the same content.

export type PutOutcome = 'written' | 'already-written';

export interface ExportSink {
  /** For logs and the export's result: `s3://bucket/prefix` or the folder. */
  readonly description: string;
  /** The key prefix the object keys start with ('' for the folder, whose root is the prefix). */
  readonly prefix: string;
  /** Where a key ends up, for the export's result. */
  locationOf(key: string): string;
  /**
   * Creates `key` with `body` unless it exists. Existing with the same content (SHA-256 `digest`):
   * 'already-written', nothing written. Existing with other content: ExportConflictError, nothing
   * overwritten.
   */
  putIfAbsent(key: string, body: Buffer, digest: string): Promise<PutOutcome>;
  close(): Promise<void>;
}

/** The key already holds other content. Names the key, never a value. */
export class ExportConflictError extends Error {
  override readonly name = 'ExportConflictError';
  constructor(readonly location: string) {
    super(`${location} already exists with other content; it was not overwritten`);
  }
}
