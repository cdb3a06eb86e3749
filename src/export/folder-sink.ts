// Exports as files under a local folder (the default for `npm start`). A file appears complete or
// not at all, and never replaces another: the content goes to a temporary file in the same folder,
// which is then hard-linked to the final name (link fails with EEXIST if the name is taken, an
// atomic create-if-absent that rename does not offer, since rename replaces).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { contentDigest } from './record';
import { ExportConflictError, type ExportSink, type PutOutcome } from './sink';

/** Temporary files start with this; a crash between write and link can leave one, which is never an export. */
export const TEMP_PREFIX = '.tmp-';

export class FolderExportSink implements ExportSink {
  readonly prefix = '';
  readonly description: string;

  constructor(readonly dir: string) {
    this.description = dir;
  }

  locationOf(key: string): string {
    return path.join(this.dir, ...key.split('/'));
  }

  async putIfAbsent(key: string, body: Buffer, digest: string): Promise<PutOutcome> {
    const target = this.locationOf(key);
    const folder = path.dirname(target);
    await fs.promises.mkdir(folder, { recursive: true });
    const temp = path.join(folder, `${TEMP_PREFIX}${path.basename(target)}-${randomBytes(6).toString('hex')}`);
    const handle = await fs.promises.open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(body);
      // On disk before it has its name: after a power loss the name never points at a partial file.
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await fs.promises.link(temp, target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (contentDigest(await fs.promises.readFile(target)) === digest) return 'already-written';
      throw new ExportConflictError(target);
    } finally {
      await fs.promises.unlink(temp).catch(() => undefined);
    }
    await syncFolder(folder);
    return 'written';
  }

  async close(): Promise<void> {}
}

/** Makes the new name durable (POSIX needs the directory fsynced); not possible on every platform. */
async function syncFolder(folder: string): Promise<void> {
  let handle: fs.promises.FileHandle | undefined;
  try {
    handle = await fs.promises.open(folder, 'r');
    await handle.sync();
  } catch {
    // Windows cannot open a directory for fsync; the link is still atomic there.
  } finally {
    await handle?.close();
  }
}
