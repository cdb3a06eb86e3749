// Where the rigs find the project: its root, the build `npm run build` writes, and the tools the
// bootstrap downloaded. The same answers from the TypeScript sources (jest) and from dist/rigs
// (bench and drills), which is why nothing here is relative to this file.
import path from 'node:path';
import { projectRoot } from '../src/platform/config';
import type * as TemporalBinaries from '../scripts/temporal-binaries';
import type * as MotoServer from '../scripts/moto-server';
import type * as TemporalServer from '../scripts/temporal-server';

export const PROJECT_ROOT = projectRoot();
export const DIST = path.join(PROJECT_ROOT, 'dist');

// The tool finders are plain JavaScript in scripts/ (they run before anything is compiled), so dist/
// has no copy of them: they are loaded from the project's own scripts folder.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- plain JS shared with bootstrap.js, which runs before any build; tsc does not emit it into dist/, so it loads from the source tree
const binaries = require(path.join(PROJECT_ROOT, 'scripts', 'temporal-binaries.js')) as typeof TemporalBinaries;
// eslint-disable-next-line @typescript-eslint/no-require-imports -- plain JS shared with bootstrap.js, which runs before any build; tsc does not emit it into dist/, so it loads from the source tree
const moto = require(path.join(PROJECT_ROOT, 'scripts', 'moto-server.js')) as typeof MotoServer;
// eslint-disable-next-line @typescript-eslint/no-require-imports -- plain JS the drills' command runs before any build; tsc does not emit it into dist/, so it loads from the source tree
const temporalServer = require(path.join(PROJECT_ROOT, 'scripts', 'temporal-server.js')) as typeof TemporalServer;

/** The Temporal CLI or test server: from the environment, PATH, or .tools (never a download). */
export const requireBinary = binaries.requireBinary;
/** How to run moto's server (a local AWS KMS and S3). */
export const motoServerCommand = moto.motoServerCommand;
/** Temporal's server, SQL tool and schema built from source into .tools (built when missing). */
export const ensureTemporalServer = temporalServer.ensureTemporalServer;
export const TEMPORAL_SERVER_VERSION = temporalServer.TEMPORAL_SERVER_VERSION;
