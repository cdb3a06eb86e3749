// `npm run replay -- <conversationId | workflowId | --query "…" | --since 24h>`: replays histories
// fetched from Temporal against this checkout's workflow bundle before it is deployed. Exit 0: every
// history replayed; 1: a nondeterminism or another replay failure; 2: a usage or configuration error,
// or Temporal cannot be reached. Prints ids and event ids only, never a payload.
import fs from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { ConfigError, loadConfig } from '../config';
import { temporalAddressOf, temporalConnectionOptions } from '../platform/temporal-client';
import { createKeyServices } from '../security/key-services';
import { parleyDataConverter } from '../security/payload-codec';
import { codecForNamespace, replayAndReport, replayWorkflowSource } from '../worker/replay';
import { fetchHistories, selectRuns, type ReplaySelection } from '../worker/replay-selection';
import { REPLAY_USAGE, UsageError, parseReplayArgs } from './replay-args';

const USAGE_OR_UNREACHABLE = 2;

/** A reason to stop with exit 2: printed as it is, without a stack. */
class Stop extends Error {}

async function main(args: readonly string[]): Promise<number> {
  const selection = parseReplayArgs(args);
  if (selection === 'help') {
    console.log(REPLAY_USAGE);
    return 0;
  }
  const config = loadConfig(process.env, ['keys']);
  const { keys: keyConfig, temporalNamespace: namespace } = config;
  // The replay decodes with the key the workers use; it must not make up a new one.
  for (const source of [keyConfig.codec, keyConfig.securedData]) {
    if (source.kind === 'local' && !fs.existsSync(source.keyFile)) {
      throw new ConfigError(`no key file at ${source.keyFile}: set PARLEY_KEY_FILE (or KMS_KEY_ID) to the key the workers use`);
    }
  }
  const keys = createKeyServices(keyConfig, { namespace });
  const address = temporalAddressOf(config);
  const connection = await Connection.connect({ ...temporalConnectionOptions(config), connectTimeout: '10s' }).catch((err: unknown) => {
    throw new Stop(`cannot reach Temporal at ${address}: ${reason(err)}`);
  });
  try {
    const client = new Client({ connection, namespace });
    const runs = await selectRuns(client, selection).catch((err: unknown) => {
      throw new Stop(`Temporal (${address}, namespace ${namespace}) did not list ${described(selection)}: ${reason(err)}`);
    });
    if (runs.length === 0) {
      console.log(`nothing to replay: no workflow matches ${described(selection)} in namespace ${namespace}`);
      // An id names something that should be there; a query or a window may rightly be empty.
      return selection.kind === 'id' ? USAGE_OR_UNREACHABLE : 0;
    }
    const histories = fetchHistories(client, runs, (run) => console.log(`gone ${run.workflowId} ${run.runId} (no longer retained)`));
    // The replay worker's and the SDK core's own log lines would bury the report.
    Runtime.install({ logger: new DefaultLogger('ERROR', () => undefined), telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, forward: {} } } });
    // The worker's data converter, minus the worker's wait through a key-service outage: a replay
    // that cannot decode should say so and end, not wait.
    const options = { ...replayWorkflowSource(config), dataConverter: parleyDataConverter(codecForNamespace(keys.codec, namespace)), replayName: 'parley-replay' };
    try {
      return (await replayAndReport(options, histories, (line) => console.log(line))).exitCode;
    } catch (err) {
      throw new Stop(`replay stopped: ${reason(err)}`);
    }
  } finally {
    await connection.close();
  }
}

function described(selection: ReplaySelection): string {
  if (selection.kind === 'id') return `"${selection.id}"`;
  if (selection.kind === 'query') return `the query ${selection.query}`;
  return `the last ${selection.windowMs / 60_000} minutes`;
}

/** An error's first line, with the gRPC details when that is where the reason is. */
function reason(err: unknown): string {
  const details = err && typeof err === 'object' ? (err as { details?: unknown }).details : undefined;
  const text = typeof details === 'string' && details ? details : err instanceof Error ? err.message : String(err);
  return text.split('\n')[0];
}

// Exits explicitly: once the SDK's runtime is up, it keeps the process alive and takes SIGTERM for a
// worker drain, so a pipeline's timeout would not end it either.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) console.error(`${err.message}\n${REPLAY_USAGE}`);
    else if (err instanceof Stop || err instanceof ConfigError) console.error(err.message);
    else console.error(`replay could not run: ${reason(err)}`);
    process.exit(USAGE_OR_UNREACHABLE);
  },
);
