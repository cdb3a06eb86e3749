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
  MESSAGE_CHANNELS,
  type MessageChannel,
  NOTIFICATION_KINDS,
  type NotificationKind,
  endPhraseProblem,
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

/** Every destination gets every notification, chats a callback offer after 60 s: the default without a file. */
export const ALL_DESTINATIONS: DestinationDirectory = {
  settingsFor: (_destination, channel) => ({
    notifications: [...NOTIFICATION_KINDS],
    ...(channel === 'chat' ? { callbackThresholdMs: DEFAULT_CALLBACK_THRESHOLD_MS } : {}),
  }),
  describe: () => 'every destination, every notification (no CHANNEL_DESTINATIONS_FILE)',
};

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
 * The destinations file: `{"destinations": [{"id", "channel", "notifications"?, "callbackThresholdSeconds"?, "endPhrase"?}]}`.
 * `notifications` lists NOTIFICATION_KINDS (absent: all of them); `callbackThresholdSeconds` is for
 * chat only (absent: 60; null: never offered); `endPhrase` is searched for in each message (absent:
 * DEFAULT_END_PHRASE). An id may appear once per channel.
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
      if (!['id', 'channel', 'notifications', 'callbackThresholdSeconds', 'endPhrase', 'description'].includes(field)) fail(where, `field "${field}" is not known`);
    }
    if (!MESSAGE_CHANNELS.includes(entry.channel as MessageChannel)) fail(where, `field "channel" must be one of ${MESSAGE_CHANNELS.join(', ')}`);
    const channel = entry.channel as MessageChannel;
    let notifications: NotificationKind[] = [...NOTIFICATION_KINDS];
    if (entry.notifications !== undefined) {
      if (!Array.isArray(entry.notifications)) fail(where, 'field "notifications" must be an array');
      for (const kind of entry.notifications as unknown[]) {
        if (!NOTIFICATION_KINDS.includes(kind as NotificationKind)) fail(where, `field "notifications": "${String(kind)}" is not one of ${NOTIFICATION_KINDS.join(', ')}`);
      }
      notifications = [...new Set(entry.notifications as NotificationKind[])];
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
    const key = `${channel}\u0000${entry.id as string}`;
    if (known.has(key)) fail(where, `a ${channel} destination with this id is already listed`);
    known.set(key, settings);
  });
  return {
    settingsFor: (destination, channel) => {
      const settings = known.get(`${channel}\u0000${destination}`);
      return settings && { ...settings, notifications: [...settings.notifications] };
    },
    describe: () => `${known.size} destinations from ${file}`,
  };
}
