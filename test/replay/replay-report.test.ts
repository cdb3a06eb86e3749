// `npm run replay`'s verdict on histories, without a Temporal server: the recorded histories are real
// conversations, and one of them edited the way a deploy that changed a command would see it.
import { temporal } from '@temporalio/proto';
import { bundleWorkflowCode } from '@temporalio/worker';
import { replayAndReport, type ReplayInput } from '../../src/worker/replay';
import { loadRecordedHistories } from '../support/histories';
import { bundleWorkflows } from '../support/temporal';

const { EventType } = temporal.api.enums.v1;
const RECORDED = 'participant-data-close';

function recorded(name = RECORDED): ReplayInput {
  const found = loadRecordedHistories().find((h) => h.workflowId === name);
  if (!found) throw new Error(`test/histories has no ${name}`);
  return found;
}

/**
 * The history as a conversation that ran on code which started a timer where today's code upserts
 * its search attributes: the command recorded at that event is not the one the code issues.
 */
function withTimerInsteadOfUpsert(input: ReplayInput): { input: ReplayInput; eventId: string } {
  const history = temporal.api.history.v1.History.decode(temporal.api.history.v1.History.encode(input.history).finish());
  const event = history.events.find((e) => e.eventType === EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES);
  if (!event) throw new Error(`${input.workflowId} upserts no search attributes`);
  event.eventType = EventType.EVENT_TYPE_TIMER_STARTED;
  event.upsertWorkflowSearchAttributesEventAttributes = null;
  event.timerStartedEventAttributes = temporal.api.history.v1.TimerStartedEventAttributes.fromObject({
    timerId: '99',
    startToFireTimeout: { seconds: 5 },
    workflowTaskCompletedEventId: Number(event.eventId) - 1,
  });
  return { input: { workflowId: `${input.workflowId}-changed`, history }, eventId: String(event.eventId) };
}

async function report(histories: ReplayInput[], workflowBundle?: { code: string }): Promise<{ exitCode: number; lines: string[] }> {
  const lines: string[] = [];
  const { exitCode } = await replayAndReport({ workflowBundle: workflowBundle ?? (await bundleWorkflows()) }, histories, (line) => lines.push(line));
  return { exitCode, lines };
}

const runIdOf = (input: ReplayInput) => String(input.history.events?.[0]?.workflowExecutionStartedEventAttributes?.originalExecutionRunId);

test('a recorded conversation replays on today\'s code: "ok", its run and its events, exit 0', async () => {
  const good = recorded();
  expect(await report([good])).toEqual({
    exitCode: 0,
    lines: [`ok ${RECORDED} ${runIdOf(good)} (${good.history.events?.length} events)`, 'replayed 1, failed 0'],
  });
});

test('a history whose command the code no longer issues fails naming the event and the SDK\'s message, the others still replay, exit 1', async () => {
  const good = recorded();
  const other = recorded('api-lifecycle');
  const { input: changed, eventId } = withTimerInsteadOfUpsert(good);
  const { exitCode, lines } = await report([good, changed, other]);
  expect(exitCode).toBe(1);
  expect(lines).toHaveLength(4);
  expect(lines[0]).toMatch(/^ok participant-data-close /);
  // The SDK core's own words: the command the code issued (an upsert) against the event recorded there.
  expect(lines[1]).toMatch(new RegExp(`^FAIL ${RECORDED}-changed ${runIdOf(good)}: nondeterminism at event ${eventId}: .*Nondeterminism error: UpsertWorkflowSearchAttributes.*\\(id: ${eventId}, TimerStarted\\)`));
  expect(lines[2]).toMatch(/^ok api-lifecycle /);
  expect(lines[3]).toBe('replayed 3, failed 1');
});

test('a history the SDK cannot take at all fails on its own line and the rest still replay', async () => {
  const good = recorded();
  const truncated: ReplayInput = { workflowId: 'truncated', runId: 'run-1', history: { events: [] } };
  const { exitCode, lines } = await report([truncated, good]);
  expect(exitCode).toBe(1);
  expect(lines[0]).toMatch(/^FAIL truncated run-1: replay failed: \S/);
  expect(lines.slice(1)).toEqual([`ok ${RECORDED} ${runIdOf(good)} (${good.history.events?.length} events)`, 'replayed 2, failed 1']);
});

test('workflow code that throws on replay: FAIL with the error and where in the code it was thrown, exit 1', async () => {
  const silent = () => undefined;
  const bundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('./fixtures/throwing-workflows'),
    logger: { log: silent, trace: silent, debug: silent, info: silent, warn: silent, error: (m: string) => console.error(m) },
  });
  const good = recorded();
  const { exitCode, lines } = await report([good], bundle);
  expect(exitCode).toBe(1);
  // The frame is in the source file where the bundle's source map applies (a plain node process, as
  // `npm run replay`), in the bundle under jest's own stack handling.
  expect(lines[0]).toMatch(
    new RegExp(`^FAIL ${RECORDED} ${runIdOf(good)}: replay failed: Cannot read properties of undefined \\(reading 'closedGracePeriodMs'\\) \\(at conversationWorkflow \\(.+:\\d+:\\d+\\)\\)$`),
  );
  expect(lines[1]).toBe('replayed 1, failed 1');
});
