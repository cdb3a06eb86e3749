// Digital-channel configuration and the embedded outbox: the destinations file is checked at start-up
// with errors that name the file, the entry and the field; peers come from the environment or the
// secrets file; the outbox file takes each idempotency key once, across instances (a restarted worker).
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../../src/platform/config';
import { ALL_DESTINATIONS, channelPeerConfig, createChannelPeers, loadDestinations, parseDestinations } from '../../src/channels/config';
import { NOTIFICATION_KINDS } from '../../src/conversation/contracts/channels';
import { HttpPeer, OutboxFilePeer } from '../../src/channels/peers';
import { tempDir } from '../../rigs/temp';

const example = path.join(__dirname, '..', '..', 'config', 'channel-destinations.example.json');

describe('destinations file', () => {
  test('the example under config/ loads; each destination gets what its entry says', () => {
    const directory = loadDestinations({ CHANNEL_DESTINATIONS_FILE: example });
    expect(directory.settingsFor('chat-app-support', 'chat')).toEqual({ notifications: [...NOTIFICATION_KINDS], callbackThresholdMs: 60_000, scriptSelector: 'Chat_Support' });
    expect(directory.settingsFor('+15550100', 'sms')?.notifications).not.toContain('transferred');
    expect(directory.settingsFor('+15550100', 'sms')?.welcomeMenu?.options.map((o) => [o.number, o.scriptSelector])).toEqual([[1, 'SMS_Sales'], [2, 'SMS_Billing']]);
    expect(directory.settingsFor('email-app-billing', 'email')).toEqual({ notifications: ['created', 'sensitive-data-removed'] });
    // An id is per channel: the SMS number is no chat destination, and an unknown one gets nothing.
    expect(directory.settingsFor('+15550100', 'chat')).toBeUndefined();
    expect(directory.settingsFor('other', 'sms')).toBeUndefined();
  });

  test('without a file every destination gets every notification, chats a callback offer after 60 s, and its task is created with its id as script selector', () => {
    expect(loadDestinations({})).toBe(ALL_DESTINATIONS);
    expect(ALL_DESTINATIONS.settingsFor('x', 'chat')).toEqual({ notifications: [...NOTIFICATION_KINDS], callbackThresholdMs: 60_000, scriptSelector: 'x' });
    expect(ALL_DESTINATIONS.settingsFor('x', 'sms')).toEqual({ notifications: [...NOTIFICATION_KINDS], scriptSelector: 'x' });
  });

  test.each([
    [{}, /f\.json: destinations: must be an array/],
    [{ destinations: [{ id: 'a', channel: 'fax' }] }, /f\.json: destinations\[0\] \(id "a"\): field "channel" must be one of sms, chat, email/],
    [{ destinations: [{ channel: 'sms' }] }, /f\.json: destinations\[0\]: field "id" must be a string/],
    [{ destinations: [{ id: 'a', channel: 'sms' }, { id: 'b', channel: 'chat', notifications: ['created', 'welcome'] }] }, /destinations\[1\] \(id "b"\): field "notifications": "welcome" is not one of created/],
    [{ destinations: [{ id: 'a', channel: 'sms', callbackThresholdSeconds: 60 }] }, /destinations\[0\] \(id "a"\): field "callbackThresholdSeconds" is for chat destinations only/],
    [{ destinations: [{ id: 'a', channel: 'chat', callbackThresholdSeconds: 0.5 }] }, /field "callbackThresholdSeconds" must be a whole number of seconds from 1 to 86400, or null/],
    [{ destinations: [{ id: 'a', channel: 'chat', colour: 'red' }] }, /destinations\[0\] \(id "a"\): field "colour" is not known/],
    [{ destinations: [{ id: 'a', channel: 'chat' }, { id: 'a', channel: 'chat' }] }, /destinations\[1\] \(id "a"\): a chat destination with this id is already listed/],
    [{ destinations: [{ id: 'a', channel: 'sms', endPhrase: '' }] }, /destinations\[0\] \(id "a"\): field "endPhrase" must hold at least one word \(not only whitespace\)/],
    [{ destinations: [{ id: 'a', channel: 'sms', endPhrase: ' \t ' }] }, /field "endPhrase" must hold at least one word/],
    [{ destinations: [{ id: 'a', channel: 'chat', endPhrase: ['End', 'Conversation'] }] }, /field "endPhrase" must be a string/],
    [{ destinations: [{ id: 'a', channel: 'email', endPhrase: 'stop '.repeat(30) }] }, /field "endPhrase" must be at most 100 characters/],
  ])('refused: %j', (content, message) => {
    expect(() => parseDestinations(content, 'f.json')).toThrow(ConfigError);
    expect(() => parseDestinations(content, 'f.json')).toThrow(message);
  });

  test('an end phrase is configured per destination, kept without its surrounding whitespace; absent, the destination has none of its own', () => {
    const directory = parseDestinations(
      {
        destinations: [
          { id: 'sms-fr', channel: 'sms', endPhrase: '  Fin de la conversation ' },
          { id: 'chat-odd', channel: 'chat', endPhrase: 'bye (for now)?', callbackThresholdSeconds: null },
          { id: 'sms-plain', channel: 'sms' },
        ],
      },
      'f.json',
    );
    expect(directory.settingsFor('sms-fr', 'sms')?.endPhrase).toBe('Fin de la conversation');
    expect(directory.settingsFor('chat-odd', 'chat')).toEqual({ notifications: [...NOTIFICATION_KINDS], endPhrase: 'bye (for now)?', scriptSelector: 'chat-odd' });
    expect(directory.settingsFor('sms-plain', 'sms')).toEqual({ notifications: [...NOTIFICATION_KINDS], scriptSelector: 'sms-plain' });
  });

  test('a file that is missing or not JSON is refused by name', () => {
    const dir = tempDir('destinations');
    expect(() => loadDestinations({ CHANNEL_DESTINATIONS_FILE: path.join(dir, 'none.json') })).toThrow(/none\.json, which does not exist/);
    fs.writeFileSync(path.join(dir, 'bad.json'), '{ nope');
    expect(() => loadDestinations({ CHANNEL_DESTINATIONS_FILE: path.join(dir, 'bad.json') })).toThrow(/bad\.json is not valid JSON/);
  });
});

describe('peers', () => {
  test('URLs and tokens from the environment; the secrets file as fallback for tokens; the outbox by default', () => {
    const dir = tempDir('peers');
    fs.writeFileSync(path.join(dir, 'secrets.json'), JSON.stringify({ webhookSecrets: [], tokens: [], peerTokens: { channelGateway: 'from-file' } }));
    const config = channelPeerConfig({ CHANNEL_GATEWAY_URL: 'https://gw.example/send', ROUTING_PLATFORM_TOKEN: 'rt' }, dir);
    expect(config).toEqual({
      gateway: { url: 'https://gw.example/send', token: 'from-file' },
      routing: { url: undefined, token: 'rt' },
      outboxDir: path.join(dir, 'outbox'),
      timeoutMs: 10_000,
    });
    const peers = createChannelPeers(config);
    expect(peers.gateway).toBeInstanceOf(HttpPeer);
    expect(peers.routing).toBeInstanceOf(OutboxFilePeer);
    expect(peers.routing.describe).toBe(path.join(dir, 'outbox', 'routing.jsonl'));
    expect(() => channelPeerConfig({ ROUTING_PLATFORM_URL: 'ftp://x' }, dir)).toThrow(/ROUTING_PLATFORM_URL must be an http/);
    expect(() => channelPeerConfig({ CHANNEL_GATEWAY_URL: 'not a url' }, dir)).toThrow(/CHANNEL_GATEWAY_URL is not a URL/);
  });
});

describe('outbox file', () => {
  test('each key is written once, also by a second instance on the same file (a restarted worker); addresses keep their last 4 characters', async () => {
    const file = path.join(tempDir('outbox'), 'outbox', 'gateway.jsonl');
    const first = new OutboxFilePeer(file);
    const body = { conversationId: 'c1', kind: 'created', to: '+447700900123', text: 'hello' };
    expect(await Promise.all([first.deliver('c1:e1:created', body), first.deliver('c1:e1:created', body)])).toEqual([{ delivered: 'sent' }, { delivered: 'already-sent' }]);
    const restarted = new OutboxFilePeer(file);
    expect(await restarted.deliver('c1:e1:created', body)).toEqual({ delivered: 'already-sent' });
    expect(await restarted.deliver('c1:e2:closed', { ...body, kind: 'closed' })).toEqual({ delivered: 'sent' });
    // The first instance sees what the other appended.
    expect(await first.deliver('c1:e2:closed', body)).toEqual({ delivered: 'already-sent' });
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => [l.key, l.kind, l.to])).toEqual([
      ['c1:e1:created', 'created', '…0123'],
      ['c1:e2:closed', 'closed', '…0123'],
    ]);
    expect(fs.readFileSync(file, 'utf8')).not.toContain('+447700900123');
  });
});
