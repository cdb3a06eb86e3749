// Turns an inbound-message webhook body into what the conversation receives: the text and subject
// masked, attachments flagged sensitive dropped, the destination's settings attached. Runs in the
// API before anything reaches Temporal, a log line or the store; bad input is a 400 here.
import { HttpError } from './temporal-errors';
import { instantOf, type InboundMessage, type MessageChannel } from '../conversation';
import type { DestinationDirectory } from '../channels/config';
import { isSensitiveAttachment, maskSensitiveText } from '../channels/pci';

export interface InboundBody {
  eventId: string;
  conversationId: string;
  channel: MessageChannel;
  from: string;
  text?: string;
  subject?: string;
  attachments?: Array<{ filename?: string; contentType?: string; sensitive?: boolean }>;
  destination: string;
  occurredAt: string;
  closedByCustomer?: boolean;
}

export function prepareInbound(body: InboundBody, destinations: DestinationDirectory): InboundMessage {
  if (body.closedByCustomer && body.channel !== 'chat') throw new HttpError(400, 'closedByCustomer is for chat only: an SMS or email conversation is ended with the end keyword');
  if (body.text === undefined && !body.closedByCustomer) throw new HttpError(400, 'text is required (it may be empty only when closedByCustomer is true)');
  if (body.subject !== undefined && body.channel !== 'email') throw new HttpError(400, 'subject is for email only');
  const instant = instantOf(body.occurredAt);
  if (!Number.isFinite(instant)) throw new HttpError(400, `occurredAt "${body.occurredAt}" is not a date that exists`);
  const destinationSettings = destinations.settingsFor(body.destination, body.channel);
  if (!destinationSettings) throw new HttpError(400, `destination "${body.destination}" is not a configured ${body.channel} destination`);

  const { text, subject, attachmentCount, sensitiveDataRemoved } = masked(body);
  const message: InboundMessage = {
    eventId: body.eventId,
    channel: body.channel,
    from: body.from,
    text,
    attachmentCount,
    sensitiveDataRemoved,
    destination: body.destination,
    // One form for every sender, so transcript lines sort by time as text.
    occurredAt: new Date(instant).toISOString(),
    destinationSettings,
  };
  if (subject !== undefined) message.subject = subject;
  if (body.closedByCustomer) message.closedByCustomer = true;
  return message;
}

/** The text and the subject masked, sensitive attachments dropped, and whether anything was removed. */
function masked(body: InboundBody): { text: string; subject?: string; attachmentCount: number; sensitiveDataRemoved: boolean } {
  const text = maskSensitiveText(body.text ?? '');
  const subject = body.subject === undefined ? undefined : maskSensitiveText(body.subject);
  const attachments = body.attachments ?? [];
  const kept = attachments.filter((a) => !isSensitiveAttachment(a));
  return {
    text: text.text,
    subject: subject?.text,
    attachmentCount: kept.length,
    sensitiveDataRemoved: text.findings.length > 0 || (subject?.findings.length ?? 0) > 0 || kept.length < attachments.length,
  };
}
