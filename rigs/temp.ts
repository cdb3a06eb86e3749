// Folders and names of one's own, so runs sharing a machine (or a server) never collide.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A fresh folder under the jest run's folder (test/global-setup.ts removes it after the run), else under the OS temp folder. */
export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(process.env.PARLEY_TEST_TMP ?? os.tmpdir(), `parley-${prefix}-`));
}

export function uniqueId(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
