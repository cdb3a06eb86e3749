// The flush activity given a conversation's final batch with `exportAfter` (a close with no grace
// window): it writes the batch, then starts the export as startExport would; an export it cannot
// start leaves the written batch written and tells the workflow to start the export itself.
import fs from 'node:fs';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import pino from 'pino';
import { createActivities } from '../../activities';
import type { ExportInput, FlushResult } from '../../src/conversation';
import { FolderExportSink, type ExportDocument } from '../../src/export';
import { SqliteParticipantDataStore } from '../../src/store';
import { tempDir } from '../../rigs/temp';

const exportInput = (conversationId: string): ExportInput => ({
  conversationId,
  chainId: 'run-1',
  record: { status: 'closed', taskContext: {}, createdAt: '2026-11-22T09:00:00.000Z', closedAt: '2026-11-22T09:05:00.000Z', closeReason: 'closed-event', recentEvents: [], transfers: [], transferCount: 0, runCount: 1 },
});

async function withStore<T>(fn: (store: SqliteParticipantDataStore, dir: string) => Promise<T>): Promise<T> {
  const dir = tempDir('final-batch-export');
  const store = new SqliteParticipantDataStore(path.join(dir, 'store.sqlite'));
  await store.init();
  try {
    return await fn(store, dir);
  } finally {
    await store.close();
  }
}

test('the batch is written, then the export, and the result names it', async () => {
  await withStore(async (store, dir) => {
    const exportDir = path.join(dir, 'exports');
    const { flushParticipantData } = createActivities({ store, logger: pino({ level: 'silent' }), exportSink: new FolderExportSink(exportDir) });
    const result: FlushResult = await new MockActivityEnvironment().run(flushParticipantData, {
      conversationId: 'c-1',
      chainId: 'run-1',
      batchSeq: 1,
      attributes: { intent: 'refund' },
      exportAfter: exportInput('c-1'),
    });
    expect(result).toMatchObject({ applied: true, attributeCount: 1, export: { exportId: 'export-c-1-run-1', started: false, exported: { written: true } } });
    // The export read the batch the same activity had just written.
    const doc = JSON.parse(fs.readFileSync(result.export!.exported!.location, 'utf8')) as ExportDocument;
    expect(doc).toMatchObject({ conversationId: 'c-1', exportId: 'export-c-1-run-1' });
    expect(doc.participantData.map((a) => [a.name, a.value])).toEqual([['intent', 'refund']]);
  });
});

test('an export that cannot be started leaves the batch written and the export to the workflow', async () => {
  await withStore(async (store, dir) => {
    // A destination under a file: every write fails, and with no Temporal client here the export
    // workflow cannot be started either.
    const blocked = path.join(dir, 'not-a-folder');
    fs.writeFileSync(blocked, '');
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    const { flushParticipantData } = createActivities({ store, logger, exportSink: new FolderExportSink(path.join(blocked, 'exports')) });
    const result = await new MockActivityEnvironment().run(flushParticipantData, {
      conversationId: 'c-2',
      chainId: 'run-1',
      batchSeq: 1,
      attributes: { intent: 'CANARY-VALUE' },
      exportAfter: exportInput('c-2'),
    });
    expect(result).toEqual({ applied: true, attributeCount: 1 });
    expect((await store.listAttributes('c-2')).map((a) => [a.name, a.value])).toEqual([['intent', 'CANARY-VALUE']]);
    expect(lines.find((l) => String(l.msg).includes('export not started with the final batch'))).toMatchObject({ level: 40, conversationId: 'c-2', batchSeq: 1 });
    expect(JSON.stringify(lines)).not.toMatch(/CANARY/);
  });
});

test('without exportAfter the flush starts no export', async () => {
  await withStore(async (store, dir) => {
    const exportDir = path.join(dir, 'exports');
    const { flushParticipantData } = createActivities({ store, logger: pino({ level: 'silent' }), exportSink: new FolderExportSink(exportDir) });
    const result = await new MockActivityEnvironment().run(flushParticipantData, { conversationId: 'c-3', chainId: 'run-1', batchSeq: 1, attributes: { intent: 'refund' } });
    expect(result).toEqual({ applied: true, attributeCount: 1 });
    expect(fs.existsSync(exportDir)).toBe(false);
  });
});
