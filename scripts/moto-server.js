'use strict';
// Where the tests find moto's server (a local AWS KMS and S3 endpoint from PyPI). Plain JavaScript so
// scripts/bootstrap.js can use it before anything is compiled. Precedence: MOTO_SERVER_PATH, then the
// project-local virtual environment `.tools/moto` that `node scripts/bootstrap.js moto` fills.
const fs = require('node:fs');
const path = require('node:path');

const projectRoot = path.resolve(__dirname, '..');
const venvDir = path.join(projectRoot, '.tools', 'moto');

/** Pinned: moto's KMS behaviour (encryption-context checks, error codes) is what the tests rely on. */
const moto = { pkg: 'moto[server]', version: '5.2.5', binary: 'moto_server', envVar: 'MOTO_SERVER_PATH' };

function venvBinary() {
  return process.platform === 'win32' ? path.join(venvDir, 'Scripts', 'moto_server.exe') : path.join(venvDir, 'bin', moto.binary);
}

function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Written by the bootstrap once pip has installed this exact version. */
function installedMarker() {
  return path.join(venvDir, `.installed-moto-${moto.version}`);
}

/** @returns {string|undefined} */
function findMotoServer() {
  const fromEnv = process.env[moto.envVar];
  if (fromEnv) return fromEnv;
  const local = venvBinary();
  return isExecutable(local) && fs.existsSync(installedMarker()) ? local : undefined;
}

/** @returns {string} */
function requireMotoServer() {
  const found = findMotoServer();
  if (!found) {
    throw new Error(
      `moto_server (a local AWS KMS for the tests) is missing. Run \`npm run bootstrap\` (creates .tools/moto, a Python ` +
        `virtual environment with PyPI ${moto.pkg}==${moto.version}), or \`pip install '${moto.pkg}==${moto.version}'\` ` +
        `and set ${moto.envVar} to the moto_server it installed.`,
    );
  }
  return found;
}

/**
 * How to run moto's server: [command, args]. A pip console script names the interpreter of the
 * virtual environment it was installed in on its first line, and a venv that was moved (or copied
 * from another checkout) keeps that stale path; the venv's own python next to it runs the same
 * entry point wherever the venv now is.
 * @returns {[string, string[]]}
 */
function motoServerCommand() {
  const binary = requireMotoServer();
  const python = path.join(path.dirname(binary), process.platform === 'win32' ? 'python.exe' : 'python');
  if (binary !== venvBinary() || !fs.existsSync(python)) return [binary, []];
  return [python, ['-c', 'import sys; from moto.server import main; sys.exit(main())']];
}

module.exports = { moto, venvDir, venvBinary, installedMarker, findMotoServer, requireMotoServer, motoServerCommand };
