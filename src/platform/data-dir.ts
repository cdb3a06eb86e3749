// Where Parley keeps its files on this machine: the data folder (SQLite store, local key file,
// secrets file, outbox, exports) and the project folder it defaults under.
import fs from 'node:fs';
import path from 'node:path';
import type { Env } from './env';

/** The folder holding package.json, whether running from src/ (tests) or dist/src/ (npm start). */
export function projectRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
  return dir;
}

/** PARLEY_DATA_DIR, else `.data` in the project folder. */
export function dataDirOf(env: Env): string {
  return path.resolve(env.PARLEY_DATA_DIR || path.join(projectRoot(), '.data'));
}
