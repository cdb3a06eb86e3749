// A real AWS KMS endpoint for tests: moto's server from PyPI, run as a process on 127.0.0.1 and a
// free port. It checks the encryption context on decrypt as KMS does.
//
// Clients talk to it through a TCP relay this module owns, so a test can take KMS away and bring it
// back while moto keeps its keys (moto holds them in memory: restarting its process would lose them,
// and every ciphertext made with them). Down, the relay's port refuses connections, which is what a
// client sees of a stopped KMS; it can also answer 503, throttle, or accept and never answer.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { CreateKeyCommand, DisableKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { motoServerCommand } from '../../scripts/moto-server';
import { freePort, tempDir } from './temporal';
import { waitFor } from './wait';

/** Dummy credentials: moto accepts any, and the SDK must find some to sign with. */
export const MOTO_CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' };
export const MOTO_REGION = 'us-east-1';

/**
 * - `up`: requests reach moto.
 * - `down`: the port refuses connections (KMS stopped or unreachable).
 * - `unavailable`: every request gets HTTP 503.
 * - `throttled`: every request gets KMS's ThrottlingException (HTTP 400).
 * - `hanging`: connections are accepted and never answered.
 */
export type KmsState = 'up' | 'down' | 'unavailable' | 'throttled' | 'hanging';

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

export async function startMoto(): Promise<MotoServer> {
  const { command: binary, args } = motoServerCommand();
  const motoPort = await freePort();
  const motoUrl = `http://127.0.0.1:${motoPort}`;
  const logFile = path.join(tempDir('moto'), 'moto.log');
  const log = fs.openSync(logFile, 'a');
  const child: ChildProcess = spawn(binary, [...args, '-H', '127.0.0.1', '-p', String(motoPort)], { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = `moto_server exited (${signal ?? code}); its log: ${logFile}`;
  });
  child.once('error', (err) => {
    exited = `moto_server (${binary}) could not start: ${err.message}`;
  });
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
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }

  const relay = await startRelay(motoPort);
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
      await relay.setState('down');
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await gone;
        clearTimeout(timer);
      }
    },
  };
}

interface Relay {
  port: number;
  state: KmsState;
  setState(state: KmsState): Promise<void>;
}

const CANNED: Partial<Record<KmsState, string>> = {
  unavailable: httpResponse(503, 'Service Unavailable', '{"__type":"ServiceUnavailableException","message":"test: KMS unavailable"}'),
  throttled: httpResponse(400, 'Bad Request', '{"__type":"ThrottlingException","message":"test: rate exceeded"}'),
};

function httpResponse(status: number, reason: string, body: string): string {
  return `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

async function startRelay(targetPort: number): Promise<Relay> {
  const port = await freePort();
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  const relay: Relay = {
    port,
    state: 'down',
    async setState(state) {
      relay.state = state;
      // Connections of the previous state end with it: a pooled keep-alive socket must not carry
      // requests to moto through an outage.
      for (const s of sockets) s.destroy();
      sockets.clear();
      if (state === 'down') {
        if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
        server = undefined;
      } else if (!server) {
        server = net.createServer((socket) => onConnection(socket));
        await new Promise<void>((resolve, reject) => {
          server!.once('error', reject);
          server!.listen(port, '127.0.0.1', () => resolve());
        });
      }
    },
  };

  function onConnection(client: net.Socket): void {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    const canned = CANNED[relay.state];
    if (canned) {
      client.once('data', () => client.end(canned));
      return;
    }
    if (relay.state === 'hanging') return;
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(upstream);
    upstream.on('close', () => {
      sockets.delete(upstream);
      client.destroy();
    });
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  }

  await relay.setState('up');
  return relay;
}
