// Classifies what the Temporal client throws into the HTTP answers the API gives.
import { ServiceError, WorkflowNotFoundError, WorkflowUpdateFailedError, isGrpcServiceError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';

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
