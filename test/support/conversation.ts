// Builders for driving conversations from tests the way the API does.
import type { Client, WorkflowHandle } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import { type ConversationSettings, DEFAULT_SETTINGS, type RoutingEvent, routingEventSignal, workflowIdFor } from '../../src/conversation/messages';
import { conversationWorkflow } from '../../src/conversation/workflows/conversation';

let eventCounter = 0;

/** A routing event at `minute` minutes past a fixed base time, so tests control ordering. */
export function routingEvent(
  conversationId: string,
  eventType: RoutingEvent['eventType'],
  minute: number,
  extra: Partial<RoutingEvent> = {},
): RoutingEvent {
  return {
    eventId: `evt-${++eventCounter}`,
    eventType,
    conversationId,
    taskId: 'task-1',
    channel: 'chat',
    occurredAt: new Date(Date.UTC(2026, 10, 22, 9, 0, 0) + minute * 60_000).toISOString(),
    ...extra,
  };
}

/**
 * Routing-event webhook bodies as a test sends them over HTTP: ids `<prefix>-1`, `<prefix>-2`, … (one
 * sequence per builder), the given task, `minute` minutes past 10:00 on a fixed day, so tests control
 * the order.
 */
export function webhookEvents(prefix: string, taskId: string) {
  let seq = 0;
  return (conversationId: string, eventType: string, minute: number, extra: Record<string, unknown> = {}) => ({
    eventId: `${prefix}-${++seq}`,
    eventType,
    conversationId,
    taskId,
    channel: 'chat',
    occurredAt: new Date(Date.UTC(2026, 10, 22, 10, minute)).toISOString(),
    ...extra,
  });
}

export async function sendEvent(
  client: Client,
  taskQueue: string,
  event: RoutingEvent,
  settings: ConversationSettings = DEFAULT_SETTINGS,
): Promise<WorkflowHandle<typeof conversationWorkflow>> {
  return client.workflow.signalWithStart(conversationWorkflow, {
    workflowId: workflowIdFor(event.conversationId),
    taskQueue,
    args: [{ conversationId: event.conversationId, settings }],
    signal: routingEventSignal,
    signalArgs: [event],
    workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
  });
}
