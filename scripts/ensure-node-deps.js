#!/usr/bin/env node
'use strict';
// Installs the Node dependencies from package-lock.json (`npm ci`) when node_modules is missing or
// older than the lockfile, so `npm start` and `npm test` work on a fresh clone with nothing typed
// first. Runs before anything is installed: plain Node, no dependencies.
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync, spawnSync } = require('node:child_process');

const projectRoot = path.resolve(__dirname, '..');
const lockfile = path.join(projectRoot, 'package-lock.json');
// npm writes this hidden lockfile on every install: its age is the age of node_modules.
const installedLock = path.join(projectRoot, 'node_modules', '.package-lock.json');
const MIN_NODE_MAJOR = 20;

function fail(lines) {
  console.error(['[deps] cannot install the Node dependencies:', ...lines.map((l) => `  - ${l}`)].join('\n'));
  process.exit(1);
}

function mtimeOf(file) {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}

/** The packages a lockfile pins (name/path → version and integrity), without the project's own entry. */
function pinned(file) {
  try {
    const { packages = {} } = JSON.parse(fs.readFileSync(file, 'utf8'));
    return JSON.stringify(
      Object.keys(packages)
        .filter((key) => key !== '')
        .sort()
        .map((key) => [key, packages[key].version, packages[key].integrity]),
    );
  } catch {
    return undefined;
  }
}

function reasonToInstall() {
  const installed = mtimeOf(installedLock);
  if (installed === undefined) return 'node_modules is missing';
  // A checkout (a new clone, a git worktree, a branch switch) gives package-lock.json a new date
  // without changing what it pins: only a different set of packages needs an install.
  if (mtimeOf(lockfile) > installed && pinned(lockfile) !== pinned(installedLock)) return 'node_modules does not match package-lock.json';
  return undefined;
}

/** node_modules as a link to an install shared with other checkouts: `npm ci` would empty that install for all of them. */
function sharedInstall() {
  try {
    return fs.lstatSync(path.join(projectRoot, 'node_modules')).isSymbolicLink() ? fs.realpathSync(path.join(projectRoot, 'node_modules')) : undefined;
  } catch {
    return undefined;
  }
}

function has(command, args = ['--version']) {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** What compiling better-sqlite3 needs; a missing piece only matters when no prebuilt binary can be fetched. */
function toolchainGaps() {
  const gaps = [];
  if (!has('python3') && !has('python')) gaps.push('Python 3 (node-gyp runs it to compile better-sqlite3): apt-get install python3');
  if (!has('c++') && !has('g++') && !has('clang++')) gaps.push('a C++ compiler for better-sqlite3: apt-get install g++ make');
  if (!has('make')) gaps.push('make, for better-sqlite3: apt-get install make');
  return gaps;
}

/**
 * node-gyp would download the Node headers to compile better-sqlite3; with no internet that fails.
 * The headers that came with this Node installation serve the same purpose.
 */
function localNodeDir() {
  if (process.env.npm_config_nodedir) return undefined;
  const prefix = path.resolve(path.dirname(fs.realpathSync(process.execPath)), '..');
  return fs.existsSync(path.join(prefix, 'include', 'node', 'node.h')) ? prefix : undefined;
}

function main() {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < MIN_NODE_MAJOR) fail([`Node.js ${MIN_NODE_MAJOR} or newer is required; this is ${process.version}`]);
  const reason = reasonToInstall();
  if (!reason) return;
  const shared = sharedInstall();
  if (shared) {
    // npm ci deletes node_modules' contents through the link, then replaces the link with a
    // directory: every other checkout using that install would lose it mid-run.
    console.warn(`[deps] ${reason}, but node_modules links to a shared install (${shared}): not installing over it; run npm ci where it lives if it needs updating`);
    return;
  }
  if (!fs.existsSync(lockfile)) fail(['package-lock.json is missing: restore it from git (git checkout package-lock.json)']);

  console.log(`[deps] installing the Node dependencies from package-lock.json (${reason}): npm ci — a minute or two the first time`);
  const env = { ...process.env };
  const nodedir = localNodeDir();
  if (nodedir) env.npm_config_nodedir = nodedir;
  // Inside `npm start` / `npm test`, npm names its own entry point; reuse it rather than whatever `npm` is on PATH.
  const npm = process.env.npm_execpath ? [process.execPath, process.env.npm_execpath] : ['npm'];
  const result = spawnSync(npm[0], [...npm.slice(1), 'ci', '--no-audit', '--no-fund'], { cwd: projectRoot, env, stdio: 'inherit' });
  if (result.error) fail([`npm could not be run (${result.error.message}); install npm with Node.js ${MIN_NODE_MAJOR}+`]);
  if (result.status !== 0) {
    const gaps = toolchainGaps();
    fail([
      `npm ci exited with code ${result.status}; its messages are above`,
      ...(gaps.length > 0 ? gaps : ['the toolchain looks complete: check the registry is reachable (npm ping) and the disk has room']),
    ]);
  }
}

main();
