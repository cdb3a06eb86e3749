// The CRM integrations registry: which CRM each configurationId calls, how to authenticate to it,
// which of its workflows a flow may execute, and the timeouts. A JSON file named by
// CRM_INTEGRATIONS_FILE; the credential is referenced by name (an environment variable or a key of
// the secrets file's `crmSecrets`), never written in it. Loaded and validated when the API and the
// worker start: a mistake stops the process with a message naming the file, the entry and the field.
import fs from 'node:fs';
import { ConfigError, type Env } from '../platform/env';
import { secretsFilePath } from '../security/secrets';
import { CRM_LIMITS, type CrmErrorArgs } from '../conversation';

/** The registry file's shape (config/crm-integrations.example.json is a documented example). */
export interface CrmRegistryFile {
  configurations: Record<string, CrmConfigurationEntry>;
}

export interface CrmConfigurationEntry {
  /** The CRM's base URL; a workflow is executed by POST <baseUrl>/workflows/<workflowId>/execute. */
  baseUrl: string;
  auth: {
    /** The request header carrying the credential, e.g. "Authorization" or "X-Api-Key". */
    header: string;
    /** Put before the secret with a space, e.g. "Bearer". */
    scheme?: string;
    /** The environment variable holding the secret... */
    secretEnv?: string;
    /** ...or the key under `crmSecrets` in the secrets file (PARLEY_SECRETS_FILE, default .data/secrets.json). */
    secretRef?: string;
  };
  /** The workflow ids a flow may execute through this configuration. */
  workflows: string[];
  /** Budget when the caller gives no timeoutMilliSec. */
  defaultTimeoutMs: number;
  /** A larger timeoutMilliSec is reduced to this. */
  maxTimeoutMs: number;
}

/** One configuration as the worker uses it. The secret is a private field: logging or serialising this object never shows it. */
export class CrmConfiguration {
  readonly #secret: string;

  constructor(
    readonly configurationId: string,
    readonly baseUrl: string,
    readonly workflows: ReadonlySet<string>,
    readonly defaultTimeoutMs: number,
    readonly maxTimeoutMs: number,
    readonly authHeader: string,
    private readonly authScheme: string | undefined,
    secret: string,
  ) {
    this.#secret = secret;
  }

  /** The auth header's value, for the outgoing request only. */
  authValue(): string {
    return this.authScheme ? `${this.authScheme} ${this.#secret}` : this.#secret;
  }

  executeUrl(workflowId: string): string {
    return `${this.baseUrl.replace(/\/+$/, '')}/workflows/${encodeURIComponent(workflowId)}/execute`;
  }

  toJSON(): Record<string, unknown> {
    return { configurationId: this.configurationId, baseUrl: this.baseUrl, workflows: [...this.workflows], authHeader: this.authHeader };
  }
}

export class CrmRegistry {
  constructor(
    private readonly configurations: ReadonlyMap<string, CrmConfiguration>,
    /** Where it came from, for the start-up log line. */
    readonly source: string,
  ) {}

  static empty(): CrmRegistry {
    return new CrmRegistry(new Map(), 'none (CRM_INTEGRATIONS_FILE unset)');
  }

  get(configurationId: string): CrmConfiguration | undefined {
    return this.configurations.get(configurationId);
  }

  /** No integration at all: the deployment has CRM calls switched off (NotConfigured), rather than a wrong id (ValidationError). */
  get isEmpty(): boolean {
    return this.configurations.size === 0;
  }

  /**
   * What every process must agree on (ids, endpoints, workflows, budgets, auth header name), never
   * the credential: the input of the settings fingerprint the processes compare at start-up.
   */
  agreementView(): Array<Record<string, unknown>> {
    return [...this.configurations.values()]
      .sort((a, b) => (a.configurationId < b.configurationId ? -1 : a.configurationId > b.configurationId ? 1 : 0))
      .map((c) => ({ ...c.toJSON(), workflows: [...c.workflows].sort(), defaultTimeoutMs: c.defaultTimeoutMs, maxTimeoutMs: c.maxTimeoutMs }));
  }

  /** Ids and workflows only: what a start-up log line may show. */
  describe(): { source: string; configurations: Array<{ configurationId: string; workflows: string[] }> } {
    return {
      source: this.source,
      configurations: [...this.configurations.values()].map((c) => ({ configurationId: c.configurationId, workflows: [...c.workflows] })),
    };
  }
}

/**
 * The answer for an id the registry does not hold, the same from the API's edge and the worker.
 * CXone's rule: a configuration id must be one of the configured integrations (ValidationError);
 * NotConfigured is for a deployment with CRM integrations off, here a registry with none at all.
 */
export function unknownConfiguration(registry: CrmRegistry, configurationId: string): { ok: false; outcome: 'NotConfigured' | 'ValidationError'; errorArgs: CrmErrorArgs } {
  if (registry.isEmpty) {
    return { ok: false, outcome: 'NotConfigured', errorArgs: { field: 'configurationId', reason: 'no CRM integration is configured in this deployment (CRM_INTEGRATIONS_FILE)' } };
  }
  return { ok: false, outcome: 'ValidationError', errorArgs: { field: 'configurationId', reason: `configurationId "${configurationId}" is not a configured CRM integration` } };
}

/** CRM_INTEGRATIONS_FILE, validated; no file configured is an empty registry (every call is NotConfigured). */
export function loadCrmRegistry(env: Env, dataDir: string): CrmRegistry {
  const file = env.CRM_INTEGRATIONS_FILE?.trim();
  if (!file) return CrmRegistry.empty();
  return crmRegistryFromFile(file, env, dataDir);
}

export function crmRegistryFromFile(file: string, env: Env, dataDir: string): CrmRegistry {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(`CRM_INTEGRATIONS_FILE ${file}: ${code ? `cannot be read (${code})` : 'is not valid JSON'}`);
  }
  if (!isObject(parsed) || !isObject(parsed.configurations)) {
    throw new ConfigError(`CRM_INTEGRATIONS_FILE ${file}: must hold {"configurations": {"<configurationId>": {…}}}`);
  }
  let storedSecrets: Record<string, unknown> | undefined;
  const secretFromFile = (ref: string, where: string): string => {
    storedSecrets ??= readCrmSecrets(secretsFilePath(env, dataDir), where);
    const value = storedSecrets[ref];
    if (typeof value !== 'string' || value === '') {
      throw new ConfigError(`${where}: secretRef "${ref}" is not a key of "crmSecrets" in the secrets file ${secretsFilePath(env, dataDir)}`);
    }
    return value;
  };
  const configurations = new Map<string, CrmConfiguration>();
  for (const [configurationId, raw] of Object.entries(parsed.configurations)) {
    const at = `CRM_INTEGRATIONS_FILE ${file}: configuration "${configurationId}"`;
    const field = (name: string, problem: string) => new ConfigError(`${at}, field ${name}: ${problem}`);
    if (!CRM_LIMITS.idPattern.test(configurationId)) throw new ConfigError(`${at}: the id must be 1-128 letters, digits or . _ : -`);
    if (!isObject(raw)) throw new ConfigError(`${at}: must be an object`);
    let url: URL;
    try {
      url = new URL(String(raw.baseUrl));
    } catch {
      throw field('baseUrl', 'must be an absolute http(s) URL');
    }
    if (typeof raw.baseUrl !== 'string' || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw field('baseUrl', 'must be an absolute http(s) URL');
    if (url.username || url.password) throw field('baseUrl', 'must not carry credentials; use auth.secretEnv or auth.secretRef');
    if (!Array.isArray(raw.workflows) || raw.workflows.length === 0) throw field('workflows', 'must be a non-empty list of workflow ids');
    raw.workflows.forEach((w, i) => {
      if (typeof w !== 'string' || !CRM_LIMITS.idPattern.test(w)) throw field(`workflows[${i}]`, 'must be 1-128 letters, digits or . _ : -');
    });
    const timeout = (name: 'defaultTimeoutMs' | 'maxTimeoutMs'): number => {
      const value = raw[name];
      if (typeof value !== 'number' || !Number.isInteger(value) || value < CRM_LIMITS.timeoutMsMin || value > CRM_LIMITS.timeoutMsMax) {
        throw field(name, `must be a whole number of milliseconds from ${CRM_LIMITS.timeoutMsMin} to ${CRM_LIMITS.timeoutMsMax}`);
      }
      return value;
    };
    const defaultTimeoutMs = timeout('defaultTimeoutMs');
    const maxTimeoutMs = timeout('maxTimeoutMs');
    if (defaultTimeoutMs > maxTimeoutMs) throw field('defaultTimeoutMs', `is larger than maxTimeoutMs (${maxTimeoutMs})`);
    const auth = raw.auth;
    if (!isObject(auth)) throw field('auth', 'must be {"header", "scheme"?, "secretEnv" or "secretRef"}');
    if (typeof auth.header !== 'string' || !/^[A-Za-z0-9-]{1,64}$/.test(auth.header)) throw field('auth.header', 'must be an HTTP header name');
    if (auth.scheme !== undefined && (typeof auth.scheme !== 'string' || !/^[A-Za-z0-9._-]{1,32}$/.test(auth.scheme))) {
      throw field('auth.scheme', 'must be a single word such as Bearer');
    }
    if ('secret' in auth || 'token' in auth || 'value' in auth) {
      throw field('auth', 'holds a secret inline; name it instead with secretEnv (an environment variable) or secretRef (a key of crmSecrets in the secrets file)');
    }
    const hasEnv = auth.secretEnv !== undefined;
    const hasRef = auth.secretRef !== undefined;
    if (hasEnv === hasRef) throw field('auth', 'needs exactly one of secretEnv or secretRef');
    let secret: string;
    if (hasEnv) {
      if (typeof auth.secretEnv !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(auth.secretEnv)) throw field('auth.secretEnv', 'must be an environment variable name');
      const value = env[auth.secretEnv];
      if (!value) throw field('auth.secretEnv', `the environment variable ${auth.secretEnv} is not set`);
      secret = value;
    } else {
      if (typeof auth.secretRef !== 'string' || auth.secretRef === '') throw field('auth.secretRef', 'must be a key name');
      secret = secretFromFile(auth.secretRef, `${at}, field auth.secretRef`);
    }
    // A header value with a line break would let the secret smuggle another header.
    if (/[\r\n\0]/.test(secret)) throw field(hasEnv ? 'auth.secretEnv' : 'auth.secretRef', 'the secret contains a line break or NUL');
    configurations.set(
      configurationId,
      new CrmConfiguration(configurationId, url.toString(), new Set(raw.workflows as string[]), defaultTimeoutMs, maxTimeoutMs, auth.header, auth.scheme as string | undefined, secret),
    );
  }
  return new CrmRegistry(configurations, file);
}

function readCrmSecrets(file: string, where: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    // The parser's message may quote the file, which holds secrets: only the kind of failure is shown.
    throw new ConfigError(`${where}: cannot read the secrets file ${file} (${(err as NodeJS.ErrnoException).code ?? 'not valid JSON'})`);
  }
  if (!isObject(parsed) || !isObject(parsed.crmSecrets)) throw new ConfigError(`${where}: the secrets file ${file} has no "crmSecrets" object`);
  return parsed.crmSecrets;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
