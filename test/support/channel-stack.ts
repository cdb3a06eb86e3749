// The digital-channel tests' service: the API stack with real HTTP peers standing in for the
// channel gateway and the routing platform, each counting what it receives under one bearer token.
import type { Logger } from 'pino';
import type { DestinationDirectory } from '../../src/channels/config';
import { HttpPeer } from '../../src/channels/peers';
import { type ConversationSettings, DEFAULT_SETTINGS } from '../../src/conversation/messages';
import { type ApiStack, startApiStack } from '../../rigs/api-stack';
import { type ChannelPeer, startChannelPeer } from '../../rigs/channel-peer';
import type { TestCredentials } from '../../rigs/credentials';

export interface ChannelStack {
  stack: ApiStack;
  gateway: ChannelPeer;
  routing: ChannelPeer;
  stop(): Promise<void>;
}

export interface ChannelStackOptions {
  name: string;
  peerToken: string;
  destinations: DestinationDirectory;
  logger: Logger;
  credentials?: TestCredentials;
  /** Default: DEFAULT_SETTINGS with a 500 ms grace window after the close. */
  conversation?: ConversationSettings;
}

export async function startChannelStack(opts: ChannelStackOptions): Promise<ChannelStack> {
  const [gateway, routing] = await Promise.all([startChannelPeer(opts.peerToken), startChannelPeer(opts.peerToken)]);
  const closePeers = async () => {
    await gateway.close();
    await routing.close();
  };
  let stack: ApiStack;
  try {
    stack = await startApiStack({
      name: opts.name,
      logger: opts.logger,
      ...(opts.credentials ? { credentials: opts.credentials } : {}),
      requestTimeoutMs: 10_000,
      conversation: opts.conversation ?? { ...DEFAULT_SETTINGS, closedGracePeriodMs: 500 },
      destinations: opts.destinations,
      activities: { channels: { gateway: new HttpPeer(gateway.url, opts.peerToken, 5_000), routing: new HttpPeer(routing.url, opts.peerToken, 5_000) } },
    });
  } catch (err) {
    await closePeers();
    throw err;
  }
  return {
    stack,
    gateway,
    routing,
    stop: async () => {
      await stack.stop();
      await closePeers();
    },
  };
}
