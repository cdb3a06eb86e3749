// Temporal's floor for `npm run bench`: the least a workflow can do with Parley's traffic. It records
// each routing event (signal-with-start) and each attribute write (update) and ends on CLOSED — no
// codec, no validator, no timer, no search attributes, no activity. Bundled on its own by the bench,
// never part of Parley's workflow bundle.
import { allHandlersFinished, condition, defineSignal, defineUpdate, setHandler } from '@temporalio/workflow';

export interface FloorEvent {
  eventId: string;
  eventType: string;
  [field: string]: unknown;
}

export interface FloorWrite {
  attributes: Record<string, string>;
  secured?: boolean;
}

export const floorEventSignal = defineSignal<[FloorEvent]>('routingEvent');
export const floorWriteUpdate = defineUpdate<{ queued: string[] }, [FloorWrite]>('setAttributes');

export async function floorWorkflow(): Promise<{ events: number; writes: number; attributes: number }> {
  const events: FloorEvent[] = [];
  const attributes: Record<string, string> = {};
  let writes = 0;
  let closed = false;
  setHandler(floorEventSignal, (event) => {
    events.push(event);
    if (event.eventType === 'CLOSED') closed = true;
  });
  setHandler(floorWriteUpdate, ({ attributes: values }) => {
    Object.assign(attributes, values);
    writes++;
    return { queued: Object.keys(values) };
  });
  await condition(() => closed);
  await condition(allHandlersFinished);
  return { events: events.length, writes, attributes: Object.keys(attributes).length };
}
