// `npm run record-histories` (after its build): records the replay histories again and writes their
// manifest. Runs every test file that calls recordHistory with RECORD_HISTORIES=1, into a scratch
// folder; only when all of them pass does it replace test/histories/*.history.binpb with what they
// recorded (so a history nobody records any more goes too) and write manifest.json. Then it runs
// test/replay against the new set. Slow: the recording tests start Temporal servers and workers.
// Each file runs in a jest process of its own: in one process, a file's leftovers (a worker still
// polling a server another file tore down) have made a later file time out.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HISTORY_SUFFIX, buildManifest, historiesDir, recordedHistoryFiles, repoRoot, writeManifest } from './history-manifest';

function recordingTestFiles(root: string): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const rel = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(rel);
      else if (entry.name.endsWith('.test.ts') && /\brecordHistory\(/.test(fs.readFileSync(path.join(root, rel), 'utf8'))) found.push(rel);
    }
  };
  walk('test');
  return found.sort();
}

function jest(root: string, args: string[], env: NodeJS.ProcessEnv): number {
  const bin = require.resolve('jest/bin/jest', { paths: [root] });
  const run = spawnSync(process.execPath, [bin, ...args], { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  return run.status ?? 1;
}

function main(): void {
  const root = repoRoot();
  const target = historiesDir(root);
  const files = recordingTestFiles(root);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-histories-'));
  console.log(`recording histories from ${files.length} test files into ${scratch}:\n  ${files.join('\n  ')}`);
  try {
    for (const file of files) {
      if (jest(root, ['--forceExit', '--runTestsByPath', file], { RECORD_HISTORIES: '1', RECORD_HISTORIES_DIR: scratch }) !== 0) {
        console.error(`${file} failed: test/histories/ is left as it was`);
        process.exitCode = 1;
        return;
      }
    }
    const recorded = recordedHistoryFiles(scratch);
    if (recorded.length === 0) {
      console.error('the recording tests recorded no history: test/histories/ is left as it was');
      process.exitCode = 1;
      return;
    }
    fs.mkdirSync(target, { recursive: true });
    for (const file of recordedHistoryFiles(target)) fs.rmSync(path.join(target, file));
    for (const file of recorded) fs.copyFileSync(path.join(scratch, file), path.join(target, file));
    const manifest = buildManifest(root, target);
    writeManifest(manifest, target);
    console.log(
      `${recorded.length} histories (*${HISTORY_SUFFIX}) and manifest.json written to ${target}; ` +
        `patch ids in their markers: ${manifest.patchIds.length > 0 ? manifest.patchIds.join(', ') : 'none'}`,
    );
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  process.exitCode = jest(root, ['--runTestsByPath', 'test/replay/replay.test.ts', 'test/replay/versions.test.ts'], {});
}

main();
