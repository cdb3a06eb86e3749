// Parley's HTTP API in the test's own process (buildApi, listening on 127.0.0.1), with helpers that
// call it as its real callers do: a signed webhook, the bearer token of the route's scope.
import type { WorkflowClientInterceptor } from '@temporalio/client';
import type { Logger } from 'pino';
import { type ApiDeps, buildApi } from '../src/api/server';
import { type ConversationSettings, DEFAULT_SETTINGS } from '../src/conversation';
import { createTemporalClient } from '../src/platform/temporal-client';
import type { AuthSettings } from '../src/security/auth';
import type { KeyServices } from '../src/security/key-services';
import type { ParticipantDataStore } from '../src/store';
import { type AuthedRequest, authedFetch, testCredentials, type TestCredentials } from './credentials';
import { testKeyServices } from './keys';
import { silentLogger } from './logs';

export interface ApiOptions {
  /** host:port of the Temporal server (one nobody listens on, for a Temporal out of reach). */
  temporalAddress: string;
  taskQueue: string;
  store: ParticipantDataStore;
  /** Whose calls `call` and `fetch` make. Default: fresh ones. */
  credentials?: TestCredentials;
  /** What the API accepts. Default: `credentials`. */
  auth?: AuthSettings;
  namespace?: string;
  /** Default: silent. */
  logger?: Logger;
  /** Default: the run's key services (the local key file every test process shares). */
  keys?: KeyServices;
  /** Default: 5 s. */
  requestTimeoutMs?: number;
  /** Over DEFAULT_SETTINGS. */
  conversation?: Partial<ConversationSettings>;
  crm?: ApiDeps['crm'];
  destinations?: ApiDeps['destinations'];
  /** Default: any free one. */
  port?: number;
  /** The codec sign-in limits; default DEFAULT_SIGN_IN_LIMITS. */
  signInLimits?: ApiDeps['signInLimits'];
  /** TRUST_PROXY: proxies whose X-Forwarded-For is believed. Default: none. */
  trustProxy?: string[];
  /** API_SERVER_TIMING: the Server-Timing header on every answer. Default: off. */
  serverTiming?: boolean;
  /** On the API's Temporal client, as tracing's are: they see which calls the API makes. */
  clientInterceptors?: WorkflowClientInterceptor[];
}

export interface Answer {
  status: number;
  /** The JSON body, or undefined when there is none. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each route answers its own shape; a test reads the fields it expects, as from JSON.parse
  body: any;
}

export interface RunningApi {
  /** http://127.0.0.1:<port> */
  baseUrl: string;
  credentials: TestCredentials;
  /** fetch of a path as its real caller (see scopeFor); `headers` win over the credentials. */
  fetch(path: string, init?: AuthedRequest): Promise<Response>;
  /** A request as its real caller, the answer parsed. */
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Answer>;
  /** Safe to call twice. */
  close(): Promise<void>;
}

export async function startApi(opts: ApiOptions): Promise<RunningApi> {
  const credentials = opts.credentials ?? testCredentials();
  const keys = opts.keys ?? testKeyServices();
  const app = buildApi({
    client: createTemporalClient({ temporalAddress: opts.temporalAddress, temporalNamespace: opts.namespace ?? 'default', devServerPort: 0 }, keys.dataConverter, opts.clientInterceptors),
    store: opts.store,
    logger: opts.logger ?? silentLogger,
    config: { taskQueue: opts.taskQueue, temporalRequestTimeoutMs: opts.requestTimeoutMs ?? 5000, conversation: { ...DEFAULT_SETTINGS, ...opts.conversation }, trustProxy: opts.trustProxy },
    auth: opts.auth ?? credentials.settings,
    keys,
    crm: opts.crm,
    destinations: opts.destinations,
    signInLimits: opts.signInLimits,
    serverTiming: opts.serverTiming,
  });
  await app.listen({ port: opts.port ?? 0, host: '127.0.0.1' });
  const baseUrl = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const fetchAs = (path: string, init?: AuthedRequest) => authedFetch(credentials, `${baseUrl}${path}`, init);
  let closing: Promise<void> | undefined;
  return {
    baseUrl,
    credentials,
    fetch: fetchAs,
    async call(method, path, body, headers) {
      const res = await fetchAs(path, { method, body, headers });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    },
    close: () => (closing ??= app.close()),
  };
}
