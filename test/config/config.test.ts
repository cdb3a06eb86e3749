// Configuration from the environment: what a worker or API replica refuses to start with.
import { ConfigError, MIN_CONTINUE_AS_NEW_AFTER_EVENTS, loadConfig } from '../../src/config';
import { DEFAULT_SETTINGS } from '../../src/shared';

describe('conversation settings', () => {
  test('defaults: 30 minutes of inactivity, continue-as-new after 2,000 events', () => {
    expect(loadConfig({}).conversation).toEqual({ inactivityTimeoutMs: 30 * 60_000, continueAsNewAfterEvents: 2000 });
    expect(loadConfig({}).conversation).toEqual(DEFAULT_SETTINGS);
  });

  test('durations take a unit', () => {
    expect(loadConfig({ CONVERSATION_INACTIVITY_TIMEOUT: '90s' }).conversation.inactivityTimeoutMs).toBe(90_000);
    expect(loadConfig({ CONVERSATION_INACTIVITY_TIMEOUT: '2h' }).conversation.inactivityTimeoutMs).toBe(7_200_000);
    expect(() => loadConfig({ CONVERSATION_INACTIVITY_TIMEOUT: '0' })).toThrow(/must be positive/);
    expect(() => loadConfig({ CONVERSATION_INACTIVITY_TIMEOUT: 'soon' })).toThrow(ConfigError);
  });

  test('a continue-as-new threshold a new run would reach at once is refused', () => {
    expect(loadConfig({ CONTINUE_AS_NEW_AFTER_EVENTS: String(MIN_CONTINUE_AS_NEW_AFTER_EVENTS) }).conversation.continueAsNewAfterEvents).toBe(100);
    for (const tooLow of ['0', '5', '99']) {
      expect(() => loadConfig({ CONTINUE_AS_NEW_AFTER_EVENTS: tooLow })).toThrow(
        new ConfigError(`CONTINUE_AS_NEW_AFTER_EVENTS must be at least 100, got ${tooLow}`),
      );
    }
    expect(() => loadConfig({ CONTINUE_AS_NEW_AFTER_EVENTS: '-1' })).toThrow(/whole number/);
  });
});
