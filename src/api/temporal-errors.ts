// What the Temporal client's errors mean (reachable or not, answered late, refused by a validator, a key
// service outage under them), read by the gateway's one mapping to HTTP answers; and the HttpError itself.
import { ServiceError, WorkflowNotFoundError, WorkflowUpdateFailedError, isGrpcServiceError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { KeyServiceUnavailableError } from '../security/errors';

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    /** For a 500: the id under which the cause was logged, so an operator finds it from the caller's report. */
    readonly errorId?: string,
    /** Response headers that go with the status (Retry-After on a 503). */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

export function isNotFound(err: unknown): boolean {
  return err instanceof WorkflowNotFoundError;
}

/** The ApplicationFailure type a workflow update validator or handler rejected with, if that is what happened. */
export function updateRejectionType(err: unknown): { type: string; message: string } | undefined {
  if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure && err.cause.type) {
    return { type: err.cause.type, message: err.cause.message };
  }
  return undefined;
}

/**
 * What a failed Temporal call means to the caller:
 * - `unreachable`: no connection, or the server said UNAVAILABLE / RESOURCE_EXHAUSTED: the request
 *   did not get in (retry);
 * - `deadline`: no answer within the API's deadline (DEADLINE_EXCEEDED, CANCELLED): the server may
 *   or may not have taken the request, and a query may just be slow;
 * - `precondition`: FAILED_PRECONDITION, e.g. an update whose workflow task failed because the
 *   conversation was closing at that moment: the update was not applied;
 * - `permanent`: anything else the server refused (invalid argument, permission, unknown
 *   namespace…): retrying the same request cannot help.
 */
export type TemporalTrouble = 'unreachable' | 'deadline' | 'precondition' | 'permanent';

const GRPC = { CANCELLED: 1, DEADLINE_EXCEEDED: 4, RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, UNAVAILABLE: 14 } as const;

/** The gRPC status somewhere in the error's cause chain, if the error came from a gRPC call. */
export function grpcStatusOf(err: unknown): { code: number; details: string } | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (isGrpcServiceError(e)) return { code: e.code, details: String(e.details ?? '') };
  }
  return undefined;
}

export function grpcCodeOf(err: unknown): number | undefined {
  return grpcStatusOf(err)?.code;
}

export function classifyTemporalError(err: unknown): TemporalTrouble {
  const status = grpcStatusOf(err);
  const code = status?.code;
  if (code === GRPC.UNAVAILABLE || code === GRPC.RESOURCE_EXHAUSTED) return 'unreachable';
  // The server reset the call's stream (grpc-js: "Call cancelled"), as Temporal's frontend does when
  // the deadline it was handed runs out: the call was on a connection and reached the server.
  if (code === GRPC.CANCELLED && /Call cancelled|RST_STREAM/.test(status?.details ?? '')) return 'deadline';
  if (code === GRPC.DEADLINE_EXCEEDED || code === GRPC.CANCELLED) {
    const details = status?.details ?? '';
    // gRPC names the peer (remote_addr=…) once the call was sent on a connection.
    if (/remote_addr=/.test(details)) return 'deadline';
    // The server's own answer that its deadline ran out (a query no worker took in time: "query timed
    // out before a worker could process it"): reached, and answered late. grpc-js's own deadline
    // status always starts "Deadline exceeded".
    if (code === GRPC.DEADLINE_EXCEEDED && !/^Deadline exceeded/.test(details)) return 'deadline';
    // The client's deadline fired while still connecting: the request never left, the server cannot have it.
    return 'unreachable';
  }
  if (code === GRPC.FAILED_PRECONDITION) return 'precondition';
  if (code !== undefined) return 'permanent';
  // No status: the connection itself failed (refused, reset, TLS), or the client's own deadline fired.
  const text = err instanceof Error ? `${err.name} ${err.message} ${err.cause instanceof Error ? err.cause.message : ''}` : String(err);
  if (/deadline|timed? ?out/i.test(text)) return 'deadline';
  if (err instanceof ServiceError || /unavailable|ECONNREFUSED|ECONNRESET|EHOSTUNREACH|connect|transport|socket/i.test(text)) return 'unreachable';
  return 'permanent';
}

export const unavailable = (): HttpError =>
  new HttpError(503, 'Temporal is unreachable right now; nothing was changed, retry later');

/**
 * The update reached Temporal (or may have) but no worker confirmed it before the deadline, typically
 * while a crashed worker's tasks are being handed over. It is not refused: Temporal keeps it and
 * applies it when a worker picks the conversation up, so "nothing was changed" would be untrue.
 */
export const unconfirmedWrite = (withKey: boolean): HttpError =>
  new HttpError(
    503,
    withKey
      ? 'the write was not confirmed in time and may still be applied; retry with the same Idempotency-Key to get its outcome'
      : 'the write was not confirmed in time and may still be applied; retry it (send an Idempotency-Key header so a retry is applied at most once)',
  );

/** Whether a key service outage in the error's cause chain hit an encryption or a decryption. */
export function keyServiceFailureDuring(err: unknown): 'encrypt' | 'decrypt' | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof KeyServiceUnavailableError) return e.operation;
  }
  return undefined;
}

/** A key service outage somewhere in the error's cause chain (the codec's errors reach callers wrapped). */
export function keyServiceFailure(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof KeyServiceUnavailableError) return true;
  }
  return false;
}
