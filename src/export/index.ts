// Post-conversation export: when a conversation ends, its record goes to object storage once.
// The entry module: the destination chosen by configuration, and what the activities use.
import { FolderExportSink } from './folder-sink';
import type { ExportTarget } from './config';
import { S3ExportSink } from './s3-sink';
import type { ExportSink } from './sink';

export { ExportErrorType, exportWorkflowId, type ConversationRecord, type ExportInput, type ExportResult } from '../conversation';
export { buildExportDocument, contentDigest, exportObjectKey, paymentIdFor, PAYMENT_ID_PATTERN, serializeExport, type ExportDocument } from './record';
export { ExportConflictError, type ExportSink, type PutOutcome } from './sink';
export { FolderExportSink, TEMP_PREFIX } from './folder-sink';
export { S3ExportSink, type S3SinkConfig } from './s3-sink';
export { transcriptOf, type TranscriptMessage } from './transcript';

export { DEFAULT_EXPORT_INLINE_WRITE_MS, exportInlineWriteMsFromEnv, exportTargetFromEnv, type ExportTarget } from './config';

export function createExportSink(target: ExportTarget): ExportSink {
  return target.kind === 's3' ? new S3ExportSink(target) : new FolderExportSink(target.dir);
}
