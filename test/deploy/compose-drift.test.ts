// The deploy files stay the truth: what docker-compose.yml and deploy/compose.scale-api.yml give each
// service is what the cluster drills' stack (rigs/cluster-stack.ts) gives the same part: the same
// Temporal release, the same server config file and dynamic config, the same schema and
// search-attribute scripts, the same environment variables (and values, where they are not
// addresses), the same nginx template. A setting added to one side only fails here. No server runs.
import fs from 'node:fs';
import path from 'node:path';
import {
  DEPLOY,
  NAMESPACE,
  parleyEnv,
  proxyEnv,
  schemaSetupEnv,
  searchAttributeSetupEnv,
  TASK_QUEUE,
  TEMPORAL_DB,
  temporalServerEnv,
  type ServerPorts,
} from '../../rigs/cluster-stack';
import { PROJECT_ROOT, TEMPORAL_SERVER_VERSION } from '../../rigs/project';

// js-yaml is the copy the toolchain (jest, eslint) already installs; compose's anchors and merge keys
// need a real YAML parser.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- untyped CommonJS module, loaded for its load() only
const yaml = require('js-yaml') as { load(text: string): unknown };

interface Service {
  image?: string;
  environment?: Record<string, string>;
  volumes?: string[];
  entrypoint?: string[];
}
interface ComposeFile {
  services: Record<string, Service>;
}

// Compose's `!reset` tag (an override's "drop the base value") is not YAML's own; its value is what matters here.
const readCompose = (file: string): ComposeFile => yaml.load(fs.readFileSync(path.join(PROJECT_ROOT, file), 'utf8').replace(/!reset\s/g, '')) as ComposeFile;
const compose = readCompose('docker-compose.yml');
const scaleApi = readCompose('deploy/compose.scale-api.yml');
const service = (name: string, file = compose): Service => {
  const s = file.services[name];
  if (!s) throw new Error(`no service ${name}`);
  return s;
};
const keys = (env: Record<string, unknown> | undefined): string[] => Object.keys(env ?? {}).sort();
/** `${VAR:-default}` → default; a plain value as it is. */
const defaultOf = (value: string): string => /^\$\{[A-Z0-9_]+:-(.*)\}$/.exec(value)?.[1] ?? value;
/** The host file mounted at `target`, as an absolute path. */
const mountedAt = (s: Service, target: string): string | undefined => {
  const volume = (s.volumes ?? []).map((v) => v.split(':')).find(([, t]) => t === target);
  return volume ? path.resolve(PROJECT_ROOT, volume[0]) : undefined;
};
/** The deploy script a one-shot service runs: its entrypoint's file, mounted from the repository. */
const scriptOf = (s: Service): string | undefined => {
  const target = s.entrypoint?.find((a) => a.endsWith('.sh'));
  return target ? mountedAt(s, target) : undefined;
};

const ports: ServerPorts = { frontendGrpc: 1, frontendHttp: 2, frontendMembership: 3, historyGrpc: 4, historyMembership: 5, matchingGrpc: 6, matchingMembership: 7, workerGrpc: 8, workerMembership: 9, metrics: 10 };
/** Set by the stack only: containers keep the image's default ports and bind their own address. */
const LOCAL_ONLY = ['BIND_ON_IP', 'FRONTEND_GRPC_PORT', 'FRONTEND_HTTP_PORT', 'FRONTEND_MEMBERSHIP_PORT', 'HISTORY_GRPC_PORT', 'HISTORY_MEMBERSHIP_PORT', 'MATCHING_GRPC_PORT', 'MATCHING_MEMBERSHIP_PORT', 'WORKER_GRPC_PORT', 'WORKER_MEMBERSHIP_PORT'];

describe('Temporal', () => {
  test('the server, schema tool and setup images are the release the drills build', () => {
    expect(service('temporal').image).toBe(`temporalio/server:${TEMPORAL_SERVER_VERSION}`);
    expect(service('temporal-schema').image).toBe(`temporalio/admin-tools:${TEMPORAL_SERVER_VERSION}`);
    expect(service('temporal-setup').image).toBe(`temporalio/admin-tools:${TEMPORAL_SERVER_VERSION}`);
  });

  test('the server runs deploy/temporal/config.yaml and dynamicconfig.yaml with the same variables', () => {
    const temporal = service('temporal');
    const env = temporal.environment ?? {};
    const stack = temporalServerEnv({ host: 'temporal-postgresql', port: 5432 }, ports);
    expect(keys(env)).toEqual(keys(stack).filter((k) => !LOCAL_ONLY.includes(k)));
    expect(mountedAt(temporal, env.TEMPORAL_SERVER_CONFIG_FILE_PATH)).toBe(stack.TEMPORAL_SERVER_CONFIG_FILE_PATH);
    expect(mountedAt(temporal, env.DYNAMIC_CONFIG_FILE_PATH)).toBe(stack.DYNAMIC_CONFIG_FILE_PATH);
    for (const name of ['DB', 'DB_PORT', 'POSTGRES_SEEDS', 'POSTGRES_USER', 'POSTGRES_PWD', 'NUM_HISTORY_SHARDS']) expect([name, defaultOf(env[name])]).toEqual([name, stack[name]]);
  });

  test('every variable the server config reads is one the stack and the compose file can set', () => {
    const config = fs.readFileSync(DEPLOY.serverConfig, 'utf8');
    const read = [...new Set([...config.matchAll(/env "([A-Z0-9_]+)"/g)].map((m) => m[1]))].sort();
    // Left to their defaults on both sides (the config's own defaults are the image's).
    const defaults = ['DBNAME', 'VISIBILITY_DBNAME', 'LOG_LEVEL', 'SQL_MAX_CONNS', 'SQL_MAX_IDLE_CONNS', 'SQL_MAX_CONN_TIME', 'SQL_VIS_MAX_CONNS', 'SQL_VIS_MAX_IDLE_CONNS', 'SQL_VIS_MAX_CONN_TIME', 'TEMPORAL_BROADCAST_ADDRESS'];
    const set = new Set([...Object.keys(temporalServerEnv({ host: 'h', port: 1 }, ports)), ...defaults]);
    expect(read.filter((name) => !set.has(name))).toEqual([]);
  });

  test("Temporal's PostgreSQL login is the one the stack creates", () => {
    const env = service('temporal-postgresql').environment ?? {};
    expect([env.POSTGRES_USER, defaultOf(env.POSTGRES_PASSWORD)]).toEqual([TEMPORAL_DB.user, TEMPORAL_DB.password]);
  });

  test('the schema is created by deploy/temporal/setup-schema.sh with the same variables', () => {
    const schema = service('temporal-schema');
    expect(scriptOf(schema)).toBe(DEPLOY.setupSchema);
    const stack = schemaSetupEnv({ host: 'temporal-postgresql', port: 5432 }, { sqlTool: 'temporal-sql-tool', postgresSchema: '/etc/temporal/schema/postgresql/v12' });
    // The image has the tool on PATH, which is the script's default.
    expect(keys(schema.environment)).toEqual(keys(stack).filter((k) => k !== 'TEMPORAL_SQL_TOOL'));
    for (const [name, value] of Object.entries(schema.environment ?? {})) expect([name, defaultOf(value)]).toEqual([name, stack[name]]);
  });

  test('the namespace and search attributes are registered by deploy/temporal/register-search-attributes.sh with the same variables', () => {
    const setup = service('temporal-setup');
    expect(scriptOf(setup)).toBe(DEPLOY.registerSearchAttributes);
    const stack = searchAttributeSetupEnv('temporal:7233');
    // The stack bounds its wait; compose keeps the script's default.
    expect(keys(setup.environment)).toEqual(keys(stack).filter((k) => k !== 'SETUP_TIMEOUT_SECONDS'));
    for (const [name, value] of Object.entries(setup.environment ?? {})) expect([name, defaultOf(value)]).toEqual([name, stack[name]]);
  });
});

describe('Parley', () => {
  const stack = parleyEnv({ temporalAddress: 'temporal:7233', databaseUrl: 'postgres://parley@parley-postgresql/parley', keyFile: '/var/lib/parley-keys/keys.json' });
  // The customer's KMS key and AWS credentials: the stack uses the local key file the compose file falls back to.
  const KMS = ['KMS_KEY_ID', 'CODEC_KMS_KEY_ID', 'KMS_DECRYPT_KEY_IDS', 'AWS_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'];
  const composeKeys = (name: string): string[] => keys(service(name).environment).filter((k) => !KMS.includes(k));

  test('the workers get the variables the compose file gives them, namespace and task queue equal', () => {
    expect(composeKeys('parley-worker')).toEqual(keys({ ...stack.common, ...stack.worker(8081) }));
    const env = service('parley-worker').environment ?? {};
    expect([env.TEMPORAL_NAMESPACE, env.TEMPORAL_TASK_QUEUE]).toEqual([NAMESPACE, TASK_QUEUE]);
  });

  test('the APIs get the variables the compose file gives them', () => {
    expect(composeKeys('parley-api')).toEqual(keys({ ...stack.common, ...stack.api(3000, { webhookSecret: 'whsec_x', tokens: {} as never }) }));
  });

  test('nginx runs deploy/nginx/parley-api.conf.template with the same variables, and the template reads no other', () => {
    const proxy = service('parley-api-proxy', scaleApi);
    expect(mountedAt(proxy, '/etc/nginx/templates/default.conf.template')).toBe(DEPLOY.nginxTemplate);
    const local = proxyEnv(8080, [3001, 3002]);
    expect(keys(proxy.environment)).toEqual(keys(local));
    const read = [...new Set([...fs.readFileSync(DEPLOY.nginxTemplate, 'utf8').matchAll(/\$\{([A-Z0-9_]+)\}/g)].map((m) => m[1]))].sort();
    expect(read).toEqual(keys(local));
  });
});
