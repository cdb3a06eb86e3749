// scripts/ensure-node-deps.js decides whether `npm start` / `npm test` / `npm run drills` first run
// `npm ci`. A git worktree whose node_modules links to another checkout's install once made it run
// npm ci through the link, which emptied the shared install for every checkout using it. Each case
// is a real project folder with a real npm; the project has no dependencies, so npm ci is offline.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../src/platform/config';
import { tempDir } from '../../rigs/temp';

const SCRIPT = path.join(projectRoot(), 'scripts', 'ensure-node-deps.js');

function project(): { dir: string; lock: Record<string, unknown> } {
  const dir = tempDir('deps');
  fs.mkdirSync(path.join(dir, 'scripts'));
  fs.copyFileSync(SCRIPT, path.join(dir, 'scripts', 'ensure-node-deps.js'));
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'deps-probe', version: '1.0.0', private: true }));
  const lock = { name: 'deps-probe', version: '1.0.0', lockfileVersion: 3, requires: true, packages: { '': { name: 'deps-probe', version: '1.0.0' } } };
  fs.writeFileSync(path.join(dir, 'package-lock.json'), JSON.stringify(lock));
  return { dir, lock };
}

/** An install: a marker package and npm's hidden lockfile, dated an hour before the project's lockfile. */
function install(dir: string, lock: Record<string, unknown>): void {
  fs.mkdirSync(path.join(dir, 'marker'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'marker', 'index.js'), '');
  fs.writeFileSync(path.join(dir, '.package-lock.json'), JSON.stringify(lock));
  const hourAgo = new Date(Date.now() - 3_600_000);
  fs.utimesSync(path.join(dir, '.package-lock.json'), hourAgo, hourAgo);
}

function run(dir: string): { status: number | null; output: string } {
  const env = { ...process.env };
  delete env.npm_execpath;
  const res = spawnSync(process.execPath, [path.join(dir, 'scripts', 'ensure-node-deps.js')], { cwd: dir, env, encoding: 'utf8', timeout: 120_000 });
  return { status: res.status, output: `${res.stdout}${res.stderr}` };
}

test('a node_modules linked to a shared install is never installed over, even when it differs from the lockfile', () => {
  const { dir, lock } = project();
  const shared = tempDir('deps-shared');
  // The shared install pins another package than this checkout's lockfile.
  install(shared, { ...lock, packages: { ...(lock.packages as object), 'node_modules/other': { version: '1.0.0' } } });
  fs.symlinkSync(shared, path.join(dir, 'node_modules'));
  const { status, output } = run(dir);
  expect(status).toBe(0);
  expect(output).toMatch(/links to a shared install .*not installing over it/);
  expect(fs.lstatSync(path.join(dir, 'node_modules')).isSymbolicLink()).toBe(true);
  expect(fs.existsSync(path.join(shared, 'marker', 'index.js'))).toBe(true);
});

test('a lockfile newer than the install but pinning the same packages (a fresh checkout) installs nothing', () => {
  const { dir, lock } = project();
  install(path.join(dir, 'node_modules'), lock);
  const { status, output } = run(dir);
  expect([status, output]).toEqual([0, '']);
  expect(fs.existsSync(path.join(dir, 'node_modules', 'marker', 'index.js'))).toBe(true);
});

test('an install that differs from the lockfile is reinstalled with npm ci', () => {
  const { dir, lock } = project();
  install(path.join(dir, 'node_modules'), { ...lock, packages: { ...(lock.packages as object), 'node_modules/other': { version: '1.0.0' } } });
  const { status, output } = run(dir);
  expect(status).toBe(0);
  expect(output).toMatch(/does not match package-lock.json/);
  // npm ci starts from an empty node_modules.
  expect(fs.existsSync(path.join(dir, 'node_modules', 'marker'))).toBe(false);
});
