// moto's server from PyPI as a real AWS endpoint (KMS and S3) on 127.0.0.1: it checks the
// encryption context on decrypt as KMS does. Clients reach it through a relay this rig owns, so KMS
// can be taken away and brought back while moto keeps its keys in memory (restarting moto would lose
// them, and every ciphertext made with them).
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CreateKeyCommand, DisableKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { killOnExit } from './children';
import { freePort } from './ports';
import { motoServerCommand } from './project';
import { startRelay, type Relay, type RelayState } from './relay';
import { tempDir } from './temp';
import { waitFor } from './wait';

/** Dummy credentials: moto accepts any, and the SDK must find some to sign with. */
export const MOTO_CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' };
export const MOTO_REGION = 'us-east-1';

/**
 * What clients of the endpoint meet, besides `up`, `down` (refused) and `hanging` (never answered):
 * - `unavailable`: every request gets HTTP 503.
 * - `throttled`: every request gets KMS's ThrottlingException (HTTP 400).
 */
export type KmsState = RelayState<'unavailable' | 'throttled'>;

const CANNED: Record<'unavailable' | 'throttled', string> = {
  unavailable: httpResponse(503, 'Service Unavailable', '{"__type":"ServiceUnavailableException","message":"test: KMS unavailable"}'),
  throttled: httpResponse(400, 'Bad Request', '{"__type":"ThrottlingException","message":"test: rate exceeded"}'),
};

function httpResponse(status: number, reason: string, body: string): string {
  return `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

export interface MotoOptions {
  /** Default: moto.log in a folder of its own. */
  logFile?: string;
  /** Own process group, so a terminal's Ctrl-C reaches only the runner, which stops moto itself. */
  detached?: boolean;
}

export interface MotoServer {
  /** The endpoint for AWS_ENDPOINT_URL (the relay). */
  endpoint: string;
  /** Creates a symmetric KMS key and returns its ARN. */
  createKey(description?: string): Promise<string>;
  disableKey(arn: string): Promise<void>;
  /** Changes what clients of `endpoint` meet; moto itself keeps running with its keys. */
  setState(state: KmsState): Promise<void>;
  readonly state: KmsState;
  /** Stops moto and the relay. */
  close(): Promise<void>;
}

export async function startMoto(opts: MotoOptions = {}): Promise<MotoServer> {
  const { command: binary, args } = motoServerCommand();
  const motoPort = await freePort();
  const motoUrl = `http://127.0.0.1:${motoPort}`;
  const logFile = opts.logFile ?? path.join(tempDir('moto'), 'moto.log');
  const log = fs.openSync(logFile, 'a');
  const child: ChildProcess = spawn(binary, [...args, '-H', '127.0.0.1', '-p', String(motoPort)], { stdio: ['ignore', log, log], detached: opts.detached ?? false });
  fs.closeSync(log);
  killOnExit(child);
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = `moto_server exited (${signal ?? code}); its log: ${logFile}`;
  });
  child.once('error', (err) => {
    exited = `moto_server (${binary}) could not start: ${err.message}`;
  });
  const stopMoto = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await gone;
    clearTimeout(timer);
  };
  let relay: Relay<'unavailable' | 'throttled'>;
  try {
    await waitFor(
      `moto_server on ${motoUrl}`,
      async () => {
        if (exited) throw new Error(exited);
        const res = await fetch(`${motoUrl}/moto-api/`).catch(() => undefined);
        return res !== undefined && res.ok;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    relay = await startRelay(motoPort, CANNED);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const kms = new KMSClient({ region: MOTO_REGION, endpoint: motoUrl, credentials: MOTO_CREDENTIALS, maxAttempts: 1 });

  return {
    endpoint: `http://127.0.0.1:${relay.port}`,
    get state() {
      return relay.state;
    },
    setState: (state) => relay.setState(state),
    async createKey(description = 'parley test key') {
      const out = await kms.send(new CreateKeyCommand({ Description: description }));
      return out.KeyMetadata!.Arn!;
    },
    async disableKey(arn) {
      // moto 5.2.5 answers 500 to DisableKey by ARN; the bare key id works.
      await kms.send(new DisableKeyCommand({ KeyId: arn.slice(arn.lastIndexOf('/') + 1) }));
    },
    async close() {
      kms.destroy();
      await relay.close();
      await stopMoto();
    },
  };
}
