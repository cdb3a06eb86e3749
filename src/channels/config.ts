// Digital-channel configuration from the environment: where the channel gateway and the routing
// platform are (or the local outbox by default), and what each destination (the vendor's *asset*:
// a chat or email app id, an SMS number) gets. Checked at start-up; errors name file, entry and field.
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, type Env, duration, httpUrl } from '../platform/env';
import { secretsFilePath } from '../security/secrets';
import {
  DEFAULT_CALLBACK_THRESHOLD_MS,
  type DestinationSettings,
  type MenuOption,
  type WelcomeMenu,
  MESSAGE_CHANNELS,
  type MessageChannel,
  NOTIFICATION_KINDS,
  endPhraseProblem,
  type StepNotificationKind,
} from '../conversation';
import { type ChannelPeers, HttpPeer, OutboxFilePeer } from './peers';

export interface ChannelPeerConfig {
  gateway: { url?: string; token?: string };
  routing: { url?: string; token?: string };
  /** Without a URL, deliveries go to `<outboxDir>/gateway.jsonl` and `routing.jsonl`. */
  outboxDir: string;
  timeoutMs: number;
}

/**
 * CHANNEL_GATEWAY_URL / ROUTING_PLATFORM_URL with CHANNEL_GATEWAY_TOKEN / ROUTING_PLATFORM_TOKEN (or
 * the secrets file's `peerTokens.channelGateway` / `peerTokens.routingPlatform`), CHANNEL_PEER_TIMEOUT
 * (default 10s), PARLEY_OUTBOX_DIR (default `<dataDir>/outbox`).
 */
export function channelPeerConfig(env: Env, dataDir: string): ChannelPeerConfig {
  const fileTokens = peerTokensFromSecretsFile(secretsFilePath(env, dataDir));
  return {
    gateway: { url: httpUrl(env, 'CHANNEL_GATEWAY_URL'), token: env.CHANNEL_GATEWAY_TOKEN || fileTokens.channelGateway },
    routing: { url: httpUrl(env, 'ROUTING_PLATFORM_URL'), token: env.ROUTING_PLATFORM_TOKEN || fileTokens.routingPlatform },
    outboxDir: path.resolve(env.PARLEY_OUTBOX_DIR || path.join(dataDir, 'outbox')),
    timeoutMs: duration(env, 'CHANNEL_PEER_TIMEOUT', 10_000),
  };
}

export function createChannelPeers(config: ChannelPeerConfig): ChannelPeers {
  return {
    gateway: config.gateway.url ? new HttpPeer(config.gateway.url, config.gateway.token, config.timeoutMs) : new OutboxFilePeer(path.join(config.outboxDir, 'gateway.jsonl')),
    routing: config.routing.url ? new HttpPeer(config.routing.url, config.routing.token, config.timeoutMs) : new OutboxFilePeer(path.join(config.outboxDir, 'routing.jsonl')),
  };
}

function peerTokensFromSecretsFile(file: string): { channelGateway?: string; routingPlatform?: string } {
  if (!fs.existsSync(file)) return {};
  let content: unknown;
  try {
    content = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    throw new ConfigError(`${file} is not valid JSON`);
  }
  const tokens = (content as { peerTokens?: unknown } | null)?.peerTokens;
  if (tokens === undefined) return {};
  if (!tokens || typeof tokens !== 'object') throw new ConfigError(`${file}: peerTokens must be an object`);
  const out: { channelGateway?: string; routingPlatform?: string } = {};
  for (const name of ['channelGateway', 'routingPlatform'] as const) {
    const value = (tokens as Record<string, unknown>)[name];
    if (value === undefined) continue;
    if (typeof value !== 'string' || value.length === 0) throw new ConfigError(`${file}: peerTokens.${name} must be a non-empty string`);
    out[name] = value;
  }
  return out;
}

/** Which settings a destination gets; undefined: the destination is not configured (the message is refused). */
export interface DestinationDirectory {
  settingsFor(destination: string, channel: MessageChannel): DestinationSettings | undefined;
  /** For the start-up log line. */
  describe(): string;
}

/**
 * Every destination gets every notification, chats a callback offer after 60 s, and Parley creates
 * each conversation's task with the destination's id as its script selector: the default without a file.
 */
export const ALL_DESTINATIONS: DestinationDirectory = {
  settingsFor: (destination, channel) => ({
    notifications: [...NOTIFICATION_KINDS],
    ...(channel === 'chat' ? { callbackThresholdMs: DEFAULT_CALLBACK_THRESHOLD_MS } : {}),
    scriptSelector: destination,
  }),
  describe: () => 'every destination, every notification, tasks created with the destination id as script selector (no CHANNEL_DESTINATIONS_FILE)',
};

export const DEFAULT_MENU_RETRY_TEXT = 'Sorry, we did not understand your reply. Please reply with the number of one of these options:';
export const DEFAULT_MENU_MAX_UNRECOGNISED = 3;
export const DEFAULT_MENU_TIMEOUT_SECONDS = 300;
const MENU_OPTIONS_MAX = 9;

/** CHANNEL_DESTINATIONS_FILE, else every destination gets everything (ALL_DESTINATIONS). */
export function loadDestinations(env: Env): DestinationDirectory {
  const file = env.CHANNEL_DESTINATIONS_FILE?.trim();
  if (!file) return ALL_DESTINATIONS;
  const resolved = path.resolve(file);
  if (!fs.existsSync(resolved)) throw new ConfigError(`CHANNEL_DESTINATIONS_FILE names ${resolved}, which does not exist`);
  let content: unknown;
  try {
    content = JSON.parse(fs.readFileSync(resolved, 'utf8'));
  } catch (err) {
    throw new ConfigError(`${resolved} is not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  return parseDestinations(content, resolved);
}

/**
 * The destinations file: `{"destinations": [{"id", "channel", "notifications"?, "callbackThresholdSeconds"?,
 * "endPhrase"?, "createTask"?, "scriptSelector"?, "welcomeMenu"?}]}`. `notifications` lists
 * NOTIFICATION_KINDS (absent: all of them); `callbackThresholdSeconds` is for chat only (absent: 60;
 * null: never offered); `endPhrase` is searched for in each message (absent: DEFAULT_END_PHRASE);
 * `scriptSelector` is the default selector of the task Parley creates (absent: the id),
 * `createTask: false` leaves task creation to the routing platform. An id may appear once per channel.
 */
export function parseDestinations(content: unknown, file: string): DestinationDirectory {
  const fail = (where: string, message: string): never => {
    throw new ConfigError(`${file}: ${where}: ${message}`);
  };
  if (!content || typeof content !== 'object' || Array.isArray(content)) fail('top level', 'must be an object with a "destinations" array');
  const list = (content as { destinations?: unknown }).destinations;
  if (!Array.isArray(list)) return fail('destinations', 'must be an array');
  const known = new Map<string, DestinationSettings>();
  list.forEach((raw: unknown, index) => {
    let where = `destinations[${index}]`;
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) fail(where, 'must be an object');
    const entry = raw as Record<string, unknown>;
    if (typeof entry.id !== 'string' || entry.id.length === 0 || entry.id.length > 200) fail(where, 'field "id" must be a string of 1 to 200 characters');
    where += ` (id "${entry.id as string}")`;
    for (const field of Object.keys(entry)) {
      if (!['id', 'channel', 'notifications', 'callbackThresholdSeconds', 'endPhrase', 'description', 'createTask', 'scriptSelector', 'welcomeMenu'].includes(field)) fail(where, `field "${field}" is not known`);
    }
    if (!MESSAGE_CHANNELS.includes(entry.channel as MessageChannel)) fail(where, `field "channel" must be one of ${MESSAGE_CHANNELS.join(', ')}`);
    const channel = entry.channel as MessageChannel;
    let notifications: StepNotificationKind[] = [...NOTIFICATION_KINDS];
    if (entry.notifications !== undefined) {
      if (!Array.isArray(entry.notifications)) fail(where, 'field "notifications" must be an array');
      for (const kind of entry.notifications as unknown[]) {
        if (!NOTIFICATION_KINDS.includes(kind as StepNotificationKind)) fail(where, `field "notifications": "${String(kind)}" is not one of ${NOTIFICATION_KINDS.join(', ')}`);
      }
      notifications = [...new Set(entry.notifications as StepNotificationKind[])];
    }
    const settings: DestinationSettings = { notifications };
    const threshold = entry.callbackThresholdSeconds;
    if (threshold !== undefined && channel !== 'chat') fail(where, 'field "callbackThresholdSeconds" is for chat destinations only');
    if (threshold !== undefined && threshold !== null && (typeof threshold !== 'number' || !Number.isInteger(threshold) || threshold < 1 || threshold > 86_400)) {
      fail(where, 'field "callbackThresholdSeconds" must be a whole number of seconds from 1 to 86400, or null');
    }
    if (entry.endPhrase !== undefined) {
      const problem = endPhraseProblem(entry.endPhrase);
      if (problem) fail(where, `field "endPhrase" ${problem}`);
      settings.endPhrase = (entry.endPhrase as string).trim();
    }
    if (channel === 'chat' && threshold !== null) settings.callbackThresholdMs = threshold === undefined ? DEFAULT_CALLBACK_THRESHOLD_MS : (threshold as number) * 1000;
    if (entry.createTask !== undefined && typeof entry.createTask !== 'boolean') fail(where, 'field "createTask" must be true or false');
    if (entry.createTask === false) {
      if (entry.scriptSelector !== undefined || entry.welcomeMenu !== undefined) fail(where, 'fields "scriptSelector" and "welcomeMenu" need "createTask" (the routing platform creates this destination\'s tasks)');
    } else {
      if (entry.scriptSelector !== undefined) settings.scriptSelector = selector(entry.scriptSelector, fail, where, 'scriptSelector');
      else settings.scriptSelector = entry.id as string;
      if (entry.welcomeMenu !== undefined) settings.welcomeMenu = parseWelcomeMenu(entry.welcomeMenu, where, fail);
    }
    const key = `${channel}\u0000${entry.id as string}`;
    if (known.has(key)) fail(where, `a ${channel} destination with this id is already listed`);
    known.set(key, settings);
  });
  return {
    settingsFor: (destination, channel) => {
      const settings = known.get(`${channel}\u0000${destination}`);
      // A copy: each conversation carries its own (the menu included), never the directory's.
      return settings && (JSON.parse(JSON.stringify(settings)) as DestinationSettings);
    },
    describe: () => `${known.size} destinations from ${file}`,
  };
}

type Fail = (where: string, message: string) => never;

function selector(value: unknown, fail: Fail, where: string, field: string): string {
  if (typeof value !== 'string' || value.trim().length === 0 || value.length > 200) fail(where, `field "${field}" must be a non-empty string of at most 200 characters`);
  return value as string;
}

function boundedInteger(value: unknown, fallback: number, min: number, max: number, where: string, field: string, fail: Fail): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) fail(where, `field "welcomeMenu.${field}" must be a whole number from ${min} to ${max}`);
  return value as number;
}

/**
 * `welcomeMenu`: `{"text", "options": [{"number"?, "label", "keywords"?, "scriptSelector"}], "retryText"?,
 * "maxUnrecognisedReplies"? (default 3), "timeoutSeconds"? (default 300)}`; an option's number is
 * its position (1, 2, …) unless given, and no two options share a number or a keyword.
 */
function parseWelcomeMenu(raw: unknown, entryWhere: string, fail: Fail): WelcomeMenu {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return fail(entryWhere, 'field "welcomeMenu" must be an object');
  const menu = raw as Record<string, unknown>;
  for (const field of Object.keys(menu)) {
    if (!['text', 'retryText', 'options', 'maxUnrecognisedReplies', 'timeoutSeconds'].includes(field)) fail(entryWhere, `field "welcomeMenu.${field}" is not known`);
  }
  const text = (field: string, value: unknown, fallback?: string): string => {
    if (value === undefined && fallback !== undefined) return fallback;
    if (typeof value !== 'string' || value.trim().length === 0 || value.length > 1000) fail(entryWhere, `field "welcomeMenu.${field}" must be a non-empty string of at most 1000 characters`);
    return value as string;
  };
  if (!Array.isArray(menu.options) || menu.options.length === 0 || menu.options.length > MENU_OPTIONS_MAX) {
    fail(entryWhere, `field "welcomeMenu.options" must be an array of 1 to ${MENU_OPTIONS_MAX} options`);
  }
  const numbers = new Set<number>();
  const phrases = new Map<string, number>();
  const options = (menu.options as unknown[]).map((rawOption, i): MenuOption => {
    const at = `welcomeMenu.options[${i}]`;
    if (!rawOption || typeof rawOption !== 'object' || Array.isArray(rawOption)) return fail(entryWhere, `field "${at}" must be an object`);
    const option = rawOption as Record<string, unknown>;
    for (const field of Object.keys(option)) {
      if (!['number', 'label', 'keywords', 'scriptSelector'].includes(field)) fail(entryWhere, `field "${at}.${field}" is not known`);
    }
    const number = option.number === undefined ? i + 1 : option.number;
    if (typeof number !== 'number' || !Number.isInteger(number) || number < 0 || number > 999) fail(entryWhere, `field "${at}.number" must be a whole number from 0 to 999`);
    if (numbers.has(number as number)) fail(entryWhere, `field "${at}.number": ${String(number)} is already another option's number`);
    numbers.add(number as number);
    const label = text(`options[${i}].label`, option.label);
    const keywords = option.keywords ?? [];
    if (!Array.isArray(keywords) || keywords.some((k) => typeof k !== 'string' || k.trim().length === 0 || k.length > 100)) {
      fail(entryWhere, `field "${at}.keywords" must be an array of non-empty strings of at most 100 characters`);
    }
    for (const phrase of [label, ...(keywords as string[])].map((p) => p.trim().replace(/\s+/g, ' ').toLowerCase())) {
      const owner = phrases.get(phrase);
      if (owner !== undefined && owner !== i) fail(entryWhere, `field "${at}": "${phrase}" already picks options[${owner}]`);
      phrases.set(phrase, i);
    }
    return { number: number as number, label, keywords: keywords as string[], scriptSelector: selector(option.scriptSelector, fail, entryWhere, `${at}.scriptSelector`) };
  });
  return {
    text: text('text', menu.text),
    retryText: text('retryText', menu.retryText, DEFAULT_MENU_RETRY_TEXT),
    options,
    maxUnrecognised: boundedInteger(menu.maxUnrecognisedReplies, DEFAULT_MENU_MAX_UNRECOGNISED, 1, 10, entryWhere, 'maxUnrecognisedReplies', fail),
    timeoutMs: boundedInteger(menu.timeoutSeconds, DEFAULT_MENU_TIMEOUT_SECONDS, 1, 86_400, entryWhere, 'timeoutSeconds', fail) * 1000,
  };
}
