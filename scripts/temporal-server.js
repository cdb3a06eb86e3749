#!/usr/bin/env node
'use strict';
// Builds Temporal's server and its SQL schema tool from their Go module (go.temporal.io/server, the
// release the compose file's images carry) into .tools/temporal-server/v<version>/, with the schema
// files of the same release beside them: what the cluster drills run (rigs/cluster-stack.ts). Plain
// JavaScript so `npm run drills -- --cluster` can run it before anything is compiled. Skipped when
// the three are there; prints how long a build took. Needs the `go` command: the release needs a
// newer Go than most machines have, which the go command fetches itself (GOTOOLCHAIN) from the
// module proxy, as it fetches the module.
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const projectRoot = path.resolve(__dirname, '..');
const VERSION = '1.32.2';
const GOTOOLCHAIN = 'go1.27.3';
const MODULE = 'go.temporal.io/server';

const dir = path.join(projectRoot, '.tools', 'temporal-server', `v${VERSION}`);
const paths = {
  dir,
  server: path.join(dir, 'temporal-server'),
  sqlTool: path.join(dir, 'temporal-sql-tool'),
  /** The PostgreSQL schema, as temporalio/admin-tools ships it under /etc/temporal/schema/postgresql/v12. */
  postgresSchema: path.join(dir, 'schema', 'postgresql', 'v12'),
};

function present() {
  return fs.existsSync(paths.server) && fs.existsSync(paths.sqlTool) && fs.existsSync(path.join(paths.postgresSchema, 'temporal', 'versioned'));
}

function go(args, opts = {}) {
  try {
    return execFileSync('go', args, { encoding: 'utf8', ...opts });
  } catch (err) {
    if (err.code === 'ENOENT') {
      throw new Error('Building the Temporal server for the cluster drills needs the `go` command (Go 1.21 or newer; it fetches the toolchain it needs itself): install Go from https://go.dev/dl/ or Debian\'s golang-go.');
    }
    throw err;
  }
}

/** Builds what is missing; returns the paths. */
function ensureTemporalServer(log = (line) => console.log(line)) {
  if (present()) return paths;
  const started = Date.now();
  log(`[temporal-server] building ${MODULE} v${VERSION} (server and SQL tool) with ${GOTOOLCHAIN} into ${path.relative(projectRoot, dir)}; the first build takes several minutes`);
  // Built into a side folder and renamed at the end: an interrupted build leaves nothing that looks done.
  const partial = `${dir}.partial`;
  fs.rmSync(partial, { recursive: true, force: true });
  const gobin = path.join(partial, 'bin');
  fs.mkdirSync(gobin, { recursive: true });
  const env = { ...process.env, GOTOOLCHAIN, GOBIN: gobin };
  go(['install', `${MODULE}/cmd/server@v${VERSION}`, `${MODULE}/cmd/tools/sql@v${VERSION}`], { env, stdio: 'inherit', cwd: partial });
  fs.renameSync(path.join(gobin, 'server'), path.join(partial, 'temporal-server'));
  fs.renameSync(path.join(gobin, 'sql'), path.join(partial, 'temporal-sql-tool'));
  fs.rmSync(gobin, { recursive: true, force: true });
  // The module cache holds the release's schema files; copied so the build stands on its own.
  const modCache = go(['env', 'GOMODCACHE'], { env }).trim();
  const moduleSchema = path.join(modCache, `${MODULE}@v${VERSION}`, 'schema');
  fs.cpSync(moduleSchema, path.join(partial, 'schema'), { recursive: true });
  // The module cache is read-only; the copy must not be, or the folder could not be removed.
  chmodTree(path.join(partial, 'schema'));
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(partial, dir);
  log(`[temporal-server] built in ${Math.round((Date.now() - started) / 1000)} s`);
  return paths;
}

function chmodTree(p) {
  const stat = fs.statSync(p);
  fs.chmodSync(p, stat.isDirectory() ? 0o755 : 0o644);
  if (stat.isDirectory()) for (const entry of fs.readdirSync(p)) chmodTree(path.join(p, entry));
}

/**
 * Fetches what the build needs (the Go toolchain and every module) without compiling: `go install -n`
 * resolves and downloads the build list, then only prints the commands it would run. Mostly network
 * and disk, so CI runs it beside the tests and compiles after them.
 */
function downloadTemporalServerModules(log = (line) => console.log(line)) {
  if (present()) return;
  const started = Date.now();
  const env = { ...process.env, GOTOOLCHAIN, GOBIN: path.join(projectRoot, '.tools', 'temporal-server', 'download-only') };
  // `-n` prints every command it would run (tens of thousands of lines): kept out of the way, shown only on failure.
  fs.mkdirSync(path.join(projectRoot, '.tools'), { recursive: true });
  const output = path.join(projectRoot, '.tools', 'temporal-server-download.log');
  const fd = fs.openSync(output, 'w');
  try {
    go(['install', '-n', `${MODULE}/cmd/server@v${VERSION}`, `${MODULE}/cmd/tools/sql@v${VERSION}`], { env, stdio: ['ignore', fd, fd], cwd: projectRoot });
  } catch (err) {
    const lines = fs.readFileSync(output, 'utf8').trim().split('\n');
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${lines.slice(-20).join('\n')}`);
  } finally {
    fs.closeSync(fd);
  }
  log(`[temporal-server] ${MODULE} v${VERSION}'s modules and ${GOTOOLCHAIN} downloaded in ${Math.round((Date.now() - started) / 1000)} s`);
}

module.exports = { TEMPORAL_SERVER_VERSION: VERSION, temporalServerPaths: paths, ensureTemporalServer, downloadTemporalServerModules };

if (require.main === module) {
  try {
    if (process.argv.includes('--download-only')) downloadTemporalServerModules();
    else ensureTemporalServer();
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  }
}
