// Classifies what the Temporal client throws into the HTTP answers the API gives.
import { ServiceError, WorkflowNotFoundError, WorkflowUpdateFailedError, isGrpcServiceError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { KeyServiceUnavailableError } from '../security/errors';

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
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

/** Temporal could not be reached, or did not answer within the API's deadline: the caller should retry. */
export function isTemporalUnavailable(err: unknown): boolean {
  if (err instanceof ServiceError || isGrpcServiceError(err)) return true;
  const text = err instanceof Error ? `${err.name} ${err.message}` : String(err);
  return /deadline|unavailable|ECONNREFUSED|connect|transport/i.test(text);
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

/** A key service outage somewhere in the error's cause chain (the codec's errors reach callers wrapped). */
export function keyServiceFailure(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof KeyServiceUnavailableError) return true;
  }
  return false;
}
