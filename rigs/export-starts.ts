// Which events of a conversation's history started its export, for the tests and the drills that
// check each ended conversation started exactly one.
import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import type { ExportStart, FlushResult } from '../src/conversation';

/**
 * The events of a conversation's current run that started its export (one expected): the export's
 * own local activity, or the final batch's when it carried the export (its result, read through the
 * client's payload codec, names what it started); in histories recorded before the start became a
 * local activity, the scheduled activity.
 */
export async function exportStartEvents(
  client: Client,
  workflowId: string,
  /** The run's events when the caller already fetched them (the results are decoded through `client`'s codec either way). */
  fetched?: temporal.api.history.v1.IHistoryEvent[],
): Promise<Array<{ event: temporal.api.history.v1.IHistoryEvent; start?: ExportStart }>> {
  const events = fetched ?? (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const found = [];
  for (const event of events) {
    if (event.activityTaskScheduledEventAttributes?.activityType?.name === 'startExport') {
      found.push({ event });
      continue;
    }
    const type = localActivityType(event);
    if (type !== 'startExport' && type !== 'flushParticipantData') continue;
    const payloads = event.markerRecordedEventAttributes?.details?.result?.payloads;
    const result = payloads && payloads.length > 0 ? await decodeFromPayloadsAtIndex<ExportStart | FlushResult>(client.options.loadedDataConverter, 0, payloads) : undefined;
    if (type === 'startExport') found.push({ event, start: result as ExportStart | undefined });
    else if ((result as FlushResult | undefined)?.export) found.push({ event, start: (result as FlushResult).export });
  }
  return found;
}

/** The activity type a local activity's marker records (its `data` detail is the SDK's own plain JSON, never through the payload codec). */
export function localActivityType(event: temporal.api.history.v1.IHistoryEvent): string | undefined {
  const marker = event.markerRecordedEventAttributes;
  const data = marker?.markerName === 'core_local_activity' ? marker.details?.data?.payloads?.[0]?.data : undefined;
  return data ? (JSON.parse(Buffer.from(data).toString('utf8')) as { activity_type?: string }).activity_type : undefined;
}
