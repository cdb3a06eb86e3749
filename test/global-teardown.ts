import fs from 'node:fs';

export default function globalTeardown(): void {
  const dir = process.env.PARLEY_TEST_TMP;
  if (!dir) return;
  if (process.env.KEEP_TEST_DIRS) {
    console.log(`test folders kept in ${dir}`);
    return;
  }
  fs.rmSync(dir, { recursive: true, force: true });
}
