// Configuration from the environment: what a worker or API replica refuses to start with.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';
import { MIN_CONTINUE_AS_NEW_AFTER_EVENTS } from '../../src/platform/config';
import { projectRoot } from '../../src/platform/data-dir';
import { DEFAULT_WORKER_TUNING, normalQueuePollRatio } from '../../src/worker/settings';
import { withWorkflowStackFrames } from '../../src/worker/worker';
import { DEFAULT_SETTINGS } from '../../src/conversation/messages';

describe('conversation settings', () => {
  test('defaults: 30 minutes of inactivity, continue-as-new after 2,000 events, 2 minutes of grace after CLOSED', () => {
    expect(loadConfig({}).conversation).toEqual({ inactivityTimeoutMs: 30 * 60_000, continueAsNewAfterEvents: 2000, closedGracePeriodMs: 120_000 });
    expect(loadConfig({}).conversation).toEqual(DEFAULT_SETTINGS);
  });

  test('the grace window after CLOSED takes a duration, and 0 turns it off', () => {
    expect(loadConfig({ CLOSED_GRACE_PERIOD: '30s' }).conversation.closedGracePeriodMs).toBe(30_000);
    expect(loadConfig({ CLOSED_GRACE_PERIOD: '0' }).conversation.closedGracePeriodMs).toBe(0);
    expect(loadConfig({ CLOSED_GRACE_PERIOD: '0s' }).conversation.closedGracePeriodMs).toBe(0);
    expect(() => loadConfig({ CLOSED_GRACE_PERIOD: '-1' })).toThrow(/CLOSED_GRACE_PERIOD must be milliseconds or a duration/);
    expect(() => loadConfig({ CLOSED_GRACE_PERIOD: 'later' })).toThrow(ConfigError);
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

describe('store timeout', () => {
  test('STORE_TIMEOUT: 2 s by default, a duration, at most 8 s (a flush attempt has 10 s for a few statements)', () => {
    expect(loadConfig({}).storeTimeoutMs).toBe(2000);
    expect(loadConfig({ STORE_TIMEOUT: '500ms' }).storeTimeoutMs).toBe(500);
    expect(loadConfig({ STORE_TIMEOUT: '8s' }).storeTimeoutMs).toBe(8000);
    expect(() => loadConfig({ STORE_TIMEOUT: '9s' })).toThrow(new ConfigError('STORE_TIMEOUT must be at most 8000 ms, got 9000'));
    expect(() => loadConfig({ STORE_TIMEOUT: '0' })).toThrow(/must be positive/);
  });
});

describe('log format', () => {
  // The built logger in a child process: its stdout is a pipe here, as when a log shipper reads it.
  const logWith = (format: string): string => {
    const script = `const { createLogger } = require(${JSON.stringify(path.join(projectRoot(), 'dist/src/platform/logger.js'))});
      createLogger('info', 'parley-api', ${JSON.stringify(format)}).warn({ conversationId: 'c-1', batchSeq: 2 }, 'batch written');`;
    return execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  };

  test('pretty: one readable line with time, level, component, message and key fields', () => {
    expect(logWith('pretty')).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: parley-api: batch written \{"conversationId":"c-1","batchSeq":2\}\n$/);
  });

  test('JSON lines when the output is not a terminal, or with LOG_FORMAT=json', () => {
    for (const format of ['auto', 'json']) {
      expect(JSON.parse(logWith(format))).toMatchObject({ level: 40, name: 'parley-api', msg: 'batch written', conversationId: 'c-1' });
    }
  });

  test('LOG_FORMAT takes json, pretty or auto', () => {
    expect(loadConfig({}).logFormat).toBe('auto');
    expect(loadConfig({ LOG_FORMAT: 'JSON' }).logFormat).toBe('json');
    expect(() => loadConfig({ LOG_FORMAT: 'xml' })).toThrow(new ConfigError('LOG_FORMAT must be json, pretty or auto, got "xml"'));
  });
});

describe('worker tuning', () => {
  test('defaults: a workflow cache of 250 conversations, the SDK default slots, eleven workflow-task pollers', () => {
    expect(loadConfig({}).workerTuning).toEqual(DEFAULT_WORKER_TUNING);
    // One workflow-task poller on the sticky queue and ten on the shared one, so a burst of new conversations is not the one that waits.
    expect(DEFAULT_WORKER_TUNING).toMatchObject({ maxCachedWorkflows: 250, maxConcurrentWorkflowTasks: 40, workflowTaskPollers: 11, stickyQueuePollers: 1, activityTaskPollers: 10 });
  });

  test('each setting from the environment; 0 turns the cache off', () => {
    const tuning = loadConfig({
      WORKER_MAX_CACHED_WORKFLOWS: '250',
      WORKER_WORKFLOW_TASK_SLOTS: '20',
      WORKER_ACTIVITY_SLOTS: '50',
      WORKER_LOCAL_ACTIVITY_SLOTS: '30',
      WORKER_WORKFLOW_TASK_POLLERS: '4',
      WORKER_STICKY_QUEUE_POLLERS: '3',
      WORKER_ACTIVITY_TASK_POLLERS: '2',
      WORKER_STICKY_TIMEOUT: '5s',
    });
    expect(tuning.workerTuning).toEqual({
      maxCachedWorkflows: 250,
      maxConcurrentWorkflowTasks: 20,
      maxConcurrentActivities: 50,
      maxConcurrentLocalActivities: 30,
      workflowTaskPollers: 4,
      stickyQueuePollers: 3,
      activityTaskPollers: 2,
    });
    expect(tuning.stickyQueueTimeoutMs).toBe(5000);
    expect(loadConfig({ WORKER_MAX_CACHED_WORKFLOWS: '0' }).workerTuning.maxCachedWorkflows).toBe(0);
  });

  test('a setting the SDK would silently lower is refused; a default follows a smaller cache', () => {
    expect(() => loadConfig({ WORKER_MAX_CACHED_WORKFLOWS: '1' })).toThrow(/0 \(no cache\) or at least 2/);
    expect(() => loadConfig({ WORKER_MAX_CACHED_WORKFLOWS: '10', WORKER_WORKFLOW_TASK_SLOTS: '20' })).toThrow(/cannot exceed WORKER_MAX_CACHED_WORKFLOWS/);
    expect(() => loadConfig({ WORKER_WORKFLOW_TASK_SLOTS: '4', WORKER_WORKFLOW_TASK_POLLERS: '8' })).toThrow(/cannot exceed the workflow task slots/);
    expect(() => loadConfig({ WORKER_ACTIVITY_SLOTS: '1', WORKER_ACTIVITY_TASK_POLLERS: '2' })).toThrow(/cannot exceed WORKER_ACTIVITY_SLOTS/);
    expect(() => loadConfig({ WORKER_WORKFLOW_TASK_SLOTS: '1' })).toThrow(/at least 2/);
    expect(loadConfig({ WORKER_MAX_CACHED_WORKFLOWS: '8' }).workerTuning).toMatchObject({ maxConcurrentWorkflowTasks: 8, workflowTaskPollers: 8, stickyQueuePollers: 1 });
  });

  test('the sticky queue takes one poller unless told; the shared queue always keeps one', () => {
    expect(loadConfig({ WORKER_WORKFLOW_TASK_POLLERS: '2' }).workerTuning).toMatchObject({ workflowTaskPollers: 2, stickyQueuePollers: 1 });
    expect(loadConfig({ WORKER_STICKY_QUEUE_POLLERS: '4' }).workerTuning).toMatchObject({ workflowTaskPollers: 11, stickyQueuePollers: 4 });
    expect(() => loadConfig({ WORKER_STICKY_QUEUE_POLLERS: '11' })).toThrow(/must be less than WORKER_WORKFLOW_TASK_POLLERS \(11\)/);
    expect(() => loadConfig({ WORKER_STICKY_QUEUE_POLLERS: '0' })).toThrow(/WORKER_STICKY_QUEUE_POLLERS/);
    expect(() => loadConfig({ WORKER_STICKY_QUEUE_POLLERS: 'few' })).toThrow(/whole number/);
  });

  test('the workflow sandbox records no stack frames unless told how many', () => {
    expect(loadConfig({}).workflowStackFrames).toBe(0);
    expect(loadConfig({ WORKER_WORKFLOW_STACK_FRAMES: '10' }).workflowStackFrames).toBe(10);
    expect(() => loadConfig({ WORKER_WORKFLOW_STACK_FRAMES: '-1' })).toThrow(/WORKER_WORKFLOW_STACK_FRAMES must be a whole number from 0 to 100/);
    expect(() => loadConfig({ WORKER_WORKFLOW_STACK_FRAMES: '1000' })).toThrow(/from 0 to 100/);
    expect(withWorkflowStackFrames('var __TEMPORAL__;\nrest', 0)).toBe('Error.stackTraceLimit = 0;var __TEMPORAL__;\nrest');
  });

  test('the SDK splits the pollers as configured, float rounding included', () => {
    // The SDK gives the shared queue floor(pollers × ratio) in 32-bit floats, the sticky queue the rest (at least one).
    const sdkSplit = (pollers: number, ratio: number) => {
      const normal = Math.max(1, Math.trunc(Math.fround(pollers * Math.fround(ratio))));
      return { normal, sticky: Math.max(1, pollers - normal) };
    };
    for (let pollers = 2; pollers <= 64; pollers++) {
      for (let sticky = 1; sticky < pollers; sticky++) {
        expect(sdkSplit(pollers, normalQueuePollRatio({ workflowTaskPollers: pollers, stickyQueuePollers: sticky }))).toEqual({ normal: pollers - sticky, sticky });
      }
    }
  });
});
